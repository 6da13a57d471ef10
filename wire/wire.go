package wire

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/whispernet/whispernet/identity"
)

// Hard limits. Decoders check them before they allocate.
const (
	// MaxLineLen is the longest line, in bytes without the '\n', that any
	// node accepts. It fits a full peer-list reply of MaxPeersPerReply IPv6
	// entries.
	MaxLineLen = 16 << 10
	// MaxPeersPerReply caps the entries of a peer-list reply. A seed with a
	// larger registry answers with a random sample of this size.
	MaxPeersPerReply = 256
	// MaxTextLen caps the free text of a gossip message, error or refusal.
	MaxTextLen = 1024
	// MaxIDsPerLine caps the message IDs of one ihave or graft line; 256
	// of the longest IPv6 IDs fit MaxLineLen.
	MaxIDsPerLine = 256
	// MaxPayloadLen caps the payload of a gossip message: the decoded bytes
	// of a gossip64 line (a classic gossip line holds at most MaxTextLen).
	MaxPayloadLen = 64 << 10
	// MaxGossip64LineLen is the longest gossip64 line, the one verb
	// allowed past MaxLineLen: the base64 of MaxPayloadLen bytes plus room
	// for the longest header (an IPv6 origin, the largest numbers).
	MaxGossip64LineLen = (MaxPayloadLen+2)/3*4 + 256
)

// Verbs, exactly as they appear on the wire.
const (
	VerbRegister        = "register"
	VerbRegistered      = "registered successfully"
	VerbPeerList        = "peer list"
	VerbPeerInfo        = "peer info"
	VerbPeerKeys        = "peer keys"
	VerbDeadNode        = "Dead Node"
	VerbOK              = "ok"
	VerbError           = "error"
	VerbConnect         = "Connection with Peer"
	VerbConnectAccepted = "Connection accepted"
	VerbConnectRefused  = "Connection refused"
	VerbLivenessRequest = "Liveness Request"
	VerbLivenessReply   = "Liveness Reply"
	VerbGossip          = "gossip"
	VerbGossip64        = "gossip64"
	VerbSGossip         = "sgossip"
	VerbConnectProof    = "Connection proof"
	VerbChallenge       = "challenge"
	VerbChallengeReply  = "challenge reply"
	VerbSGossip64       = "sgossip64"
	VerbIHave           = "ihave"
	VerbGraft           = "graft"
	VerbPrune           = "prune"
	VerbLeaving         = "Leaving"
)

// maxCount bounds CAP and DEGREE, in register, Connection with Peer and
// peer-info entries alike, so that whatever a seed accepts it can echo back
// in a peer-info reply, and so that the value fits an int everywhere.
const maxCount = 1<<31 - 1

// relayedMark is the trailing field a seed adds when it passes a dead-node
// report or a leave on to the other seeds, so that they do not pass it on
// again.
const relayedMark = "relayed"

// isolatedMark is the trailing field of a handshake from a peer with no
// neighbour at all and no candidate with a free slot: a full peer still
// accepts it, so that nobody is left out of the overlay.
const isolatedMark = "isolated"

// Kind says which message a Message is.
type Kind uint8

// The message kinds. Requests to a seed are Register, PeerListRequest,
// PeerInfoRequest, PeerKeysRequest, DeadNode and Leaving; a seed answers each
// with exactly one of Registered, PeerList, PeerInfo, OK or Error.
const (
	KindInvalid         Kind = iota
	KindRegister             // register:IP:PORT[:CAP[:DEGREE]]
	KindRegistered           // registered successfully
	KindPeerListRequest      // peer list
	KindPeerList             // peer list:IP#PORT:IP#PORT...
	KindPeerInfoRequest      // peer info
	KindPeerInfo             // peer info:IP#PORT#CAP#DEGREE[#KEY]:... (KEY: the seed verified it; only in answer to peer keys)
	KindDeadNode             // Dead Node:DEADIP:DEADPORT:TS:REPIP:REPPORT[:relayed[:SEEDKEY:SEEDSIG]]
	KindOK                   // ok[:TEXT]
	KindError                // error:TEXT
	KindConnect              // Connection with Peer:IP:PORT[:CAP:DEGREE[:isolated]]
	KindConnectAccepted      // Connection accepted:IP:PORT[:CAP:DEGREE]
	KindConnectRefused       // Connection refused:TEXT
	KindLivenessRequest      // Liveness Request:TS:IP:PORT
	KindLivenessReply        // Liveness Reply:TS:IP:PORT:REPLIERIP:REPLIERPORT
	KindGossip               // gossip:IP:PORT:SEQ:HOPS:TS:TEXT, or gossip64:IP:PORT:SEQ:HOPS:TS:BASE64 when Text is not classic text
	KindIHave                // ihave:IP#PORT#SEQ[:IP#PORT#SEQ...] (lazy push: "I have these messages")
	KindGraft                // graft[:IP#PORT#SEQ...] (push eagerly to me, and send me these)
	KindPrune                // prune (stop pushing messages to me eagerly)
	KindLeaving              // Leaving:IP:PORT[:KEY:TS:SIG][:relayed[:SEEDKEY:SEEDSIG]] (graceful leave: to every neighbour and registered seed)
	KindConnectProof         // Connection proof:SIG (the dialler's answer to the accepter's nonce)
	KindChallenge            // challenge:NONCE (a seed's probe: prove you are alive at this address)
	KindChallengeReply       // challenge reply:IP:PORT:KEY:SIG
	KindPeerKeysRequest      // peer keys (peer info, with the key of every entry the seed verified)
	numKinds
)

