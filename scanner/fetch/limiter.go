package fetch

import (
	"context"
	"sync"
	"time"
)

// hostLimiter is the per-host politeness of one Client: at most concurrency requests in
// flight to a site, and their starts at least interval apart. A site is what the key
// function makes of a host name (SetSiteKey; the scanner's is the registrable domain, so
// www.example.vn and cdn.example.vn share one limit). A slot is held for a whole hop, body
// included, so a slow site slows only the scanner's work on that site.
type hostLimiter struct {
	concurrency int
	interval    time.Duration
	now         func() time.Time
	sleep       func(ctx context.Context, d time.Duration) error

	mu    sync.Mutex
	key   func(host string) string // nil: the host name itself
	hosts map[string]*hostSlot
}

func (l *hostLimiter) setKey(key func(host string) string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.key = key
}

func (l *hostLimiter) keyOf(host string) string {
	l.mu.Lock()
	key := l.key
	l.mu.Unlock()
	if key == nil {
		return host
	}
	return key(host)
}

type hostSlot struct {
	sem  chan struct{}
	next time.Time // earliest start of the next request
	refs int       // acquirers holding or waiting; the entry is dropped when idle
}

func newHostLimiter(concurrency int, interval time.Duration) *hostLimiter {
	return &hostLimiter{
		concurrency: concurrency,
		interval:    interval,
		now:         time.Now,
		sleep:       sleepCtx,
		hosts:       make(map[string]*hostSlot),
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// acquire waits for a slot on host's site and for the site's interval; the returned func releases
// the slot and must be called exactly once.
func (l *hostLimiter) acquire(ctx context.Context, host string) (func(), error) {
	host = l.keyOf(host)
	l.mu.Lock()
	if len(l.hosts) >= sweepAbove {
		l.sweepLocked()
	}
	s := l.hosts[host]
	if s == nil {
		s = &hostSlot{sem: make(chan struct{}, l.concurrency)}
		l.hosts[host] = s
	}
	s.refs++
	l.mu.Unlock()

	done := func() {
		l.mu.Lock()
		s.refs--
		// Keep an idle entry until its interval has passed, so the interval still holds
		// for the next request; after that it carries nothing worth the memory.
		if s.refs == 0 && !l.now().Before(s.next) {
			delete(l.hosts, host)
		}
		l.mu.Unlock()
	}

	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
	l.mu.Lock()
	now := l.now()
	start := s.next
	if start.Before(now) {
		start = now
	}
	s.next = start.Add(l.interval)
	l.mu.Unlock()
	if err := l.sleep(ctx, start.Sub(now)); err != nil {
		<-s.sem
		done()
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-s.sem
			done()
		})
	}, nil
}

// sweepAbove is the number of remembered hosts above which idle entries are dropped.
const sweepAbove = 1024

func (l *hostLimiter) sweepLocked() {
	now := l.now()
	for h, s := range l.hosts {
		if s.refs == 0 && !now.Before(s.next) {
			delete(l.hosts, h)
		}
	}
}

// size is the number of hosts the limiter remembers (tests).
func (l *hostLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.hosts)
}
