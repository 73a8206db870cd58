// Package filter is kidshield's filtering DNS resolver: the listeners (UDP, TCP, DoT, DoH), the
// query pipeline, and the policy it applies per profile.
//
// The pipeline, in order (answer below):
//
//	parse → access list and rate limit (listener) → policy loaded? (fail closed) → profile →
//	decision (bypass, bedtime, SafeSearch, allow, deny, categories) → cache (CNAME targets
//	re-checked per profile) → upstream (coalesced, serve-stale on failure) → statistics
//
// Filtering decides before the cache answers, so one cache serves every profile. The hot path —
// blocked answers and cache hits — works on wire bytes in per-goroutine buffers and allocates
// nothing; only cache misses and unusual queries go through miekg/dns messages.
package filter

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"

	"github.com/kidshield/kidshield/filter/cache"
	"github.com/kidshield/kidshield/filter/stats"
)

// Exchanger forwards a query upstream (an *upstream.Pool).
type Exchanger interface {
	Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error)
}

// Recorder receives one event per answered query (a *stats.Recorder). It must not block.
type Recorder interface {
	Record(ev stats.Event)
}

// Options wires a Server.
type Options struct {
	Cache    *cache.Cache
	Upstream Exchanger
	Stats    Recorder // nil: no statistics
	// Access lists the client networks allowed to query; empty refuses everyone.
	Access []netip.Prefix
	// RateLimit is queries per second per client address (0: unlimited), RateBurst the bucket.
	RateLimit float64
	RateBurst int
	// ServerName is the DoT/DoH host name whose first extra label names a profile.
	ServerName      string
	UpstreamTimeout time.Duration
	// MaxInflight bounds concurrent upstream resolutions started from UDP (default 4096).
	MaxInflight int
	Clock       func() time.Time
	Logger      *slog.Logger
	Metrics     *Metrics
}

// Server answers DNS queries with the current Policy.
type Server struct {
	o        Options
	access   atomic.Pointer[[]netip.Prefix]
	policy   atomic.Pointer[Policy]
	limiter  *rateLimiter
	sf       singleflight.Group
	inflight chan struct{}
	m        *Metrics
	log      *slog.Logger
}

// New returns a Server that answers SERVFAIL until SetPolicy is called: it fails closed.
func New(o Options) *Server {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.UpstreamTimeout == 0 {
		o.UpstreamTimeout = 3 * time.Second
	}
	if o.MaxInflight == 0 {
		o.MaxInflight = 4096
	}
	s := &Server{o: o, m: o.Metrics, log: o.Logger, inflight: make(chan struct{}, o.MaxInflight)}
	s.SetAccess(o.Access)
	if o.RateLimit > 0 {
		s.limiter = newRateLimiter(o.RateLimit, o.RateBurst)
	}
	return s
}

// SetPolicy swaps in a new policy snapshot. Queries in flight finish with the old one.
func (s *Server) SetPolicy(p *Policy) {
	setEDETexts(p.categories)
	s.policy.Store(p)
	s.m.policyVersion.Set(float64(p.Version))
}

// SetAccess replaces the client access list (reloads apply it without a restart).
func (s *Server) SetAccess(p []netip.Prefix) {
	p = append([]netip.Prefix(nil), p...)
	s.access.Store(&p)
}

// Policy returns the current snapshot (nil before the first load).
func (s *Server) Policy() *Policy { return s.policy.Load() }

// transport names where a query came from, for metrics and statistics.
type transport uint8

const (
	transUDP transport = iota
	transTCP
	transTLS
	transHTTPS
	numTransports
)

var transportNames = [numTransports]string{"udp", "tcp", "tls", "https"}

// clientInfo is what the listener knows about the sender.
type clientInfo struct {
	addr      netip.Addr
	transport transport
	hint      string // profile from a DoH path or DoT server name
	device    string
}

