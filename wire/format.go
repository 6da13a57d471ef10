package wire

import (
	"encoding/base64"
	"net/netip"
	"strconv"
)

// Format returns the line for m, without the trailing '\n'.
func Format(m Message) string { return string(m.Append(nil)) }

// Append appends m's line (without '\n') to b. It writes what Parse reads;
// it does not validate m, so a Message built by hand with an empty Addr
// formats to a line that Parse refuses.
func (m *Message) Append(b []byte) []byte {
	switch m.Kind {
	case KindRegister:
		b = append(b, VerbRegister...)
		b = appendAddr(b, m.Addr)
		if m.Auth != nil {
			b = appendCapDegreeAlways(b, m.Cap, m.Degree)
			b = append(b, ':')
			b = m.Auth.Key.AppendText(b)
			b = append(b, ':')
			b = m.Time.Append(b)
			b = append(b, ':')
			b = m.Auth.Sig.AppendText(b)
		} else {
			b = appendCapDegree(b, m.Cap, m.Degree)
		}
	case KindRegistered:
		b = append(b, VerbRegistered...)
	case KindPeerListRequest:
		b = append(b, VerbPeerList...)
	case KindPeerList, KindPeerInfo:
		info := m.Kind == KindPeerInfo
		if info {
			b = append(b, VerbPeerInfo...)
		} else {
			b = append(b, VerbPeerList...)
		}
		b = append(b, ':')
		for i, p := range m.Peers {
			if i > 0 {
				b = append(b, ':')
			}
			b = AppendEntry(b, p, info)
		}
	case KindPeerInfoRequest:
		b = append(b, VerbPeerInfo...)
	case KindPeerKeysRequest:
		b = append(b, VerbPeerKeys...)
	case KindDeadNode:
		b = append(b, VerbDeadNode...)
		b = appendAddr(b, m.Addr)
		b = append(b, ':')
		b = m.Time.Append(b)
		b = appendAddr(b, m.From)
		if m.Relayed {
			b = append(b, ":"+relayedMark...)
			b = appendRelayAuth(b, m.Relay)
		}
	case KindOK:
		b = append(b, VerbOK...)
		if m.Text != "" {
			b = append(b, ':')
			b = append(b, m.Text...)
		}
	case KindError:
		b = append(b, VerbError+":"...)
		b = append(b, m.Text...)
	case KindConnect:
		b = append(b, VerbConnect...)
		b = appendAddr(b, m.Addr)
		if m.Isolated || m.Auth != nil {
			b = appendCapDegreeAlways(b, m.Cap, m.Degree)
			if m.Isolated {
				b = append(b, ":"+isolatedMark...)
			}
			if m.Auth != nil {
				b = append(b, ':')
				b = m.Auth.Key.AppendText(b)
				b = append(b, ':')
				b = append(b, m.Text...)
			}
		} else {
			b = appendCapDegree(b, m.Cap, m.Degree)
		}
	case KindConnectAccepted:
		b = append(b, VerbConnectAccepted...)
		b = appendAddr(b, m.Addr)
		if m.Auth != nil {
			b = appendCapDegreeAlways(b, m.Cap, m.Degree)
			b = append(b, ':')
			b = m.Auth.Key.AppendText(b)
			b = append(b, ':')
			b = append(b, m.Text...)
			b = append(b, ':')
			b = m.Auth.Sig.AppendText(b)
		} else {
			b = appendCapDegree(b, m.Cap, m.Degree)
		}
	case KindConnectProof:
		b = append(b, VerbConnectProof+":"...)
		if m.Auth != nil {
			b = m.Auth.Sig.AppendText(b)
		}
	case KindChallenge:
		b = append(b, VerbChallenge+":"...)
		b = append(b, m.Text...)
	case KindChallengeReply:
		b = append(b, VerbChallengeReply...)
		b = appendAddr(b, m.Addr)
		if m.Auth != nil {
			b = append(b, ':')
			b = m.Auth.Key.AppendText(b)
			b = append(b, ':')
			b = m.Auth.Sig.AppendText(b)
		}
	case KindConnectRefused:
		b = append(b, VerbConnectRefused+":"...)
		b = append(b, m.Text...)
	case KindLivenessRequest:
		b = append(b, VerbLivenessRequest+":"...)
		b = m.Time.Append(b)
		b = appendAddr(b, m.Addr)
	case KindLivenessReply:
		b = append(b, VerbLivenessReply+":"...)
		b = m.Time.Append(b)
		b = appendAddr(b, m.Addr)
		b = appendAddr(b, m.From)
	case KindGossip:
		text := IsText(m.Text)
		if m.Auth != nil {
			b = append(b, 's')
		}
		if text {
			b = append(b, VerbGossip...)
		} else {
			b = append(b, VerbGossip64...)
		}
		b = appendAddr(b, m.Addr)
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(m.Seq), 10)
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(m.Hops), 10)
		b = append(b, ':')
		b = m.Time.Append(b)
		b = append(b, ':')
		if m.Auth != nil {
			b = m.Auth.Key.AppendText(b)
			b = append(b, ':')
			b = m.Auth.Sig.AppendText(b)
			b = append(b, ':')
		}
		if text {
			b = append(b, m.Text...)
		} else {
			b = base64.StdEncoding.AppendEncode(b, []byte(m.Text))
		}
	case KindIHave, KindGraft:
		if m.Kind == KindIHave {
			b = append(b, VerbIHave...)
		} else {
			b = append(b, VerbGraft...)
		}
		for _, id := range m.IDs {
			b = append(b, ':')
			b = AppendIP(b, id.Origin.Addr())
			b = append(b, '#')
			b = strconv.AppendUint(b, uint64(id.Origin.Port()), 10)
			b = append(b, '#')
			b = strconv.AppendUint(b, uint64(id.Seq), 10)
		}
	case KindPrune:
		b = append(b, VerbPrune...)
	case KindLeaving:
		b = append(b, VerbLeaving...)
		b = appendAddr(b, m.Addr)
		if m.Auth != nil {
			b = append(b, ':')
			b = m.Auth.Key.AppendText(b)
			b = append(b, ':')
			b = m.Time.Append(b)
			b = append(b, ':')
			b = m.Auth.Sig.AppendText(b)
		}
		if m.Relayed {
			b = append(b, ":"+relayedMark...)
			b = appendRelayAuth(b, m.Relay)
		}
	default:
		b = append(b, "error:invalid message"...)
	}
	return b
}

