package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestServeStale: with the upstream gone, an expired answer is served from the cache (RFC 8767)
// with EDE 3 and TTL 30, over UDP, TCP and DoH; a name never seen gets SERVFAIL with EDE 23.
func TestServeStale(t *testing.T) {
	requireTool(t, "dig")
	t.Parallel()
	up := startUpstream(t, 1) // a 1 s TTL: the cached answer expires quickly
	in := start(t, options{Upstream: up, Body: `
cache:
  serve_stale: true
  stale_max_age: 1h
profiles:
  - id: kid
default_profile: kid
`})
	names := map[string]client{"stale-udp.example": digUDP, "stale-tcp.example": digTCP, "stale-doh.example": digHTTPS}
	for n, cl := range names {
		r := cl.ask(t, in, n, "A")
		wantAddress(t, "fresh "+n, r, "A", upstreamA)
		if r.Answer[0].TTL > 1 {
			t.Errorf("fresh %s: TTL %d, want at most the upstream's 1", n, r.Answer[0].TTL)
		}
	}
	up.down.Store(true) // the upstream stops answering
	for n, cl := range names {
		// Until the entry expires the cache answers fresh; after it, the answer must be stale,
		// never SERVFAIL and never a different address.
		var r reply
		eventually(t, "stale answer for "+n, func() error {
			r = cl.ask(t, in, n, "A")
			if got := r.data("A"); r.Status != "NOERROR" || len(got) != 1 || got[0] != upstreamA {
				t.Fatalf("%s with the upstream down: got %s, want the cached %s\n%s", n, r, upstreamA, r.Out)
			}
			if r.EDE != 3 {
				return fmt.Errorf("not stale yet: %s", r)
			}
			return nil
		})
		if r.Answer[0].TTL != 30 {
			t.Errorf("stale %s: TTL %d, want 30 (RFC 8767)\n%s", n, r.Answer[0].TTL, r.Out)
		}
	}
	// Closed for good (port unreachable rather than silent): still stale.
	up.close()
	r := digUDP.ask(t, in, "stale-udp.example", "A")
	if got := r.data("A"); r.Status != "NOERROR" || len(got) != 1 || got[0] != upstreamA || r.EDE != 3 || r.Answer[0].TTL != 30 {
		t.Errorf("stale after the upstream closed: got %s\n%s", r, r.Out)
	}
	// Nothing cached: SERVFAIL with EDE 23 (Network Error).
	r = digUDP.ask(t, in, "never-seen.example", "A")
	if r.Status != "SERVFAIL" || r.EDE != 23 {
		t.Errorf("uncached name with the upstream down: got %s, want SERVFAIL with EDE 23\n%s", r, r.Out)
	}
	m := scrapeMetrics(t, in)
	if v := m.value("kidshield_dns_cache_stale_total", nil); v < 4 {
		t.Errorf("kidshield_dns_cache_stale_total = %v, want at least 4", v)
	}
	if v := m.sum("kidshield_dns_queries_total", map[string]string{"result": "stale"}); v < 4 {
		t.Errorf("kidshield_dns_queries_total{result=stale} = %v, want at least 4", v)
	}
}

