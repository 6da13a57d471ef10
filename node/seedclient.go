package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/whispernet/whispernet/config"
	"github.com/whispernet/whispernet/wire"
)

// seedClient sends requests to one seed over one connection, in order,
// reading the single reply line each request gets. Its worker goroutine
// exists only while there is work (plus a short linger), so thousands of
// peers in one process do not each hold a connection to every seed.
type seedClient struct {
	addr    netip.AddrPort // the seed as the core knows it
	dialer  *dialer
	timeout time.Duration
	done    func(req, reply wire.Message, err error)
	wg      *sync.WaitGroup // the owner's: its Stop waits for the worker

	// name, if a host name, is looked up again before the next dial once
	// a dial or exchange has failed (the worker's own state).
	name     config.HostPort
	resolver config.Resolver
	log      *slog.Logger
	target   netip.AddrPort // where the worker dials (zero: addr)
	stale    bool

	mu      sync.Mutex
	queue   []wire.Message
	running bool
	wake    chan struct{}
}

// maxSeedQueue bounds the requests waiting for one seed.
const maxSeedQueue = 64

// seedLinger is how long an idle seed connection stays open for more work.
const seedLinger = 300 * time.Millisecond

var errSeedQueueFull = errors.New("node: too many requests queued for seed")

func newSeedClient(addr netip.AddrPort, dialer *dialer, timeout time.Duration, wg *sync.WaitGroup, done func(req, reply wire.Message, err error)) *seedClient {
	return &seedClient{addr: addr, dialer: dialer, timeout: timeout, done: done, wg: wg, wake: make(chan struct{}, 1)}
}

// request queues m; the outcome arrives through done.
func (s *seedClient) request(ctx context.Context, m wire.Message) {
	s.mu.Lock()
	if len(s.queue) >= maxSeedQueue {
		s.mu.Unlock()
		// Reported asynchronously: the caller may be the loop that done
		// posts to.
		go s.done(m, wire.Message{}, errSeedQueueFull)
		return
	}
	s.queue = append(s.queue, m)
	start := !s.running
	s.running = true
	s.mu.Unlock()
	if start {
		s.wg.Add(1)
		go s.work(ctx)
	} else {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (s *seedClient) next(ctx context.Context) (wire.Message, bool) {
	linger := time.NewTimer(seedLinger)
	defer linger.Stop()
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			m := s.queue[0]
			s.queue = s.queue[1:]
			s.mu.Unlock()
			return m, true
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-linger.C:
			s.mu.Lock()
			if len(s.queue) > 0 {
				s.mu.Unlock()
				continue
			}
			s.running = false
			s.mu.Unlock()
			return wire.Message{}, false
		case <-ctx.Done():
			s.mu.Lock()
			s.running = false
			q := s.queue
			s.queue = nil
			s.mu.Unlock()
			for _, m := range q {
				s.done(m, wire.Message{}, ctx.Err())
			}
			return wire.Message{}, false
		}
	}
}

// dialTarget returns the address to dial: the seed's address, or, for a
// seed named by host name whose last dial or exchange failed, what the
// name resolves to now. A failed lookup keeps the last address.
func (s *seedClient) dialTarget(ctx context.Context) netip.AddrPort {
	if !s.target.IsValid() {
		s.target = s.addr
	}
	if s.stale && s.name.IsName() {
		s.stale = false
		a, err := config.Resolve(ctx, s.resolver, s.name)
		switch {
		case err != nil:
			if s.log != nil {
				s.log.Info("seed lookup failed", "seed", s.name.String(), "err", err)
			}
		case a != s.target:
			if s.log != nil {
				s.log.Info("seed moved", "seed", s.name.String(), "from", s.target.String(), "to", a.String())
			}
			s.target = a
		}
	}
	return s.target
}

func (s *seedClient) work(ctx context.Context) {
	defer s.wg.Done()
	var c net.Conn
	var lr *wire.LineReader
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for {
		m, ok := s.next(ctx)
		if !ok {
			return
		}
		reused := c != nil
		reply, err := s.exchange(ctx, &c, &lr, m)
		if err != nil && c != nil {
			c.Close()
			c = nil
			s.stale = true
		}
		if err != nil && reused && ctx.Err() == nil {
			// The seed may have closed an idle connection (or restarted):
			// one retry on a fresh connection before giving up.
			reply, err = s.exchange(ctx, &c, &lr, m)
			if err != nil && c != nil {
				c.Close()
				c = nil
			}
		}
		s.done(m, reply, err)
	}
}

// exchange writes m and reads its reply, dialling first if needed.
func (s *seedClient) exchange(ctx context.Context, c *net.Conn, lr **wire.LineReader, m wire.Message) (wire.Message, error) {
	if *c == nil {
		dctx, cancel := context.WithTimeout(ctx, s.timeout)
		target := s.dialTarget(dctx)
		conn, err := s.dialer.dial(dctx, target, 0)
		cancel()
		if err != nil {
			s.stale = true
			return wire.Message{}, fmt.Errorf("seed %s: %w", s.addr, err)
		}
		*c, *lr = conn, wire.NewLineReader(conn, wire.MaxLineLen)
	}
	conn := *c
	conn.SetDeadline(time.Now().Add(s.timeout))
	// The owner stopping ends a wait for the reply at once, so that its
	// Stop does not wait out the timeout.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	line := append(m.Append(nil), '\n')
	if _, err := conn.Write(line); err != nil {
		return wire.Message{}, fmt.Errorf("seed %s: %w", s.addr, err)
	}
	text, err := (*lr).ReadLine()
	if err != nil {
		return wire.Message{}, fmt.Errorf("seed %s: %w", s.addr, err)
	}
	reply, err := wire.Parse(text)
	if err != nil {
		return wire.Message{}, fmt.Errorf("seed %s: bad reply: %w", s.addr, err)
	}
	return reply, nil
}
