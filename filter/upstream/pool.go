package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// PoolOptions configures a Pool; the zero value uses the defaults.
type PoolOptions struct {
	// FailThreshold is how many consecutive failures mark an upstream down;
	// default 3.
	FailThreshold int
	// Backoff is how long an upstream stays down before one query probes it
	// again; default 10s.
	Backoff time.Duration
	// Clock returns the current time; default time.Now. Tests inject one.
	Clock func() time.Time
}

// UpstreamStatus describes one pool member, for metrics and the admin API.
type UpstreamStatus struct {
	Name                string        `json:"name"`
	Healthy             bool          `json:"healthy"`
	ConsecutiveFailures int           `json:"consecutive_failures"`
	LastError           string        `json:"last_error,omitempty"` // empty if none yet
	LastErrorAt         time.Time     `json:"last_error_at,omitzero"`
	AvgRTT              time.Duration `json:"avg_rtt_ns"` // moving average of successful exchanges
	Queries             uint64        `json:"queries"`    // exchanges attempted
	Failures            uint64        `json:"failures"`   // exchanges failed (error, SERVFAIL, REFUSED)
}

// RcodeError is the failure of an upstream that answered SERVFAIL or
// REFUSED, which the pool treats like an error and fails over.
type RcodeError struct {
	Rcode int
}

func (e *RcodeError) Error() string {
	return "answered " + dns.RcodeToString[e.Rcode]
}

// PoolError is returned when every upstream tried failed. It unwraps to
// the per-upstream errors, each prefixed with the upstream's spec.
type PoolError struct {
	Errs []error
}

func (e *PoolError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "upstream pool: all %d upstreams tried failed", len(e.Errs))
	for i, err := range e.Errs {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e *PoolError) Unwrap() []error { return e.Errs }

// Pool spreads queries over upstreams in order with failover; see the
// package documentation for the policy. It is safe for concurrent use.
type Pool struct {
	members []*member
	o       PoolOptions
}

var _ Upstream = (*Pool)(nil)

type member struct {
	up Upstream

	mu        sync.Mutex
	fails     int
	down      bool
	downSince time.Time
	probing   bool
	lastErr   error
	lastErrAt time.Time
	rtt       time.Duration
	queries   uint64
	failures  uint64
}

// NewPool returns a pool over ups, tried in that order.
func NewPool(ups []Upstream, o PoolOptions) *Pool {
	if o.FailThreshold <= 0 {
		o.FailThreshold = 3
	}
	if o.Backoff <= 0 {
		o.Backoff = 10 * time.Second
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	p := &Pool{o: o}
	for _, u := range ups {
		p.members = append(p.members, &member{up: u})
	}
	return p
}

// String names the pool and its members.
func (p *Pool) String() string {
	names := make([]string, len(p.members))
	for i, m := range p.members {
		names[i] = m.up.String()
	}
	return "pool(" + strings.Join(names, ", ") + ")"
}

// Exchange sends m to the first usable upstream and fails over to the next
// on an error, a timeout, SERVFAIL or REFUSED. It stops when ctx ends.
func (p *Pool) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	if len(p.members) == 0 {
		return nil, errors.New("upstream pool: no upstreams configured")
	}
	now := p.o.Clock()
	var usable, down [8]*member
	try, rest := usable[:0], down[:0]
	for _, mb := range p.members {
		if mb.usable(now, p.o.Backoff) {
			try = append(try, mb)
		} else {
			rest = append(rest, mb)
		}
	}
	if len(try) == 0 {
		// Everything is down: trying costs time, not trying fails for sure.
		try = rest
	}
	var errs []error
	for i, mb := range try {
		if err := ctx.Err(); err != nil {
			releaseProbes(try[i:])
			return nil, fmt.Errorf("upstream pool: %w", err)
		}
		start := p.o.Clock()
		r, err := mb.up.Exchange(ctx, m)
		if err == nil && (r.Rcode == dns.RcodeServerFailure || r.Rcode == dns.RcodeRefused) {
			err = &RcodeError{Rcode: r.Rcode}
		}
		if err != nil && ctx.Err() != nil {
			// The caller gave up; that says nothing about the upstream.
			releaseProbes(try[i:])
			return nil, fmt.Errorf("upstream pool: %s: %w", mb.up, ctx.Err())
		}
		end := p.o.Clock()
		if err != nil {
			mb.failed(end, err, p.o.FailThreshold)
			errs = append(errs, fmt.Errorf("%s: %w", mb.up, err))
			continue
		}
		mb.succeeded(end.Sub(start))
		releaseProbes(try[i+1:])
		return r, nil
	}
	return nil, &PoolError{Errs: errs}
}

// usable reports whether mb should be tried now: it is up, or it is down,
// its backoff has passed and no other query is probing it (this one claims
// the probe).
func (mb *member) usable(now time.Time, backoff time.Duration) bool {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if !mb.down {
		return true
	}
	if mb.probing || now.Sub(mb.downSince) < backoff {
		return false
	}
	mb.probing = true
	return true
}

// releaseProbes gives back probe claims of members that were not tried.
func releaseProbes(ms []*member) {
	for _, mb := range ms {
		mb.mu.Lock()
		mb.probing = false
		mb.mu.Unlock()
	}
}

func (mb *member) failed(now time.Time, err error, threshold int) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.queries++
	mb.failures++
	mb.fails++
	mb.lastErr = err
	mb.lastErrAt = now
	mb.probing = false
	if mb.fails >= threshold {
		// (Re)start the backoff: a failed probe waits another full period.
		mb.down = true
		mb.downSince = now
	}
}

func (mb *member) succeeded(rtt time.Duration) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.queries++
	mb.fails = 0
	mb.down = false
	mb.probing = false
	if mb.rtt == 0 {
		mb.rtt = rtt
	} else {
		// exponentially weighted, 1/8 like TCP's SRTT (RFC 6298)
		mb.rtt += (rtt - mb.rtt) / 8
	}
}

// Status returns each member's health, in pool order.
func (p *Pool) Status() []UpstreamStatus {
	out := make([]UpstreamStatus, len(p.members))
	for i, mb := range p.members {
		mb.mu.Lock()
		out[i] = UpstreamStatus{
			Name:                mb.up.String(),
			Healthy:             !mb.down,
			ConsecutiveFailures: mb.fails,
			LastErrorAt:         mb.lastErrAt,
			AvgRTT:              mb.rtt,
			Queries:             mb.queries,
			Failures:            mb.failures,
		}
		if mb.lastErr != nil {
			out[i].LastError = mb.lastErr.Error()
		}
		mb.mu.Unlock()
	}
	return out
}

// Close closes every member that holds connections.
func (p *Pool) Close() error {
	var errs []error
	for _, mb := range p.members {
		if c, ok := mb.up.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s: %w", mb.up, err))
			}
		}
	}
	return errors.Join(errs...)
}
