package stats

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kidshield/kidshield/store"
)

// fakeSink records what it is given and fails on demand.
type fakeSink struct {
	mu        sync.Mutex
	failStats int // fail this many AddStats calls, then succeed
	failLog   int
	statsCall int
	logCall   int
	hours     map[string]store.Counts // "hour profile device"
	cats      map[string]int64        // "profile device category"
	domains   map[string]store.Counts // "profile device domain"
	log       []store.QueryLogEntry
}

func newFakeSink() *fakeSink {
	return &fakeSink{hours: map[string]store.Counts{}, cats: map[string]int64{}, domains: map[string]store.Counts{}}
}

var errSink = errors.New("sink unavailable")

func (f *fakeSink) AddStats(ctx context.Context, rows []store.StatRow, domains []store.DomainRow) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statsCall++
	if f.failStats > 0 {
		f.failStats--
		return errSink
	}
	for _, r := range rows {
		if r.Hour.Location() != time.UTC || r.Hour.Truncate(time.Hour) != r.Hour {
			panic("hour not UTC and truncated: " + r.Hour.String())
		}
		k := r.Hour.Format("15") + " " + r.Profile + " " + r.Device
		c := f.hours[k]
		c.Queries += r.Queries
		c.Blocked += r.Blocked
		f.hours[k] = c
		for cat, n := range r.ByCategory {
			f.cats[r.Profile+" "+r.Device+" "+cat] += n
		}
	}
	for _, d := range domains {
		k := d.Profile + " " + d.Device + " " + d.Domain
		c := f.domains[k]
		c.Queries += d.Queries
		c.Blocked += d.Blocked
		f.domains[k] = c
	}
	return nil
}

func (f *fakeSink) AddQueryLog(ctx context.Context, entries []store.QueryLogEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logCall++
	if f.failLog > 0 {
		f.failLog--
		return errSink
	}
	f.log = append(f.log, entries...)
	return nil
}

func (f *fakeSink) totalQueries() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	for _, c := range f.hours {
		n += c.Queries
	}
	return n
}

// base is 2026-03-01 10:00:00 UTC.
var base = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC).Unix()

func quietOptions(o Options) Options {
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return o
}

func ev(sec int64, profile, device, name string, blockedBy string) Event {
	return Event{Time: base + sec, Profile: profile, Device: device, Name: name,
		Blocked: blockedBy != "", Category: blockedBy, QType: dns.TypeA, Result: map[bool]string{true: "blocked", false: "allowed"}[blockedBy != ""],
		Client: netip.MustParseAddr("192.0.2.77")}
}

func TestAggregation(t *testing.T) {
	sink := newFakeSink()
	r := New(sink, quietOptions(Options{}))
	for _, e := range []Event{
		ev(0, "kid", "tablet", "example.com", ""),
		ev(10, "kid", "tablet", "Example.COM.", ""),
		ev(20, "kid", "tablet", "bad.example", "adult"),
		ev(30, "kid", "tablet", "bad.example", "adult"),
		ev(40, "kid", "tablet", "casino.example", "gambling"),
		ev(50, "kid", "tablet", "mine.example", ""),
		ev(3600, "kid", "tablet", "example.com", ""), // next hour
		ev(60, "kid", "phone", "example.com", ""),
		ev(70, "teen", "phone", "example.com", ""),
		{Time: base + 80, Profile: "kid", Device: "phone", Name: "own-deny.example", Blocked: true},
	} {
		r.Record(e)
	}
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantHours := map[string]store.Counts{
		"10 kid tablet": {Queries: 6, Blocked: 3},
		"11 kid tablet": {Queries: 1},
		"10 kid phone":  {Queries: 2, Blocked: 1},
		"10 teen phone": {Queries: 1},
	}
	if !reflect.DeepEqual(sink.hours, wantHours) {
		t.Errorf("hours = %v, want %v", sink.hours, wantHours)
	}
	wantCats := map[string]int64{"kid tablet adult": 2, "kid tablet gambling": 1, "kid phone " + Uncategorized: 1}
	if !reflect.DeepEqual(sink.cats, wantCats) {
		t.Errorf("categories = %v, want %v", sink.cats, wantCats)
	}
	wantDomains := map[string]store.Counts{
		"kid tablet example.com":     {Queries: 3},
		"kid tablet bad.example":     {Queries: 2, Blocked: 2},
		"kid tablet casino.example":  {Queries: 1, Blocked: 1},
		"kid tablet mine.example":    {Queries: 1},
		"kid phone example.com":      {Queries: 1},
		"kid phone own-deny.example": {Queries: 1, Blocked: 1},
		"teen phone example.com":     {Queries: 1},
	}
	if !reflect.DeepEqual(sink.domains, wantDomains) {
		t.Errorf("domains = %v, want %v", sink.domains, wantDomains)
	}
	if r.Flushed() != 10 || r.Dropped() != 0 {
		t.Errorf("Flushed = %d, Dropped = %d; want 10, 0", r.Flushed(), r.Dropped())
	}
	// An empty flush calls nothing.
	calls := sink.statsCall
	if err := r.Flush(t.Context()); err != nil || sink.statsCall != calls {
		t.Errorf("empty Flush: err %v, %d sink calls", err, sink.statsCall-calls)
	}
}

