package identity

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestSignVerify(t *testing.T) {
	k := FromSeed([]byte("a"))
	msg := []byte("gossip:127.0.0.1:5000:1")
	sig := k.Sign(msg)
	if !k.Public().Verify(msg, sig) {
		t.Fatal("own signature does not verify")
	}
	if k.Public().Verify([]byte("gossip:127.0.0.1:5000:2"), sig) {
		t.Fatal("signature verifies another message")
	}
	other := FromSeed([]byte("b"))
	if other.Public().Verify(msg, sig) {
		t.Fatal("signature verifies under another key")
	}
	if (PublicKey{}).Verify(msg, sig) {
		t.Fatal("zero key verifies")
	}
	bad := sig
	bad[3] ^= 1
	if k.Public().Verify(msg, bad) {
		t.Fatal("flipped signature verifies")
	}
}

func TestFromSeedDeterministic(t *testing.T) {
	if FromSeed([]byte("x")).Public() != FromSeed([]byte("x")).Public() {
		t.Fatal("same seed, different keys")
	}
	if FromSeed([]byte("x")).Public() == FromSeed([]byte("y")).Public() {
		t.Fatal("different seeds, same key")
	}
}

func TestWireForms(t *testing.T) {
	k, err := Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	pt := k.Public().String()
	if len(pt) != PublicKeyTextLen || strings.ContainsAny(pt, ":#=") {
		t.Fatalf("public key text %q", pt)
	}
	p, err := ParsePublicKey(pt)
	if err != nil || p != k.Public() {
		t.Fatalf("ParsePublicKey(%q) = %v, %v", pt, p, err)
	}
	sig := k.Sign([]byte("m"))
	st := sig.String()
	if len(st) != SignatureTextLen || strings.ContainsAny(st, ":#=") {
		t.Fatalf("signature text %q", st)
	}
	s, err := ParseSignature(st)
	if err != nil || s != sig {
		t.Fatalf("ParseSignature = %v, %v", s, err)
	}
	if got := string(k.Public().AppendText([]byte("x"))); got != "x"+pt {
		t.Fatalf("AppendText = %q", got)
	}
	id := k.ID()
	if len(id) != IDLen || strings.ContainsAny(id, ":#") || id != k.Public().ID() {
		t.Fatalf("ID %q", id)
	}
	for _, bad := range []string{"", pt[:42], pt + "A", "+" + pt[1:], "/" + pt[1:], strings.Repeat("=", 43)} {
		if _, err := ParsePublicKey(bad); !errors.Is(err, ErrKeyText) {
			t.Errorf("ParsePublicKey(%q) err = %v, want ErrKeyText", bad, err)
		}
	}
	for _, bad := range []string{"", st[:85], st + "A", "*" + st[1:]} {
		if _, err := ParseSignature(bad); !errors.Is(err, ErrKeyText) {
			t.Errorf("ParseSignature(%q) err = %v, want ErrKeyText", bad, err)
		}
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.key")
	k, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate new: created=%v err=%v", created, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Fatalf("key file is not PKCS#8 PEM:\n%s", data)
	}
	k2, created, err := LoadOrCreate(path)
	if err != nil || created || k2.Public() != k.Public() {
		t.Fatalf("LoadOrCreate existing: created=%v err=%v same=%v", created, err, k2.Public() == k.Public())
	}
	if err := k.Write(path); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Write over an existing key: %v, want ErrExist", err)
	}
	garbage := filepath.Join(dir, "garbage.key")
	os.WriteFile(garbage, []byte("not a key"), 0o600)
	if _, _, err := LoadOrCreate(garbage); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("LoadOrCreate(garbage) = %v, want ErrKeyFile", err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) = %v", err)
	}
}