// TestReload: a reload that fails (missing list file, invalid configuration) keeps the previous
// policy and says so (log, 422 from the API); a good reload applies within the call.
func TestReload(t *testing.T) {
	requireTool(t, "dig")
	t.Parallel()
	up := startUpstream(t, 300)
	dir := t.TempDir()
	list := filepath.Join(dir, "adult.txt")
	writeFile(t, list, "adult.example\n")
	body := func(source, extra string) string {
		return fmt.Sprintf(`
lists:
  - name: adult
    category: adult
    source: %q
profiles:
  - id: kid
    block_categories: [adult]
%sdefault_profile: kid
`, source, extra)
	}
	in := start(t, options{Upstream: up, Body: body(list, "")})
	blocked := func(what, name string) {
		t.Helper()
		wantBlocked(t, what, digUDP.ask(t, in, name, "A"), 17, adultEDE)
	}
	allowed := func(what, name string) {
		t.Helper()
		wantAddress(t, what, digUDP.ask(t, in, name, "A"), "A", upstreamA)
	}
	version := func() float64 {
		t.Helper()
		var v struct {
			PolicyVersion float64 `json:"policy_version"`
		}
		in.getJSON("/readyz", &v)
		return v.PolicyVersion
	}
	reload := func() (int, map[string]any) {
		t.Helper()
		st, b, _ := in.request(http.MethodPost, in.httpURL("/api/v1/reload"), in.token, nil, nil)
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("POST /api/v1/reload: %d %s: %v", st, b, err)
		}
		return st, v
	}
	const failed = "reload failed; keeping the previous policy"
	blocked("initial", "www.adult.example")
	allowed("initial", "newly.example") // now cached as allowed: the reload must still block it
	v0 := version()

	// 1. The list file is missing: SIGHUP and the API both fail and keep the policy.
	missing := filepath.Join(dir, "missing.txt")
	in.writeConfig(body(missing, ""))
	n := in.log.count(failed)
	in.signal(syscall.SIGHUP)
	in.waitLog(failed, n+1)
	blocked("after SIGHUP with a missing list", "www.adult.example")
	st, v := reload()
	if detail, _ := v["detail"].(string); st != http.StatusUnprocessableEntity || !strings.Contains(detail, "missing.txt") {
		t.Errorf("reload with a missing list: %d %v; want 422 with a detail naming missing.txt", st, v)
	}
	blocked("after the API reload with a missing list", "www.adult.example")

	// 2. The configuration is invalid: the detail points at the file, line and field.
	in.writeConfig(body(list, "    youtube: sometimes\n"))
	st, v = reload()
	detail, _ := v["detail"].(string)
	if st != http.StatusUnprocessableEntity || !strings.Contains(detail, in.cfgPath+":") || !strings.Contains(detail, "profiles[0].youtube") {
		t.Errorf("reload with an invalid configuration: %d %v; want 422 with FILE:LINE: profiles[0].youtube", st, v)
	}
	n = in.log.count(failed)
	in.signal(syscall.SIGHUP)
	in.waitLog(failed, n+1)
	blocked("after reloads of an invalid configuration", "www.adult.example")
	if v := version(); v != v0 {
		t.Errorf("policy version %v after failed reloads, want %v unchanged", v, v0)
	}

	// 3. A good change through the API: in force when the call returns.
	in.writeConfig(body(list, ""))
	writeFile(t, list, "adult.example\nnewly.example\n")
	st, v = reload()
	if st != http.StatusOK || v["status"] != "reloaded" {
		t.Fatalf("good reload: %d %v", st, v)
	}
	blocked("a name added to the list (was cached as allowed)", "newly.example")
	blocked("the old entry", "www.adult.example")
	if got := version(); got <= v0 {
		t.Errorf("policy version %v after a good reload, want more than %v", got, v0)
	}

	// 4. A good change through SIGHUP (asynchronous: wait for the log line of the new version).
	v1 := version()
	writeFile(t, list, "adult.example\nnewly.example\nlater.example\n")
	in.signal(syscall.SIGHUP)
	in.waitLog(fmt.Sprintf(`msg="policy loaded" version=%d`, int(v1)+1), 1)
	blocked("a name added before SIGHUP", "later.example")

	// 5. Removing a name unblocks it.
	writeFile(t, list, "adult.example\n")
	if st, v := reload(); st != http.StatusOK {
		t.Fatalf("reload: %d %v", st, v)
	}
	allowed("a name removed from the list", "newly.example")
}

