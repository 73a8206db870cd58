package cache

import (
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// A typical answer: a CNAME chain to two addresses, as served by CDNs.
func benchMsg(b *testing.B) *dns.Msg {
	return response(b, "www.example.com.", dns.TypeA, dns.RcodeSuccess, []string{
		"www.example.com. 300 IN CNAME www.example.com.cdn.example.net.",
		"www.example.com.cdn.example.net. 60 IN A 192.0.2.1",
		"www.example.com.cdn.example.net. 60 IN A 192.0.2.2",
	}, nil, nil)
}

var benchName = []byte("www.example.com")

func BenchmarkLookupHit(b *testing.B) {
	c := New(Options{PrefetchHits: 10})
	c.Store(AppendKey(nil, benchName, dns.TypeA, dns.ClassINET, false), benchMsg(b), t0)
	now := t0.Add(10 * time.Second)
	b.ReportAllocs()
	for b.Loop() {
		var kb [256]byte
		k := AppendKey(kb[:0], benchName, dns.TypeA, dns.ClassINET, false)
		if _, st, _ := c.Lookup(k, now); st != Fresh {
			b.Fatal("miss")
		}
	}
}

func BenchmarkAppendTo(b *testing.B) {
	c := New(Options{})
	k := AppendKey(nil, benchName, dns.TypeA, dns.ClassINET, false)
	c.Store(k, benchMsg(b), t0)
	e, _, _ := c.Lookup(k, t0)
	now := t0.Add(10 * time.Second)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendTo(buf[:0], 0x1234, now, Fresh)
	}
}

// BenchmarkHitParallel is the whole hit path (key, lookup, copy out) on every
// core over 1000 names.
func BenchmarkHitParallel(b *testing.B) {
	c := New(Options{})
	names := make([][]byte, 1000)
	m := benchMsg(b)
	for i := range names {
		names[i] = []byte("n" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676)) + ".example.com")
		c.Store(AppendKey(nil, names[i], dns.TypeA, dns.ClassINET, false), m, t0)
	}
	now := t0.Add(10 * time.Second)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 512)
		i := 0
		for pb.Next() {
			var kb [256]byte
			k := AppendKey(kb[:0], names[i%len(names)], dns.TypeA, dns.ClassINET, false)
			e, st, _ := c.Lookup(k, now)
			if e == nil {
				b.Error("miss")
				return
			}
			buf = e.AppendTo(buf[:0], uint16(i), now, st)
			i++
		}
	})
}

func BenchmarkStore(b *testing.B) {
	c := New(Options{})
	m := benchMsg(b)
	k := AppendKey(nil, benchName, dns.TypeA, dns.ClassINET, false)
	b.ReportAllocs()
	for b.Loop() {
		c.Store(k, m, t0)
	}
}

// baselineCache is what a cache of *dns.Msg looks like: a hit copies the
// message, fixes ID and TTLs and packs it.
type baselineCache struct {
	mu sync.RWMutex
	m  map[string]baselineEntry
}

type baselineEntry struct {
	msg    *dns.Msg
	stored time.Time
}

// BenchmarkBaselineMsgCopyPack serves the same hit as BenchmarkLookupHit +
// BenchmarkAppendTo the way a *dns.Msg cache does (msg.Copy()+Pack()); the
// ratio to those two is what the wire-format design buys.
func BenchmarkBaselineMsgCopyPack(b *testing.B) {
	bc := &baselineCache{m: map[string]baselineEntry{}}
	k := AppendKey(nil, benchName, dns.TypeA, dns.ClassINET, false)
	m := benchMsg(b)
	m.Extra = nil // the OPT is stripped at store time, as Store does
	bc.m[string(k)] = baselineEntry{msg: m, stored: t0}
	now := t0.Add(10 * time.Second)
	b.ReportAllocs()
	for b.Loop() {
		var kb [256]byte
		k := AppendKey(kb[:0], benchName, dns.TypeA, dns.ClassINET, false)
		bc.mu.RLock()
		ent, ok := bc.m[string(k)]
		bc.mu.RUnlock()
		if !ok {
			b.Fatal("miss")
		}
		m := ent.msg.Copy()
		m.Id = 0x1234
		age := uint32(now.Sub(ent.stored) / time.Second)
		for _, rr := range m.Answer {
			rr.Header().Ttl -= age
		}
		if _, err := m.Pack(); err != nil {
			b.Fatal(err)
		}
	}
}
