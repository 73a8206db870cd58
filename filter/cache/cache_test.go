package cache

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func rr(t testing.TB, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("rr %q: %v", s, err)
	}
	return r
}

// response builds a response to name/qtype with the given sections, as an
// upstream would send it: compressed, RD+RA, and an OPT record.
func response(t testing.TB, name string, qtype uint16, rcode int, answer, ns, extra []string) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(1232, true)
	m := new(dns.Msg)
	m.SetRcode(q, rcode)
	m.RecursionAvailable = true
	m.Compress = true
	m.Extra = nil
	for _, s := range answer {
		m.Answer = append(m.Answer, rr(t, s))
	}
	for _, s := range ns {
		m.Ns = append(m.Ns, rr(t, s))
	}
	for _, s := range extra {
		m.Extra = append(m.Extra, rr(t, s))
	}
	m.SetEdns0(1232, true)
	return m
}

func key(name string, qtype uint16) []byte {
	return AppendKey(nil, []byte(name), qtype, dns.ClassINET, false)
}

// serve looks key up at now and unpacks what AppendTo writes.
func serve(t *testing.T, c *Cache, k []byte, id uint16, now time.Time) (*dns.Msg, State, bool) {
	t.Helper()
	e, st, pf := c.Lookup(k, now)
	if st == Miss {
		if e != nil {
			t.Fatalf("miss returned an entry")
		}
		return nil, st, pf
	}
	out := e.AppendTo(nil, id, now, st)
	m := new(dns.Msg)
	if err := m.Unpack(out); err != nil {
		t.Fatalf("unpack AppendTo output: %v", err)
	}
	return m, st, pf
}

func ttls(m *dns.Msg) []uint32 {
	var out []uint32
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, r := range sec {
			out = append(out, r.Header().Ttl)
		}
	}
	return out
}

func TestRoundTripWithCompressionAndOPT(t *testing.T) {
	c := New(Options{})
	m := response(t, "www.example.com.", dns.TypeA, dns.RcodeSuccess,
		[]string{
			"www.example.com. 300 IN CNAME web.example.com.",
			"web.example.com. 200 IN A 192.0.2.1",
			"web.example.com. 200 IN A 192.0.2.2",
		},
		[]string{"example.com. 3600 IN NS ns1.example.com."},
		[]string{"ns1.example.com. 3600 IN A 192.0.2.53"})
	m.Id = 999
	k := key("www.example.com", dns.TypeA)
	c.Store(k, m, t0)
	if m.Id != 999 || m.IsEdns0() == nil || len(m.Extra) != 2 {
		t.Fatalf("Store modified the message: id %d extra %v", m.Id, m.Extra)
	}

	got, st, _ := serve(t, c, k, 0xBEEF, t0.Add(10500*time.Millisecond))
	if st != Fresh {
		t.Fatalf("state = %v, want fresh", st)
	}
	if got.Id != 0xBEEF || !got.Response || !got.RecursionDesired || !got.RecursionAvailable {
		t.Errorf("header = %+v", got.MsgHdr)
	}
	if got.IsEdns0() != nil {
		t.Errorf("OPT not stripped: %v", got.Extra)
	}
	if len(got.Question) != 1 || got.Question[0] != m.Question[0] {
		t.Errorf("question = %v", got.Question)
	}
	if want := []uint32{290, 190, 190, 3590, 3590}; !slices.Equal(ttls(got), want) {
		t.Errorf("ttls = %v, want %v", ttls(got), want)
	}
	// Apart from TTLs the records are the ones stored.
	want := m.Copy()
	want.Extra = want.Extra[:1]
	for i, sec := range [][]dns.RR{got.Answer, got.Ns, got.Extra} {
		wsec := [][]dns.RR{want.Answer, want.Ns, want.Extra}[i]
		if len(sec) != len(wsec) {
			t.Fatalf("section %d: %d records, want %d", i, len(sec), len(wsec))
		}
		for j := range sec {
			sec[j].Header().Ttl, wsec[j].Header().Ttl = 0, 0
			if sec[j].String() != wsec[j].String() {
				t.Errorf("rr %q, want %q", sec[j], wsec[j])
			}
		}
	}
	e, _, _ := c.Lookup(k, t0)
	if want := []string{"web.example.com"}; !slices.Equal(e.CNAMEs(), want) {
		t.Errorf("CNAMEs = %q, want %q", e.CNAMEs(), want)
	}
	if e.Rcode() != dns.RcodeSuccess {
		t.Errorf("Rcode = %d", e.Rcode())
	}
	if out := e.AppendTo(nil, 1, t0, Fresh); len(out) != e.Size() {
		t.Errorf("Size = %d, AppendTo wrote %d", e.Size(), len(out))
	}

	// The entry expires with its smallest TTL (200 s).
	if _, st, _ := c.Lookup(k, t0.Add(199*time.Second)); st != Fresh {
		t.Errorf("at 199s: %v, want fresh", st)
	}
	if _, st, _ := c.Lookup(k, t0.Add(200*time.Second)); st != Miss {
		t.Errorf("at 200s: %v, want miss", st)
	}
}

