// Package stats records the filter's per-query statistics (and, when enabled,
// its query log) without slowing the DNS hot path.
//
// The resolver calls Recorder.Record for every answered query. Record copies
// the Event into a bounded channel with a non-blocking send: it never waits,
// never allocates, and when the queue is full it counts the event as dropped
// instead. Run consumes the queue, sums events in memory per (hour, profile,
// device), per category and per domain, and writes the sums to a Sink (the
// store) every FlushEvery and once more when its context ends. Memory is
// bounded too: past MaxDomainsPerFlush distinct domains in one flush interval
// further domains are counted under store.OtherDomain, and the query log
// keeps at most MaxQueryLogPerFlush entries per interval.
//
// A flush that fails is logged (without client addresses or names) and its
// data is retried once at the next flush; if that fails as well the data is
// discarded and counted. Every loss is visible in the counters, which the
// Recorder exports as Prometheus metrics (see README.md).
package stats

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/store"
)

// Event is one answered query. It is passed by value and queued as it is, so
// its strings must be ordinary immutable Go strings (the resolver's existing
// profile and device ids, the query name), never views of a reused buffer.
type Event struct {
	Time     int64  // unix seconds; 0 = when the recorder takes the event
	Profile  string // profile id
	Device   string // device id
	Name     string // domain without trailing dot
	Blocked  bool
	Category string // the category that blocked it; "" unless blocked
	Client   netip.Addr
	QType    uint16
	Result   string // "allowed", "blocked", "rewritten", "cached", "stale", "servfail", ...

	// nameBuf holds a name set with SetName: the DNS hot path owns its name bytes only until
	// it answers, so it copies them here (no allocation); the recorder's goroutine makes the
	// string.
	nameBuf [maxEventName]byte
	nameLen uint8
}

// maxEventName bounds the name an Event carries by value. Longer names keep their last labels:
// the registrable domain is what a parent's report needs.
const maxEventName = 128

// SetName copies a name into the event without allocating. It overrides Name.
func (e *Event) SetName(b []byte) {
	if len(b) > maxEventName {
		b = b[len(b)-maxEventName:]
		for i, c := range b {
			if c == '.' {
				b = b[i+1:]
				break
			}
		}
	}
	e.nameLen = uint8(copy(e.nameBuf[:], b))
	e.Name = ""
}

// name returns the event's name, from SetName or Name.
func (e *Event) name() string {
	if e.nameLen > 0 {
		return string(e.nameBuf[:e.nameLen])
	}
	return e.Name
}

// Sink receives the aggregated statistics. *store.Store satisfies it.
type Sink interface {
	AddStats(ctx context.Context, rows []store.StatRow, domains []store.DomainRow) error
	AddQueryLog(ctx context.Context, entries []store.QueryLogEntry) error
}

var _ Sink = (*store.Store)(nil)

// Uncategorized is the category counted for a blocked query whose Event has
// no Category (a parent's own deny list, for instance).
const Uncategorized = "uncategorized"

// Options configure a Recorder. Zero values take the defaults.
type Options struct {
	QueueSize  int           // events waiting for Run; default 65536
	FlushEvery time.Duration // default 10s
	// MaxDomainsPerFlush bounds the distinct (hour, profile, device, domain)
	// sums held between flushes; later domains are counted under
	// store.OtherDomain. Default 10000.
	MaxDomainsPerFlush int
	// QueryLog records every query in the store's query log.
	QueryLog bool
	// MaxQueryLogPerFlush bounds the query log entries held between
	// flushes; later ones are dropped and counted. Default 100000.
	MaxQueryLogPerFlush int
	// AnonymizeClient zeroes the last octet of IPv4 and the last 80 bits of
	// IPv6 client addresses before they are stored.
	AnonymizeClient bool
	// FinalFlushTimeout bounds the flush Run makes after its context ends.
	// Default 30s.
	FinalFlushTimeout time.Duration
	Logger            *slog.Logger // default slog.Default()
}

