package rpz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/store"
)

// Member is one network member allowed to transfer the zone.
type Member struct {
	Name   string         // also the TSIG key's name
	Secret string         // base64 hmac-sha256 secret; empty: no key
	Allow  []netip.Prefix // unsigned queries allowed from these
	Notify []string       // host:port sent NOTIFY on each new serial
}

// Options configure a Server.
type Options struct {
	// Serial reads the list serial; it is polled, so it should be cheap (store.ListSerial).
	Serial func(ctx context.Context) (int64, error)
	// Snapshot reads the serial and the entries to publish at that serial in one transaction
	// (store.NetworkListSnapshot: the network's entries, imports and the canary).
	Snapshot func(ctx context.Context) (int64, []*store.ListEntry, error)
	// Changes, when set, reads what changed in the list after a serial
	// (store.NetworkListChanges): a new serial then costs the changes, not a read of the
	// whole list. ok false (too many changes, the serial went back) falls back to Snapshot.
	Changes func(ctx context.Context, from int64, max int) (store.ListChanges, bool, error)
	// MarkParams, when set, records the zone parameters' fingerprint with the list
	// (store.MarkFeedParams), which gives the list a new serial when they changed: secondaries
	// transfer again only when the serial moves, and a new TTL or action changes every record.
	MarkParams func(ctx context.Context, fingerprint string) error
	Params     Params
	Members    []Member
	Listen     []string      // host:port, UDP and TCP on each
	Poll       time.Duration // how often the list serial is read for changes (default 1s)
	// MaxJournal bounds the history of versions IXFR is answered from, in changed names
	// summed over the versions kept in memory (default 200000). A consumer at a version no
	// longer kept, or not in the history (built before a restart without a Journal), gets the
	// whole zone.
	MaxJournal int
	// JournalVersions bounds the history in versions, in memory and in the Journal
	// (config feed.journal_versions, default 1000).
	JournalVersions int
	// Journal, when set, persists the history (the store: store.AddFeedVersion): each version
	// this primary builds is recorded there, the history is read back from it at start and
	// after each version, so IXFR is answered incrementally after a restart and alike by every
	// control node sharing the store. Nil: the history is this process's own.
	Journal Journal
	// NotifyTries and NotifyTimeout bound each NOTIFY (default 5 tries of 2s).
	NotifyTries   int
	NotifyTimeout time.Duration
	// MaxTransfers bounds the transfers (AXFR, and IXFR answered with more than the SOA) sent at
	// once, over all members (default 16); MaxMemberTransfers bounds one member's (default 4).
	// Each transfer of a zone of a million names is ~100 MB on the wire and holds its version
	// of the zone in memory until sent: beyond the bound a query is REFUSED, which secondaries
	// retry later (BIND's transfers-out does the same).
	MaxTransfers       int
	MaxMemberTransfers int
	// WriteTimeout bounds each write to a TCP connection (default 30s): a consumer that stops
	// reading is cut off instead of holding its transfer, its goroutines and its version of
	// the zone for ever. MaxConnTime bounds a TCP connection's life (default 1h): a consumer
	// reading just fast enough to meet WriteTimeout cannot keep a transfer open for days.
	WriteTimeout time.Duration
	MaxConnTime  time.Duration
	Logger       *slog.Logger
}

// Journal is where the versions' deltas are persisted (*store.Store).
type Journal interface {
	AddFeedVersion(ctx context.Context, v store.FeedVersion, keep int) (added bool, err error)
	FeedVersions(ctx context.Context, after int64) ([]store.FeedVersion, error)
	ClearFeedJournal(ctx context.Context) error
}

// OptionsFromConfig converts the feed's configuration (finished and validated).
func OptionsFromConfig(f *config.Feed) (Options, error) {
	o := Options{Listen: f.Listen, JournalVersions: f.JournalVersions, Params: Params{
		Origin: dns.CanonicalName(f.Zone), Target: ".", TTL: secs(f.TTL),
		Refresh: secs(f.Refresh), Retry: secs(f.Retry), Expire: secs(f.Expire),
	}}
	if f.Action == "blockpage" {
		o.Params.Target = dns.CanonicalName(f.BlockPage)
	}
	for _, m := range f.Members {
		allow, err := config.Prefixes(m.Allow)
		if err != nil {
			return o, fmt.Errorf("feed member %s: %w", m.Name, err)
		}
		o.Members = append(o.Members, Member{Name: m.Name, Secret: m.TSIGSecret, Allow: allow, Notify: m.Notify})
	}
	return o, nil
}

