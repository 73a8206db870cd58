package auth

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// limitWindow is the period LoginAttempts counts over.
const limitWindow = 15 * time.Minute

// limiter counts failures per key over a sliding window. It lives in memory: per node, lost on
// restart. That is enough to turn an online password guess from thousands a minute into a few
// an hour per address and per login; it is not a record of anything.
type limiter struct {
	mu     sync.Mutex
	max    int // <= 0: no limit
	window time.Duration
	fails  map[string][]time.Time
	swept  time.Time
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, fails: map[string][]time.Time{}}
}

// recent drops failures older than the window; callers hold mu.
func (l *limiter) recent(key string, now time.Time) []time.Time {
	ts := l.fails[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= l.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.fails, key)
		return nil
	}
	l.fails[key] = ts
	return ts
}

// blocked reports whether key used up its attempts, and when the oldest one expires.
func (l *limiter) blocked(key string, now time.Time) (bool, time.Duration) {
	if l.max <= 0 {
		return false, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.recent(key, now)
	if len(ts) < l.max {
		return false, 0
	}
	return true, l.window - now.Sub(ts[0])
}

// fail counts a failed attempt.
func (l *limiter) fail(key string, now time.Time) {
	if l.max <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// Sweep the whole map now and then, so addresses that tried once and left do not pile up.
	if now.Sub(l.swept) >= time.Minute {
		for k := range l.fails {
			l.recent(k, now)
		}
		l.swept = now
	}
	ts := l.recent(key, now)
	if len(ts) >= l.max {
		ts = ts[1:] // keep at most max: enough to decide
	}
	l.fails[key] = append(ts, now)
}

// reset forgets key's failures (a successful login clears its login's count, not its address's).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}

// clientKey is the rate-limit key of a request's address: the IPv4 address, or the IPv6 /64 (one
// household or phone gets a whole /64, so counting addresses would count nothing). Behind a
// reverse proxy this is the proxy's address: the limit per login still holds.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// auditNet is the network a request came from as the audit log records it: the IPv4 /24 or the
// IPv6 /48. Enough to see that attempts come from one place or many; not one person's address
// (the audit log keeps no personal data, and cannot forget what it keeps).
func auditNet(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return "unknown"
	}
	a = a.Unmap().WithZone("")
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, _ := a.Prefix(bits)
	return p.String()
}