var kindNames = [numKinds]string{
	KindInvalid:         "invalid",
	KindRegister:        VerbRegister,
	KindRegistered:      VerbRegistered,
	KindPeerListRequest: VerbPeerList + " request",
	KindPeerList:        VerbPeerList,
	KindPeerInfoRequest: VerbPeerInfo + " request",
	KindPeerInfo:        VerbPeerInfo,
	KindDeadNode:        VerbDeadNode,
	KindOK:              VerbOK,
	KindError:           VerbError,
	KindConnect:         VerbConnect,
	KindConnectAccepted: VerbConnectAccepted,
	KindConnectRefused:  VerbConnectRefused,
	KindLivenessRequest: VerbLivenessRequest,
	KindLivenessReply:   VerbLivenessReply,
	KindGossip:          VerbGossip,
	KindIHave:           VerbIHave,
	KindGraft:           VerbGraft,
	KindPrune:           VerbPrune,
	KindLeaving:         VerbLeaving,
	KindConnectProof:    VerbConnectProof,
	KindChallenge:       VerbChallenge,
	KindChallengeReply:  VerbChallengeReply,
	KindPeerKeysRequest: VerbPeerKeys + " request",
}

// String returns the kind's verb.
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// PeerInfo is one entry of a peer list: a peer's listening address and, in
// a peer-info reply, its capacity (target degree) and current degree, and
// (in answer to peer keys) the key the seed proved it holds (zero: none).
type PeerInfo struct {
	Addr   netip.AddrPort
	Cap    int
	Degree int
	Key    identity.PublicKey
}

// MsgID names a gossip message: its origin and the origin's sequence
// number.
type MsgID struct {
	Origin netip.AddrPort
	Seq    uint32
}

// Message is one decoded line. Which fields are set depends on Kind; the
// comments on the Kind constants give the layout.
type Message struct {
	// Addr is the address the message is about: the registering peer, the
	// dead peer, the handshaking or accepting peer, the liveness requester,
	// or the gossip origin.
	Addr netip.AddrPort
	// From is the reporter of a dead node or the replier of a liveness reply.
	From netip.AddrPort
	// Time is the timestamp of a dead-node report, liveness exchange or
	// gossip message (its creation time at the origin).
	Time Timestamp
	// Cap and Degree are the optional capacity (target degree) and current
	// degree trailing fields of register and Connection with Peer (0 when
	// absent, at most 2147483647 like the entries of a peer-info reply).
	Cap, Degree int
	// Text is the gossip payload, error or refusal reason, or ok detail.
	// A gossip payload may hold any bytes (up to MaxPayloadLen): Format
	// writes it as classic text when IsText says it can, and base64
	// encoded on a gossip64 line otherwise; Parse decodes either.
	Text string
	// Peers are the entries of a peer-list or peer-info reply.
	Peers []PeerInfo
	// IDs are the message IDs of an ihave line (1 to MaxIDsPerLine of
	// them) or a graft line (0 to MaxIDsPerLine).
	IDs []MsgID
	// Relay is the relaying seed's key and signature on a relayed
	// dead-node report or leave (nil: unsigned, or not relayed).
	Relay *Auth
	// Auth is a signed gossip message's origin key and signature
	// (sgossip, sgossip64 lines); nil for an unsigned message. A pointer,
	// so that unsigned messages (the simulator's) stay small.
	Auth *Auth
	// Seq is the gossip sequence number, unique per origin.
	Seq uint32
	// Hops counts how many links a gossip message has crossed.
	Hops uint16
	Kind Kind
	// Isolated marks a handshake from a peer with no neighbour and no
	// candidate with a free slot, which a full peer accepts anyway.
	Isolated bool
	// Relayed marks a dead-node report or a leave passed on from one seed
	// to another.
	Relayed bool

	// (The small fields come last, together: a message is copied into
	// every action that sends it, hundreds of millions of times in a
	// large simulation, and packed it is 168 bytes, not 176.)
}

