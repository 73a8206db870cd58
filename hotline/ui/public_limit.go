package ui

import (
	"sync"
	"time"
)

// rateLimiter is an in-memory token bucket per key (a client network, an API token): perHour
// tokens at most, refilled evenly over the hour. It is abuse control, not accounting: a restart
// forgets it, and when it holds too many keys it forgets the idle ones.
type rateLimiter struct {
	mu      sync.Mutex
	buckets map[string]*rateBucket
	swept   time.Time
}

type rateBucket struct {
	tokens float64
	last   time.Time
}

// rateLimiterKeys bounds the memory a flood of addresses can take (about 100 bytes a key).
const rateLimiterKeys = 100_000

func newRateLimiter() *rateLimiter { return &rateLimiter{buckets: map[string]*rateBucket{}} }

// allow takes a token from key's bucket and reports whether there was one. perHour ≤ 0 means
// no limit.
func (l *rateLimiter) allow(key string, perHour int, now time.Time) bool {
	if perHour <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, perHour, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// has reports whether key's bucket holds a token, without taking it.
func (l *rateLimiter) has(key string, perHour int, now time.Time) bool {
	if perHour <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bucket(key, perHour, now).tokens >= 1
}

// take removes a token if there is one (a failed attempt counted after the fact).
func (l *rateLimiter) take(key string, perHour int, now time.Time) {
	l.allow(key, perHour, now)
}

func (l *rateLimiter) bucket(key string, perHour int, now time.Time) *rateBucket {
	capacity := float64(perHour)
	b := l.buckets[key]
	if b == nil {
		l.sweep(now)
		b = &rateBucket{tokens: capacity, last: now}
		l.buckets[key] = b
		return b
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(capacity, b.tokens+d.Hours()*capacity)
		b.last = now
	}
	b.tokens = min(b.tokens, capacity) // the limit may have been lowered by a reload
	return b
}

// sweep drops buckets idle for an hour (they are full again, so forgetting them changes
// nothing). If a flood still fills the table, it is cleared: failing open for a while is better
// than refusing a child because of someone else's flood, or running out of memory.
func (l *rateLimiter) sweep(now time.Time) {
	if len(l.buckets) < 1024 || (now.Sub(l.swept) < time.Minute && len(l.buckets) < rateLimiterKeys) {
		return
	}
	l.swept = now
	for k, b := range l.buckets {
		if now.Sub(b.last) >= time.Hour {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= rateLimiterKeys {
		clear(l.buckets)
	}
}
