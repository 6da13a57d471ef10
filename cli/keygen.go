package cli

import (
	"context"
	"fmt"

	"github.com/whispernet/whispernet/identity"
)

func init() {
	register("keygen", "write a new node key (Ed25519, PKCS#8 PEM, mode 0600) and print its node ID", runKeygen)
}

const keygenAbout = `
Writes a new Ed25519 key to FILE (mode 0600; an existing file is never
overwritten) and prints the node ID and public key. Give the file to a
node with --key FILE (a node also creates its key file on first start if it
is missing). With --show it prints the ID and public key of an existing key
file instead. The public key is what config.txt lists after a seed's
address (IP:PORT KEY) so that peers and other seeds can check that seed's
signatures.`

func runKeygen(_ context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("keygen", "keygen [--show] FILE", keygenAbout, stdio)
	show := fs.Bool("show", false, "print the node ID and public key of an existing key file")
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		return usageErr(stdio, "keygen", "want one FILE argument")
	}
	path := fs.Arg(0)
	var k *identity.Key
	var err error
	if *show {
		k, err = identity.Load(path)
	} else if k, err = identity.Generate(nil); err == nil {
		err = k.Write(path)
	}
	if err != nil {
		return fail(stdio, "keygen", err)
	}
	fmt.Fprintf(stdio.Out, "node ID %s\npublic key %s\n", k.ID(), k.Public())
	return ExitOK
}

// loadKey returns the key in path, creating it (mode 0600) if missing, or
// a fresh in-memory key when path is empty. It says on stderr which.
func loadKey(stdio Stdio, cmd, path string) (*identity.Key, error) {
	if path == "" {
		return identity.Generate(nil)
	}
	k, created, err := identity.LoadOrCreate(path)
	if err != nil {
		return nil, err
	}
	if created {
		fmt.Fprintf(stdio.Err, "whispernet %s: created key %s (node ID %s)\n", cmd, path, k.ID())
	}
	return k, nil
}