func secs(d time.Duration) uint32 { return uint32(d / time.Second) }

// Addr is one listener's bound addresses.
type Addr struct{ UDP, TCP string }

// Server is the zone's primary.
type Server struct {
	opt     Options
	log     *slog.Logger
	zone    atomic.Pointer[Zone]
	params  atomic.Pointer[Params] // what the next version is built with (SetParams)
	secrets map[string]string      // "key." → secret
	byKey   map[string]*Member     // "key." → member
	changed chan struct{}

	ctx     context.Context
	cancel  context.CancelFunc
	servers []*dns.Server
	addrs   []Addr
	wg      sync.WaitGroup

	notifyMu     sync.Mutex
	notifyCancel context.CancelFunc

	refusedMu sync.Mutex
	refusedAt map[string]time.Time // source address → when a refusal was last logged
	// refusedWin, refusedN and refusedDropped bound refusal lines over all sources: spoofed UDP
	// sources are free, so a per-address limit alone would let a flood write a line a packet.
	refusedWin     time.Time
	refusedN       int
	refusedDropped int

	xferMu    sync.Mutex
	xfers     int            // transfers being sent
	xferByKey map[string]int // member name → transfers being sent

	// mu guards the history, and the zone's replacement so the two agree.
	mu        sync.Mutex
	hist      []step
	histNames int
}

// step is one rebuild: the serial it started from, the serial it built, and the flags the
// names it changed had in from.
type step struct {
	from, to int64
	old      map[string]uint8
}

// New makes a server; Start opens it.
func New(opt Options) *Server {
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if opt.MaxJournal <= 0 {
		opt.MaxJournal = 200000
	}
	if opt.JournalVersions <= 0 {
		opt.JournalVersions = 1000
	}
	if opt.NotifyTries <= 0 {
		opt.NotifyTries = 5
	}
	if opt.NotifyTimeout <= 0 {
		opt.NotifyTimeout = 2 * time.Second
	}
	if opt.MaxTransfers <= 0 {
		opt.MaxTransfers = 16
	}
	if opt.MaxMemberTransfers <= 0 {
		opt.MaxMemberTransfers = 4
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = 30 * time.Second
	}
	if opt.MaxConnTime <= 0 {
		opt.MaxConnTime = time.Hour
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	opt.Params.Origin = dns.CanonicalName(opt.Params.Origin)
	if opt.Params.Target == "" {
		opt.Params.Target = "."
	}
	s := &Server{opt: opt, log: opt.Logger, secrets: map[string]string{}, byKey: map[string]*Member{}, changed: make(chan struct{}, 1)}
	p := opt.Params
	s.params.Store(&p)
	s.refusedAt = map[string]time.Time{}
	s.xferByKey = map[string]int{}
	for i := range s.opt.Members {
		m := &s.opt.Members[i]
		if m.Secret != "" {
			k := dns.CanonicalName(m.Name)
			s.secrets[k], s.byKey[k] = m.Secret, m
		}
	}
	return s
}

// Start builds the zone from the source, opens the listeners and starts following the list.
// It stops when ctx ends or Close is called.
func (s *Server) Start(ctx context.Context) error {
	s.ctx, s.cancel = context.WithCancel(ctx)
	// Parameters changed while this primary was down (or never recorded): a new serial.
	if err := s.markParams(s.ctx, *s.params.Load()); err != nil {
		s.cancel()
		return err
	}
	if _, err := s.refresh(s.ctx); err != nil {
		s.cancel()
		return err
	}
	for _, a := range s.opt.Listen {
		if err := s.listen(a); err != nil {
			s.Close()
			return err
		}
	}
	// NOTIFY at start too: the list may have changed while this primary was down (another
	// node's change); a member that is current just acknowledges it.
	s.notifyAll(s.zone.Load())
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.run() }()
	return nil
}

