package filter

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/filter/cache"
	"github.com/kidshield/kidshield/filter/lists"
)

// testUpstream is a real DNS server on loopback that answers every A question with 192.0.2.1,
// AAAA with 2001:db8::1, and CNAME chains for names under cname.test.
type testUpstream struct {
	addr    string
	queries atomic.Int64
	down    atomic.Bool
	srv     *dns.Server
}

func startUpstream(t testing.TB) *testUpstream {
	t.Helper()
	u := &testUpstream{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	u.srv = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if u.down.Load() {
			return // silence: the client times out, as with a dead upstream
		}
		u.queries.Add(1)
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		q := r.Question[0]
		name := strings.ToLower(q.Name)
		switch {
		case strings.HasPrefix(name, "nx."):
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{mustRR(t, "test. 300 IN SOA ns.test. host.test. 1 2 3 4 60")}
		case strings.HasSuffix(name, "cname.test."):
			// alias.cname.test → <first label>.example (the label names the target's list)
			target := strings.SplitN(name, ".", 2)[0] + ".example."
			m.Answer = append(m.Answer, mustRR(t, q.Name+" 300 IN CNAME "+target))
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, mustRR(t, target+" 300 IN A 192.0.2.7"))
			}
		case q.Qtype == dns.TypeA:
			m.Answer = append(m.Answer, mustRR(t, q.Name+" 300 IN A 192.0.2.1"))
		case q.Qtype == dns.TypeAAAA:
			m.Answer = append(m.Answer, mustRR(t, q.Name+" 300 IN AAAA 2001:db8::1"))
		}
		if opt := r.IsEdns0(); opt != nil {
			m.SetEdns0(1232, opt.Do())
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = u.srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = u.srv.Shutdown() })
	return u
}

func mustRR(t testing.TB, s string) dns.RR {
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// clientExchanger forwards with miekg/dns's client (the upstream package has its own tests).
type clientExchanger struct{ addr string }

func (c clientExchanger) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	cl := &dns.Client{Timeout: 300 * time.Millisecond}
	r, _, err := cl.ExchangeContext(ctx, m, c.addr)
	return r, err
}

type fixture struct {
	up    *testUpstream
	srv   *Server
	addr  string
	now   atomic.Pointer[time.Time]
	cache *cache.Cache
}

const testConfig = `
lists: []
profiles:
  - id: kid
    block_categories: [adult, gambling, bypass]
    allow: [ok.adult.example]
    deny: [tiktok.com]
    safesearch: all
    youtube: strict
    clients: ["127.0.0.1"]
    schedule:
      - name: bedtime
        days: [daily]
        from: "21:00"
        to: "06:00"
        mode: allow_only
        allow: [school.example]
      - name: homework
        days: [weekdays]
        from: "15:00"
        to: "17:00"
        block_categories: [games]
  - id: teen
    block_categories: [adult]
    youtube: moderate
    block_mode: "null"
  - id: school
    block_categories: [adult]
    block_mode: address
    block_addresses: ["192.0.2.99", "2001:db8::99"]
default_profile: teen
`

