package upstream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/miekg/dns"
)

// udpUpstream sends queries over UDP and retries over TCP when the answer
// is truncated.
type udpUpstream struct {
	spec string
	addr string
	o    Options
	tcp  *streamUpstream
}

var _ Upstream = (*udpUpstream)(nil)

func (u *udpUpstream) String() string { return u.spec }

// Close closes the TCP fallback's idle connections.
func (u *udpUpstream) Close() error { return u.tcp.Close() }

var udpBufPool = sync.Pool{New: func() any { return new([]byte) }}

// errOversize: the upstream sent more than the buffer size we advertised.
var errOversize = errors.New("udp response larger than the advertised buffer size")

func (u *udpUpstream) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	r, err := u.exchange(ctx, m)
	if errors.Is(err, errOversize) || err == nil && r.Truncated {
		return u.tcp.Exchange(ctx, m)
	}
	return r, err
}

func (u *udpUpstream) exchange(parent context.Context, m *dns.Msg) (*dns.Msg, error) {
	id := dns.Id()
	wire, err := packQuery(m, id, u.o.UDPSize, false)
	if err != nil {
		return nil, fmt.Errorf("udp exchange: %w", err)
	}
	ctx, cancel := attemptContext(parent, u.o)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", u.addr)
	if err != nil {
		return nil, fmt.Errorf("udp exchange: %w", ctxErr(parent, err))
	}
	defer conn.Close()
	defer watchConn(ctx, conn)()
	if _, err := conn.Write(wire); err != nil {
		return nil, fmt.Errorf("udp exchange: %w", ctxErr(parent, err))
	}

	// One byte more than advertised tells an oversized answer from one
	// that fills the buffer exactly.
	size := int(u.o.UDPSize) + 1
	bp := udpBufPool.Get().(*[]byte)
	defer udpBufPool.Put(bp)
	if cap(*bp) < size {
		*bp = make([]byte, size)
	}
	buf := (*bp)[:size]
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("udp exchange: %w", ctxErr(parent, err))
		}
		// A connected socket only receives from the upstream's address,
		// but anyone can forge that: ignore what does not answer our query
		// and keep reading until the deadline.
		if n < 12 || binary.BigEndian.Uint16(buf) != id {
			continue
		}
		if n == size {
			return nil, errOversize
		}
		r, err := unpackResponse(buf[:n], m, id)
		if err != nil {
			continue
		}
		return r, nil
	}
}