func TestZeroTimeIsNow(t *testing.T) {
	sink := newFakeSink()
	r := New(sink, quietOptions(Options{}))
	before := time.Now().UTC().Truncate(time.Hour)
	r.Record(Event{Profile: "p", Device: "d", Name: "x"})
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := time.Now().UTC().Truncate(time.Hour)
	for k := range sink.hours {
		if h := k[:2]; h != before.Format("15") && h != after.Format("15") {
			t.Errorf("event without time landed in hour %s", h)
		}
	}
}

func TestDroppedWhenQueueFull(t *testing.T) {
	sink := newFakeSink()
	r := New(sink, quietOptions(Options{QueueSize: 4}))
	for i := range 10 {
		r.Record(ev(int64(i), "kid", "tablet", "example.com", ""))
	}
	if r.Dropped() != 6 {
		t.Errorf("Dropped = %d, want 6", r.Dropped())
	}
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r.Flushed() != 4 || sink.totalQueries() != 4 {
		t.Errorf("Flushed = %d, sink has %d; want 4", r.Flushed(), sink.totalQueries())
	}
	var nilRecorder *Recorder
	nilRecorder.Record(ev(0, "kid", "tablet", "example.com", "")) // no panic
}

func TestFinalFlushOnCancel(t *testing.T) {
	sink := newFakeSink()
	r := New(sink, quietOptions(Options{FlushEvery: time.Hour}))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for i := range 500 {
		r.Record(ev(int64(i), "kid", "tablet", "example.com", ""))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := sink.totalQueries(); got != 500 || r.Flushed() != 500 {
		t.Errorf("after cancel the sink has %d queries, Flushed = %d; want 500", got, r.Flushed())
	}
}

func TestAnonymize(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.77":                "192.0.2.0",
		"::ffff:192.0.2.77":         "192.0.2.0",
		"2001:db8:1234:5678::9":     "2001:db8:1234::",
		"fe80::1:2:3:4%eth0":        "fe80::",
		"2001:db8:aaaa:ffff:ffff::": "2001:db8:aaaa::",
	} {
		if got := Anonymize(netip.MustParseAddr(in)); got.String() != want {
			t.Errorf("Anonymize(%s) = %s, want %s", in, got, want)
		}
	}
	if got := Anonymize(netip.Addr{}); got.IsValid() {
		t.Errorf("Anonymize(zero) = %v", got)
	}

	for _, anon := range []bool{false, true} {
		sink := newFakeSink()
		r := New(sink, quietOptions(Options{QueryLog: true, AnonymizeClient: anon}))
		e := ev(0, "kid", "tablet", "example.com", "")
		r.Record(e)
		e.Client = netip.MustParseAddr("2001:db8:1:2:3:4:5:6")
		r.Record(e)
		e.Client = netip.Addr{}
		r.Record(e)
		if err := r.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		want := []string{"192.0.2.77", "2001:db8:1:2:3:4:5:6", ""}
		if anon {
			want = []string{"192.0.2.0", "2001:db8:1::", ""}
		}
		var got []string
		for _, l := range sink.log {
			got = append(got, l.Client)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("AnonymizeClient=%v: clients %q, want %q", anon, got, want)
		}
	}
}

