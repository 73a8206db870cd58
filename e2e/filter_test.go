package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// listFile writes a block list (one entry a line) and returns its path.
func listFile(t *testing.T, name string, entries ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	writeFile(t, p, strings.Join(entries, "\n")+"\n")
	return p
}

const adultEDE = "kidshield: blocked (adult)"

// TestTransports: a blocked name and its subdomain are filtered with an EDE, and an allowed
// name resolves from the upstream, over every listener and with both dig and kdig.
func TestTransports(t *testing.T) {
	requireTool(t, "dig", "kdig")
	t.Parallel()
	up := startUpstream(t, 300)
	adult := listFile(t, "adult.txt", "adult.example", "# a comment", "||porn.example^")
	in := start(t, options{Upstream: up, Body: fmt.Sprintf(`
lists:
  - name: adult
    category: adult
    source: %q
profiles:
  - id: kid
    block_categories: [adult]
default_profile: kid
`, adult)})

	for _, c := range []client{digUDP, digTCP, digTLS, digHTTPS, digH2C, kdigUDP, kdigTLS} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, name := range []string{"adult.example", "www.adult.example", "a.b.porn.example"} {
				wantBlocked(t, name, c.ask(t, in, name, "A"), 17, adultEDE)
			}
			wantBlocked(t, "AAAA www.adult.example", c.ask(t, in, "www.adult.example", "AAAA"), 17, adultEDE)
			wantAddress(t, "allowed A", c.ask(t, in, "allowed.example", "A"), "A", upstreamA)
			wantAddress(t, "allowed AAAA", c.ask(t, in, "allowed.example", "AAAA"), "AAAA", upstreamAAAA)
			// A name that merely ends like a listed one is not blocked.
			wantAddress(t, "notadult.example", c.ask(t, in, "notadult.example", "A"), "A", upstreamA)
			// CNAME cloaking: an allowed name whose alias leads into a blocked one is blocked.
			wantBlocked(t, "alias-adult.example", c.ask(t, in, "alias-adult.example", "A"), 17, adultEDE)
			wantCNAME(t, "alias-ok.example", c.ask(t, in, "alias-ok.example", "A"), "alias-ok.example", "target.example")
		})
	}
	t.Cleanup(func() {
		// Blocked names are answered by the filter, never forwarded.
		for _, n := range []string{"adult.example", "www.adult.example", "a.b.porn.example"} {
			if k := up.asked(n); k != 0 {
				t.Errorf("the upstream was asked %d time(s) for blocked %s", k, n)
			}
		}
	})
}

// TestPlainHTTPDoH: the plain HTTP listener (behind a reverse proxy) answers RFC 8484 GET and
// POST over HTTP/1.1 with the same filtering, and rejects what is not a DoH query.
func TestPlainHTTPDoH(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, 300)
	adult := listFile(t, "adult.txt", "adult.example")
	in := start(t, options{Upstream: up, Body: fmt.Sprintf(`
lists:
  - {name: adult, category: adult, source: %q}
profiles:
  - id: kid
    block_categories: [adult]
default_profile: kid
`, adult)})
	for _, base := range []string{in.httpURL("/dns-query"), in.httpsURL("/dns-query")} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			st, r := goDoH(t, in, method, base, "www.adult.example", dns.TypeA)
			if st != 200 {
				t.Fatalf("%s %s: HTTP %d %s", method, base, st, r.Out)
			}
			wantBlocked(t, method+" "+base+" blocked", r, 17, adultEDE)
			st, r = goDoH(t, in, method, base, "allowed.example", dns.TypeA)
			if st != 200 {
				t.Fatalf("%s %s: HTTP %d %s", method, base, st, r.Out)
			}
			wantAddress(t, method+" "+base+" allowed", r, "A", upstreamA)
		}
	}
	// Not DoH: no dns parameter, bad base64, wrong content type, wrong method.
	for _, c := range []struct {
		method, url, ctype string
		body               []byte
		want               int
	}{
		{"GET", in.httpURL("/dns-query"), "", nil, 400},
		{"GET", in.httpURL("/dns-query?dns=***"), "", nil, 400},
		{"POST", in.httpURL("/dns-query"), "text/plain", dohQuery(t, "a.example", dns.TypeA), 415},
		{"PUT", in.httpURL("/dns-query"), "application/dns-message", dohQuery(t, "a.example", dns.TypeA), 405},
		{"GET", in.httpURL("/dns-query?dns=AAAA"), "", nil, 400}, // 3 bytes: shorter than a header
	} {
		st, b, _ := in.request(c.method, c.url, "", c.body, map[string]string{"Content-Type": c.ctype})
		if st != c.want {
			t.Errorf("%s %s (%s): HTTP %d, want %d: %s", c.method, c.url, c.ctype, st, c.want, b)
		}
	}
}

