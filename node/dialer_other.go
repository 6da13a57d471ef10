//go:build !linux

package node

import "syscall"

func bindAddressNoPort(network, address string, c syscall.RawConn) error { return nil }
