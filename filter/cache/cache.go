package cache

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Options configures a Cache. The zero value is usable: see the field
// comments for defaults.
type Options struct {
	// MaxEntries bounds the number of entries; default 100000. The bound is
	// split over the shards, and keys do not spread perfectly evenly, so a
	// shard may start evicting before the whole cache holds MaxEntries.
	MaxEntries int
	// MinTTL and MaxTTL clamp the TTLs of positive answers; defaults 0 and
	// 24h.
	MinTTL, MaxTTL time.Duration
	// NegativeMaxTTL caps the TTL of NXDOMAIN and NODATA answers, whose TTL
	// is otherwise min(SOA TTL, SOA MINIMUM) (RFC 2308); default 1h.
	NegativeMaxTTL time.Duration
	// NegativeNoSOATTL is how long a negative answer without an SOA record is
	// cached; 0 (the default) does not cache it, as RFC 2308 section 5 asks.
	// It is capped by NegativeMaxTTL.
	NegativeNoSOATTL time.Duration
	// ServeStale enables RFC 8767 serve-stale: an expired entry is returned
	// as Stale up to StaleMaxAge (default 24h) after it expired, and served
	// with TTLs of StaleAnswerTTL (default 30s).
	ServeStale     bool
	StaleAnswerTTL time.Duration
	StaleMaxAge    time.Duration
	// PrefetchHits: a fresh entry hit at least this many times within the
	// last 10% of its lifetime makes Lookup report prefetch; 0 disables
	// prefetch for fresh entries (stale entries are always reported once).
	PrefetchHits int
}

const (
	defaultMaxEntries     = 100000
	defaultMaxTTL         = 24 * time.Hour
	defaultNegativeMaxTTL = time.Hour
	defaultStaleAnswerTTL = 30 * time.Second
	defaultStaleMaxAge    = 24 * time.Hour
	maxShards             = 64
	// refreshRetry is how long after reporting prefetch for an entry Lookup
	// reports it again if no new answer replaced it: RFC 8767's "failure
	// recheck timer".
	refreshRetry = int64(30 * time.Second)
)

func (o Options) withDefaults() Options {
	if o.MaxEntries <= 0 {
		o.MaxEntries = defaultMaxEntries
	}
	if o.MinTTL < 0 {
		o.MinTTL = 0
	}
	if o.MaxTTL <= 0 {
		o.MaxTTL = defaultMaxTTL
	}
	if o.MinTTL > o.MaxTTL {
		o.MinTTL = o.MaxTTL
	}
	if o.NegativeMaxTTL <= 0 {
		o.NegativeMaxTTL = defaultNegativeMaxTTL
	}
	if o.NegativeNoSOATTL < 0 {
		o.NegativeNoSOATTL = 0
	}
	if o.NegativeNoSOATTL > o.NegativeMaxTTL {
		o.NegativeNoSOATTL = o.NegativeMaxTTL
	}
	if o.StaleAnswerTTL <= 0 {
		o.StaleAnswerTTL = defaultStaleAnswerTTL
	}
	if o.StaleMaxAge <= 0 {
		o.StaleMaxAge = defaultStaleMaxAge
	}
	if o.PrefetchHits < 0 {
		o.PrefetchHits = 0
	}
	return o
}

// State is the outcome of a Lookup.
type State uint8

const (
	// Miss: no usable entry.
	Miss State = iota
	// Fresh: the entry is within its TTL.
	Fresh
	// Stale: the entry expired but may be served under RFC 8767.
	Stale
)

func (s State) String() string {
	switch s {
	case Miss:
		return "miss"
	case Fresh:
		return "fresh"
	case Stale:
		return "stale"
	}
	return "unknown"
}

// Stats are the cache's counters since New, for metrics.
type Stats struct {
	Hits       uint64 // Lookups answered Fresh
	Stale      uint64 // Lookups answered Stale
	Misses     uint64 // Lookups answered Miss, including expired entries
	Prefetches uint64 // Lookups that reported prefetch
	Stores     uint64 // entries stored (new or replacing)
	Rejected   uint64 // Store calls that did not store (uncacheable response)
	Evictions  uint64 // entries evicted to make room
}

// Cache is a sharded, bounded answer cache. It is safe for concurrent use.
type Cache struct {
	o         Options
	seed      maphash.Seed
	shardMask uint64
	shards    []shard

	// derived from o, in the units the hot path uses
	minTTL, maxTTL, negMaxTTL, negNoSOATTL uint32
	staleTTL                               uint32
	staleMaxAge                            int64
	prefetchHits                           uint32

	rejected atomic.Uint64
}

type shard struct {
	mu   sync.RWMutex
	m    map[string]*Entry
	ring []*Entry // CLOCK ring; ring[e.slot] == e
	hand int
	max  int

	hits, stale, misses, prefetches atomic.Uint64
	stores, evictions               atomic.Uint64
	// keep neighbouring shards' locks and counters off one cache line
	_ [64]byte
}

