// Package identity gives every WhisperNet node (seed or peer) an Ed25519
// key: generating it, storing it in a file (PKCS#8 PEM, mode 0600),
// deriving the short node ID people read in logs and on /status, and
// writing keys and signatures on the wire.
//
// The wire forms are unpadded base64url (RFC 4648 §5): a public key is 43
// characters, a signature 86, and neither ever contains ':' or '#', the
// separators of the line protocol, so both travel as ordinary fields.
//
// Verification is the dominant cost of signed gossip when many peers share
// one process: every peer checks every message. A Cache remembers the
// signatures it has verified, keyed by the exact bytes checked (key,
// signature and message), so a process checks each message about once.
// Ed25519 verification is a pure function of those bytes, so a cache of
// its successes changes what a check costs, never what it answers: a
// simulator that shares one Cache among all its peers stays deterministic.
package identity