// TestSafeSearch: SafeSearch and YouTube restricted mode are forced with a CNAME, per profile.
func TestSafeSearch(t *testing.T) {
	requireTool(t, "dig", "kdig")
	t.Parallel()
	up := startUpstream(t, 300)
	in := start(t, options{Upstream: up, Body: `
profiles:
  - id: kid
    safesearch: all
    youtube: strict
  - id: teen
    safesearch: [google]
    youtube: moderate
  - id: parents
    safesearch: off
    youtube: "off"
default_profile: kid
`})
	kid, teen, parents := digUDP, dohPath("/dns-query/teen"), dohPath("/dns-query/parents")
	for _, c := range []struct {
		cl           client
		name, target string // target "" means no rewrite
	}{
		{kid, "www.google.com", "forcesafesearch.google.com"},
		{kid, "www.google.com.vn", "forcesafesearch.google.com"},
		{kid, "www.bing.com", "strict.bing.com"},
		{kid, "duckduckgo.com", "safe.duckduckgo.com"},
		{kid, "www.youtube.com", "restrict.youtube.com"},
		{kid, "m.youtube.com", "restrict.youtube.com"},
		{kid, "youtubei.googleapis.com", "restrict.youtube.com"},
		{dotName("kid.dns.kidshield.localhost"), "www.youtube.com", "restrict.youtube.com"},
		{teen, "www.google.com", "forcesafesearch.google.com"},
		{teen, "www.youtube.com", "restrictmoderate.youtube.com"},
		{teen, "m.youtube.com", "restrictmoderate.youtube.com"},
		{dotName("teen.dns.kidshield.localhost"), "www.youtube.com", "restrictmoderate.youtube.com"},
		{teen, "www.bing.com", ""}, // teen forces Google only
		{parents, "www.google.com", ""},
		{parents, "www.youtube.com", ""},
	} {
		r := c.cl.ask(t, in, c.name, "A")
		what := c.cl.name + " " + c.name
		if c.target == "" {
			wantAddress(t, what, r, "A", upstreamA)
			if len(r.data("CNAME")) != 0 {
				t.Errorf("%s: unexpected rewrite %s", what, r)
			}
			continue
		}
		wantCNAME(t, what, r, c.name, c.target)
	}
}

// TestBypassPrevention: the names devices use to route around the filter.
func TestBypassPrevention(t *testing.T) {
	requireTool(t, "dig")
	t.Parallel()
	up := startUpstream(t, 300)
	bypass := listFile(t, "bypass.txt", "doh.bypass.example", "vpn.bypass.example")
	in := start(t, options{Upstream: up, Body: fmt.Sprintf(`
lists:
  - {name: resolvers, category: bypass, source: %q}
profiles:
  - id: kid
    block_categories: [bypass]
  - id: parents
    bypass_prevention: false
default_profile: kid
`, bypass)})
	const bypassEDE = "kidshield: blocked (bypass)"
	for _, cl := range []client{digUDP, digHTTPS} {
		for _, n := range []string{"use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com"} {
			r := cl.ask(t, in, n, "A")
			if r.Status != "NXDOMAIN" || len(r.Answer) != 0 {
				t.Errorf("%s %s: got %s, want NXDOMAIN without answer\n%s", cl.name, n, r, r.Out)
			}
		}
		for _, qt := range []string{"SVCB", "A"} {
			r := cl.ask(t, in, "_dns.resolver.arpa", qt)
			if r.Status != "NOERROR" || len(r.Answer) != 0 {
				t.Errorf("%s _dns.resolver.arpa %s: got %s, want NOERROR with no answer (NODATA)\n%s", cl.name, qt, r, r.Out)
			}
		}
		for _, n := range []string{"doh.bypass.example", "dns.doh.bypass.example", "vpn.bypass.example"} {
			wantBlocked(t, cl.name+" "+n, cl.ask(t, in, n, "A"), 15, bypassEDE)
		}
	}
	for _, n := range []string{"use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com", "_dns.resolver.arpa", "doh.bypass.example", "dns.doh.bypass.example"} {
		if k := up.asked(n); k != 0 {
			t.Errorf("the upstream was asked %d time(s) for %s", k, n)
		}
	}
	// A profile with bypass prevention off resolves the canary normally.
	wantAddress(t, "parents use-application-dns.net", dohPath("/dns-query/parents").ask(t, in, "use-application-dns.net", "A"), "A", upstreamA)
}

