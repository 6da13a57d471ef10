package wire

import (
	"encoding/base64"
	"net/netip"
	"slices"
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
	switch v := v.(type) {
	case nil:
		return m.Auth.Key.Verify(msg, m.Auth.Sig)
	case *identity.Cache:
		// Called as what it is, the cache keeps msg on the stack; through
		// the interface it would go to the heap, once per received message.
		return v.Verify(m.Auth.Key, msg, m.Auth.Sig)
	default:
		return v.Verify(m.Auth.Key, slices.Clone(msg), m.Auth.Sig)
	}
}

// challengeDomain separates answers to challenges (a seed's probe, either
// end of a handshake) from gossip signatures.
const challengeDomain = "whispernet challenge v1\n"

// AppendChallengeSigned appends the bytes a node at addr signs to answer
// the challenge nonce: "I hold this key and I am at addr, now".
func AppendChallengeSigned(b []byte, nonce string, addr netip.AddrPort) []byte {
	b = append(b, challengeDomain...)
	b = append(b, nonce...)
	b = append(b, '\n')
	return appendAddr(b, addr)
}

// SignChallenge returns k's answer to nonce as the node at addr.
func SignChallenge(k *identity.Key, nonce string, addr netip.AddrPort) identity.Signature {
	var arr [128]byte
	return k.Sign(AppendChallengeSigned(arr[:0], nonce, addr))
}

// VerifyChallenge reports whether sig is key's answer to nonce as the node
// at addr.
func VerifyChallenge(key identity.PublicKey, sig identity.Signature, nonce string, addr netip.AddrPort) bool {
	var arr [128]byte
	return key.Verify(AppendChallengeSigned(arr[:0], nonce, addr), sig)
}

// NonceFrom returns a nonce for a challenge: 16 bytes from r in base64url
// (22 characters).
func NonceFrom(r interface{ Uint64() uint64 }) string {
	var b [16]byte
	x, y := r.Uint64(), r.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(x>>(8*i)), byte(y>>(8*i))
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// NetGroup returns the network group of ip for quotas: its /24 for IPv4,
// its /48 for IPv6 (as Bitcoin's addrman buckets addresses), and ok false
// for loopback, private (RFC 1918, fc00::/7) and link-local addresses,
// which quotas leave alone: on one machine, one container bridge or one
// cluster's pod network every node shares a group, and nobody outside
// can send from those addresses. The quotas are for the public internet,
// where one network's many addresses are one attacker's.
func NetGroup(ip netip.Addr) (g netip.Prefix, ok bool) {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() {
		return netip.Prefix{}, false
	}
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	g, _ = ip.Prefix(bits)
	return g, true
}

// registerDomain separates registrations from other signatures.
const registerDomain = "whispernet register v1\n"

// AppendRegisterSigned appends the bytes a peer signs to register (or
// refresh) addr with capacity and degree at ts.
func AppendRegisterSigned(b []byte, addr netip.AddrPort, capacity, degree int, ts Timestamp) []byte {
	b = append(b, registerDomain...)
	b = appendAddr(b, addr)
	b = append(b, '\n')
	b = strconv.AppendInt(b, int64(capacity), 10)
	b = append(b, '\n')
	b = strconv.AppendInt(b, int64(degree), 10)
	b = append(b, '\n')
	return ts.Append(b)
}

// SignRegister signs register request m (Addr, Cap, Degree) with k at ts,
// setting m.Time and m.Auth.
func SignRegister(m *Message, k *identity.Key, ts Timestamp) {
	var arr [128]byte
	m.Time = ts
	m.Auth = &Auth{Key: k.Public(), Sig: k.Sign(AppendRegisterSigned(arr[:0], m.Addr, m.Cap, m.Degree, ts))}
}

// VerifyRegister reports whether register request m is validly signed by
// m.Auth.Key (false when unsigned).
func VerifyRegister(m *Message) bool {
	if m.Auth == nil {
		return false
	}
	var arr [128]byte
	return m.Auth.Key.Verify(AppendRegisterSigned(arr[:0], m.Addr, m.Cap, m.Degree, m.Time), m.Auth.Sig)
}

// leavingDomain separates leaves from other signatures.
const leavingDomain = "whispernet leaving v1\n"

// AppendLeavingSigned appends the bytes a peer signs to say that addr
// leaves, at ts.
func AppendLeavingSigned(b []byte, addr netip.AddrPort, ts Timestamp) []byte {
	b = append(b, leavingDomain...)
	b = appendAddr(b, addr)
	b = append(b, '\n')
	return ts.Append(b)
}

// SignLeaving signs leave m (Addr) with k at ts, setting m.Time and
// m.Auth. The seed that verified k at registration then believes the
// leave from k alone, and a relaying seed passes the signature on
// unchanged, so every seed checks the peer's own signature.
func SignLeaving(m *Message, k *identity.Key, ts Timestamp) {
	var arr [96]byte
	m.Time = ts
	m.Auth = &Auth{Key: k.Public(), Sig: k.Sign(AppendLeavingSigned(arr[:0], m.Addr, ts))}
}

// VerifyLeaving reports whether leave m is validly signed by m.Auth.Key
// (false when unsigned).
func VerifyLeaving(m *Message) bool {
	if m.Auth == nil {
		return false
	}
	var arr [96]byte
	return m.Auth.Key.Verify(AppendLeavingSigned(arr[:0], m.Addr, m.Time), m.Auth.Sig)
}

// relayDomain separates seeds' relay signatures from other signatures.
const relayDomain = "whispernet relay v1\n"

// AppendRelaySigned appends the bytes a seed signs to relay m: the line
// as it goes on the wire, marked relayed, without the seed's own fields.
func AppendRelaySigned(b []byte, m Message) []byte {
	m.Relayed, m.Relay = true, nil
	return m.Append(append(b, relayDomain...))
}

// SignRelay marks m relayed and signs it as the relaying seed with k,
// setting m.Relay.
func SignRelay(m *Message, k *identity.Key) {
	m.Relayed = true
	m.Relay = &Auth{Key: k.Public(), Sig: k.Sign(AppendRelaySigned(nil, *m))}
}

// VerifyRelay reports whether relayed m carries a valid signature by
// m.Relay.Key (false when it carries none).
func VerifyRelay(m *Message) bool {
	if m.Relay == nil || !m.Relayed {
		return false
	}
	return m.Relay.Key.Verify(AppendRelaySigned(nil, *m), m.Relay.Sig)
}
