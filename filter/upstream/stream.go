package upstream

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"
)

const (
	// maxIdleConns is how many idle connections a TCP or DoT upstream keeps.
	// One query is in flight per connection, so this is the concurrency that
	// runs without dialing; more concurrent queries dial extra connections
	// that are closed after use.
	maxIdleConns = 8
	// idleTimeout drops connections idle for longer than this before use;
	// servers close idle connections after a few seconds anyway (Unbound
	// 30 s, miekg/dns 8 s), and the redial-once path covers the rest.
	idleTimeout = 20 * time.Second
)

// streamUpstream sends queries over TCP or, with a TLS config, DoT.
type streamUpstream struct {
	spec  string
	addr  string
	tls   *tls.Config // nil for plain TCP
	o     Options
	proto string // "tcp" or "tls", for errors

	mu     sync.Mutex
	idle   []*streamConn // most recently used last
	closed bool
}

type streamConn struct {
	net.Conn
	used time.Time
}

var _ Upstream = (*streamUpstream)(nil)

func newStream(spec, addr string, tc *tls.Config, o Options) *streamUpstream {
	s := &streamUpstream{spec: spec, addr: addr, tls: tc, o: o, proto: "tcp"}
	if tc != nil {
		s.proto = "tls"
	}
	return s
}

func (s *streamUpstream) String() string { return s.spec }

// Close closes idle connections; the upstream stays usable but keeps no new
// idle connections.
func (s *streamUpstream) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.closed = true
	s.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
	return nil
}

func (s *streamUpstream) Exchange(parent context.Context, m *dns.Msg) (*dns.Msg, error) {
	id := dns.Id()
	wire, err := packQuery(m, id, s.o.UDPSize, s.tls != nil)
	if err != nil {
		return nil, fmt.Errorf("%s exchange: %w", s.proto, err)
	}
	ctx, cancel := attemptContext(parent, s.o)
	defer cancel()
	for attempt := 0; ; attempt++ {
		c, reused := s.get()
		if c == nil {
			if c, err = s.dial(ctx); err != nil {
				return nil, fmt.Errorf("%s exchange: dial: %w", s.proto, ctxErr(parent, err))
			}
		}
		r, err := roundTrip(ctx, c, wire, m, id)
		if err == nil {
			s.put(c)
			return r, nil
		}
		c.Close()
		// The server may have closed the idle connection we picked (RFC
		// 7766 lets it): redial once. A timeout is not that: the budget is
		// spent.
		if reused && attempt == 0 && ctx.Err() == nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		return nil, fmt.Errorf("%s exchange: %w", s.proto, ctxErr(parent, err))
	}
}

func (s *streamUpstream) dial(ctx context.Context) (*streamConn, error) {
	nd := &net.Dialer{KeepAlive: 30 * time.Second}
	var c net.Conn
	var err error
	if s.tls != nil {
		c, err = (&tls.Dialer{NetDialer: nd, Config: s.tls}).DialContext(ctx, "tcp", s.addr)
	} else {
		c, err = nd.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return nil, err
	}
	return &streamConn{Conn: c}, nil
}

// get returns the most recently used idle connection, closing stale ones.
func (s *streamUpstream) get() (*streamConn, bool) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.idle) > 0 {
		c := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if now.Sub(c.used) < idleTimeout {
			return c, true
		}
		c.Close()
	}
	return nil, false
}

func (s *streamUpstream) put(c *streamConn) {
	c.used = time.Now()
	s.mu.Lock()
	if s.closed || len(s.idle) >= maxIdleConns {
		s.mu.Unlock()
		c.Close()
		return
	}
	s.idle = append(s.idle, c)
	s.mu.Unlock()
}

// roundTrip writes one length-prefixed query and reads its answer.
func roundTrip(ctx context.Context, c net.Conn, wire []byte, m *dns.Msg, id uint16) (*dns.Msg, error) {
	stop := watchConn(ctx, c)
	defer func() {
		stop()
		_ = c.SetDeadline(time.Time{})
	}()
	buf := make([]byte, 2+len(wire))
	binary.BigEndian.PutUint16(buf, uint16(len(wire)))
	copy(buf[2:], wire)
	if _, err := c.Write(buf); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	var lb [2]byte
	if _, err := io.ReadFull(c, lb[:]); err != nil {
		return nil, fmt.Errorf("read length: %w", err)
	}
	// The two-byte length caps the read at 64 KiB.
	n := int(binary.BigEndian.Uint16(lb[:]))
	if n < 12 {
		return nil, fmt.Errorf("response of %d bytes is shorter than a header", n)
	}
	resp := make([]byte, n)
	if _, err := io.ReadFull(c, resp); err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	// Without pipelining the answer on this connection must be ours; a
	// mismatch means the stream is out of step, and the caller closes it.
	return unpackResponse(resp, m, id)
}