func TestQueryLogOnlyWhenEnabled(t *testing.T) {
	sink := newFakeSink()
	r := New(sink, quietOptions(Options{}))
	r.Record(ev(0, "kid", "tablet", "example.com", ""))
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if sink.logCall != 0 || len(sink.log) != 0 {
		t.Errorf("query log written while disabled: %d calls, %v", sink.logCall, sink.log)
	}

	sink = newFakeSink()
	r = New(sink, quietOptions(Options{QueryLog: true, MaxQueryLogPerFlush: 3}))
	e := ev(5, "kid", "tablet", "WWW.Example.com", "")
	e.QType = dns.TypeAAAA
	r.Record(e)
	r.Record(ev(6, "kid", "tablet", "bad.example", "adult"))
	e.QType = 65280 // private use, no mnemonic
	e.Category = "ignored-when-allowed"
	r.Record(e)
	r.Record(e) // over the bound
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []store.QueryLogEntry{
		{Time: time.Unix(base+5, 0).UTC(), Profile: "kid", Device: "tablet", Client: "192.0.2.77", Name: "www.example.com", Type: "AAAA", Result: "allowed"},
		{Time: time.Unix(base+6, 0).UTC(), Profile: "kid", Device: "tablet", Client: "192.0.2.77", Name: "bad.example", Type: "A", Result: "blocked", Category: "adult"},
		{Time: time.Unix(base+5, 0).UTC(), Profile: "kid", Device: "tablet", Client: "192.0.2.77", Name: "www.example.com", Type: "TYPE65280", Result: "allowed"},
	}
	if !reflect.DeepEqual(sink.log, want) {
		t.Errorf("query log =\n%+v\nwant\n%+v", sink.log, want)
	}
	if r.QueryLogDropped() != 1 || r.Flushed() != 4 {
		t.Errorf("QueryLogDropped = %d, Flushed = %d; want 1, 4", r.QueryLogDropped(), r.Flushed())
	}
}

func TestRetryOnce(t *testing.T) {
	t.Run("second attempt succeeds", func(t *testing.T) {
		sink := newFakeSink()
		sink.failStats = 1
		r := New(sink, quietOptions(Options{}))
		r.Record(ev(0, "kid", "tablet", "a.example", ""))
		if err := r.Flush(t.Context()); !errors.Is(err, errSink) {
			t.Fatalf("Flush = %v, want the sink's error", err)
		}
		r.Record(ev(1, "kid", "tablet", "b.example", ""))
		if err := r.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		if sink.totalQueries() != 2 || r.Flushed() != 2 || r.Discarded() != 0 || r.FlushErrors() != 1 {
			t.Errorf("sink %d, Flushed %d, Discarded %d, FlushErrors %d; want 2, 2, 0, 1",
				sink.totalQueries(), r.Flushed(), r.Discarded(), r.FlushErrors())
		}
	})
	t.Run("second attempt fails", func(t *testing.T) {
		sink := newFakeSink()
		sink.failStats = 3 // batch 1, retry of batch 1, batch 2
		r := New(sink, quietOptions(Options{}))
		r.Record(ev(0, "kid", "tablet", "a.example", ""))
		r.Record(ev(0, "kid", "tablet", "a.example", ""))
		if err := r.Flush(t.Context()); err == nil {
			t.Fatal("Flush succeeded")
		}
		r.Record(ev(1, "kid", "tablet", "b.example", ""))
		if err := r.Flush(t.Context()); err == nil {
			t.Fatal("Flush succeeded")
		}
		if r.Discarded() != 2 {
			t.Errorf("Discarded = %d, want 2 (batch 1 after its retry)", r.Discarded())
		}
		if err := r.Flush(t.Context()); err != nil { // batch 2's retry
			t.Fatal(err)
		}
		if err := r.Flush(t.Context()); err != nil { // nothing left
			t.Fatal(err)
		}
		want := map[string]store.Counts{"kid tablet b.example": {Queries: 1}}
		if !reflect.DeepEqual(sink.domains, want) || r.Flushed() != 1 || r.Discarded() != 2 || sink.statsCall != 4 {
			t.Errorf("sink %v (%d calls), Flushed %d, Discarded %d; want %v, 4 calls, 1, 2",
				sink.domains, sink.statsCall, r.Flushed(), r.Discarded(), want)
		}
	})
	t.Run("only the failed part is retried", func(t *testing.T) {
		sink := newFakeSink()
		sink.failLog = 1
		r := New(sink, quietOptions(Options{QueryLog: true}))
		r.Record(ev(0, "kid", "tablet", "a.example", ""))
		if err := r.Flush(t.Context()); err == nil {
			t.Fatal("Flush succeeded")
		}
		if err := r.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		if sink.totalQueries() != 1 || len(sink.log) != 1 || sink.statsCall != 1 {
			t.Errorf("sink has %d queries, %d log entries after %d AddStats calls; want 1, 1, 1",
				sink.totalQueries(), len(sink.log), sink.statsCall)
		}
	})
	t.Run("final flush retries at once", func(t *testing.T) {
		sink := newFakeSink()
		sink.failStats = 1
		r := New(sink, quietOptions(Options{FlushEvery: time.Hour}))
		ctx, cancel := context.WithCancel(t.Context())
		r.Record(ev(0, "kid", "tablet", "a.example", ""))
		cancel()
		if err := r.Run(ctx); err != nil {
			t.Fatalf("Run = %v, want nil after a successful retry", err)
		}
		if sink.totalQueries() != 1 || r.Discarded() != 0 {
			t.Errorf("sink %d, Discarded %d; want 1, 0", sink.totalQueries(), r.Discarded())
		}
	})
	t.Run("final flush gives up", func(t *testing.T) {
		sink := newFakeSink()
		sink.failStats = 100
		r := New(sink, quietOptions(Options{FlushEvery: time.Hour}))
		ctx, cancel := context.WithCancel(t.Context())
		r.Record(ev(0, "kid", "tablet", "a.example", ""))
		cancel()
		if err := r.Run(ctx); !errors.Is(err, errSink) {
			t.Fatalf("Run = %v, want the sink's error", err)
		}
		if r.Discarded() != 1 {
			t.Errorf("Discarded = %d, want 1", r.Discarded())
		}
	})
}