func TestAppendToAppends(t *testing.T) {
	c := New(Options{})
	m := response(t, "a.example.", dns.TypeA, 0, []string{"a.example. 60 IN A 192.0.2.1"}, nil, nil)
	k := key("a.example", dns.TypeA)
	c.Store(k, m, t0)
	e, st, _ := c.Lookup(k, t0)
	prefix := []byte{0xAB, 0xCD} // e.g. the TCP length prefix
	out := e.AppendTo(prefix, 7, t0, st)
	if out[0] != 0xAB || out[1] != 0xCD || len(out) != 2+e.Size() {
		t.Fatalf("prefix clobbered or wrong length")
	}
	var got dns.Msg
	if err := got.Unpack(out[2:]); err != nil || got.Id != 7 {
		t.Fatalf("unpack: %v id %d", err, got.Id)
	}
	// Two copies do not share state.
	a := e.AppendTo(nil, 1, t0.Add(30*time.Second), Fresh)
	b := e.AppendTo(nil, 2, t0, Fresh)
	var ma, mb dns.Msg
	_ = ma.Unpack(a)
	_ = mb.Unpack(b)
	if ma.Answer[0].Header().Ttl != 30 || mb.Answer[0].Header().Ttl != 60 {
		t.Errorf("ttls %d %d, want 30 60", ma.Answer[0].Header().Ttl, mb.Answer[0].Header().Ttl)
	}
}

func TestTTLClamps(t *testing.T) {
	c := New(Options{MinTTL: time.Minute, MaxTTL: time.Hour})
	m := response(t, "clamp.example.", dns.TypeA, 0, []string{
		"clamp.example. 5 IN A 192.0.2.1",
		"clamp.example. 999999 IN A 192.0.2.2",
		"clamp.example. 2147483648 IN A 192.0.2.3", // top bit set: 0 (RFC 2181)
	}, nil, nil)
	k := key("clamp.example", dns.TypeA)
	c.Store(k, m, t0)
	got, _, _ := serve(t, c, k, 1, t0)
	if want := []uint32{60, 3600, 60}; !slices.Equal(ttls(got), want) {
		t.Errorf("ttls = %v, want %v", ttls(got), want)
	}
	if _, st, _ := c.Lookup(k, t0.Add(59*time.Second)); st != Fresh {
		t.Errorf("at 59s: %v", st)
	}
	if _, st, _ := c.Lookup(k, t0.Add(time.Minute)); st != Miss {
		t.Errorf("at 60s: %v, want miss (lifetime = MinTTL)", st)
	}
}

func TestAdditionalTTLSaturates(t *testing.T) {
	c := New(Options{})
	m := response(t, "ex.example.", dns.TypeMX, 0,
		[]string{"ex.example. 300 IN MX 10 mail.ex.example."}, nil,
		[]string{"mail.ex.example. 5 IN A 192.0.2.25"})
	k := key("ex.example", dns.TypeMX)
	c.Store(k, m, t0)
	got, st, _ := serve(t, c, k, 1, t0.Add(100*time.Second))
	if st != Fresh {
		t.Fatalf("state %v: an additional record must not shorten the lifetime", st)
	}
	if want := []uint32{200, 0}; !slices.Equal(ttls(got), want) {
		t.Errorf("ttls = %v, want %v", ttls(got), want)
	}
}