func (s *Server) listen(addr string) error {
	_, port, _ := net.SplitHostPort(addr)
	for try := 0; ; try++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return fmt.Errorf("feed listen udp %s: %w", addr, err)
		}
		tl, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			if port != "0" || try == 20 {
				return fmt.Errorf("feed listen tcp %s: %w", addr, err)
			}
			continue
		}
		ln := &deadlineListener{Listener: tl, write: s.opt.WriteTimeout, life: s.opt.MaxConnTime}
		for _, srv := range []*dns.Server{{PacketConn: pc, Handler: s, TsigSecret: s.secrets}, {Listener: ln, Handler: s, TsigSecret: s.secrets}} {
			// Wait until it serves: a Shutdown before that is refused by miekg/dns ("server not
			// started"), which left the listener open and Close waiting for ever.
			started, ended := make(chan struct{}), make(chan error, 1)
			srv.NotifyStartedFunc = func() { close(started) }
			s.servers = append(s.servers, srv)
			s.wg.Add(1)
			go func() { defer s.wg.Done(); ended <- srv.ActivateAndServe() }()
			select {
			case <-started:
			case err := <-ended:
				return fmt.Errorf("feed listen %s: %w", addr, err)
			}
		}
		s.addrs = append(s.addrs, Addr{UDP: pc.LocalAddr().String(), TCP: ln.Addr().String()})
		return nil
	}
}

// Addrs returns the bound addresses, one per Listen address.
func (s *Server) Addrs() []Addr { return s.addrs }

// Zone returns the zone being served.
func (s *Server) Zone() *Zone { return s.zone.Load() }

// Changed asks for the list to be read again now (the hotline's OnListChange); it never blocks.
func (s *Server) Changed() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// SetParams changes the zone's action and timers (a configuration reload): the parameters are
// recorded with the list, which moves its serial, and the zone is rebuilt whole with them; IXFR
// from a version before the change gets the whole zone. The zone's name cannot change while
// running (secondaries are configured with it): that takes a restart.
func (s *Server) SetParams(ctx context.Context, p Params) error {
	p.Origin = dns.CanonicalName(p.Origin)
	if p.Target == "" {
		p.Target = "."
	}
	cur := s.params.Load()
	if p.Origin != cur.Origin {
		return fmt.Errorf("feed: the zone's name changed from %s to %s: restart to serve the new zone", cur.Origin, p.Origin)
	}
	if p == *cur {
		return nil
	}
	// The new parameters first, then the new serial: a version built at the serial the mark
	// takes must have them (built the other way round, it could carry the old ones at the new
	// serial, and secondaries would never transfer the corrected zone).
	s.params.Store(&p)
	if err := s.markParams(ctx, p); err != nil {
		s.params.Store(cur)
		return err
	}
	s.Changed()
	return nil
}

func (s *Server) markParams(ctx context.Context, p Params) error {
	if s.opt.MarkParams == nil {
		return nil
	}
	if err := s.opt.MarkParams(ctx, p.Fingerprint()); err != nil {
		return fmt.Errorf("feed: record the zone's parameters: %w", err)
	}
	return nil
}

// Close stops the listeners, the follower and pending NOTIFYs.
func (s *Server) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range s.servers {
		_ = srv.ShutdownContext(sctx)
	}
	s.wg.Wait()
	return nil
}

func (s *Server) run() {
	t := time.NewTicker(s.opt.Poll)
	defer t.Stop()
	failing := false // log a failure once, not at every poll
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		case <-s.changed:
		}
		z, err := s.refresh(s.ctx)
		if err != nil {
			if s.ctx.Err() == nil && !failing {
				s.log.Error("feed zone not rebuilt; serving the previous one until the list can be read", "err", err)
			}
			failing = true
			continue
		}
		if failing {
			s.log.Info("feed list readable again")
			failing = false
		}
		if z != nil {
			s.notifyAll(z)
		}
	}
}

// maxIncremental bounds the values one incremental step reads (Options.Changes); beyond it
// the whole list is read, which is then cheaper than asking for each value.
const maxIncremental = 50000