// TestFailClosedAtStart: until the first list is loaded, every query gets SERVFAIL with EDE 14
// (Not Ready) and nothing is forwarded; after it loads, the list blocks.
func TestFailClosedAtStart(t *testing.T) {
	requireTool(t, "dig", "kdig")
	t.Parallel()
	release, fetched := make(chan struct{}), make(chan struct{})
	var once sync.Once
	ls := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(fetched) })
		select { // the list server is slow: it answers when the test has seen the SERVFAILs
		case <-release:
		case <-time.After(60 * time.Second):
		case <-r.Context().Done():
			return
		}
		fmt.Fprintln(w, "adult.example")
	}))
	t.Cleanup(ls.Close)
	var releaseOnce sync.Once
	open := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(open)

	up := startUpstream(t, 300)
	in := start(t, options{Upstream: up, NoWaitReady: true, Body: fmt.Sprintf(`
lists:
  - name: adult
    category: adult
    source: %q
profiles:
  - id: kid
    block_categories: [adult]
default_profile: kid
`, ls.URL+"/adult.txt")})

	// Meanwhile a client keeps asking for a blocked name: whatever the moment, the answer is
	// SERVFAIL (not ready) or NXDOMAIN (blocked), never the upstream's address.
	stop := make(chan struct{})
	hammerDone := make(chan error, 1)
	go func() { hammerDone <- hammer(in.dnsAddr, "www.adult.example", stop) }()

	select { // the loader is waiting for the list
	case <-fetched:
	case <-in.exited:
		t.Fatalf("kidshield exited: %v", in.waitErr)
	case <-time.After(startTimeout):
		t.Fatal("kidshield did not ask for its list")
	}
	for _, cl := range []client{digUDP, digTCP, digTLS, digHTTPS, kdigUDP} {
		for _, n := range []string{"allowed.example", "www.adult.example"} {
			r := cl.ask(t, in, n, "A")
			if r.Status != "SERVFAIL" || len(r.Answer) != 0 || r.EDE != 14 {
				t.Errorf("%s %s before the list loaded: got %s, want SERVFAIL with EDE 14 (Not Ready)\n%s", cl.name, n, r, r.Out)
			}
		}
	}
	if st, _, _ := in.get(in.httpURL("/readyz"), ""); st != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz before the list loaded: %d, want 503", st)
	}
	t.Run("metrics while the list downloads", func(t *testing.T) {
		// The list server holds its answer until open(): whatever /metrics says arrives
		// before the list can load, or not at all.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, in.httpURL("/metrics"), nil)
		resp, err := (&http.Client{Transport: httpClient.Transport}).Do(req)
		if err != nil {
			t.Fatalf("GET /metrics while a list is loading (it must not wait on the download): %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "\nkidshield_filter_ready 0\n") {
			t.Errorf("GET /metrics before the list loaded: %d, want 200 with kidshield_filter_ready 0:\n%s", resp.StatusCode, grepLines(string(b), "kidshield_filter_ready"))
		}
	})
	if n := up.total(); n != 0 {
		t.Errorf("the upstream was asked %d question(s) before the policy was loaded", n)
	}

	open()
	in.waitReady()
	wantBlocked(t, "after loading", digUDP.ask(t, in, "www.adult.example", "A"), 17, adultEDE)
	wantAddress(t, "after loading", digUDP.ask(t, in, "allowed.example", "A"), "A", upstreamA)
	close(stop)
	if err := <-hammerDone; err != nil {
		t.Error(err)
	}
	if n := up.asked("www.adult.example"); n != 0 {
		t.Errorf("the upstream was asked %d time(s) for the blocked name", n)
	}
}

// hammer asks for a blocked name until stop, and fails on any answer that is neither "not
// ready" nor "blocked".
func hammer(addr, name string, stop <-chan struct{}) error {
	c := &dns.Client{Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	m.SetEdns0(1232, false)
	seen := map[string]int{}
	for {
		select {
		case <-stop:
			if seen["SERVFAIL"] == 0 && seen["NXDOMAIN"] == 0 {
				return fmt.Errorf("hammer: no answers at all (%v)", seen)
			}
			return nil
		default:
		}
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			continue // a lost datagram on a busy machine
		}
		rep := msgReply(r)
		seen[rep.Status]++
		switch {
		case rep.Status == "SERVFAIL" && rep.EDE == 14:
		case rep.Status == "NXDOMAIN" && rep.EDE == 17:
		default:
			return fmt.Errorf("hammer: %s answered %s, want SERVFAIL (not ready) or NXDOMAIN (blocked)", name, rep)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBrokenConfigAtStart: serve with an invalid configuration exits non-zero at once, naming
// the line, without listening.
func TestBrokenConfigAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.yaml")
	writeFile(t, cfg, "profiles:\n  - id: kid\n    block_categories: [nonsense]\n")
	out, code := runBinary(t, "serve", "--config", cfg)
	if code != 1 || !strings.Contains(out, cfg+":3: profiles[0].block_categories[0]: unknown category") {
		t.Errorf("serve with a broken configuration: exit %d, output:\n%s", code, out)
	}
	if strings.Contains(out, "listening") {
		t.Errorf("serve started listening with a broken configuration:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "kidshield-data")); err == nil {
		t.Errorf("serve created its data directory with a broken configuration")
	}
}