// TestFlushLogsNoPersonalData: a failing flush is logged with counts only.
func TestFlushLogsNoPersonalData(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	sink := newFakeSink()
	sink.failStats, sink.failLog = 2, 2
	r := New(sink, Options{QueryLog: true, Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))})
	r.Record(ev(0, "kid", "tablet", "secret-name.example", "adult"))
	r.Flush(t.Context())
	r.Flush(t.Context())
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "flush failed") || !strings.Contains(out, "discarded") {
		t.Errorf("log lacks the failure and the discard:\n%s", out)
	}
	for _, secret := range []string{"secret-name", "192.0.2"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestDomainBound(t *testing.T) {
	sink := newFakeSink()
	r := New(sink, quietOptions(Options{MaxDomainsPerFlush: 2}))
	for _, name := range []string{"a.example", "b.example", "c.example", "a.example", "d.example"} {
		r.Record(ev(0, "kid", "tablet", name, ""))
	}
	r.Record(ev(0, "kid", "phone", "e.example", "adult"))
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := map[string]store.Counts{
		"kid tablet a.example":            {Queries: 2},
		"kid tablet b.example":            {Queries: 1},
		"kid tablet " + store.OtherDomain: {Queries: 2},
		"kid phone " + store.OtherDomain:  {Queries: 1, Blocked: 1},
	}
	if !reflect.DeepEqual(sink.domains, want) {
		t.Errorf("domains = %v, want %v", sink.domains, want)
	}
	if r.overflow.Load() != 3 {
		t.Errorf("overflow = %d, want 3", r.overflow.Load())
	}
	// The bound is per flush.
	r.Record(ev(0, "kid", "tablet", "f.example", ""))
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if sink.domains["kid tablet f.example"].Queries != 1 {
		t.Errorf("after a flush, new domains are tracked again: %v", sink.domains)
	}
}

func TestCollector(t *testing.T) {
	sink := newFakeSink()
	sink.failStats = 1
	r := New(sink, quietOptions(Options{QueueSize: 2}))
	for range 3 {
		r.Record(ev(0, "kid", "tablet", "a.example", ""))
	}
	r.Flush(t.Context())
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(r); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		got[mf.GetName()] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	for name, want := range map[string]float64{
		"kidshield_filter_stats_events_dropped_total":   1,
		"kidshield_filter_stats_flush_errors_total":     1,
		"kidshield_filter_stats_events_flushed_total":   0,
		"kidshield_filter_stats_retry_pending_events":   2,
		"kidshield_filter_stats_queue_capacity":         2,
		"kidshield_filter_stats_queue_length":           0,
		"kidshield_filter_stats_events_discarded_total": 0,
		"kidshield_filter_stats_querylog_dropped_total": 0,
		"kidshield_filter_stats_domains_overflow_total": 0,
		"kidshield_filter_stats_querylog_flushed_total": 0,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
}

// TestWithStore runs the recorder against a real SQLite store.
func TestWithStore(t *testing.T) {
	s, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "kidshield.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := New(s, quietOptions(Options{QueryLog: true, AnonymizeClient: true, FlushEvery: time.Hour}))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for i := range 100 {
		e := ev(int64(i), "kid", "tablet", "example.com", "")
		if i%4 == 0 {
			e = ev(int64(i), "kid", "tablet", "bad.example", "adult")
		}
		r.Record(e)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	res, err := s.QueryStats(t.Context(), store.StatsQuery{Profile: "kid"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != (store.Counts{Queries: 100, Blocked: 25}) || res.TopBlocked[0].Domain != "bad.example" ||
		res.Categories[0] != (store.CategoryCount{Category: "adult", Blocked: 25}) {
		t.Errorf("QueryStats = %+v", res)
	}
	log, err := s.QueryLog(t.Context(), store.QueryLogFilter{Result: "blocked", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 25 || log[0].Client != "192.0.2.0" {
		t.Errorf("query log: %d blocked entries, first %+v", len(log), log[0])
	}
}