func compileTestPolicy(t testing.TB, cfgText string, lists map[string]string) *Policy {
	t.Helper()
	cfg, err := config.Parse([]byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	var extra []listsEntry
	for cat, text := range lists {
		extra = append(extra, listsEntry{cat, text})
	}
	p, err := compileWith(cfg, extra)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type listsEntry struct{ category, text string }

func compileWith(cfg *config.Config, extra []listsEntry) (*Policy, error) {
	var es []lists.Entry
	cats := cfg.AllCategories()
	for _, e := range extra {
		l, _, err := lists.Compile(strings.NewReader(e.text), lists.FormatAuto)
		if err != nil {
			return nil, err
		}
		for i, c := range cats {
			if c == e.category {
				es = append(es, lists.Entry{List: l, Category: uint8(i)})
			}
		}
	}
	return CompilePolicy(cfg, nil, es)
}

var testLists = map[string]string{
	"adult":    "adult.example\n||porn.example^\n@@||ok.adult.example^\n",
	"gambling": "0.0.0.0 bet.example\n",
	"games":    "games.example\n",
	"bypass":   "doh.example\n",
}

func newFixture(t testing.TB, opts ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{up: startUpstream(t)}
	noon := time.Date(2026, 11, 25, 12, 0, 0, 0, time.FixedZone("ICT", 7*3600)) // a Wednesday
	f.now.Store(&noon)
	f.cache = cache.New(cache.Options{MaxEntries: 1000, MaxTTL: time.Hour, NegativeMaxTTL: time.Hour, ServeStale: true, StaleAnswerTTL: 30 * time.Second, StaleMaxAge: time.Hour, PrefetchHits: 1000})
	o := Options{
		Cache: f.cache, Upstream: clientExchanger{f.up.addr},
		Access:          []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		UpstreamTimeout: 500 * time.Millisecond,
		Clock:           func() time.Time { return *f.now.Load() },
	}
	for _, opt := range opts {
		opt(&o)
	}
	f.srv = New(o)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ap, err := f.srv.ServeUDP(ctx, "127.0.0.1:0", 2)
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ap.String()
	return f
}

func (f *fixture) setClock(t time.Time) { f.now.Store(&t) }

func (f *fixture) ask(t testing.TB, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(1232, false)
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, f.addr)
	if err != nil {
		t.Fatalf("query %s: %v", name, err)
	}
	return r
}

func ede(r *dns.Msg) (uint16, string) {
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				return e.InfoCode, e.ExtraText
			}
		}
	}
	return 0, ""
}

func TestFailsClosedUntilPolicy(t *testing.T) {
	f := newFixture(t)
	r := f.ask(t, "example.org", dns.TypeA)
	if r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("before the policy: rcode %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	if code, _ := ede(r); code != edeNotReady {
		t.Fatalf("EDE %d, want Not Ready", code)
	}
	if f.up.queries.Load() != 0 {
		t.Fatal("asked upstream before the policy was loaded")
	}
	f.srv.SetPolicy(compileTestPolicy(t, testConfig, testLists))
	if r := f.ask(t, "example.org", dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("after the policy: %v", r)
	}
}

func TestPolicyDecisions(t *testing.T) {
	f := newFixture(t)
	f.srv.SetPolicy(compileTestPolicy(t, testConfig, testLists))
	cases := []struct {
		name   string
		qtype  uint16
		rcode  int
		answer string // substring of the first answer RR, "" for none
		ede    uint16
		text   string
	}{
		{"adult.example", dns.TypeA, dns.RcodeNameError, "", edeFiltered, "adult"},
		{"www.Adult.Example", dns.TypeA, dns.RcodeNameError, "", edeFiltered, "adult"},
		{"deep.sub.porn.example", dns.TypeAAAA, dns.RcodeNameError, "", edeFiltered, "adult"},
		{"adult.example", dns.TypeHTTPS, dns.RcodeNameError, "", edeFiltered, "adult"},
		{"notadult.example", dns.TypeA, dns.RcodeSuccess, "192.0.2.1", 0, ""},
		{"ok.adult.example", dns.TypeA, dns.RcodeSuccess, "192.0.2.1", 0, ""},       // profile allow + list exception
		{"bet.example", dns.TypeA, dns.RcodeNameError, "", edeFiltered, "gambling"}, // hosts syntax
		{"m.tiktok.com", dns.TypeA, dns.RcodeNameError, "", edeFiltered, "custom"},  // deny list covers subdomains
		{"doh.example", dns.TypeA, dns.RcodeNameError, "", edeBlocked, "bypass"},
		{"use-application-dns.net", dns.TypeA, dns.RcodeNameError, "", edeBlocked, "bypass"},
		{"mask.icloud.com", dns.TypeAAAA, dns.RcodeNameError, "", edeBlocked, "bypass"},
		{"_dns.resolver.arpa", dns.TypeSVCB, dns.RcodeSuccess, "", edeBlocked, "bypass"},
		{"www.google.com.vn", dns.TypeA, dns.RcodeSuccess, "forcesafesearch.google.com", 0, ""},
		{"www.bing.com", dns.TypeA, dns.RcodeSuccess, "strict.bing.com", 0, ""},
		{"duckduckgo.com", dns.TypeAAAA, dns.RcodeSuccess, "safe.duckduckgo.com", 0, ""},
		{"www.youtube.com", dns.TypeA, dns.RcodeSuccess, "restrict.youtube.com", 0, ""},
		{"games.example", dns.TypeA, dns.RcodeSuccess, "192.0.2.1", 0, ""}, // games only in homework time
		{"adult-alias.cname.test", dns.TypeA, dns.RcodeSuccess, "192.0.2.7", 0, ""},
		{"adult.cname.test", dns.TypeA, dns.RcodeNameError, "", edeFiltered, "adult"}, // CNAME to adult.example
	}
	for _, tc := range cases {
		t.Run(tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			r := f.ask(t, tc.name, tc.qtype)
			if r.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s: %v", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode], r)
			}
			if tc.answer == "" && len(r.Answer) > 0 {
				t.Fatalf("unexpected answer %v", r.Answer)
			}
			if tc.answer != "" && (len(r.Answer) == 0 || !strings.Contains(r.Answer[0].String()+r.Answer[len(r.Answer)-1].String(), tc.answer)) {
				t.Fatalf("answer %v, want %q", r.Answer, tc.answer)
			}
			code, text := ede(r)
			if code != tc.ede || !strings.Contains(text, tc.text) {
				t.Fatalf("EDE %d %q, want %d %q", code, text, tc.ede, tc.text)
			}
		})
	}
	// The rewrite resolves the safe host's address too.
	r := f.ask(t, "www.google.com", dns.TypeA)
	if len(r.Answer) != 2 || r.Answer[1].(*dns.A).A.String() != "192.0.2.1" {
		t.Fatalf("rewrite without the target's address: %v", r.Answer)
	}
}

