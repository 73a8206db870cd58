package stats

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/store"
)

// nopSink accepts everything.
type nopSink struct{}

func (nopSink) AddStats(context.Context, []store.StatRow, []store.DomainRow) error { return nil }
func (nopSink) AddQueryLog(context.Context, []store.QueryLogEntry) error           { return nil }

var hotEvent = Event{
	Time: 1772359200, Profile: "kid", Device: "tablet", Name: "www.example.com",
	Client: netip.MustParseAddr("2001:db8::1"), QType: dns.TypeAAAA, Result: "allowed",
}

// TestRecordDoesNotAllocate covers both paths of Record: queued and dropped.
func TestRecordDoesNotAllocate(t *testing.T) {
	const runs = 1000
	r := New(nopSink{}, quietOptions(Options{QueueSize: runs + 1}))
	if n := testing.AllocsPerRun(runs, func() { r.Record(hotEvent) }); n != 0 {
		t.Errorf("Record into a queue with room: %v allocs/op, want 0", n)
	}
	full := New(nopSink{}, quietOptions(Options{QueueSize: 1}))
	full.Record(hotEvent)
	if n := testing.AllocsPerRun(runs, func() { full.Record(hotEvent) }); n != 0 {
		t.Errorf("Record into a full queue: %v allocs/op, want 0", n)
	}
	if full.Dropped() < runs {
		t.Errorf("Dropped = %d, want at least %d", full.Dropped(), runs)
	}
}

// BenchmarkRecord measures Record with Run consuming, as in the server.
// Expect 0 allocs/op.
func BenchmarkRecord(b *testing.B) {
	for _, bc := range []struct {
		name     string
		parallel bool
	}{{"serial", false}, {"parallel", true}} {
		b.Run(bc.name, func(b *testing.B) {
			r := New(nopSink{}, quietOptions(Options{FlushEvery: time.Hour}))
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			b.ReportAllocs()
			b.ResetTimer()
			if bc.parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						r.Record(hotEvent)
					}
				})
			} else {
				for b.Loop() {
					r.Record(hotEvent)
				}
			}
			b.StopTimer()
			cancel()
			<-done
			b.ReportMetric(float64(r.Dropped())/float64(b.N), "dropped/op")
		})
	}
}

// BenchmarkRecordFull measures the drop path (no consumer).
func BenchmarkRecordFull(b *testing.B) {
	r := New(nopSink{}, quietOptions(Options{QueueSize: 1}))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Record(hotEvent)
		}
	})
}

// BenchmarkAggregate measures the consumer side per event: how many events a
// second one Run can take before Record starts dropping.
func BenchmarkAggregate(b *testing.B) {
	names := make([]string, 5000)
	for i := range names {
		names[i] = "host" + string(rune('a'+i%26)) + ".example" + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
	}
	r := New(nopSink{}, quietOptions(Options{}))
	e := hotEvent
	now := time.Now().Unix()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.Name = names[i%len(names)]
		i++
		r.mu.Lock()
		r.add(&e, now)
		r.mu.Unlock()
	}
}
