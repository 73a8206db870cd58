// Package cache is the filter's shared answer cache: upstream responses kept
// in wire format so that a hit is served without unpacking, copying RR
// structs or allocating.
//
// # Why wire format
//
// A cache hit is the most common path through the resolver, and the budget
// for it is set by the bare miekg/dns responder (see FILTER.md). Keeping a
// *dns.Msg and serving it with Copy()+Pack() costs dozens of allocations per
// hit (the baseline in cache_bench_test.go shows the ratio). Instead Store
// packs the response once and remembers the byte offset of every RR's TTL
// field; Entry.AppendTo copies the bytes into the caller's buffer, writes the
// message ID and rewrites each TTL decremented by the entry's age. The stored
// bytes are never modified after Store, so an *Entry may be used without a
// lock after Lookup returns it, even if it is evicted meanwhile.
//
// The stored response has no OPT (nor TSIG) record: EDNS is hop-by-hop and the
// server adds its own OPT and Extended DNS Error after the cached bytes
// (incrementing ARCOUNT). The question name is stored as upstream sent it;
// its length equals the client's qname length, so a server that echoes the
// client's 0x20 case may copy the client's qname bytes over it.
//
// # Filtering and the cache
//
// Policy differs per profile and changes by schedule, so the cache holds
// unfiltered upstream answers only. Entry.CNAMEs exposes the CNAME targets
// of the answer chain so that the filter can re-check them against the
// profile on every hit without unpacking the message.
//
// # TTLs
//
//   - Positive answers: every RR's TTL is clamped to [MinTTL, MaxTTL].
//   - Negative answers (NXDOMAIN, or NOERROR without an answer of the queried
//     type, i.e. NODATA, possibly after a CNAME chain): the SOA in the
//     authority section gets TTL = min(SOA TTL, SOA MINIMUM, NegativeMaxTTL)
//     as RFC 2308 section 5 asks. A negative answer without SOA is not cached
//     (RFC 2308 section 5: "SHOULD NOT be cached") unless NegativeNoSOATTL is
//     set, in which case it lives that long.
//   - The entry's lifetime is the smallest TTL in the answer and authority
//     sections. Additional-section TTLs are decremented too but saturate at
//     zero instead of shortening the lifetime. Responses whose lifetime is 0
//     are not stored.
//   - Responses with TC=1 and responses with an rcode other than NOERROR or
//     NXDOMAIN are not stored.
//
// # Serve-stale and prefetch
//
// With ServeStale (RFC 8767) an expired entry is returned as Stale for up to
// StaleMaxAge after expiry, and AppendTo then writes StaleAnswerTTL (30 s by
// default) into every TTL. Lookup reports prefetch=true when the caller should
// refresh the entry in the background: for a fresh entry hit at least
// PrefetchHits times and within the last 10% of its lifetime; for a stale
// entry on its first hit. The report is given to one caller only, and again
// after 30 s (RFC 8767's failure recheck timer) if no new answer was stored
// by then, so a failed refresh is retried but a popular name does not cause a
// refresh storm.
//
// # Structure and eviction
//
// The cache is split into up to 64 shards by a hash of the key (fewer for
// small caches, so that a shard holds at least 8 entries), each a map
// guarded by an RWMutex, so lookups on different cores rarely touch the same
// lock or counters. Each shard holds its share of MaxEntries and
// evicts with CLOCK (second chance): a hit sets the entry's reference bit
// with an atomic store (no write lock on the hit path); when a shard is full,
// the clock hand clears set bits and evicts the first entry without one, or
// at once an entry that is past its stale window. CLOCK approximates LRU
// without reordering a list on every hit.
//
// # Keys
//
// AppendKey builds a key from the qtype, qclass, DO bit and the lowercased
// name. The CD bit is not part of the key: the upstreams the filter uses
// validate (or not) the same way for all clients.
package cache