// Sentinel errors; Parse wraps them with detail. Callers tell them apart
// with errors.Is.
var (
	ErrEmpty       = errors.New("empty line")
	ErrTooLong     = errors.New("line too long")
	ErrControl     = errors.New("control byte in line")
	ErrEncoding    = errors.New("line is not valid UTF-8")
	ErrUnknownVerb = errors.New("unknown verb")
	ErrFields      = errors.New("wrong number of fields")
	ErrAddr        = errors.New("bad address")
	ErrPort        = errors.New("bad port")
	ErrNumber      = errors.New("bad number")
	ErrTimestamp   = errors.New("bad timestamp")
	ErrTooMany     = errors.New("too many peers in list")
	ErrPayload     = errors.New("bad payload")
	ErrKey         = errors.New("bad key or signature")
)

// Parse decodes one line (without its '\n'; a trailing "\r" is tolerated).
// Errors wrap one of the sentinel errors and read well after "error:".
func Parse(line string) (Message, error) {
	line = strings.TrimSuffix(line, "\r")
	if len(line) > MaxLineLen && !(len(line) <= MaxGossip64LineLen && (strings.HasPrefix(line, gossip64Prefix) || strings.HasPrefix(line, sgossip64Prefix))) {
		return Message{}, fmt.Errorf("%w (%d bytes, limit %d)", ErrTooLong, len(line), MaxLineLen)
	}
	if line == "" {
		return Message{}, ErrEmpty
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; c < 0x20 || c == 0x7f {
			return Message{}, fmt.Errorf("%w (0x%02x at byte %d)", ErrControl, c, i)
		}
	}
	if !utf8.ValidString(line) {
		return Message{}, ErrEncoding
	}
	verb, rest, hasRest := strings.Cut(line, ":")
	f := fields{rest: rest, verb: verb, eof: !hasRest}
	var m Message
	var err error
	switch verb {
	case VerbRegister:
		m.Kind = KindRegister
		if m.Addr, err = f.addr(); err != nil || f.eof {
			break
		}
		if m.Cap, err = f.count("capacity"); err != nil || f.eof {
			break
		}
		if m.Degree, err = f.count("degree"); err != nil || f.eof {
			break
		}
		if !f.keyNext() {
			err = f.end()
			break
		}
		// A signed registration: KEY:TS:SIG.
		var key identity.PublicKey
		if key, err = f.key(); err != nil {
			break
		}
		if m.Time, err = f.timestamp(); err != nil {
			break
		}
		m.Auth = &Auth{Key: key}
		if m.Auth.Sig, err = f.sig(); err == nil {
			err = f.end()
		}
	case VerbRegistered:
		m.Kind = KindRegistered
		err = f.none()
	case VerbPeerList:
		if !hasRest {
			m.Kind = KindPeerListRequest
			break
		}
		m.Kind = KindPeerList
		m.Peers, err = f.peers(false)
	case VerbPeerInfo:
		if !hasRest {
			m.Kind = KindPeerInfoRequest
			break
		}
		m.Kind = KindPeerInfo
		m.Peers, err = f.peers(true)
	case VerbPeerKeys:
		m.Kind = KindPeerKeysRequest
		err = f.none()
	case VerbDeadNode:
		m.Kind = KindDeadNode
		if m.Addr, err = f.addr(); err != nil {
			break
		}
		if m.Time, err = f.timestamp(); err != nil {
			break
		}
		if m.From, err = f.addr(); err != nil {
			break
		}
		if !f.done() {
			if t := f.next(); t != relayedMark {
				err = fmt.Errorf("%w: Dead Node: unexpected trailing field %q (only %q is allowed)", ErrFields, truncate(t), relayedMark)
				break
			}
			m.Relayed = true
			m.Relay, err = f.relayAuth()
		}
	case VerbOK:
		m.Kind = KindOK
		m.Text, err = f.text(false)
	case VerbError:
		m.Kind = KindError
		m.Text, err = f.text(true)
	case VerbConnect:
		m.Kind = KindConnect
		if m.Addr, err = f.addr(); err != nil {
			break
		}
		if f.eof {
			break
		}
		if m.Cap, err = f.count("capacity"); err != nil || f.eof {
			break
		}
		if m.Degree, err = f.count("degree"); err != nil || f.eof {
			break
		}
		if strings.HasPrefix(f.rest, isolatedMark+":") || f.rest == isolatedMark {
			f.next()
			m.Isolated = true
			if f.eof {
				break
			}
		}
		if !f.keyNext() {
			err = fmt.Errorf("%w: %s: unexpected trailing field %q (only %q is allowed)", ErrFields, VerbConnect, truncate(f.rest), isolatedMark)
			break
		}
		m.Auth, m.Text, err = f.keyNonce(false)
	case VerbConnectAccepted:
		m.Kind = KindConnectAccepted
		if m.Addr, err = f.addr(); err != nil || f.eof {
			break
		}
		if m.Cap, err = f.count("capacity"); err != nil {
			break
		}
		if m.Degree, err = f.count("degree"); err != nil || f.eof {
			break
		}
		if !f.keyNext() {
			err = f.end()
			break
		}
		m.Auth, m.Text, err = f.keyNonce(true)
	case VerbConnectProof:
		m.Kind = KindConnectProof
		m.Auth = &Auth{}
		if m.Auth.Sig, err = f.sig(); err == nil {
			err = f.end()
		}
	case VerbChallenge:
		m.Kind = KindChallenge
		if f.eof {
			err = f.errf(ErrFields, "wants a NONCE")
			break
		}
		if m.Text, err = f.nonce(); err == nil {
			err = f.end()
		}
	case VerbChallengeReply:
		m.Kind = KindChallengeReply
		if m.Addr, err = f.addr(); err != nil {
			break
		}
		if m.Auth, err = f.auth(); err == nil {
			err = f.end()
		}
	case VerbConnectRefused:
		m.Kind = KindConnectRefused
		m.Text, err = f.text(true)
	case VerbLivenessRequest:
		m.Kind = KindLivenessRequest
		if !hasRest {
			err = fmt.Errorf("%w: Liveness Request wants TS:IP:PORT", ErrFields)
			break
		}
		if m.Time, err = f.timestamp(); err == nil {
			if m.Addr, err = f.addr(); err == nil {
				err = f.end()
			}
		}
	case VerbLivenessReply:
		m.Kind = KindLivenessReply
		if !hasRest {
			err = fmt.Errorf("%w: Liveness Reply wants TS:IP:PORT:IP:PORT", ErrFields)
			break
		}
		if m.Time, err = f.timestamp(); err != nil {
			break
		}
		if m.Addr, err = f.addr(); err != nil {
			break
		}
		if m.From, err = f.addr(); err == nil {
			err = f.end()
		}
	case VerbGossip:
		m.Kind = KindGossip
		if err = f.gossipHeader(&m); err == nil {
			m.Text, err = f.text(true)
		}
	case VerbGossip64:
		m.Kind = KindGossip
		if err = f.gossipHeader(&m); err == nil {
			m.Text, err = f.payload()
		}
	case VerbSGossip, VerbSGossip64:
		m.Kind = KindGossip
		if err = f.gossipHeader(&m); err != nil {
			break
		}
		if m.Auth, err = f.auth(); err != nil {
			break
		}
		if verb == VerbSGossip {
			m.Text, err = f.text(true)
		} else {
			m.Text, err = f.payload()
		}
	case VerbIHave:
		m.Kind = KindIHave
		m.IDs, err = f.ids()
	case VerbGraft:
		m.Kind = KindGraft
		if hasRest {
			m.IDs, err = f.ids()
		}
	case VerbPrune:
		m.Kind = KindPrune
		err = f.none()
	case VerbLeaving:
		m.Kind = KindLeaving
		if m.Addr, err = f.addr(); err != nil || f.done() {
			break
		}
		if f.keyNext() {
			// A signed leave: KEY:TS:SIG (then, from a seed, relayed).
			var key identity.PublicKey
			if key, err = f.key(); err != nil {
				break
			}
			if m.Time, err = f.timestamp(); err != nil {
				break
			}
			m.Auth = &Auth{Key: key}
			if m.Auth.Sig, err = f.sig(); err != nil || f.done() {
				break
			}
		}
		if t := f.next(); t != relayedMark {
			err = fmt.Errorf("%w: %s: unexpected trailing field %q (only %q is allowed)", ErrFields, VerbLeaving, truncate(t), relayedMark)
			break
		}
		m.Relayed = true
		m.Relay, err = f.relayAuth()
	default:
		v := verb
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return Message{}, fmt.Errorf("%w %q", ErrUnknownVerb, v)
	}
	if err != nil {
		return Message{}, err
	}
	return m, nil
}