func TestSchedules(t *testing.T) {
	f := newFixture(t)
	f.srv.SetPolicy(compileTestPolicy(t, testConfig, testLists))
	ict := time.FixedZone("ICT", 7*3600)
	// Wednesday 16:00: homework window blocks games.
	f.setClock(time.Date(2026, 11, 25, 16, 0, 0, 0, ict))
	if r := f.ask(t, "games.example", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Fatalf("homework: games not blocked: %v", r)
	}
	// Saturday 16:00: homework is weekdays only.
	f.setClock(time.Date(2026, 11, 28, 16, 0, 0, 0, ict))
	if r := f.ask(t, "games.example", dns.TypeA); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("weekend: games blocked: %v", r)
	}
	// Thursday 02:00: bedtime (started Wednesday 21:00) allows only the allow lists.
	f.setClock(time.Date(2026, 11, 26, 2, 0, 0, 0, ict))
	r := f.ask(t, "example.org", dns.TypeA)
	if code, text := ede(r); r.Rcode != dns.RcodeNameError || !strings.Contains(text, "bedtime") {
		t.Fatalf("bedtime: %v (EDE %d %q)", r, code, text)
	}
	if r := f.ask(t, "school.example", dns.TypeA); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("bedtime allow list: %v", r)
	}
	if r := f.ask(t, "ok.adult.example", dns.TypeA); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("profile allow list at bedtime: %v", r)
	}
	// Thursday 06:00: over.
	f.setClock(time.Date(2026, 11, 26, 6, 0, 0, 0, ict))
	if r := f.ask(t, "example.org", dns.TypeA); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("after bedtime: %v", r)
	}
}

func TestCacheAndServeStale(t *testing.T) {
	f := newFixture(t)
	f.srv.SetPolicy(compileTestPolicy(t, testConfig, testLists))
	if r := f.ask(t, "cached.example", dns.TypeA); len(r.Answer) != 1 {
		t.Fatalf("%v", r)
	}
	n := f.up.queries.Load()
	r := f.ask(t, "CACHED.example", dns.TypeA)
	if f.up.queries.Load() != n {
		t.Fatal("second query went upstream")
	}
	if r.Question[0].Name != "CACHED.example." {
		t.Fatalf("question case not echoed: %s", r.Question[0].Name)
	}
	// An hour later the entry has expired; the upstream is down: stale answer with EDE 3.
	f.up.down.Store(true)
	f.setClock(f.now.Load().Add(301 * time.Second))
	r = f.ask(t, "cached.example", dns.TypeA)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].Header().Ttl != 30 {
		t.Fatalf("stale: %v", r)
	}
	if code, _ := ede(r); code != edeStale {
		t.Fatalf("stale EDE %d", code)
	}
	if r := f.ask(t, "never-seen.example", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("uncached with upstream down: %v", r)
	}
}