// appendRelayAuth appends ":SEEDKEY:SEEDSIG" when a is set.
func appendRelayAuth(b []byte, a *Auth) []byte {
	if a == nil {
		return b
	}
	b = append(b, ':')
	b = a.Key.AppendText(b)
	b = append(b, ':')
	return a.Sig.AppendText(b)
}

// appendCapDegree appends ":CAP:DEGREE" unless both are zero.
func appendCapDegree(b []byte, capacity, degree int) []byte {
	if capacity == 0 && degree == 0 {
		return b
	}
	return appendCapDegreeAlways(b, capacity, degree)
}

// appendCapDegreeAlways appends ":CAP:DEGREE" even when both are zero: the
// signed and isolated forms need the fields in place for what follows.
func appendCapDegreeAlways(b []byte, capacity, degree int) []byte {
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(capacity), 10)
	b = append(b, ':')
	return strconv.AppendInt(b, int64(degree), 10)
}

// appendAddr appends ":IP:PORT".
func appendAddr(b []byte, a netip.AddrPort) []byte {
	b = append(b, ':')
	b = AppendIP(b, a.Addr())
	b = append(b, ':')
	return strconv.AppendUint(b, uint64(a.Port()), 10)
}

// AppendIP appends ip in wire form: IPv4 dotted, IPv6 in brackets.
func AppendIP(b []byte, ip netip.Addr) []byte {
	if ip.Is6() && !ip.Is4In6() {
		b = append(b, '[')
		b = ip.AppendTo(b)
		return append(b, ']')
	}
	return ip.Unmap().AppendTo(b)
}

// FormatIP returns ip in wire form: IPv4 dotted, IPv6 in brackets.
func FormatIP(ip netip.Addr) string { return string(AppendIP(nil, ip)) }

// FormatAddr returns a in wire form, IP:PORT ([IPv6]:PORT).
func FormatAddr(a netip.AddrPort) string { return a.String() }

// AppendEntry appends peer-list entry p as a reply line carries it:
// IP#PORT, or with info IP#PORT#CAP#DEGREE and #KEY when p has a key.
func AppendEntry(b []byte, p PeerInfo, info bool) []byte {
	b = AppendIP(b, p.Addr.Addr())
	b = append(b, '#')
	b = strconv.AppendUint(b, uint64(p.Addr.Port()), 10)
	if info {
		b = append(b, '#')
		b = strconv.AppendInt(b, int64(p.Cap), 10)
		b = append(b, '#')
		b = strconv.AppendInt(b, int64(p.Degree), 10)
		if !p.Key.IsZero() {
			b = append(b, '#')
			b = p.Key.AppendText(b)
		}
	}
	return b
}