func TestNegativeCaching(t *testing.T) {
	soa := "example. 3600 IN SOA ns.example. host.example. 1 7200 900 1209600 300"
	tests := []struct {
		name     string
		o        Options
		rcode    int
		qtype    uint16
		answer   []string
		ns       []string
		stored   bool
		wantTTLs []uint32 // at t0
		lifetime time.Duration
	}{
		{name: "nxdomain uses SOA minimum", rcode: dns.RcodeNameError, qtype: dns.TypeA, ns: []string{soa},
			stored: true, wantTTLs: []uint32{300}, lifetime: 300 * time.Second},
		{name: "nxdomain uses SOA ttl when smaller", rcode: dns.RcodeNameError, qtype: dns.TypeA,
			ns:     []string{"example. 120 IN SOA ns.example. host.example. 1 7200 900 1209600 300"},
			stored: true, wantTTLs: []uint32{120}, lifetime: 120 * time.Second},
		{name: "capped by NegativeMaxTTL", o: Options{NegativeMaxTTL: time.Minute}, rcode: dns.RcodeNameError,
			qtype: dns.TypeA, ns: []string{soa}, stored: true, wantTTLs: []uint32{60}, lifetime: time.Minute},
		{name: "MinTTL does not apply", o: Options{MinTTL: time.Hour}, rcode: dns.RcodeNameError,
			qtype: dns.TypeA, ns: []string{soa}, stored: true, wantTTLs: []uint32{300}, lifetime: 300 * time.Second},
		{name: "nodata", rcode: dns.RcodeSuccess, qtype: dns.TypeAAAA, ns: []string{soa},
			stored: true, wantTTLs: []uint32{300}, lifetime: 300 * time.Second},
		{name: "nodata after cname", rcode: dns.RcodeSuccess, qtype: dns.TypeAAAA,
			answer: []string{"neg.example. 7200 IN CNAME other.example."}, ns: []string{soa},
			stored: true, wantTTLs: []uint32{7200, 300}, lifetime: 300 * time.Second},
		{name: "no SOA: not cached", rcode: dns.RcodeNameError, qtype: dns.TypeA},
		{name: "no SOA: NegativeNoSOATTL", o: Options{NegativeNoSOATTL: 30 * time.Second},
			rcode: dns.RcodeNameError, qtype: dns.TypeA, stored: true, lifetime: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.o)
			m := response(t, "neg.example.", tt.qtype, tt.rcode, tt.answer, tt.ns, nil)
			k := key("neg.example", tt.qtype)
			c.Store(k, m, t0)
			got, st, _ := serve(t, c, k, 1, t0)
			if !tt.stored {
				if st != Miss || c.Len() != 0 || c.Stats().Rejected != 1 {
					t.Fatalf("stored: state %v len %d", st, c.Len())
				}
				return
			}
			if st != Fresh || got.Rcode != tt.rcode {
				t.Fatalf("state %v rcode %d", st, got.Rcode)
			}
			if !slices.Equal(ttls(got), tt.wantTTLs) {
				t.Errorf("ttls = %v, want %v", ttls(got), tt.wantTTLs)
			}
			if _, st, _ := c.Lookup(k, t0.Add(tt.lifetime-time.Nanosecond)); st != Fresh {
				t.Errorf("just before lifetime: %v", st)
			}
			if _, st, _ := c.Lookup(k, t0.Add(tt.lifetime)); st != Miss {
				t.Errorf("at lifetime: %v", st)
			}
		})
	}
}

func TestUncacheable(t *testing.T) {
	c := New(Options{})
	a := []string{"x.example. 300 IN A 192.0.2.1"}
	tc := response(t, "x.example.", dns.TypeA, 0, a, nil, nil)
	tc.Truncated = true
	noQ := response(t, "x.example.", dns.TypeA, 0, a, nil, nil)
	noQ.Question = nil
	for name, m := range map[string]*dns.Msg{
		"truncated":   tc,
		"servfail":    response(t, "x.example.", dns.TypeA, dns.RcodeServerFailure, nil, nil, nil),
		"refused":     response(t, "x.example.", dns.TypeA, dns.RcodeRefused, nil, nil, nil),
		"ttl 0":       response(t, "x.example.", dns.TypeA, 0, []string{"x.example. 0 IN A 192.0.2.1"}, nil, nil),
		"no question": noQ,
		"nil":         nil,
	} {
		c.Store(key("x.example", dns.TypeA), m, t0)
		if c.Len() != 0 {
			t.Errorf("%s: stored", name)
		}
	}
	if got := c.Stats().Rejected; got != 6 {
		t.Errorf("Rejected = %d, want 6", got)
	}
}