func TestCache(t *testing.T) {
	k := FromSeed([]byte("a"))
	c := NewCache(4)
	msgs := make([][]byte, 10)
	sigs := make([]Signature, 10)
	for i := range msgs {
		msgs[i] = []byte{byte(i), 'm'}
		sigs[i] = k.Sign(msgs[i])
	}
	for range 3 {
		if !c.Verify(k.Public(), msgs[0], sigs[0]) {
			t.Fatal("good signature refused")
		}
	}
	if s := c.Stats(); s.Hits != 2 || s.Misses != 1 {
		t.Fatalf("stats %+v, want 2 hits 1 miss", s)
	}
	if c.Verify(k.Public(), msgs[1], sigs[0]) || c.Verify(k.Public(), msgs[1], sigs[0]) {
		t.Fatal("bad signature accepted")
	}
	if s := c.Stats(); s.Misses != 3 {
		t.Fatalf("failures must not be cached: %+v", s)
	}
	for i := range msgs {
		c.Verify(k.Public(), msgs[i], sigs[i])
	}
	if n := c.Len(); n > 8 {
		t.Fatalf("cache holds %d, bound 8", n)
	}
	// The newest is remembered; a message with a signature from the cache
	// but another key is not a hit.
	if !c.Verify(k.Public(), msgs[9], sigs[9]) || c.Verify(FromSeed([]byte("b")).Public(), msgs[9], sigs[9]) {
		t.Fatal("wrong answer after rotation")
	}
}

func TestCacheConcurrent(t *testing.T) {
	k := FromSeed([]byte("a"))
	c := NewCache(64)
	msg := []byte("one message")
	sig := k.Sign(msg)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if !c.Verify(k.Public(), msg, sig) {
					t.Error("refused")
					return
				}
			}
		})
	}
	wg.Wait()
	if s := c.Stats(); s.Hits+s.Misses != 800 || s.Misses > 8 {
		t.Fatalf("stats %+v: want 800 lookups, at most one verification per goroutine", s)
	}
}

func FuzzParse(f *testing.F) {
	k := FromSeed([]byte("a"))
	f.Add(k.Public().String())
	f.Add(k.Sign(nil).String())
	f.Add("")
	f.Add(strings.Repeat("A", 43))
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := ParsePublicKey(s); err == nil && p.String() != s {
			t.Fatalf("public key %q reads back as %q", s, p.String())
		}
		if sig, err := ParseSignature(s); err == nil && sig.String() != s {
			t.Fatalf("signature %q reads back as %q", s, sig.String())
		}
	})
}

// Per-operation costs: signing a gossip-sized message, verifying it
// afresh, and verifying it again from a Cache (what every peer but the
// first pays in a process of many).
func BenchmarkSign(b *testing.B) {
	k := FromSeed([]byte("bench"))
	msg := make([]byte, 120)
	for b.Loop() {
		k.Sign(msg)
	}
}

func BenchmarkVerify(b *testing.B) {
	k := FromSeed([]byte("bench"))
	msg := make([]byte, 120)
	sig := k.Sign(msg)
	for b.Loop() {
		if !k.Public().Verify(msg, sig) {
			b.Fatal("refused")
		}
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	k := FromSeed([]byte("bench"))
	msg := make([]byte, 120)
	sig := k.Sign(msg)
	c := NewCache(1024)
	c.Verify(k.Public(), msg, sig)
	for b.Loop() {
		if !c.Verify(k.Public(), msg, sig) {
			b.Fatal("refused")
		}
	}
}

// BenchmarkVerifyCachedFull is a hit in a cache as full as a busy
// process's (DefaultCacheSize gossip-sized messages, looked up in turn, so
// that the entries are rarely in the CPU's caches).
func BenchmarkVerifyCachedFull(b *testing.B) {
	k := FromSeed([]byte("bench"))
	c := NewCache(DefaultCacheSize)
	msgs := make([][]byte, DefaultCacheSize)
	sigs := make([]Signature, len(msgs))
	for i := range msgs {
		msgs[i] = fmt.Appendf(make([]byte, 0, 120), "whispernet gossip v1\n:10.0.%d.%d:5000\n%d\n1764072000.123456\nmessage %d", i/250, i%250, i, i)
		sigs[i] = k.Sign(msgs[i])
		c.Verify(k.Public(), msgs[i], sigs[i])
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		j := (i * 7919) % len(msgs)
		if !c.Verify(k.Public(), msgs[j], sigs[j]) {
			b.Fatal("refused")
		}
	}
	if s := c.Stats(); s.Misses != uint64(len(msgs)) {
		b.Fatalf("%d misses, want only the %d first checks", s.Misses, len(msgs))
	}
}