// fields walks the ':'-separated fields after the verb. eof is set once
// the last field has been taken (or when the verb had no fields at all).
type fields struct {
	rest string
	verb string
	eof  bool
}

func (f *fields) done() bool { return f.eof }

// next returns the next field. A bracketed IPv6 address counts as one
// field even though it contains ':'.
func (f *fields) next() string {
	if f.eof {
		return ""
	}
	end := -1
	if strings.HasPrefix(f.rest, "[") {
		if rb := strings.IndexByte(f.rest, ']'); rb >= 0 {
			if c := strings.IndexByte(f.rest[rb:], ':'); c >= 0 {
				end = rb + c
			}
		} else {
			end = strings.IndexByte(f.rest, ':')
		}
	} else {
		end = strings.IndexByte(f.rest, ':')
	}
	if end < 0 {
		t := f.rest
		f.rest, f.eof = "", true
		return t
	}
	t := f.rest[:end]
	f.rest = f.rest[end+1:]
	return t
}

func (f *fields) errf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", sentinel, f.verb, fmt.Sprintf(format, args...))
}

func (f *fields) none() error {
	if !f.eof {
		return f.errf(ErrFields, "takes no fields")
	}
	return nil
}

func (f *fields) end() error {
	if !f.eof {
		return f.errf(ErrFields, "unexpected trailing field %q", truncate(f.rest))
	}
	return nil
}