func TestServeStale(t *testing.T) {
	m := response(t, "s.example.", dns.TypeA, 0, []string{"s.example. 60 IN A 192.0.2.1"}, nil, nil)
	k := key("s.example", dns.TypeA)

	off := New(Options{})
	off.Store(k, m, t0)
	if _, st, pf := off.Lookup(k, t0.Add(61*time.Second)); st != Miss || pf {
		t.Errorf("serve-stale off: %v %v, want miss", st, pf)
	}

	c := New(Options{ServeStale: true, StaleMaxAge: time.Hour})
	c.Store(k, m, t0)
	got, st, pf := serve(t, c, k, 1, t0.Add(61*time.Second))
	if st != Stale || !pf {
		t.Fatalf("after expiry: %v prefetch %v, want stale and a refresh", st, pf)
	}
	if want := []uint32{30}; !slices.Equal(ttls(got), want) {
		t.Errorf("stale ttls = %v, want %v", ttls(got), want)
	}
	if _, st, pf := c.Lookup(k, t0.Add(62*time.Second)); st != Stale || pf {
		t.Errorf("second stale hit: %v prefetch %v, want stale without refresh", st, pf)
	}
	if _, _, pf := c.Lookup(k, t0.Add(92*time.Second)); !pf {
		t.Errorf("30s after a refresh that stored nothing: want another refresh")
	}
	if _, st, _ := c.Lookup(k, t0.Add(60*time.Second+time.Hour-time.Nanosecond)); st != Stale {
		t.Errorf("end of StaleMaxAge: %v, want stale", st)
	}
	if _, st, _ := c.Lookup(k, t0.Add(60*time.Second+time.Hour)); st != Miss {
		t.Errorf("after StaleMaxAge: %v, want miss", st)
	}
	// A refresh replaces the entry; it is fresh again.
	c.Store(k, m, t0.Add(2*time.Minute))
	if _, st, _ := c.Lookup(k, t0.Add(2*time.Minute)); st != Fresh {
		t.Errorf("after refresh: %v", st)
	}
	s := c.Stats()
	if s.Stale != 4 || s.Hits != 1 || s.Misses != 1 || s.Prefetches != 3 {
		t.Errorf("stats = %+v", s)
	}

	custom := New(Options{ServeStale: true, StaleAnswerTTL: 5 * time.Second})
	custom.Store(k, m, t0)
	if got, _, _ := serve(t, custom, k, 1, t0.Add(time.Hour)); got.Answer[0].Header().Ttl != 5 {
		t.Errorf("StaleAnswerTTL not used: %v", got.Answer[0])
	}
}

func TestPrefetch(t *testing.T) {
	m := response(t, "p.example.", dns.TypeA, 0, []string{"p.example. 100 IN A 192.0.2.1"}, nil, nil)
	k := key("p.example", dns.TypeA)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

	c := New(Options{PrefetchHits: 3})
	c.Store(k, m, t0)
	for i, step := range []struct {
		at   float64
		want bool
	}{
		{1, false},  // hit 1
		{2, false},  // hit 2
		{50, false}, // hit 3, not in the last 10%
		{90, true},  // in the window: reported once
		{91, false},
		{99.9, false},
	} {
		if _, st, pf := c.Lookup(k, at(step.at)); st != Fresh || pf != step.want {
			t.Errorf("step %d at %vs: %v prefetch %v, want %v", i, step.at, st, pf, step.want)
		}
	}

	few := New(Options{PrefetchHits: 3})
	few.Store(k, m, t0)
	for _, s := range []float64{91, 92} {
		if _, _, pf := few.Lookup(k, at(s)); pf {
			t.Errorf("prefetch after fewer than PrefetchHits hits")
		}
	}
	if _, _, pf := few.Lookup(k, at(93)); !pf {
		t.Errorf("third hit in the window: want prefetch")
	}

	disabled := New(Options{})
	disabled.Store(k, m, t0)
	for _, s := range []float64{1, 2, 3, 95, 96, 97} {
		if _, _, pf := disabled.Lookup(k, at(s)); pf {
			t.Errorf("PrefetchHits 0: prefetch reported at %vs", s)
		}
	}
}

