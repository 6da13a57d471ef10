package wire

import (
	"net/netip"
	"strconv"

	"github.com/whispernet/whispernet/identity"
)

// Auth is the origin's key and signature on a signed gossip message.
//
// The signature covers what identifies and dates the message and what it
// says: origin, sequence number, timestamp and the payload bytes (decoded:
// the same message signed once verifies whether it travels as sgossip or
// sgossip64). It does not cover the hop count, which every forwarder
// changes; a forwarder that lies about hops changes nothing but a counter.
type Auth struct {
	Key identity.PublicKey
	Sig identity.Signature
}

// gossipDomain separates gossip signatures from every other signature a
// node makes with the same key (challenges, relays): no signed gossip
// message can be replayed as an answer to a challenge, or the other way.
const gossipDomain = "whispernet gossip v1\n"

// AppendGossipSigned appends the bytes an origin signs for the message
// (origin, seq, ts, payload) to b. The encoding is unambiguous: the fixed
// fields end in '\n', which no address, number or timestamp contains, and
// the payload runs to the end.
func AppendGossipSigned(b []byte, origin netip.AddrPort, seq uint32, ts Timestamp, payload string) []byte {
	b = append(b, gossipDomain...)
	b = appendAddr(b, origin)
	b = append(b, '\n')
	b = strconv.AppendUint(b, uint64(seq), 10)
	b = append(b, '\n')
	b = ts.Append(b)
	b = append(b, '\n')
	return append(b, payload...)
}

// SignGossip signs m as its origin with k, setting m.Auth.
func SignGossip(m *Message, k *identity.Key) {
	var arr [256]byte
	msg := AppendGossipSigned(arr[:0], m.Addr, m.Seq, m.Time, m.Text)
	m.Auth = &Auth{Key: k.Public(), Sig: k.Sign(msg)}
}

// VerifyGossip reports whether m carries a valid signature by m.Auth.Key
// (false for an unsigned message), checked with v (nil: afresh).
func VerifyGossip(m *Message, v identity.Verifier) bool {
	if m.Auth == nil {
		return false
	}
	var arr [256]byte
	msg := AppendGossipSigned(arr[:0], m.Addr, m.Seq, m.Time, m.Text)
	if v == nil {
		return m.Auth.Key.Verify(msg, m.Auth.Sig)
	}
	return v.Verify(m.Auth.Key, msg, m.Auth.Sig)
}