// addr reads an IP field and a PORT field.
func (f *fields) addr() (netip.AddrPort, error) {
	if f.eof {
		return netip.AddrPort{}, f.errf(ErrFields, "missing IP:PORT")
	}
	rest := f.rest
	ipText := f.next()
	if f.eof {
		return netip.AddrPort{}, f.errf(ErrFields, "missing port after %q", truncate(ipText))
	}
	ip, err := ParseIP(ipText)
	if err != nil {
		hint := ""
		if unbracketedIPv6(rest) {
			hint = " (write IPv6 in brackets, as [::1])"
		}
		return netip.AddrPort{}, fmt.Errorf("%w: %s: %w%s", ErrAddr, f.verb, err, hint)
	}
	port, err := ParsePort(f.next())
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: %s: %w", ErrPort, f.verb, err)
	}
	return netip.AddrPortFrom(ip, port), nil
}

// unbracketedIPv6 reports whether s starts with an IPv6 address and a ':',
// the likely mistake of a person typing "register:::1:5000".
func unbracketedIPv6(s string) bool {
	for i := 0; i < len(s) && i <= len("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"); i++ {
		if s[i] == ':' {
			if ip, err := netip.ParseAddr(s[:i]); err == nil && ip.Is6() {
				return true
			}
		}
	}
	return false
}

func (f *fields) uint(what string, max uint64) (uint64, error) {
	if f.eof {
		return 0, f.errf(ErrFields, "missing %s", what)
	}
	t := f.next()
	n, err := parseUint(t, max)
	if err != nil {
		return 0, f.errf(ErrNumber, "%s %q is not a number in 0..%d", what, truncate(t), max)
	}
	return n, nil
}

// count reads a CAP or DEGREE field.
func (f *fields) count(what string) (int, error) {
	n, err := f.uint(what, maxCount)
	return int(n), err
}

func (f *fields) timestamp() (Timestamp, error) {
	if f.eof {
		return 0, f.errf(ErrFields, "missing timestamp")
	}
	t := f.next()
	ts, err := ParseTimestamp(t)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrTimestamp, f.verb, err)
	}
	return ts, nil
}

// gossipHeader reads the fields gossip and gossip64 share before the
// payload: ORIGINIP:ORIGINPORT:SEQ:HOPS:TS.
func (f *fields) gossipHeader(m *Message) error {
	var err error
	if m.Addr, err = f.addr(); err != nil {
		return err
	}
	var n uint64
	if n, err = f.uint("sequence number", 1<<32-1); err != nil {
		return err
	}
	m.Seq = uint32(n)
	if n, err = f.uint("hop count", 1<<16-1); err != nil {
		return err
	}
	m.Hops = uint16(n)
	m.Time, err = f.timestamp()
	return err
}