// refresh makes the next version of the zone when the list serial (or the parameters) moved:
// from the changes since the current version when it can, else from the whole list. It
// returns the new zone or nil.
func (s *Server) refresh(ctx context.Context) (*Zone, error) {
	cur := s.zone.Load()
	p := *s.params.Load()
	if cur != nil && cur.p == p {
		serial, err := s.opt.Serial(ctx)
		if err != nil {
			return nil, fmt.Errorf("feed: %w", err)
		}
		if serial == cur.Serial {
			return nil, nil
		}
	}
	t0 := time.Now()
	var z *Zone
	var st *step
	how := "whole list"
	// A parameter change (here, or recorded by another control node) changed every record:
	// that version is built whole and no step leads to it, so IXFR across it sends the zone.
	noStep := cur != nil && cur.p != p
	if cur != nil && !noStep && s.opt.Changes != nil {
		ch, ok, err := s.opt.Changes(ctx, cur.Serial, maxIncremental)
		if err != nil {
			return nil, fmt.Errorf("feed: %w", err)
		}
		noStep = ch.Params
		if ok && !ch.Params {
			var old map[string]uint8
			z, old = cur.Apply(ch.Serial, ch.Entries)
			st = &step{from: cur.Serial, to: ch.Serial, old: old}
			how = "changes"
		}
	}
	if z == nil {
		serial, entries, err := s.opt.Snapshot(ctx)
		if err != nil {
			return nil, fmt.Errorf("feed: %w", err)
		}
		z = Build(p, serial, entries)
		if cur != nil && serial > cur.Serial && !noStep {
			st = &step{from: cur.Serial, to: serial, old: z.changed(cur)}
		}
	}
	var loaded []store.FeedVersion
	switch {
	case cur == nil:
		if s.opt.Journal != nil {
			loaded = s.loadJournal(ctx, z.Serial)
		}
	case z.Serial < cur.Serial: // not the same list any more: no delta can be trusted
		st = nil
		if s.opt.Journal != nil {
			if err := s.opt.Journal.ClearFeedJournal(ctx); err != nil {
				s.log.Warn("feed journal not cleared after the list serial went back", "err", err)
			}
		}
	case st != nil && s.opt.Journal != nil:
		loaded = s.record(ctx, st)
	}
	s.mu.Lock()
	if cur != nil && z.Serial < cur.Serial {
		s.hist, s.histNames = nil, 0
	}
	for _, v := range loaded {
		s.addStep(step{from: v.Prev, to: v.Serial, old: changesFlags(v.Changes)})
	}
	if st != nil {
		s.addStep(*st) // kept only when the journal did not give this serial
	}
	s.trim()
	s.zone.Store(z)
	s.mu.Unlock()
	s.log.Info("feed zone built", "zone", p.Origin, "serial", z.Serial32(), "names", z.Names(), "from", how, "took", time.Since(t0).Round(time.Millisecond))
	return z, nil
}

// loadJournal reads the persisted history at start, for the zone at serial: versions above
// serial mean the list's serial went back (a restored store), and the journal is cleared.
func (s *Server) loadJournal(ctx context.Context, serial int64) []store.FeedVersion {
	vs, err := s.opt.Journal.FeedVersions(ctx, 0)
	if err != nil {
		s.log.Warn("feed journal not read: IXFR from before this start gets the whole zone", "err", err)
		return nil
	}
	if len(vs) > 0 && vs[len(vs)-1].Serial > serial {
		s.log.Warn("feed journal is ahead of the list (serial went back): cleared", "journal", vs[len(vs)-1].Serial, "serial", serial)
		if err := s.opt.Journal.ClearFeedJournal(ctx); err != nil {
			s.log.Warn("feed journal not cleared", "err", err)
		}
		return nil
	}
	return vs
}

// record persists the step and returns the versions the journal holds above the newest one
// in memory: this one, or another node's version of the same serial, and any other node's.
func (s *Server) record(ctx context.Context, st *step) []store.FeedVersion {
	v := store.FeedVersion{Serial: st.to, Prev: st.from, Created: time.Now()}
	for n, f := range st.old {
		v.Changes = append(v.Changes, store.FeedChange{Name: n, Was: int(f)})
	}
	slices.SortFunc(v.Changes, func(a, b store.FeedChange) int { return strings.Compare(a.Name, b.Name) })
	if _, err := s.opt.Journal.AddFeedVersion(ctx, v, s.opt.JournalVersions); err != nil {
		s.log.Warn("feed version not journaled: kept in memory only", "serial", st.to, "err", err)
		return nil
	}
	s.mu.Lock()
	after := int64(-1 << 62)
	if n := len(s.hist); n > 0 {
		after = s.hist[n-1].to
	}
	s.mu.Unlock()
	vs, err := s.opt.Journal.FeedVersions(ctx, after)
	if err != nil {
		s.log.Warn("feed journal not read", "err", err)
		return nil
	}
	return vs
}