// New returns an empty cache.
func New(o Options) *Cache {
	o = o.withDefaults()
	// Up to 64 shards, but at least 8 entries per shard where possible, so
	// small caches are not cut into shards of one entry each.
	n := maxShards
	if per := max(o.MaxEntries/8, 1); per < n {
		n = 1 << (bits.Len(uint(per)) - 1) // largest power of two <= per
	}
	c := &Cache{
		o:            o,
		seed:         maphash.MakeSeed(),
		shardMask:    uint64(n - 1),
		shards:       make([]shard, n),
		minTTL:       seconds(o.MinTTL),
		maxTTL:       seconds(o.MaxTTL),
		negMaxTTL:    seconds(o.NegativeMaxTTL),
		negNoSOATTL:  seconds(o.NegativeNoSOATTL),
		staleTTL:     seconds(o.StaleAnswerTTL),
		staleMaxAge:  int64(o.StaleMaxAge),
		prefetchHits: uint32(min(o.PrefetchHits, 1<<31)),
	}
	if !o.ServeStale {
		c.staleMaxAge = 0
	}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*Entry)
		c.shards[i].max = o.MaxEntries / n
		if i < o.MaxEntries%n {
			c.shards[i].max++ // the shard maxima add up to MaxEntries exactly
		}
	}
	return c
}

func seconds(d time.Duration) uint32 {
	s := d / time.Second
	if s > 1<<31-1 { // RFC 2181 section 8: TTLs are at most 2^31-1
		return 1<<31 - 1
	}
	return uint32(s)
}

func (c *Cache) shard(key []byte) *shard {
	return &c.shards[maphash.Bytes(c.seed, key)&c.shardMask]
}

// Lookup returns the entry stored under key and its state at now. prefetch
// is true for one caller when the entry should be refreshed in the
// background (see the package documentation). Lookup does not allocate.
func (c *Cache) Lookup(key []byte, now time.Time) (e *Entry, st State, prefetch bool) {
	s := c.shard(key)
	s.mu.RLock()
	e = s.m[string(key)]
	s.mu.RUnlock()
	if e == nil {
		s.misses.Add(1)
		return nil, Miss, false
	}
	t := now.UnixNano()
	switch {
	case t < e.expires:
		if !e.ref.Load() {
			e.ref.Store(true)
		}
		if c.prefetchHits > 0 {
			h := e.hits.Load()
			if h < c.prefetchHits {
				h = e.hits.Add(1)
			}
			if h >= c.prefetchHits && t >= e.prefetchAt {
				prefetch = e.claimRefresh(t)
			}
		}
		s.hits.Add(1)
		st = Fresh
	case t < e.staleUntil:
		if !e.ref.Load() {
			e.ref.Store(true)
		}
		prefetch = e.claimRefresh(t)
		s.stale.Add(1)
		st = Stale
	default:
		s.misses.Add(1)
		return nil, Miss, false
	}
	if prefetch {
		s.prefetches.Add(1)
	}
	return e, st, prefetch
}

// Store caches m under key (see AppendKey) as received at now. Responses
// that cannot be cached (TC=1, an rcode other than NOERROR or NXDOMAIN, not
// exactly one question, a TTL of 0, a negative answer without SOA unless
// NegativeNoSOATTL is set, or a message that does not pack) are ignored and
// counted as Rejected. m is not modified.
func (c *Cache) Store(key []byte, m *dns.Msg, now time.Time) {
	s := c.shard(key)
	e := c.newEntry(m, now)
	if e == nil {
		c.rejected.Add(1)
		return
	}
	e.key = string(key)
	s.mu.Lock()
	evicted := s.insert(e, now.UnixNano())
	s.mu.Unlock()
	s.stores.Add(1)
	if evicted {
		s.evictions.Add(1)
	}
}

// insert puts e into the shard, replacing an entry with the same key or
// evicting one with CLOCK when the shard is full. It reports whether an
// entry was evicted. s.mu must be held.
func (s *shard) insert(e *Entry, now int64) bool {
	if old := s.m[e.key]; old != nil {
		e.slot = old.slot
		e.ref.Store(old.ref.Load())
		s.ring[e.slot] = e
		s.m[e.key] = e
		return false
	}
	if len(s.ring) < s.max {
		e.slot = len(s.ring)
		s.ring = append(s.ring, e)
		s.m[e.key] = e
		return false
	}
	// At most two turns of the hand: the first clears every reference bit.
	for {
		v := s.ring[s.hand]
		if now < v.staleUntil && v.ref.Load() {
			v.ref.Store(false)
			s.hand = (s.hand + 1) % len(s.ring)
			continue
		}
		delete(s.m, v.key)
		e.slot = s.hand
		s.ring[s.hand] = e
		s.m[e.key] = e
		s.hand = (s.hand + 1) % len(s.ring)
		return true
	}
}

// Len returns the number of stored entries, including expired ones that
// have not been evicted or replaced yet.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// Purge removes every entry. Entries already returned by Lookup stay valid.
func (c *Cache) Purge() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.m = make(map[string]*Entry)
		s.ring = nil
		s.hand = 0
		s.mu.Unlock()
	}
}

// Stats returns the counters since New.
func (c *Cache) Stats() Stats {
	st := Stats{Rejected: c.rejected.Load()}
	for i := range c.shards {
		s := &c.shards[i]
		st.Hits += s.hits.Load()
		st.Stale += s.stale.Load()
		st.Misses += s.misses.Load()
		st.Prefetches += s.prefetches.Load()
		st.Stores += s.stores.Load()
		st.Evictions += s.evictions.Load()
	}
	return st
}
