package peer

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/whispernet/whispernet/identity"
	"github.com/whispernet/whispernet/wire"
)

// FuzzPeerCore drives a signing peer with hostile event sequences decoded
// from the fuzzer's bytes: links opened and closed from honest and hostile
// addresses, authenticated and plain handshakes, proofs, gossip that is
// honest, unsigned, signed by the wrong key, tampered or pre-empting,
// ihave and graft floods, prunes and liveness lines, signed Leaving lines
// (valid, signed by another key, tampered), a seed's peer keys reply,
// challenges, time passing. After every event the
// core's invariants must hold (checkInvariants), every delivery must carry
// a valid signature, and once an honest origin's key is bound, no message
// in its name signed by another key is ever delivered (before that, a
// first-seen forgery can be: docs/security.md, "First-seen bindings").
func FuzzPeerCore(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13})
	f.Add([]byte{0, 0, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3})
	f.Add([]byte{2, 7, 4, 4, 4, 9, 9, 9, 6, 6, 6, 6})
	f.Add([]byte{0, 1, 5, 12, 12, 12, 8, 8, 11, 2, 3})
	f.Add([]byte{0, 1, 15, 0, 4, 0, 14, 0, 14, 1, 16, 3, 16, 4, 14, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 400 {
			data = data[:400]
		}
		cfg := testConfig(1)
		cfg.Target, cfg.MaxPeers, cfg.MaxBadGossip, cfg.MaxMissing, cfg.CacheSize = 3, 4, 3, 16, 8
		p := mustNew(t, cfg, 1, 2)
		now := base
		p.Start(now)
		tr := &tracker{}
		if err := checkInvariants(p, p.Ready(), tr); err != nil {
			t.Fatal(err)
		}
		honest := []netip.AddrPort{
			netip.MustParseAddrPort("127.0.0.1:5001"), netip.MustParseAddrPort("127.0.0.1:5002"), netip.MustParseAddrPort("10.0.0.3:5003"),
		}
		ak := identity.FromSeed([]byte("attacker"))
		var conns []ConnID
		nonces := map[ConnID]string{}
		nextID := ConnID(1)
		seqs := map[netip.AddrPort]uint32{}
		pick := func(i int) byte {
			if i < len(data) {
				return data[i]
			}
			return 0
		}
		for i := 0; i < len(data); i += 2 {
			op, arg := data[i]%17, pick(i+1)
			who := honest[int(arg)%len(honest)]
			var id ConnID
			if len(conns) > 0 {
				id = conns[int(arg)%len(conns)]
			}
			gossip := func(k *identity.Key, origin netip.AddrPort, seq uint32) wire.Message {
				m := wire.Message{Kind: wire.KindGossip, Addr: origin, Seq: seq, Hops: 1, Time: wire.TimestampOf(now), Text: fmt.Sprint("m", seq)}
				if k != nil {
					wire.SignGossip(&m, k)
				}
				return m
			}
			var ev wire.Message
			send := false
			switch op {
			case 0: // inbound connection
				p.Opened(now, nextID, netip.AddrPortFrom(who.Addr(), 40000+uint16(nextID)), false)
				conns = append(conns, nextID)
				nextID++
			case 1: // authenticated handshake as who
				ev, send = wire.Message{Kind: wire.KindConnect, Addr: who, Cap: int(arg), Auth: &wire.Auth{Key: DerivedKey(who).Public()}, Text: "fuzz-dialler-nonce-01"}, true
			case 2: // handshake claiming who's key, plain or as the attacker
				ev, send = wire.Message{Kind: wire.KindConnect, Addr: who, Cap: 1<<31 - 1, Isolated: arg&1 == 1}, true
				if arg&2 != 0 {
					ev.Auth, ev.Text = &wire.Auth{Key: ak.Public()}, "fuzz-dialler-nonce-02"
				}
			case 3: // honest gossip from who, next sequence number
				seqs[who]++
				ev, send = gossip(DerivedKey(who), who, seqs[who]), true
			case 4: // forged gossip in who's name
				ev, send = gossip(ak, who, seqs[who]+1), true
			case 5: // unsigned gossip
				ev, send = gossip(nil, who, seqs[who]+1), true
			case 6: // tampered honest gossip
				ev = gossip(DerivedKey(who), who, seqs[who]+1)
				ev.Text += "!"
				send = true
			case 7: // pre-emption with who's key and a bad signature
				ev = gossip(ak, who, 1<<32-1)
				ev.Auth.Key = DerivedKey(who).Public()
				send = true
			case 8: // ihave flood
				ids := make([]wire.MsgID, 1+int(arg)%40)
				for j := range ids {
					ids[j] = wire.MsgID{Origin: who, Seq: uint32(j) + seqs[who] + 1}
				}
				ev, send = wire.Message{Kind: wire.KindIHave, IDs: ids}, true
			case 9: // graft storm
				ev, send = wire.Message{Kind: wire.KindGraft, IDs: []wire.MsgID{{Origin: p.Self(), Seq: 1}, {Origin: p.Self(), Seq: 1}, {Origin: who, Seq: 1}}}, true
			case 10: // a proof: right (if we have the nonce) or wrong
				sig := wire.SignChallenge(ak, "x", who)
				if n, ok := nonces[id]; ok && arg&1 == 0 {
					if c := p.conns[id]; c != nil {
						sig = wire.SignChallenge(DerivedKey(c.addr), n, c.addr)
					}
				}
				ev, send = wire.Message{Kind: wire.KindConnectProof, Auth: &wire.Auth{Sig: sig}}, true
			case 11: // a challenge
				ev, send = wire.Message{Kind: wire.KindChallenge, Text: "fuzz-seed-nonce-00001"}, true
			case 12: // time passes
				now = now.Add(time.Duration(arg) * 50 * time.Millisecond)
				p.Tick(now)
			case 13: // a connection closes
				if id != 0 {
					p.Closed(now, id)
				}
			case 14: // a signed leave in who's name: valid, another key's, or tampered
				ev = wire.Message{Kind: wire.KindLeaving, Addr: who}
				k := DerivedKey(who)
				if arg&1 == 1 {
					k = ak
				}
				wire.SignLeaving(&ev, k, wire.TimestampOf(now))
				if arg&2 != 0 {
					ev.Time++
				}
				send = true
			case 15: // the seed's peer keys reply: who with its key, another honest peer unverified
				other := honest[(int(arg)+1)%len(honest)]
				p.SeedReply(now, cfg.Seeds[0], wire.Message{Kind: wire.KindPeerKeysRequest}, wireCopy(t, wire.Message{Kind: wire.KindPeerInfo,
					Peers: []wire.PeerInfo{{Addr: who, Cap: 3, Key: DerivedKey(who).Public()}, {Addr: other, Cap: 3}}}))
			case 16: // liveness lines and prunes (floods of them)
				ev, send = []wire.Message{
					{Kind: wire.KindLivenessRequest, Time: wire.TimestampOf(now), Addr: who},
					{Kind: wire.KindLivenessReply, Time: wire.TimestampOf(now), Addr: p.Self(), From: who},
					{Kind: wire.KindPrune},
					{Kind: wire.KindGraft},
				}[arg%4], true
			}
			honestBound := map[netip.AddrPort]bool{}
			for _, h := range honest {
				k, _, ok := p.OriginKey(h)
				honestBound[h] = ok && k == DerivedKey(h).Public()
			}
			if send && id != 0 {
				p.Receive(now, id, wireCopy(t, ev))
			}
			acts := p.Ready()
			for _, a := range acts {
				switch {
				case a.Kind == Send && a.Msg.Kind == wire.KindConnectAccepted && a.Msg.Auth != nil:
					nonces[a.Conn] = a.Msg.Text
				case a.Kind == Deliver && a.Addr != p.Self():
					m := a.Msg
					if m.Auth == nil || !wire.VerifyGossip(&m, nil) {
						t.Fatalf("event %d: delivered a message without a valid signature: %s", i/2, wire.Format(m))
					}
					if honestBound[m.Addr] && m.Auth.Key != DerivedKey(m.Addr).Public() {
						t.Fatalf("event %d: delivered a forgery in the name of %s, whose key was bound: %s", i/2, m.Addr, wire.Format(m))
					}
				}
			}
			if err := checkInvariants(p, acts, tr); err != nil {
				t.Fatalf("event %d (op %d): %v", i/2, op, err)
			}
			if len(p.missing) > cfg.MaxMissing {
				t.Fatalf("missing table %d over %d", len(p.missing), cfg.MaxMissing)
			}
		}
	})
}