func (o *Options) setDefaults() {
	if o.QueueSize <= 0 {
		o.QueueSize = 65536
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = 10 * time.Second
	}
	if o.MaxDomainsPerFlush <= 0 {
		o.MaxDomainsPerFlush = 10000
	}
	if o.MaxQueryLogPerFlush <= 0 {
		o.MaxQueryLogPerFlush = 100000
	}
	if o.FinalFlushTimeout <= 0 {
		o.FinalFlushTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Log keys. Values logged never include client addresses or query names.
const (
	logKeyEvents  = "events"
	logKeyEntries = "log_entries"
	logKeyError   = "error"
)

// Recorder is the asynchronous statistics recorder. Its methods are safe for
// concurrent use.
type Recorder struct {
	sink  Sink
	opt   Options
	log   *slog.Logger
	queue chan Event

	dropped       atomic.Uint64 // queue full
	flushed       atomic.Uint64 // events whose statistics reached the sink
	discarded     atomic.Uint64 // events whose statistics were given up after the retry
	flushErrors   atomic.Uint64 // failed sink calls
	overflow      atomic.Uint64 // events counted under store.OtherDomain
	logDropped    atomic.Uint64 // query log entries lost (bound or failed retry)
	logFlushed    atomic.Uint64 // query log entries written
	pendingEvents atomic.Uint64 // events held for retry

	mu  sync.Mutex // guards cur
	cur *batch

	flushMu sync.Mutex // serialises flushes; guards pending
	pending *batch     // a failed flush's data, retried once
}

// New returns a Recorder writing to sink. Start Run to consume events.
func New(sink Sink, o Options) *Recorder {
	o.setDefaults()
	return &Recorder{
		sink:  sink,
		opt:   o,
		log:   o.Logger,
		queue: make(chan Event, o.QueueSize),
		cur:   newBatch(),
	}
}

// Record queues ev for the statistics. It never blocks and never allocates:
// when the queue is full the event is counted in Dropped and forgotten. A nil
// Recorder records nothing, so statistics can be switched off by passing nil.
func (r *Recorder) Record(ev Event) {
	if r == nil {
		return
	}
	select {
	case r.queue <- ev:
	default:
		r.dropped.Add(1)
	}
}

// Dropped returns the number of events dropped because the queue was full.
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// Flushed returns the number of events whose statistics reached the sink.
func (r *Recorder) Flushed() uint64 { return r.flushed.Load() }

// Discarded returns the number of events whose statistics were given up after
// a failed flush and a failed retry.
func (r *Recorder) Discarded() uint64 { return r.discarded.Load() }

// FlushErrors returns the number of failed writes to the sink.
func (r *Recorder) FlushErrors() uint64 { return r.flushErrors.Load() }

// QueryLogDropped returns the number of query log entries lost, to the
// per-flush bound or to a failed retry.
func (r *Recorder) QueryLogDropped() uint64 { return r.logDropped.Load() }

// Run consumes events until ctx ends, flushing every FlushEvery from a
// goroutine of its own so that a slow database does not stop consumption.
// When ctx ends, Run takes what is queued, flushes a last time (retrying once
// at once if that fails, since there is no next flush) and returns that
// flush's error, or nil. Events recorded after Run returns stay queued (up
// to QueueSize) for a later Flush. Call Run once.
func (r *Recorder) Run(ctx context.Context) error {
	tickCtx, stopTicker := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(r.opt.FlushEvery)
		defer t.Stop()
		for {
			select {
			case <-tickCtx.Done():
				return
			case <-t.C:
				_ = r.Flush(tickCtx) // logged by Flush; the data waits for a retry
			}
		}
	})

	for {
		select {
		case ev := <-r.queue:
			r.consume(ev)
		case <-ctx.Done():
			stopTicker()
			wg.Wait()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opt.FinalFlushTimeout)
			defer cancel()
			err := r.Flush(fctx)
			if err != nil {
				err = r.Flush(fctx)
			}
			r.flushMu.Lock()
			if p := r.pending; p != nil {
				r.pending = nil
				r.discard(p)
			}
			r.flushMu.Unlock()
			return err
		}
	}
}