// payload decodes the base64 payload of a gossip64 line: everything that
// is left, in RFC 4648 standard encoding with padding, canonical (Strict),
// at most MaxPayloadLen bytes once decoded. The length is checked before
// the decoded buffer is allocated.
func (f *fields) payload() (string, error) {
	if f.eof {
		return "", f.errf(ErrFields, "missing payload")
	}
	t := f.rest
	f.rest, f.eof = "", true
	if n := base64.StdEncoding.DecodedLen(len(t)); n > MaxPayloadLen+2 {
		return "", fmt.Errorf("%w: %s: payload of about %d bytes over the %d limit", ErrTooLong, f.verb, n, MaxPayloadLen)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(t)
	if err != nil {
		return "", fmt.Errorf("%w: %s: payload is not base64: %w", ErrPayload, f.verb, err)
	}
	if len(b) > MaxPayloadLen {
		return "", fmt.Errorf("%w: %s: payload of %d bytes over the %d limit", ErrTooLong, f.verb, len(b), MaxPayloadLen)
	}
	return string(b), nil
}

// IsText reports whether s can travel as the text of a classic gossip
// line: at most MaxTextLen bytes of valid UTF-8 without control bytes
// (what Parse accepts there). Any other payload travels on a gossip64 line.
func IsText(s string) bool {
	if len(s) > MaxTextLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}

// gossip64Prefix and sgossip64Prefix start every gossip64 and sgossip64
// line; the line limits look for them.
const (
	gossip64Prefix  = VerbGossip64 + ":"
	sgossip64Prefix = VerbSGossip64 + ":"
)

// Nonce bounds: a nonce is 16 to 64 characters of base64url (nodes send
// 22: 16 random bytes).
const (
	minNonceLen = 16
	maxNonceLen = 64
)

// nonce reads a NONCE field.
func (f *fields) nonce() (string, error) {
	t := f.next()
	if len(t) < minNonceLen || len(t) > maxNonceLen {
		return "", f.errf(ErrKey, "nonce of %d characters, want %d to %d", len(t), minNonceLen, maxNonceLen)
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", f.errf(ErrKey, "nonce %q is not base64url", truncate(t))
		}
	}
	return t, nil
}

// sig reads a SIG field.
// key reads a public key field; a bad one is an ErrKey naming the verb.
func (f *fields) key() (identity.PublicKey, error) {
	key, err := identity.ParsePublicKey(f.next())
	if err != nil {
		return key, fmt.Errorf("%w: %s: %w", ErrKey, f.verb, err)
	}
	return key, nil
}

func (f *fields) sig() (identity.Signature, error) {
	if f.eof {
		return identity.Signature{}, f.errf(ErrFields, "missing signature")
	}
	sig, err := identity.ParseSignature(f.next())
	if err != nil {
		return sig, fmt.Errorf("%w: %s: %w", ErrKey, f.verb, err)
	}
	return sig, nil
}

// relayAuth reads the optional SEEDKEY:SEEDSIG after "relayed": the
// relaying seed's signature (nil when absent).
func (f *fields) relayAuth() (*Auth, error) {
	if f.done() {
		return nil, nil
	}
	if !f.keyNext() {
		return nil, f.errf(ErrFields, "unexpected trailing field %q after %q (only a seed's KEY:SIG is allowed)", truncate(f.rest), relayedMark)
	}
	a, err := f.auth()
	if err != nil {
		return nil, err
	}
	return a, f.end()
}

// keyNext reports whether the next field has the length of a key.
func (f *fields) keyNext() bool {
	i := strings.IndexByte(f.rest, ':')
	if i < 0 {
		i = len(f.rest)
	}
	return i == identity.PublicKeyTextLen
}

// keyNonce reads the KEY:NONCE (and, withSig, :SIG) trailing fields of an
// authenticated handshake.
func (f *fields) keyNonce(withSig bool) (*Auth, string, error) {
	key, err := f.key()
	if err != nil {
		return nil, "", err
	}
	if f.eof {
		return nil, "", f.errf(ErrFields, "missing nonce after the key")
	}
	nonce, err := f.nonce()
	if err != nil {
		return nil, "", err
	}
	a := &Auth{Key: key}
	if withSig {
		if a.Sig, err = f.sig(); err != nil {
			return nil, "", err
		}
	}
	return a, nonce, f.end()
}

// auth reads the KEY:SIG fields of a signed gossip line.
func (f *fields) auth() (*Auth, error) {
	if f.eof {
		return nil, f.errf(ErrFields, "missing origin key")
	}
	key, err := f.key()
	if err != nil {
		return nil, err
	}
	if f.eof {
		return nil, f.errf(ErrFields, "missing signature")
	}
	sig, err := identity.ParseSignature(f.next())
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKey, f.verb, err)
	}
	return &Auth{Key: key, Sig: sig}, nil
}

// text returns everything that is left, ':' included.
func (f *fields) text(required bool) (string, error) {
	if f.eof {
		if required {
			return "", f.errf(ErrFields, "missing text")
		}
		return "", nil
	}
	t := f.rest
	f.rest, f.eof = "", true
	if len(t) > MaxTextLen {
		return "", fmt.Errorf("%w: %s: text of %d bytes over the %d limit", ErrTooLong, f.verb, len(t), MaxTextLen)
	}
	return t, nil
}