func changesFlags(cs []store.FeedChange) map[string]uint8 {
	m := make(map[string]uint8, len(cs))
	for _, c := range cs {
		m[c.Name] = uint8(c.Was)
	}
	return m
}

// addStep adds st to the history, kept in order of the serial built, unless a step to the same
// serial is there (the journal's, written first, wins: every node then answers alike).
// s.mu is held.
func (s *Server) addStep(st step) {
	i, found := slices.BinarySearchFunc(s.hist, st.to, func(h step, to int64) int {
		switch {
		case h.to < to:
			return -1
		case h.to > to:
			return 1
		}
		return 0
	})
	if found || st.from >= st.to {
		return
	}
	s.hist = slices.Insert(s.hist, i, st)
	s.histNames += len(st.old)
}

// trim drops the oldest steps beyond JournalVersions and MaxJournal names. s.mu is held.
func (s *Server) trim() {
	for len(s.hist) > 0 && (len(s.hist) > s.opt.JournalVersions || s.histNames > s.opt.MaxJournal) {
		s.histNames -= len(s.hist[0].old)
		s.hist[0] = step{}
		s.hist = s.hist[1:]
	}
}

// notifyAll sends NOTIFY for z to every member's Notify addresses, abandoning the NOTIFYs of
// an older serial still being retried.
func (s *Server) notifyAll(z *Zone) {
	s.notifyMu.Lock()
	if s.notifyCancel != nil {
		s.notifyCancel()
	}
	ctx, cancel := context.WithCancel(s.ctx)
	s.notifyCancel = cancel
	s.notifyMu.Unlock()
	for i := range s.opt.Members {
		m := &s.opt.Members[i]
		for _, addr := range m.Notify {
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.notify(ctx, m, addr, z) }()
		}
	}
}

func (s *Server) notify(ctx context.Context, m *Member, addr string, z *Zone) {
	c := &dns.Client{Net: "udp", Timeout: s.opt.NotifyTimeout}
	key := dns.CanonicalName(m.Name)
	if m.Secret != "" {
		c.TsigSecret = map[string]string{key: m.Secret}
	}
	var last error
	for try := 0; try < s.opt.NotifyTries && ctx.Err() == nil; try++ {
		// A fresh message each try: miekg/dns strips the TSIG RR when it signs.
		msg := new(dns.Msg)
		msg.SetNotify(s.opt.Params.Origin)
		msg.Answer = []dns.RR{z.SOA(z.Serial)}
		if m.Secret != "" {
			// Unsigned to members without a key: Unbound answers a signed NOTIFY with FORMERR.
			msg.SetTsig(key, dns.HmacSHA256, 300, time.Now().Unix())
		}
		in, _, err := c.ExchangeContext(ctx, msg, addr)
		if err == nil {
			if in.Rcode != dns.RcodeSuccess {
				s.log.Warn("feed notify refused", "member", m.Name, "serial", z.Serial32(), "rcode", dns.RcodeToString[in.Rcode])
			} else {
				s.log.Debug("feed notify answered", "member", m.Name, "serial", z.Serial32())
			}
			return
		}
		last = err
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(try+1) * 500 * time.Millisecond):
		}
	}
	if ctx.Err() == nil {
		s.log.Warn("feed notify not answered", "member", m.Name, "serial", z.Serial32(), "err", last)
	}
}

// member returns who asked: the key's member for a signed query, else the member whose
// Allow list holds the source address.
func (s *Server) memberByAddr(a net.Addr) *Member {
	var ip netip.Addr
	switch v := a.(type) {
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(v.IP)
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(v.IP)
	}
	ip = ip.Unmap()
	for i := range s.opt.Members {
		for _, p := range s.opt.Members[i].Allow {
			if p.Contains(ip) {
				return &s.opt.Members[i]
			}
		}
	}
	return nil
}

