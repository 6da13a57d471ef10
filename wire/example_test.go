package wire_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/whispernet/whispernet/wire"
)

// A seed parses a register line, answers it, and turns a malformed line
// into an error reply.
func ExampleParse() {
	m, err := wire.Parse("register:127.0.0.1:5000:7:3")
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Kind, m.Addr, "capacity", m.Cap, "degree", m.Degree)
	fmt.Println(wire.Format(m))
	fmt.Println(wire.Format(wire.Message{Kind: wire.KindRegistered}))

	_, err = wire.Parse("register:::1:5000")
	fmt.Println(errors.Is(err, wire.ErrAddr))
	fmt.Println(wire.Format(wire.Message{Kind: wire.KindError, Text: err.Error()}))
	// Output:
	// register 127.0.0.1:5000 capacity 7 degree 3
	// register:127.0.0.1:5000:7:3
	// registered successfully
	// true
	// error:bad address: register: "" is not an IP address (write IPv6 in brackets, as [::1])
}

// IPv6 addresses travel in brackets, in peer-list entries too.
func ExampleFormat() {
	m, _ := wire.Parse("peer list:[::1]#5000:127.0.0.1#5001")
	for _, p := range m.Peers {
		fmt.Println(p.Addr)
	}
	m.Peers = m.Peers[:1]
	fmt.Println(wire.Format(m))
	// Output:
	// [::1]:5000
	// 127.0.0.1:5001
	// peer list:[::1]#5000
}

// A LineReader refuses an over-long line and carries on with the next.
func ExampleLineReader() {
	in := "peer list\r\n" + strings.Repeat("x", wire.MaxLineLen+1) + "\nok\n"
	lr := wire.NewLineReader(strings.NewReader(in), 0)
	for {
		line, err := lr.ReadLine()
		if errors.Is(err, wire.ErrTooLong) {
			fmt.Println("refused:", err)
			continue
		}
		if err != nil {
			break
		}
		fmt.Printf("%q\n", line)
	}
	// Output:
	// "peer list"
	// refused: line too long (16385 bytes, limit 16384)
	// "ok"
}