func TestEvictionBound(t *testing.T) {
	for _, max := range []int{1, 5, 64, 100, 1000} {
		c := New(Options{MaxEntries: max})
		for i := range 5 * max {
			name := fmt.Sprintf("n%d.example.", i)
			c.Store(key(name[:len(name)-1], dns.TypeA),
				response(t, name, dns.TypeA, 0, []string{name + " 300 IN A 192.0.2.1"}, nil, nil), t0)
			if c.Len() > max {
				t.Fatalf("MaxEntries %d: Len %d after %d stores", max, c.Len(), i+1)
			}
		}
		s := c.Stats()
		if s.Stores != uint64(5*max) || s.Evictions != s.Stores-uint64(c.Len()) {
			t.Errorf("MaxEntries %d: stats %+v len %d", max, s, c.Len())
		}
		if c.Len() < max/2 || max < 16 && c.Len() != max { // below 16: one shard
			t.Errorf("MaxEntries %d: only %d entries kept", max, c.Len())
		}
	}
}

func TestClockSecondChance(t *testing.T) {
	s := &shard{m: map[string]*Entry{}, max: 3}
	far := int64(1) << 62
	mk := func(k string) *Entry { return &Entry{key: k, staleUntil: far} }
	a, b, c := mk("a"), mk("b"), mk("c")
	for _, e := range []*Entry{a, b, c} {
		if s.insert(e, 0) {
			t.Fatal("evicted before full")
		}
	}
	a.ref.Store(true) // a was hit
	if !s.insert(mk("d"), 0) {
		t.Fatal("no eviction when full")
	}
	if s.m["a"] == nil || s.m["b"] != nil {
		t.Errorf("CLOCK evicted the referenced entry: keys %v", slices.Sorted(maps.Keys(s.m)))
	}
	if a.ref.Load() {
		t.Errorf("the hand passed a without clearing its bit")
	}
	// An entry past its stale window goes first even if referenced.
	c.staleUntil = 0
	c.ref.Store(true)
	s.insert(mk("e"), 1)
	if s.m["c"] != nil {
		t.Errorf("dead entry kept")
	}
	// Replacing a key keeps its slot and does not evict.
	if s.insert(mk("a"), 0) || len(s.m) != 3 || len(s.ring) != 3 {
		t.Errorf("replace: len %d ring %d", len(s.m), len(s.ring))
	}
	for i, e := range s.ring {
		if s.m[e.key] != e || e.slot != i {
			t.Errorf("ring and map disagree at %d", i)
		}
	}
}

func TestKeys(t *testing.T) {
	base := AppendKey(nil, []byte("www.example.com"), dns.TypeA, dns.ClassINET, false)
	same := [][]byte{
		AppendKey(nil, []byte("WWW.Example.COM"), dns.TypeA, dns.ClassINET, false),
		AppendKey(nil, []byte("www.example.com."), dns.TypeA, dns.ClassINET, false),
		AppendKey(make([]byte, 0, 3), []byte("www.example.com"), dns.TypeA, dns.ClassINET, false),
	}
	for i, k := range same {
		if string(k) != string(base) {
			t.Errorf("same[%d] = %q, want %q", i, k, base)
		}
	}
	differ := map[string][]byte{
		"qtype": AppendKey(nil, []byte("www.example.com"), dns.TypeAAAA, dns.ClassINET, false),
		"DO":    AppendKey(nil, []byte("www.example.com"), dns.TypeA, dns.ClassINET, true),
		"class": AppendKey(nil, []byte("www.example.com"), dns.TypeA, dns.ClassCHAOS, false),
		"name":  AppendKey(nil, []byte("ww.example.com"), dns.TypeA, dns.ClassINET, false),
	}
	for what, k := range differ {
		if string(k) == string(base) {
			t.Errorf("key does not differ by %s", what)
		}
	}
	// An escaped trailing dot is part of the name.
	if got := AppendKey(nil, []byte(`a\.`), 1, 1, false); string(got[KeyHeaderLen:]) != `a\.` {
		t.Errorf("escaped dot stripped: %q", got)
	}
	if got := AppendKey(nil, []byte(`a\\.`), 1, 1, false); string(got[KeyHeaderLen:]) != `a\\` {
		t.Errorf("unescaped dot after an escaped backslash kept: %q", got)
	}

	// Entries differ by qtype and DO in the cache too.
	c := New(Options{})
	c.Store(base, response(t, "www.example.com.", dns.TypeA, 0, []string{"www.example.com. 60 IN A 192.0.2.1"}, nil, nil), t0)
	for what, k := range differ {
		if _, st, _ := c.Lookup(k, t0); st != Miss {
			t.Errorf("lookup differing by %s hit", what)
		}
	}
	if _, st, _ := c.Lookup(same[0], t0); st != Fresh {
		t.Errorf("same key missed")
	}
}