// allowed applies the access list. It runs in the listener, before any parsing.
func (s *Server) allowed(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range *s.access.Load() {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// result labels for metrics and statistics.
type result uint8

const (
	resAllowed result = iota
	resCached
	resBlocked
	resRewritten
	resStale
	resRefused
	resServFail
	resFormErr
	resRateLimited
	resDropped
	numResults
)

var resultNames = [numResults]string{"allowed", "cached", "blocked", "rewritten", "stale", "refused", "servfail", "formerr", "ratelimited", "dropped"}

// answer resolves one query into dst. maxSize 0 means UDP: the client's EDNS size decides. When mayWait is false (the UDP read loop) it never waits
// on upstream: it returns pending and the caller hands the query to a goroutine.
func (s *Server) answer(ctx context.Context, dst, msg []byte, ci *clientInfo, q *query, maxSize int, mayWait bool) (out []byte, pending bool) {
	start := len(dst)
	now := s.o.Clock()
	err := parseQuery(msg, q)
	switch {
	case err == nil:
	case errors.Is(err, errUnusual):
		if !mayWait {
			return dst, true
		}
		return s.slow(ctx, dst, msg, ci, maxSize), false
	case errors.Is(err, errNotQuery):
		s.count(ci, resDropped)
		return dst, false // never answer an answer: that is how reflection loops start
	default:
		s.count(ci, resFormErr)
		return formErr(dst, msg), false
	}
	if maxSize == 0 { // UDP: what this client's EDNS allows
		maxSize = q.maxUDP()
	}
	if q.qclass != dns.ClassINET || q.qtype == typeAXFR || q.qtype == typeIXFR {
		s.count(ci, resRefused)
		return errorAnswer(dst, msg, q, rcodeRefused, 0, ""), false
	}
	pol := s.policy.Load()
	if pol == nil {
		// Fail closed: until the policy is loaded nothing is answered from upstream.
		s.count(ci, resServFail)
		return errorAnswer(dst, msg, q, rcodeServFail, edeNotReady, "filter policy is loading"), false
	}
	pr, dev := pol.route(ci.addr, ci.hint, ci.device)
	if pr == nil {
		s.count(ci, resRefused)
		return errorAnswer(dst, msg, q, rcodeRefused, 0, ""), false
	}
	if q.qtype == typeANY && ci.transport == transUDP {
		// RFC 8482: ANY over UDP is an amplification vector; send the client to TCP.
		return truncate(dst, start, msg, q), false
	}
	d := pol.decide(pr, q.nameBytes(), now)
	switch d.act {
	case actBlock, actNXBypass, actNoData:
		s.record(ci, pr, dev, q, now, resBlocked, d.category)
		return s.blocked(dst, msg, q, pr, d), false
	case actRewrite:
		if !mayWait {
			return dst, true
		}
		s.record(ci, pr, dev, q, now, resRewritten, "")
		return s.rewrite(ctx, dst, msg, q, pr, d.target, maxSize), false
	}

	var kb [260]byte
	key := cache.AppendKey(kb[:0], q.nameBytes(), q.qtype, q.qclass, q.do)
	e, st, prefetch := s.o.Cache.Lookup(key, now)
	if st == cache.Fresh {
		if d, blocked := s.checkCNAMEs(pol, pr, e.CNAMEs(), now); blocked {
			s.record(ci, pr, dev, q, now, resBlocked, d.category)
			return s.blocked(dst, msg, q, pr, d), false
		}
		if prefetch {
			s.prefetch(msg, q)
		}
		s.record(ci, pr, dev, q, now, resCached, "")
		return s.fromEntry(dst, msg, q, e, now, st, maxSize), false
	}
	if !mayWait {
		return dst, true
	}
	return s.resolve(ctx, dst, msg, q, ci, pol, pr, dev, now, maxSize), false
}

func (s *Server) count(ci *clientInfo, r result) {
	s.m.queries[ci.transport][r].Inc()
}

func (s *Server) record(ci *clientInfo, pr *Profile, dev string, q *query, now time.Time, r result, category string) {
	s.count(ci, r)
	if s.o.Stats == nil {
		return
	}
	ev := stats.Event{Time: now.Unix(), Profile: pr.ID, Device: dev, Blocked: r == resBlocked, Category: category, Client: ci.addr, QType: q.qtype, Result: resultNames[r]}
	ev.SetName(q.nameBytes())
	s.o.Stats.Record(ev)
}

// checkCNAMEs applies the profile's lists to every CNAME target of an answer: a blocked name
// must not be reachable through an alias.
func (s *Server) checkCNAMEs(pol *Policy, pr *Profile, targets []string, now time.Time) (decision, bool) {
	if len(targets) == 0 {
		return decision{}, false
	}
	// The question name already passed bedtime; its aliases are its content, so only the
	// lists (with any open window's categories) apply to them.
	block, _, _ := pr.state(now)
	for _, t := range targets {
		if listHas(pr.allow, []byte(t)) {
			continue
		}
		if d := pol.decideLists(pr, block, []byte(t)); d.act == actBlock {
			return d, true
		}
	}
	return decision{}, false
}

// fromEntry copies a cached answer out for q: its ID, its question's letter case (resolvers
// that use 0x20 compare it), our flags and EDNS.
func (s *Server) fromEntry(dst, msg []byte, q *query, e *cache.Entry, now time.Time, st cache.State, maxSize int) []byte {
	start := len(dst)
	dst = e.AppendTo(dst, q.id, now, st)
	if len(dst)-start < q.qEnd {
		return errorAnswer(dst[:start], msg, q, rcodeServFail, 0, "")
	}
	copy(dst[start+headerLen:start+q.qEnd], msg[headerLen:q.qEnd])
	f := binary.BigEndian.Uint16(dst[start+2:])
	f = f&^(flagRD|flagCD|flagAA) | flagQR | flagRA | q.flags&(flagRD|flagCD)
	if !q.do && q.flags&flagAD == 0 {
		f &^= flagAD // RFC 6840 5.7: AD only for clients that ask
	}
	binary.BigEndian.PutUint16(dst[start+2:], f)
	if q.edns {
		ede, text := uint16(0), ""
		if st == cache.Stale {
			ede, text = edeStale, "upstream unreachable: stale answer"
		}
		dst = appendOPT(dst, start, q, ede, text)
	}
	if len(dst)-start > maxSize {
		return truncate(dst, start, msg, q)
	}
	return dst
}

// blocked synthesises the profile's block answer with an Extended DNS Error naming the category.
func (s *Server) blocked(dst, msg []byte, q *query, pr *Profile, d decision) []byte {
	start := len(dst)
	const ttl = 60 // short: a parent's change should reach the child's device within a minute
	rcode := rcodeSuccess
	var an uint16
	switch {
	case d.act == actNXBypass || (d.act == actBlock && pr.mode == "nxdomain"):
		rcode = rcodeNXDomain
	case d.act == actNoData:
	case q.qtype == typeA && pr.mode == "null":
		an = 1
	case q.qtype == typeAAAA && pr.mode == "null":
		an = 1
	case q.qtype == typeA && pr.mode == "address":
		an = uint16(len(pr.addr4))
	case q.qtype == typeAAAA && pr.mode == "address":
		an = uint16(len(pr.addr6))
	}
	dst = appendHeader(dst, msg, q, rcode, an, 0)
	if an > 0 {
		switch {
		case q.qtype == typeA && pr.mode == "null":
			dst = appendRR(dst, typeA, ttl, zero4[:])
		case q.qtype == typeAAAA && pr.mode == "null":
			dst = appendRR(dst, typeAAAA, ttl, zero16[:])
		case q.qtype == typeA:
			for i := range pr.addr4 {
				dst = appendRR(dst, typeA, ttl, pr.addr4[i][:])
			}
		default:
			for i := range pr.addr6 {
				dst = appendRR(dst, typeAAAA, ttl, pr.addr6[i][:])
			}
		}
	}
	if q.edns {
		dst = appendOPT(dst, start, q, d.ede, edeText(d.category))
	}
	return dst
}

var zero4 [4]byte
var zero16 [16]byte

// edeTexts are built once so a blocked answer does not concatenate strings.
var edeTexts atomic.Pointer[map[string]string]

func edeText(category string) string {
	if m := edeTexts.Load(); m != nil {
		if t, ok := (*m)[category]; ok {
			return t
		}
	}
	return "kidshield: blocked (" + category + ")"
}

func setEDETexts(categories []string) {
	m := make(map[string]string, len(categories)+4)
	for _, c := range append(categories, "custom", "bedtime", "schedule", "bypass") {
		m[c] = "kidshield: blocked (" + c + ")"
	}
	edeTexts.Store(&m)
}

// formErr answers a message too broken to echo: just its ID and FORMERR.
func formErr(dst, msg []byte) []byte {
	if len(msg) < headerLen {
		return dst
	}
	// QR set, opcode and RD echoed; RA set, rcode FORMERR; no sections.
	dst = append(dst, msg[0], msg[1], 0x80|msg[2]&0x79, 0x80|rcodeFormErr, 0, 0, 0, 0, 0, 0, 0, 0)
	return dst
}