// peers reads peer-list entries IP#PORT (or IP#PORT#CAP#DEGREE with info).
func (f *fields) peers(info bool) ([]PeerInfo, error) {
	if f.rest == "" {
		f.eof = true
		return nil, nil
	}
	n := strings.Count(f.rest, ":") + 1
	if n > MaxPeersPerReply*8 { // cheap upper bound before any allocation
		return nil, f.errf(ErrTooMany, "over %d entries", MaxPeersPerReply)
	}
	var out []PeerInfo
	for !f.eof {
		e := f.next()
		if len(out) == MaxPeersPerReply {
			return nil, f.errf(ErrTooMany, "over %d entries", MaxPeersPerReply)
		}
		p, err := parseEntry(e, info)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: entry %q: %w", ErrAddr, f.verb, truncate(e), err)
		}
		out = append(out, p)
	}
	return out, nil
}

// ids reads the message IDs IP#PORT#SEQ of an ihave or graft line.
func (f *fields) ids() ([]MsgID, error) {
	if f.eof || f.rest == "" {
		return nil, f.errf(ErrFields, "wants at least one IP#PORT#SEQ")
	}
	n := strings.Count(f.rest, ":") + 1
	if n > MaxIDsPerLine*8 { // cheap upper bound before any allocation
		return nil, f.errf(ErrTooMany, "over %d message IDs", MaxIDsPerLine)
	}
	// One allocation: room for as many IDs as the line has fields, up
	// to the limit (an IPv6 ID's colons make that an overestimate).
	out := make([]MsgID, 0, min(n, MaxIDsPerLine))
	for !f.eof {
		e := f.next()
		if len(out) == MaxIDsPerLine {
			return nil, f.errf(ErrTooMany, "over %d message IDs", MaxIDsPerLine)
		}
		id, ok := parseID4(e)
		var err error
		if !ok {
			id, err = parseID(e)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: message ID %q: %w", ErrAddr, f.verb, truncate(e), err)
		}
		out = append(out, id)
	}
	return out, nil
}

// parseID4 parses an IPv4 message ID A.B.C.D#PORT#SEQ in one pass, as
// parseID would, without its several scans of the field: an announcement
// carries a few IDs per delivered message. ok is false for anything else
// (an IPv6 ID, or a bad one), which parseID then reads or explains.
func parseID4(e string) (id MsgID, ok bool) {
	var ip [4]byte
	i := 0
	for k := range ip {
		start, n := i, 0
		for i < len(e) && i-start < 3 && '0' <= e[i] && e[i] <= '9' {
			n = n*10 + int(e[i]-'0')
			i++
		}
		sep := byte('.')
		if k == len(ip)-1 {
			sep = '#'
		}
		// 1-3 digits, no leading zero, at most 255 (netip.ParseAddr's rules).
		if i == start || n > 255 || e[start] == '0' && i-start > 1 || i == len(e) || e[i] != sep {
			return MsgID{}, false
		}
		ip[k] = byte(n)
		i++
	}
	rest := e[i:]
	j := strings.IndexByte(rest, '#')
	if j < 0 {
		return MsgID{}, false
	}
	port, err := parseUint(rest[:j], 65535)
	if err != nil || port == 0 {
		return MsgID{}, false
	}
	seq, err := parseUint(rest[j+1:], 1<<32-1)
	if err != nil {
		return MsgID{}, false
	}
	a := netip.AddrFrom4(ip)
	if a.IsUnspecified() || a.IsMulticast() {
		return MsgID{}, false
	}
	return MsgID{Origin: netip.AddrPortFrom(a, uint16(port)), Seq: uint32(seq)}, true
}

// parseID parses one message ID IP#PORT#SEQ.
func parseID(e string) (MsgID, error) {
	i := strings.LastIndexByte(e, '#')
	if strings.Count(e, "#") != 2 {
		return MsgID{}, errors.New("want IP#PORT#SEQ")
	}
	p, err := parseEntry(e[:i], false)
	if err != nil {
		return MsgID{}, err
	}
	seq, err := parseUint(e[i+1:], 1<<32-1)
	if err != nil {
		return MsgID{}, fmt.Errorf("sequence number %q is not a number in 0..4294967295", truncate(e[i+1:]))
	}
	return MsgID{Origin: p.Addr, Seq: uint32(seq)}, nil
}

