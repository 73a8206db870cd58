package filter

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// rateLimiter is a token bucket per client address, sharded so the UDP loops on different cores
// rarely meet on a lock. Idle buckets are swept so a scan of spoofed sources cannot grow it
// without bound.
type rateLimiter struct {
	rate   float64
	burst  float64
	seed   maphash.Seed
	shards [64]rlShard
}

type rlShard struct {
	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxBucketsPerShard = 16384

func newRateLimiter(rate float64, burst int) *rateLimiter {
	if burst < 1 {
		burst = int(rate) + 1
	}
	r := &rateLimiter{rate: rate, burst: float64(burst), seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].buckets = map[netip.Addr]*bucket{}
	}
	return r
}

func (r *rateLimiter) allow(a netip.Addr, now time.Time) bool {
	b16 := a.As16()
	sh := &r.shards[maphash.Bytes(r.seed, b16[:])%uint64(len(r.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	bk := sh.buckets[a]
	if bk == nil {
		if len(sh.buckets) >= maxBucketsPerShard || now.Sub(sh.swept) > time.Minute {
			sh.sweep(now, r.burst/r.rate)
		}
		bk = &bucket{tokens: r.burst, last: now}
		sh.buckets[a] = bk
	}
	bk.tokens = min(r.burst, bk.tokens+now.Sub(bk.last).Seconds()*r.rate)
	bk.last = now
	if bk.tokens < 1 {
		return false
	}
	bk.tokens--
	return true
}

// sweep drops buckets that have refilled (their clients are idle); if that is not enough, the
// shard starts over: a flood of new addresses should not cost memory.
func (sh *rlShard) sweep(now time.Time, refill float64) {
	sh.swept = now
	for a, b := range sh.buckets {
		if now.Sub(b.last).Seconds() > refill {
			delete(sh.buckets, a)
		}
	}
	if len(sh.buckets) >= maxBucketsPerShard {
		clear(sh.buckets)
	}
}