// TestProfileSelection: two DoH paths and two DoT server names select two profiles that answer
// the same names differently (NXDOMAIN vs allowed; NXDOMAIN vs null address).
func TestProfileSelection(t *testing.T) {
	requireTool(t, "dig", "kdig")
	t.Parallel()
	up := startUpstream(t, 300)
	adult := listFile(t, "adult.txt", "adult.example")
	games := listFile(t, "games.txt", "games.example")
	in := start(t, options{Upstream: up, Body: fmt.Sprintf(`
tls:
  server_name: dns.kidshield.localhost
lists:
  - {name: adult, category: adult, source: %q}
  - {name: games, category: games, source: %q}
profiles:
  - id: kid
    block_categories: [adult, games]
  - id: teen
    block_categories: [adult]
    block_mode: "null"
default_profile: teen
`, adult, games)})
	kidDoH, teenDoH := dohPath("/dns-query/kid"), dohPath("/dns-query/teen")
	kidDoT, teenDoT := dotName("kid.dns.kidshield.localhost"), dotName("teen.dns.kidshield.localhost")
	for _, pair := range [][2]client{{kidDoH, teenDoH}, {kidDoT, teenDoT}} {
		kid, teen := pair[0], pair[1]
		wantBlocked(t, kid.name+" games", kid.ask(t, in, "games.example", "A"), 17, "kidshield: blocked (games)")
		wantAddress(t, teen.name+" games", teen.ask(t, in, "games.example", "A"), "A", upstreamA)
		wantBlocked(t, kid.name+" adult", kid.ask(t, in, "www.adult.example", "A"), 17, adultEDE)
		r := teen.ask(t, in, "www.adult.example", "A")
		if r.Status != "NOERROR" || len(r.Answer) != 1 || r.Answer[0].Type != "A" || r.Answer[0].Data != "0.0.0.0" || r.EDE != 17 || r.EDEText != adultEDE {
			t.Errorf("%s adult: got %s, want NOERROR A 0.0.0.0 with EDE 17 %q\n%s", teen.name, r, adultEDE, r.Out)
		}
		r = teen.ask(t, in, "www.adult.example", "AAAA")
		if r.Status != "NOERROR" || len(r.Answer) != 1 || r.Answer[0].Data != "::" || r.EDE != 17 {
			t.Errorf("%s adult AAAA: got %s, want NOERROR AAAA :: with EDE 17\n%s", teen.name, r, r.Out)
		}
	}
	// DoT without a profile name (connected by address) gets the default profile, teen.
	wantAddress(t, "kdig-tls default profile", kdigTLS.ask(t, in, "games.example", "A"), "A", upstreamA)
	// A device path inside a profile keeps the profile.
	wantBlocked(t, "kid/tablet", dohPath("/dns-query/kid/tablet").ask(t, in, "games.example", "A"), 17, "kidshield: blocked (games)")
	// An unknown profile is refused, not given another profile's policy.
	for _, cl := range []client{dohPath("/dns-query/nobody"), dotName("nobody.dns.kidshield.localhost")} {
		if r := cl.ask(t, in, "games.example", "A"); r.Status != "REFUSED" {
			t.Errorf("%s: got %s, want REFUSED\n%s", cl.name, r, r.Out)
		}
	}
	// The plain HTTP listener selects profiles by path too.
	st, r := goDoH(t, in, http.MethodPost, in.httpURL("/dns-query/kid"), "games.example", dns.TypeA)
	if st != 200 {
		t.Fatalf("plain DoH /dns-query/kid: HTTP %d", st)
	}
	wantBlocked(t, "plain DoH kid games", r, 17, "kidshield: blocked (games)")
	_, r = goDoH(t, in, http.MethodPost, in.httpURL("/dns-query/teen"), "games.example", dns.TypeA)
	wantAddress(t, "plain DoH teen games", r, "A", upstreamA)
}

// TestSchedule: a bedtime window (allow_only) blocks ordinary names while it is open, with an
// EDE that names the window; the clock is set with KIDSHIELD_FAKE_NOW.
func TestSchedule(t *testing.T) {
	requireTool(t, "dig")
	t.Parallel()
	body := `
profiles:
  - id: kid
    timezone: Asia/Ho_Chi_Minh
    allow: [homework.example]
    schedule:
      - name: lights-out
        days: [daily]
        from: "21:00"
        to: "06:30"
        mode: allow_only
        allow: [school.example]
default_profile: kid
`
	for _, c := range []struct {
		name, now string
		open      bool
	}{
		{"inside the window", "2026-11-25T22:00:00+07:00", true},
		{"inside, after midnight", "2026-11-26T05:00:00+07:00", true},
		{"inside, the same instant in UTC", "2026-11-25T15:30:00Z", true},
		{"outside the window", "2026-11-25T12:00:00+07:00", false},
		{"outside, just after it closes", "2026-11-26T06:31:00+07:00", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			up := startUpstream(t, 300)
			in := start(t, options{Upstream: up, Body: body, Env: []string{"KIDSHIELD_FAKE_NOW=" + c.now}})
			if !in.log.contains("clock is faked for testing") {
				t.Fatal("the server did not log that its clock is faked")
			}
			r := digUDP.ask(t, in, "ordinary.example", "A")
			if c.open {
				wantBlocked(t, "ordinary.example", r, 17, "kidshield: blocked (lights-out)")
				if k := up.asked("ordinary.example"); k != 0 {
					t.Errorf("asked upstream %d time(s) for a name blocked by bedtime", k)
				}
			} else {
				wantAddress(t, "ordinary.example", r, "A", upstreamA)
			}
			// The window's and the profile's allow lists stay reachable at bedtime.
			wantAddress(t, "www.school.example", digUDP.ask(t, in, "www.school.example", "A"), "A", upstreamA)
			wantAddress(t, "homework.example", digUDP.ask(t, in, "homework.example", "A"), "A", upstreamA)
		})
	}
}