// ServeDNS answers SOA, AXFR and IXFR for the zone to members.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	tsig := r.IsTsig()
	var m *Member
	if tsig != nil {
		if err := w.TsigStatus(); err != nil {
			s.badTSIG(w, r, tsig, err)
			return
		}
		m = s.byKey[dns.CanonicalName(tsig.Hdr.Name)]
	} else {
		m = s.memberByAddr(w.RemoteAddr())
	}
	reply := func(rcode int, answer ...dns.RR) {
		out := new(dns.Msg)
		out.SetRcode(r, rcode)
		out.Authoritative = rcode == dns.RcodeSuccess
		out.Answer = answer
		if tsig != nil {
			out.SetTsig(tsig.Hdr.Name, tsig.Algorithm, 300, time.Now().Unix())
		}
		_ = w.WriteMsg(out)
	}
	if m == nil {
		reply(dns.RcodeRefused) // not an open primary
		s.logRefused(w.RemoteAddr(), r, "no member has this address or key")
		return
	}
	if r.Opcode != dns.OpcodeQuery {
		reply(dns.RcodeNotImplemented)
		return
	}
	if len(r.Question) != 1 {
		reply(dns.RcodeFormatError)
		return
	}
	q := r.Question[0]
	z := s.zone.Load()
	if dns.CanonicalName(q.Name) != s.opt.Params.Origin || q.Qclass != dns.ClassINET || z == nil {
		reply(dns.RcodeRefused)
		s.logRefused(w.RemoteAddr(), r, "not this zone")
		return
	}
	tcp := w.LocalAddr().Network() == "tcp"
	switch q.Qtype {
	case dns.TypeSOA:
		reply(dns.RcodeSuccess, z.SOA(z.Serial))
	case dns.TypeAXFR:
		if !tcp {
			reply(dns.RcodeRefused)
			s.logRefused(w.RemoteAddr(), r, "AXFR over UDP")
			return
		}
		if !s.acquire(m) {
			reply(dns.RcodeRefused)
			s.logRefused(w.RemoteAddr(), r, "too many transfers at once")
			return
		}
		defer s.release(m)
		n, err := s.sendZone(w, r, z)
		s.logTransfer(m, "AXFR", "full", z, -1, n, err)
	case dns.TypeIXFR:
		var have *dns.SOA
		if len(r.Ns) == 1 {
			have, _ = r.Ns[0].(*dns.SOA)
		}
		if have == nil {
			reply(dns.RcodeFormatError)
			return
		}
		behind, ok := z.Behind(have.Serial)
		if ok && behind == 0 || !tcp {
			// Current, or over UDP: the current SOA alone (RFC 1995 §2, §4: retry over TCP).
			reply(dns.RcodeSuccess, z.SOA(z.Serial))
			s.logTransfer(m, "IXFR", "current", z, int64(have.Serial), 1, nil)
			return
		}
		if !s.acquire(m) {
			reply(dns.RcodeRefused)
			s.logRefused(w.RemoteAddr(), r, "too many transfers at once")
			return
		}
		defer s.release(m)
		// A serial below 0 was never the list's (another primary's zone): the whole zone.
		if ok {
			from := z.Serial - behind
			if z, old, found := s.since(from); found {
				del, add := z.diff(old)
				n, err := s.sendIncremental(w, r, z, from, del, add)
				s.logTransfer(m, "IXFR", "incremental", z, int64(have.Serial), n, err)
				return
			}
		}
		// The history cannot answer (too old, never built here, ahead of us): the whole zone.
		n, err := s.sendZone(w, r, z)
		s.logTransfer(m, "IXFR", "full", z, int64(have.Serial), n, err)
	default:
		reply(dns.RcodeRefused)
	}
}

// slotWait is how long a transfer waits for a slot before it is refused: a resolver that asks
// again the moment its previous transfer ended may find that transfer's handler not yet
// returned; a member holding its slots without reading waits this long and is refused.
const slotWait = time.Second

