package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Sizes of the binary and wire forms.
const (
	// PublicKeySize and SignatureSize are Ed25519's.
	PublicKeySize = ed25519.PublicKeySize
	SignatureSize = ed25519.SignatureSize
	// PublicKeyTextLen and SignatureTextLen are the lengths of their wire
	// forms (unpadded base64url).
	PublicKeyTextLen = 43
	SignatureTextLen = 86
	// IDLen is the length of a node ID.
	IDLen = 16
)

// Errors callers tell apart with errors.Is.
var (
	// ErrKeyText: a key or signature on the wire is not the base64url
	// encoding of the right number of bytes.
	ErrKeyText = errors.New("identity: bad key or signature encoding")
	// ErrKeyFile: a key file exists but holds no Ed25519 private key.
	ErrKeyFile = errors.New("identity: bad key file")
)

// PublicKey is an Ed25519 public key. The zero value is "no key".
type PublicKey [PublicKeySize]byte

// Signature is an Ed25519 signature.
type Signature [SignatureSize]byte

// Key is a node's private key. It is safe for concurrent use.
type Key struct {
	priv ed25519.PrivateKey
	pub  PublicKey
	id   string
}

// Generate makes a new key from r (nil: crypto/rand).
func Generate(r io.Reader) (*Key, error) {
	if r == nil {
		r = rand.Reader
	}
	_, priv, err := ed25519.GenerateKey(r)
	if err != nil {
		return nil, fmt.Errorf("identity: generate key: %w", err)
	}
	return fromPrivate(priv), nil
}

// FromSeed derives a key from a 32-byte seed, for simulations and tests
// that must be reproducible. Short seeds are hashed to 32 bytes.
func FromSeed(seed []byte) *Key {
	if len(seed) != ed25519.SeedSize {
		h := sha256.Sum256(seed)
		seed = h[:]
	}
	return fromPrivate(ed25519.NewKeyFromSeed(seed))
}

func fromPrivate(priv ed25519.PrivateKey) *Key {
	k := &Key{priv: priv}
	copy(k.pub[:], priv.Public().(ed25519.PublicKey))
	k.id = k.pub.ID()
	return k
}

// Public returns the key's public half.
func (k *Key) Public() PublicKey { return k.pub }

// ID returns the node ID of the key (PublicKey.ID).
func (k *Key) ID() string { return k.id }

// Sign signs msg.
func (k *Key) Sign(msg []byte) Signature {
	var s Signature
	copy(s[:], ed25519.Sign(k.priv, msg))
	return s
}

// IsZero reports whether p is the zero value (no key).
func (p PublicKey) IsZero() bool { return p == PublicKey{} }

// Verify reports whether sig is p's signature of msg.
func (p PublicKey) Verify(msg []byte, sig Signature) bool {
	if p.IsZero() {
		return false
	}
	return ed25519.Verify(p[:], msg, sig[:])
}

// b64 is strict: a key or signature has exactly one wire form, so the
// bytes a cache or a log sees are the bytes that were signed.
var b64 = base64.RawURLEncoding.Strict()

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ID returns the node ID: the first 80 bits of the key's SHA-256 in
// lowercase base32, 16 characters (letters and digits 2-7). Short enough
// to read in a log line, long enough that nobody can make a key with a
// chosen ID (2^80 tries).
func (p PublicKey) ID() string {
	h := sha256.Sum256(p[:])
	return idEncoding.EncodeToString(h[:10])
}

// String returns the wire form: 43 characters of unpadded base64url.
func (p PublicKey) String() string { return base64.RawURLEncoding.EncodeToString(p[:]) }

// AppendText appends the wire form to b.
func (p PublicKey) AppendText(b []byte) []byte { return base64.RawURLEncoding.AppendEncode(b, p[:]) }

// String returns the wire form: 86 characters of unpadded base64url.
func (s Signature) String() string { return base64.RawURLEncoding.EncodeToString(s[:]) }

// AppendText appends the wire form to b.
func (s Signature) AppendText(b []byte) []byte { return base64.RawURLEncoding.AppendEncode(b, s[:]) }

// ParsePublicKey reads a public key's wire form.
func ParsePublicKey(s string) (PublicKey, error) {
	var p PublicKey
	if len(s) != PublicKeyTextLen {
		return p, fmt.Errorf("%w: public key of %d characters, want %d", ErrKeyText, len(s), PublicKeyTextLen)
	}
	var text [PublicKeyTextLen]byte // (a []byte(s) this long would be allocated)
	copy(text[:], s)
	if n, err := b64.Decode(p[:], text[:]); err != nil || n != PublicKeySize {
		return PublicKey{}, fmt.Errorf("%w: public key is not base64url", ErrKeyText)
	}
	return p, nil
}

// ParseSignature reads a signature's wire form.
func ParseSignature(s string) (Signature, error) {
	var sig Signature
	if len(s) != SignatureTextLen {
		return sig, fmt.Errorf("%w: signature of %d characters, want %d", ErrKeyText, len(s), SignatureTextLen)
	}
	var text [SignatureTextLen]byte
	copy(text[:], s)
	if n, err := b64.Decode(sig[:], text[:]); err != nil || n != SignatureSize {
		return Signature{}, fmt.Errorf("%w: signature is not base64url", ErrKeyText)
	}
	return sig, nil
}

const pemType = "PRIVATE KEY"

// MarshalPEM returns the key as a PKCS#8 PEM block, the form openssl
// reads (openssl pkey -in FILE -text).
func (k *Key) MarshalPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		panic("identity: marshal ed25519 key: " + err.Error()) // cannot happen for a valid key
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der})
}

// ParsePEM reads a PKCS#8 PEM Ed25519 private key.
func ParsePEM(data []byte) (*Key, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != pemType {
		return nil, fmt.Errorf("%w: no %q PEM block", ErrKeyFile, pemType)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: a %T, not an Ed25519 key", ErrKeyFile, k)
	}
	return fromPrivate(priv), nil
}

// Load reads the key in path.
func Load(path string) (*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	k, err := ParsePEM(data)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return k, nil
}

// Write stores k in a new file at path with mode 0600; it refuses to
// overwrite an existing file, so a key is never lost by mistake.
func (k *Key) Write(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	if _, err := f.Write(k.MarshalPEM()); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("identity: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("identity: write %s: %w", path, err)
	}
	return nil
}

// LoadOrCreate reads the key in path, or, if there is no such file,
// generates one and writes it there with mode 0600. created says which.
func LoadOrCreate(path string) (k *Key, created bool, err error) {
	k, err = Load(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	if k, err = Generate(nil); err != nil {
		return nil, false, err
	}
	if err := k.Write(path); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process created it meanwhile
			k, err = Load(path)
			return k, false, err
		}
		return nil, false, err
	}
	return k, true, nil
}