// parseEntry parses a peer-list entry IP#PORT, or IP#PORT#CAP#DEGREE with
// info (and IP#PORT#CAP#DEGREE#KEY).
func parseEntry(e string, info bool) (PeerInfo, error) {
	want := 2
	if info {
		want = 4
	}
	var parts [5]string
	n := splitHash(e, &parts)
	if n != want && !(info && n == want+1) {
		if info {
			return PeerInfo{}, errors.New("want IP#PORT#CAP#DEGREE or IP#PORT#CAP#DEGREE#KEY")
		}
		return PeerInfo{}, errors.New("want IP#PORT")
	}
	ip, err := ParseIP(parts[0])
	if err != nil {
		return PeerInfo{}, err
	}
	port, err := ParsePort(parts[1])
	if err != nil {
		return PeerInfo{}, err
	}
	p := PeerInfo{Addr: netip.AddrPortFrom(ip, port)}
	if info {
		c, err := parseUint(parts[2], maxCount)
		if err != nil {
			return PeerInfo{}, fmt.Errorf("capacity %q is not a number", truncate(parts[2]))
		}
		d, err := parseUint(parts[3], maxCount)
		if err != nil {
			return PeerInfo{}, fmt.Errorf("degree %q is not a number", truncate(parts[3]))
		}
		p.Cap, p.Degree = int(c), int(d)
		if n == 5 {
			if p.Key, err = identity.ParsePublicKey(parts[4]); err != nil {
				return PeerInfo{}, fmt.Errorf("key: %w", err)
			}
		}
	}
	return p, nil
}

// splitHash cuts e at every '#' into parts, without allocating, and
// returns how many pieces there are (all of them, even past len(parts),
// whose slots then hold the first five).
func splitHash(e string, parts *[5]string) int {
	n := 0
	for {
		i := strings.IndexByte(e, '#')
		if i < 0 {
			if n < len(parts) {
				parts[n] = e
			}
			return n + 1
		}
		if n < len(parts) {
			parts[n] = e[:i]
		}
		n++
		e = e[i+1:]
	}
}

// ParseIP parses an IP as it appears on the wire: dotted IPv4, or IPv6 in
// brackets. An IPv4-mapped address ([::ffff:10.0.0.1]) is read as the IPv4
// address. Unspecified (0.0.0.0, [::]), multicast and zoned addresses are
// refused: no peer can listen there.
func ParseIP(s string) (netip.Addr, error) {
	var ip netip.Addr
	var err error
	if strings.HasPrefix(s, "[") {
		if !strings.HasSuffix(s, "]") {
			return ip, fmt.Errorf("IPv6 address %q lacks its closing bracket", truncate(s))
		}
		ip, err = netip.ParseAddr(s[1 : len(s)-1])
		if err == nil && !ip.Is6() {
			return netip.Addr{}, fmt.Errorf("%q: only IPv6 goes in brackets", truncate(s))
		}
	} else {
		ip, err = netip.ParseAddr(s)
		if err == nil && !ip.Is4() {
			return netip.Addr{}, fmt.Errorf("IPv6 address %q must be written in brackets", truncate(s))
		}
	}
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", truncate(s))
	}
	if ip.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q: zoned addresses are not allowed", truncate(s))
	}
	// [::ffff:a.b.c.d] is the IPv4 address a.b.c.d, which AppendIP writes
	// dotted; reading it as IPv4 keeps Parse(Format(m)) == m, and keeps
	// [::ffff:0.0.0.0] from slipping past the checks below.
	ip = ip.Unmap()
	switch {
	case ip.IsUnspecified():
		return netip.Addr{}, fmt.Errorf("%q is the unspecified address", truncate(s))
	case ip.IsMulticast():
		return netip.Addr{}, fmt.Errorf("%q is a multicast address", truncate(s))
	}
	return ip, nil
}

// ParsePort parses a port in 1..65535.
func ParsePort(s string) (uint16, error) {
	n, err := parseUint(s, 65535)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("port %q is not in 1-65535", truncate(s))
	}
	return uint16(n), nil
}

// ParseAddrPort parses IP:PORT as written in config.txt and on the command
// line (IPv6 as [::1]:PORT).
func ParseAddrPort(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: %q is not IP:PORT", ErrAddr, truncate(s))
	}
	ip, err := ParseIP(s[:i])
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: %w", ErrAddr, err)
	}
	port, err := ParsePort(s[i+1:])
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: %w", ErrPort, err)
	}
	return netip.AddrPortFrom(ip, port), nil
}

// parseUint accepts 1-10 decimal digits and nothing else (no sign, no
// spaces), up to max.
func parseUint(s string, max uint64) (uint64, error) {
	if s == "" || len(s) > 10 {
		return 0, ErrNumber
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, ErrNumber
		}
		n = n*10 + uint64(c-'0')
	}
	if n > max {
		return 0, ErrNumber
	}
	return n, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