// consume adds ev and whatever else is queued, up to a bound that keeps the
// lock short when a Flush is waiting for it.
func (r *Recorder) consume(ev Event) {
	now := time.Now().Unix()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.add(&ev, now)
	for range 1024 {
		select {
		case ev = <-r.queue:
			r.add(&ev, now)
		default:
			return
		}
	}
}

// Flush writes what has been recorded so far (including queued events) and
// retries the data of the previous failed flush. Run calls it; tests and
// shutdown code may too.
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()

	now := time.Now().Unix()
	r.mu.Lock()
	for n := len(r.queue); n > 0; n-- {
		select {
		case ev := <-r.queue:
			r.add(&ev, now)
		default:
			n = 0
		}
	}
	b := r.cur
	r.cur = newBatch()
	r.mu.Unlock()

	var errs []error
	if p := r.pending; p != nil {
		r.pending = nil
		r.pendingEvents.Store(0)
		if err := r.write(ctx, p); err != nil {
			r.discard(p)
			r.log.Error("filter stats: retry failed, statistics discarded",
				logKeyEvents, p.events, logKeyEntries, len(p.log), logKeyError, err)
			errs = append(errs, err)
		}
	}
	if !b.empty() {
		if err := r.write(ctx, b); err != nil {
			r.pending = b
			r.pendingEvents.Store(b.events)
			if ctx.Err() == nil {
				r.log.Warn("filter stats: flush failed, will retry once at the next flush",
					logKeyEvents, b.events, logKeyEntries, len(b.log), logKeyError, err)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// write sends the parts of b not yet written; a part that succeeded is not
// sent again on retry, so nothing is counted twice.
func (r *Recorder) write(ctx context.Context, b *batch) error {
	var errs []error
	if b.events == 0 {
		b.statsDone = true
	}
	if len(b.log) == 0 {
		b.logDone = true
	}
	if !b.statsDone {
		rows, domains := b.rows()
		if err := r.sink.AddStats(ctx, rows, domains); err != nil {
			r.flushErrors.Add(1)
			errs = append(errs, err)
		} else {
			b.statsDone = true
			r.flushed.Add(b.events)
		}
	}
	if !b.logDone {
		if err := r.sink.AddQueryLog(ctx, b.log); err != nil {
			r.flushErrors.Add(1)
			errs = append(errs, err)
		} else {
			b.logDone = true
			r.logFlushed.Add(uint64(len(b.log)))
		}
	}
	return errors.Join(errs...)
}

func (r *Recorder) discard(b *batch) {
	if !b.statsDone {
		r.discarded.Add(b.events)
	}
	if !b.logDone {
		r.logDropped.Add(uint64(len(b.log)))
	}
}

type hourKey struct {
	hour            int64
	profile, device string
}

type hourSums struct {
	queries, blocked int64
	categories       map[string]int64
	// domains is keyed by name alone, so an event's name bytes look it up without being
	// turned into a string (Go does not allocate for m[string(b)]); only a new name allocates.
	domains map[string]*domainSums
}

type domainSums struct{ queries, blocked int64 }

// batch is what one flush interval recorded.
type batch struct {
	events  uint64
	hours   map[hourKey]*hourSums
	domains int // domain rows across all hours
	named   int // domains tracked by name, bounded by MaxDomainsPerFlush
	// last is the hour bucket of the previous event: consecutive events mostly share it.
	last      *hourSums
	lastKey   hourKey
	log       []store.QueryLogEntry
	statsDone bool
	logDone   bool
}

func newBatch() *batch {
	return &batch{hours: map[hourKey]*hourSums{}}
}

func (b *batch) empty() bool { return b.events == 0 && len(b.log) == 0 }

// add sums ev into the current batch. r.mu is held.
func (r *Recorder) add(ev *Event, now int64) {
	b := r.cur
	t := ev.Time
	if t == 0 {
		t = now
	}
	hk := hourKey{t - mod(t, 3600), ev.Profile, ev.Device}
	h := b.last
	if h == nil || b.lastKey != hk {
		h = b.hours[hk]
		if h == nil {
			h = &hourSums{domains: map[string]*domainSums{}}
			b.hours[hk] = h
		}
		b.last, b.lastKey = h, hk
	}
	h.queries++
	category := ev.Category
	if ev.Blocked {
		if category == "" {
			category = Uncategorized
		}
		h.blocked++
		if h.categories == nil {
			h.categories = map[string]int64{}
		}
		h.categories[category]++
	}

	// Names set with SetName come lowercased from the DNS parser; only Name needs folding.
	var nb []byte
	var name string
	if ev.nameLen > 0 {
		nb = ev.nameBuf[:ev.nameLen]
	} else {
		name = normalizeName(ev.Name)
	}
	var d *domainSums
	if nb != nil {
		d = h.domains[string(nb)]
	} else {
		d = h.domains[name]
	}
	if d == nil {
		key := name
		if nb != nil {
			key = string(nb)
		}
		if b.named >= r.opt.MaxDomainsPerFlush {
			r.overflow.Add(1)
			key = store.OtherDomain
			d = h.domains[key]
		} else {
			b.named++
		}
		if d == nil {
			d = &domainSums{}
			h.domains[key] = d
			b.domains++
		}
	}
	d.queries++
	if ev.Blocked {
		d.blocked++
	}
	b.events++

	if r.opt.QueryLog {
		if name == "" {
			name = string(nb)
		}
		if len(b.log) >= r.opt.MaxQueryLogPerFlush {
			r.logDropped.Add(1)
			return
		}
		client := ev.Client
		if r.opt.AnonymizeClient {
			client = Anonymize(client)
		}
		var clientText string
		if client.IsValid() {
			clientText = client.String()
		}
		if !ev.Blocked {
			category = ""
		}
		b.log = append(b.log, store.QueryLogEntry{
			Time:     time.Unix(t, 0).UTC(),
			Profile:  ev.Profile,
			Device:   ev.Device,
			Client:   clientText,
			Name:     name,
			Type:     typeString(ev.QType),
			Result:   ev.Result,
			Category: category,
		})
	}
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// normalizeName lower-cases the name (some resolvers randomise case) and
// drops a trailing dot, allocating only when it changes something.
func normalizeName(s string) string {
	s = strings.TrimSuffix(s, ".")
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

func typeString(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// Anonymize zeroes the host part of a client address: the last octet of an
// IPv4 address (keeping the /24) and the last 80 bits of an IPv6 address
// (keeping the /48, a site). IPv4-mapped IPv6 addresses are treated as IPv4;
// zones are dropped.
func Anonymize(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Addr{}
	}
	return p.Addr()
}

// rows turns the batch into the store's rows.
func (b *batch) rows() ([]store.StatRow, []store.DomainRow) {
	rows := make([]store.StatRow, 0, len(b.hours))
	for k, h := range b.hours {
		rows = append(rows, store.StatRow{
			Hour: time.Unix(k.hour, 0).UTC(), Profile: k.profile, Device: k.device,
			Queries: h.queries, Blocked: h.blocked, ByCategory: h.categories,
		})
	}
	domains := make([]store.DomainRow, 0, b.domains)
	for k, h := range b.hours {
		for name, d := range h.domains {
			domains = append(domains, store.DomainRow{
				Hour: time.Unix(k.hour, 0).UTC(), Profile: k.profile, Device: k.device, Domain: name,
				Queries: d.queries, Blocked: d.blocked,
			})
		}
	}
	return rows, domains
}
