//go:build !unix

package web

import (
	"errors"
	"net"
)

func dialSmallBuffer(string) (net.Conn, error) {
	return nil, errors.New("needs a unix socket option")
}