func TestPurge(t *testing.T) {
	c := New(Options{})
	k := key("a.example", dns.TypeA)
	c.Store(k, response(t, "a.example.", dns.TypeA, 0, []string{"a.example. 60 IN A 192.0.2.1"}, nil, nil), t0)
	e, _, _ := c.Lookup(k, t0)
	c.Purge()
	if c.Len() != 0 {
		t.Fatalf("Len = %d after Purge", c.Len())
	}
	if _, st, _ := c.Lookup(k, t0); st != Miss {
		t.Errorf("hit after Purge")
	}
	var m dns.Msg
	if err := m.Unpack(e.AppendTo(nil, 1, t0, Fresh)); err != nil {
		t.Errorf("entry held across Purge: %v", err)
	}
	c.Store(k, response(t, "a.example.", dns.TypeA, 0, []string{"a.example. 60 IN A 192.0.2.1"}, nil, nil), t0)
	if c.Len() != 1 {
		t.Errorf("Store after Purge: Len %d", c.Len())
	}
}

func TestZeroAllocs(t *testing.T) {
	c := New(Options{PrefetchHits: 1, ServeStale: true})
	m := response(t, "www.example.com.", dns.TypeA, 0, []string{
		"www.example.com. 300 IN CNAME web.example.com.",
		"web.example.com. 300 IN A 192.0.2.1",
	}, nil, nil)
	c.Store(key("www.example.com", dns.TypeA), m, t0)
	name := []byte("www.example.com")
	missName := []byte("nothing.example")
	buf := make([]byte, 0, 512)
	now := t0.Add(10 * time.Second)
	for _, tc := range []struct {
		name string
		now  time.Time
		q    []byte
		want State
	}{
		{"fresh", now, name, Fresh},
		{"prefetch window", t0.Add(295 * time.Second), name, Fresh},
		{"stale", t0.Add(time.Hour), name, Stale},
		{"miss", now, missName, Miss},
	} {
		allocs := testing.AllocsPerRun(1000, func() {
			var kb [256]byte
			k := AppendKey(kb[:0], tc.q, dns.TypeA, dns.ClassINET, false)
			e, st, _ := c.Lookup(k, tc.now)
			if st != tc.want {
				t.Fatalf("state %v, want %v", st, tc.want)
			}
			if e != nil {
				buf = e.AppendTo(buf[:0], 0x1234, tc.now, st)
				_ = e.CNAMEs()
			}
		})
		if allocs != 0 {
			t.Errorf("%s: AppendKey+Lookup+AppendTo allocated %v times per run", tc.name, allocs)
		}
	}
}

func TestConcurrent(t *testing.T) {
	c := New(Options{MaxEntries: 200, ServeStale: true, PrefetchHits: 2})
	msgs := make([]*dns.Msg, 50)
	for i := range msgs {
		name := fmt.Sprintf("c%d.example.", i)
		msgs[i] = response(t, name, dns.TypeA, 0, []string{name + " 10 IN A 192.0.2.1"}, nil, nil)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			buf := make([]byte, 0, 512)
			var kb [64]byte
			for i := range 2000 {
				m := msgs[(i*7+g)%len(msgs)]
				name := m.Question[0].Name
				k := AppendKey(kb[:0], []byte(name), dns.TypeA, dns.ClassINET, false)
				now := t0.Add(time.Duration(i) * 10 * time.Millisecond)
				switch {
				case i%5 == 0:
					c.Store(k, m, now)
				case g == 0 && i%500 == 0:
					c.Purge()
				default:
					if e, st, _ := c.Lookup(k, now); e != nil {
						buf = e.AppendTo(buf[:0], uint16(i), now, st)
						var out dns.Msg
						if err := out.Unpack(buf); err != nil || out.Question[0].Name != name {
							t.Errorf("concurrent AppendTo: %v", err)
							return
						}
					}
				}
				_ = c.Len()
				_ = c.Stats()
			}
		})
	}
	wg.Wait()
	if c.Len() > 200 {
		t.Errorf("Len %d over bound", c.Len())
	}
}