// acquire takes a transfer slot for m, waiting up to slotWait; false: the bounds are reached.
func (s *Server) acquire(m *Member) bool {
	deadline := time.Now().Add(slotWait)
	for {
		s.xferMu.Lock()
		ok := s.xfers < s.opt.MaxTransfers && s.xferByKey[m.Name] < s.opt.MaxMemberTransfers
		if ok {
			s.xfers++
			s.xferByKey[m.Name]++
		}
		s.xferMu.Unlock()
		if ok {
			return true
		}
		if time.Now().After(deadline) || s.ctx != nil && s.ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *Server) release(m *Member) {
	s.xferMu.Lock()
	defer s.xferMu.Unlock()
	s.xfers--
	if s.xferByKey[m.Name]--; s.xferByKey[m.Name] <= 0 {
		delete(s.xferByKey, m.Name)
	}
}

// deadlineListener gives each accepted connection a deadline per write and a bounded life.
type deadlineListener struct {
	net.Listener
	write, life time.Duration
}

func (l *deadlineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &deadlineConn{Conn: c, write: l.write, end: time.Now().Add(l.life)}, nil
}

type deadlineConn struct {
	net.Conn
	write time.Duration
	end   time.Time
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	d := time.Now().Add(c.write)
	if d.After(c.end) {
		d = c.end
	}
	if err := c.Conn.SetWriteDeadline(d); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// since returns the current zone and, for each name changed since the version at serial from,
// its flags then; found is false when from is not a version the history holds. The zone's
// serial may have moved since the caller read it: the returned zone is the one the history
// ends at.
func (s *Server) since(from int64) (z *Zone, old map[string]uint8, found bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z = s.zone.Load()
	// Walk back from the zone's version, step by step, to from: the chain of versions that
	// led here. A missing version (a gap in the journal) or a step past from: not found.
	byTo := make(map[int64]*step, len(s.hist))
	for i := range s.hist {
		byTo[s.hist[i].to] = &s.hist[i]
	}
	var chain []*step
	for at := z.Serial; at != from; {
		st := byTo[at]
		if st == nil || st.from < from {
			return z, nil, false
		}
		chain = append(chain, st)
		at = st.from
	}
	// A name's flags at from are those the earliest step changing it recorded.
	old = map[string]uint8{}
	for _, st := range slices.Backward(chain) {
		for n, f := range st.old {
			if _, seen := old[n]; !seen {
				old[n] = f
			}
		}
	}
	return z, old, true
}

// logRefused logs a refused query at most once a minute per source address: an ISP engineer
// whose resolver is refused finds the reason in the log, and a flood of queries from one
// address does not flood the log. The addresses are resolvers', not people's.
func (s *Server) logRefused(from net.Addr, r *dns.Msg, reason string) {
	host := from.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if !s.mayLogRefusal(host) {
		return
	}
	args := []any{"from", host, "reason", reason}
	if len(r.Question) == 1 {
		args = append(args, "qname", r.Question[0].Name, "qtype", dns.TypeToString[r.Question[0].Qtype])
	}
	s.log.Warn("feed query refused (logged once a minute per address)", args...)
}

// maxRefusalLines bounds the refusal lines logged per minute over all sources.
const maxRefusalLines = 60

// mayLogRefusal reports whether a refusal from host (or another per-source key) is logged now: once a minute per address,
// and at most maxRefusalLines a minute in all (the lines left out are counted, and their
// number logged when the next minute starts).
func (s *Server) mayLogRefusal(host string) bool {
	now := time.Now()
	s.refusedMu.Lock()
	defer s.refusedMu.Unlock()
	if now.Sub(s.refusedWin) >= time.Minute {
		if s.refusedDropped > 0 {
			s.log.Warn("feed queries refused and not logged (too many sources in a minute)", "count", s.refusedDropped)
		}
		s.refusedWin, s.refusedN, s.refusedDropped = now, 0, 0
	}
	if last, seen := s.refusedAt[host]; seen && now.Sub(last) < time.Minute {
		return false
	}
	if s.refusedN >= maxRefusalLines {
		s.refusedDropped++
		return false
	}
	if len(s.refusedAt) >= 4096 { // many sources: start over rather than grow
		clear(s.refusedAt)
	}
	s.refusedAt[host] = now
	s.refusedN++
	return true
}

func (s *Server) logTransfer(m *Member, typ, style string, z *Zone, from int64, records int, err error) {
	args := []any{"member", m.Name, "type", typ, "style", style, "serial", z.Serial32(), "records", records}
	if from >= 0 {
		args = append(args, "from", from)
	}
	if err != nil {
		s.log.Warn("feed transfer failed", append(args, "err", err)...)
		return
	}
	if style == "current" {
		// An answer of one SOA is every secondary's poll, and over UDP its source may be a
		// member's address spoofed by anyone: a line each would let a flood fill the log.
		s.log.Debug("feed transfer", args...)
		return
	}
	s.log.Info("feed transfer", args...)
}

// badTSIG answers a query whose TSIG did not verify with NOTAUTH and an unsigned TSIG record
// carrying the error (RFC 8945 §5.2), written raw so the server does not try to sign it.
func (s *Server) badTSIG(w dns.ResponseWriter, r *dns.Msg, t *dns.TSIG, err error) {
	code := dns.RcodeBadSig
	switch {
	case errors.Is(err, dns.ErrSecret):
		code = dns.RcodeBadKey
	case errors.Is(err, dns.ErrTime):
		code = dns.RcodeBadTime
	}
	out := new(dns.Msg)
	out.SetRcode(r, dns.RcodeNotAuth)
	out.Extra = []dns.RR{&dns.TSIG{
		Hdr:       dns.RR_Header{Name: t.Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm: t.Algorithm, TimeSigned: t.TimeSigned, Fudge: t.Fudge, OrigId: r.Id, Error: uint16(code),
	}}
	buf, perr := out.Pack()
	if perr != nil {
		return
	}
	_, _ = w.Write(buf)
	host := w.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	// Rate-limited like other refusals (anyone can send a query with a made-up signature), on
	// its own per address: a bad key and a missing one are different mistakes to report.
	if !s.mayLogRefusal("tsig " + host) {
		return
	}
	s.log.Info("feed query with a bad signature refused", "from", host, "key", strings.TrimSuffix(t.Hdr.Name, "."), "tsig_error", dns.RcodeToString[code])
}

// maxMessage is the size (uncompressed) at which a transfer message is closed.
const maxMessage = 16 << 10

// out streams records to a transfer in messages of at most maxMessage bytes, signed per
// message when the query was (dns.Transfer.Out).
type out struct {
	ch    chan *dns.Envelope
	errc  chan error
	batch []dns.RR
	size  int
	n     int
}

func newOut(w dns.ResponseWriter, r *dns.Msg) *out {
	o := &out{ch: make(chan *dns.Envelope), errc: make(chan error, 1)}
	go func() {
		err := new(dns.Transfer).Out(w, r, o.ch)
		o.errc <- err
		for range o.ch { // the client went away: drain
		}
	}()
	return o
}

func (o *out) add(rr dns.RR) {
	l := dns.Len(rr)
	if o.size+l > maxMessage && len(o.batch) > 0 {
		o.ch <- &dns.Envelope{RR: o.batch}
		o.batch, o.size = nil, 0
	}
	o.batch = append(o.batch, rr)
	o.size += l
	o.n++
}

func (o *out) close() (int, error) {
	if len(o.batch) > 0 {
		o.ch <- &dns.Envelope{RR: o.batch}
	}
	close(o.ch)
	return o.n, <-o.errc
}

func (s *Server) sendZone(w dns.ResponseWriter, r *dns.Msg, z *Zone) (int, error) {
	o := newOut(w, r)
	z.Records(func(rr dns.RR) bool { o.add(rr); return true })
	return o.close()
}

// sendIncremental sends one condensed difference sequence (RFC 1995 §4): new SOA, old SOA,
// deletions, new SOA, additions, new SOA.
func (s *Server) sendIncremental(w dns.ResponseWriter, r *dns.Msg, z *Zone, from int64, del, add []dns.RR) (int, error) {
	o := newOut(w, r)
	soa := z.SOA(z.Serial)
	o.add(soa)
	o.add(z.SOA(from))
	for _, rr := range del {
		o.add(rr)
	}
	o.add(soa)
	for _, rr := range add {
		o.add(rr)
	}
	o.add(soa)
	return o.close()
}