func TestBlockModesAndProfiles(t *testing.T) {
	f := newFixture(t)
	f.srv.SetPolicy(compileTestPolicy(t, testConfig, testLists))
	pol := f.srv.Policy()
	// teen (null mode) and school (address mode), selected as a DoH path would.
	for _, tc := range []struct {
		profile string
		qtype   uint16
		want    string
	}{
		{"teen", dns.TypeA, "0.0.0.0"},
		{"teen", dns.TypeAAAA, "::"},
		{"school", dns.TypeA, "192.0.2.99"},
		{"school", dns.TypeAAAA, "2001:db8::99"},
	} {
		msg := packQuery(t, "adult.example.", tc.qtype, true, false)
		var q query
		ci := clientInfo{addr: netip.MustParseAddr("127.0.0.1"), transport: transHTTPS, hint: tc.profile}
		out, _ := f.srv.answer(context.Background(), nil, msg, &ci, &q, 65535, true)
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatal(err)
		}
		if len(r.Answer) != 1 || !strings.Contains(r.Answer[0].String(), tc.want) {
			t.Fatalf("%s %s: %v", tc.profile, dns.TypeToString[tc.qtype], r.Answer)
		}
	}
	// Unknown DoH profile: refused, never silently another profile.
	if pr, _ := pol.route(netip.MustParseAddr("127.0.0.1"), "nobody", ""); pr != nil {
		t.Fatal("unknown profile hint routed")
	}
	// Client address route: 127.0.0.1 → kid; 127.0.0.2 → default (teen).
	if pr, _ := pol.route(netip.MustParseAddr("127.0.0.1"), "", ""); pr.ID != "kid" {
		t.Fatalf("route %s", pr.ID)
	}
	if pr, _ := pol.route(netip.MustParseAddr("127.0.0.2"), "", ""); pr.ID != "teen" {
		t.Fatalf("route %s", pr.ID)
	}
}

func TestAccessListRefuses(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Access = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	f.srv.SetPolicy(compileTestPolicy(t, testConfig, testLists))
	r := f.ask(t, "example.org", dns.TypeA)
	if r.Rcode != dns.RcodeRefused {
		t.Fatalf("outside the access list: %v", r)
	}
	if f.up.queries.Load() != 0 {
		t.Fatal("refused client reached upstream")
	}
	// A reload that changes the access list applies it at once.
	f.srv.SetAccess([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	if r := f.ask(t, "example.org", dns.TypeA); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("after SetAccess: %v", r)
	}
}

func TestProfileFromServerName(t *testing.T) {
	s := New(Options{ServerName: "dns.example.org"})
	for sni, want := range map[string]string{
		"anna.dns.example.org":   "anna",
		"ANNA.dns.example.org.":  "anna",
		"dns.example.org":        "",
		"a.b.dns.example.org":    "",
		"anna.dns.example.org.x": "",
		"anna.otherdns.example":  "",
	} {
		if got := s.profileFromServerName(sni); got != want {
			t.Errorf("%q → %q, want %q", sni, got, want)
		}
	}
}

// FuzzAnswer sends arbitrary packets through the whole pipeline: it must never panic, and
// whatever it answers must be a well-formed DNS response to the same ID.
func FuzzAnswer(f *testing.F) {
	fx := newFixture(f)
	fx.srv.SetPolicy(compileTestPolicy(f, testConfig, testLists))
	f.Add(packQuery(f, "adult.example.", dns.TypeA, true, false))
	f.Add(packQuery(f, "www.google.com.", dns.TypeAAAA, false, false))
	f.Add(packQuery(f, "example.org.", dns.TypeANY, true, true))
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1}) // compression loop
	var mu sync.Mutex
	f.Fuzz(func(t *testing.T, msg []byte) {
		mu.Lock()
		defer mu.Unlock()
		var q query
		ci := clientInfo{addr: netip.MustParseAddr("127.0.0.1"), transport: transTCP}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		out, _ := fx.srv.answer(ctx, nil, msg, &ci, &q, 65535, true)
		if len(out) == 0 {
			return
		}
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatalf("unparseable answer %x to %x: %v", out, msg, err)
		}
		if len(msg) >= 2 && r.Id != uint16(msg[0])<<8|uint16(msg[1]) {
			t.Fatalf("answer ID %x", r.Id)
		}
	})
}
