package e2e

import (
	"encoding/base64"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// metrics is one scrape of /metrics in the Prometheus text format.
type metrics []sample

type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrapeMetrics reads /metrics from loopback without the token.
func scrapeMetrics(t *testing.T, in *instance) metrics {
	t.Helper()
	st, b, _ := in.get(in.httpURL("/metrics"), "")
	if st != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", st, b)
	}
	return parseMetrics(t, b)
}

func parseMetrics(t *testing.T, b []byte) metrics {
	t.Helper()
	var out metrics
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("bad metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad metrics line %q: %v", line, err)
		}
		s := sample{name: line[:i], labels: map[string]string{}, value: v}
		if j := strings.IndexByte(s.name, '{'); j >= 0 {
			for _, kv := range strings.Split(strings.TrimSuffix(s.name[j+1:], "}"), ",") {
				if k, val, ok := strings.Cut(kv, "="); ok {
					s.labels[k], _ = strconv.Unquote(val)
				}
			}
			s.name = s.name[:j]
		}
		out = append(out, s)
	}
	return out
}

// sum adds the samples of a metric whose labels include want.
func (m metrics) sum(name string, want map[string]string) float64 {
	var v float64
	for _, s := range m {
		if s.name != name {
			continue
		}
		ok := true
		for k, w := range want {
			if s.labels[k] != w {
				ok = false
			}
		}
		if ok {
			v += s.value
		}
	}
	return v
}

// value is sum, for a metric that has one sample.
func (m metrics) value(name string, labels map[string]string) float64 { return m.sum(name, labels) }

// TestStatistics: queries through a device's DoH path are counted per profile, device, category
// and domain in the statistics API, and per transport and result in /metrics.
func TestStatistics(t *testing.T) {
	requireTool(t, "dig")
	t.Parallel()
	up := startUpstream(t, 300)
	adult := listFile(t, "adult.txt", "adult.example")
	gambling := listFile(t, "gambling.txt", "bet.example")
	in := start(t, options{Upstream: up, Body: fmt.Sprintf(`
lists:
  - {name: adult, category: adult, source: %q}
  - {name: gambling, category: gambling, source: %q}
profiles:
  - id: kid
    block_categories: [adult, gambling]
    devices:
      - id: tablet
        name: Tablet
  - id: teen
default_profile: teen
`, adult, gambling)})
	tablet, kid := dohPath("/dns-query/kid/tablet"), dohPath("/dns-query/kid")
	for _, q := range []struct {
		cl   client
		name string
		want string // blocked, or the address
	}{
		{tablet, "adult.example", "blocked"},
		{tablet, "adult.example", "blocked"},
		{tablet, "www.adult.example", "blocked"},
		{tablet, "bet.example", "blocked"},
		{tablet, "allowed.example", upstreamA}, // allowed (upstream)
		{tablet, "allowed.example", upstreamA}, // cached
		{tablet, "allowed.example", upstreamA}, // cached
		{tablet, "other.example", upstreamA},
		{kid, "third.example", upstreamA}, // profile kid, no device
		{digUDP, "adult.example", upstreamA},
	} {
		r := q.cl.ask(t, in, q.name, "A")
		if q.want == "blocked" {
			if r.Status != "NXDOMAIN" || r.EDE != 17 {
				t.Fatalf("%s %s: got %s, want blocked", q.cl.name, q.name, r)
			}
		} else {
			wantAddress(t, q.cl.name+" "+q.name, r, "A", q.want)
		}
	}

	var res struct {
		Total   struct{ Queries, Blocked int64 }
		Devices []struct {
			Profile, Device  string
			Queries, Blocked int64
		}
		Categories []struct {
			Category string
			Blocked  int64
		}
		TopQueried []struct {
			Domain           string
			Queries, Blocked int64
		} `json:"top_queried"`
		TopBlocked []struct {
			Domain           string
			Queries, Blocked int64
		} `json:"top_blocked"`
	}
	in.getJSON("/api/v1/stats?profile=kid", &res)
	if res.Total.Queries != 9 || res.Total.Blocked != 4 {
		t.Errorf("kid total: %+v, want 9 queries, 4 blocked", res.Total)
	}
	cats := fmt.Sprint(res.Categories)
	if cats != "[{adult 3} {gambling 1}]" {
		t.Errorf("kid categories: %s, want [{adult 3} {gambling 1}]", cats)
	}
	devs := map[string][2]int64{}
	for _, d := range res.Devices {
		devs[d.Profile+"/"+d.Device] = [2]int64{d.Queries, d.Blocked}
	}
	if devs["kid/tablet"] != [2]int64{8, 4} || devs["kid/"] != [2]int64{1, 0} || len(devs) != 2 {
		t.Errorf("kid devices: %+v, want kid/tablet 8 queries 4 blocked and kid/ (no device) 1 query", res.Devices)
	}
	if len(res.TopQueried) == 0 || res.TopQueried[0].Domain != "allowed.example" || res.TopQueried[0].Queries != 3 {
		t.Errorf("kid top queried: %+v, want allowed.example (3) first", res.TopQueried)
	}
	if len(res.TopBlocked) == 0 || res.TopBlocked[0].Domain != "adult.example" || res.TopBlocked[0].Blocked != 2 {
		t.Errorf("kid top blocked: %+v, want adult.example (2) first", res.TopBlocked)
	}
	for _, d := range res.TopBlocked {
		if d.Domain == "allowed.example" || d.Domain == "other.example" {
			t.Errorf("kid top blocked lists an allowed domain: %+v", res.TopBlocked)
		}
	}

	res.Devices = nil
	in.getJSON("/api/v1/stats?profile=kid&device=tablet", &res)
	if res.Total.Queries != 8 || res.Total.Blocked != 4 {
		t.Errorf("kid/tablet total: %+v, want 8 queries, 4 blocked", res.Total)
	}
	in.getJSON("/api/v1/stats?profile=teen", &res)
	if res.Total.Queries != 1 || res.Total.Blocked != 0 {
		t.Errorf("teen total: %+v, want 1 query, 0 blocked", res.Total)
	}
	if st, b, _ := in.get(in.httpURL("/api/v1/stats?from=yesterday"), in.token); st != http.StatusBadRequest {
		t.Errorf("GET /api/v1/stats?from=yesterday: %d %s, want 400", st, b)
	}

	m := scrapeMetrics(t, in)
	for _, c := range []struct {
		transport, result string
		want              float64
	}{
		{"https", "blocked", 4},
		{"https", "allowed", 3},
		{"https", "cached", 2},
		{"https", "servfail", 0},
		{"udp", "allowed", 1},
		{"udp", "blocked", 0},
	} {
		if v := m.value("kidshield_dns_queries_total", map[string]string{"transport": c.transport, "result": c.result}); v != c.want {
			t.Errorf("kidshield_dns_queries_total{transport=%q,result=%q} = %v, want %v", c.transport, c.result, v, c.want)
		}
	}
	if v := m.sum("kidshield_dns_queries_total", nil); v != 10 {
		t.Errorf("kidshield_dns_queries_total summed = %v, want 10", v)
	}
}

// route is one entry of the route table as the test knows it.
type route struct {
	method, pattern, access string
	path                    string // a concrete path to call
}

// routes is every route cmd/kidshield serves. TestRouteTable fails when the binary's source
// registers a route that is not here (or drops one), so a new route cannot skip this matrix.
var routes = []route{
	{"", "/dns-query", "Public", "/dns-query"},
	{"", "/dns-query/{profile}", "Public", "/dns-query/kid"},
	{"", "/dns-query/{profile}/{device}", "Public", "/dns-query/kid/tablet"},
	{"GET", "/healthz", "Public", "/healthz"},
	{"GET", "/readyz", "Public", "/readyz"},
	{"GET", "/metrics", "Metrics", "/metrics"},
	{"POST", "/api/v1/reload", "Admin", "/api/v1/reload"},
	{"GET", "/api/v1/lists", "Admin", "/api/v1/lists"},
	{"GET", "/api/v1/upstreams", "Admin", "/api/v1/upstreams"},
	{"GET", "/api/v1/stats", "Admin", "/api/v1/stats"},
	{"GET", "/setup/apple/{profile}", "Public", "/setup/apple/kid"},
	{"GET", "/static/", "Public", "/static/style.css"},
	{"", "/", "Public", "/"}, // status page on kidshield's own names, block page on others
	{"GET", "/debug/pprof/", "Admin", "/debug/pprof/goroutine"},
	{"GET", "/debug/pprof/profile", "Admin", "/debug/pprof/profile?seconds=1"},
}

// sourceRoutes finds every web.Route literal in cmd/kidshield.
func sourceRoutes(t *testing.T) []route {
	t.Helper()
	dir := filepath.Join(moduleRoot, "cmd", "kidshield")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []route
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			cl, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			sel, ok := cl.Type.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Route" {
				return true
			}
			var r route
			for _, e := range cl.Elts {
				kv, ok := e.(*ast.KeyValueExpr)
				if !ok {
					t.Fatalf("%s: a web.Route literal without field names", fset.Position(cl.Pos()))
				}
				key := kv.Key.(*ast.Ident).Name
				switch v := kv.Value.(type) {
				case *ast.BasicLit:
					s, _ := strconv.Unquote(v.Value)
					switch key {
					case "Method":
						r.method = s
					case "Pattern":
						r.pattern = s
					}
				case *ast.SelectorExpr:
					if key == "Access" {
						r.access = v.Sel.Name
					}
				default:
					if key == "Method" || key == "Pattern" || key == "Access" {
						t.Fatalf("%s: route %s is not a literal; extend the e2e route parser", fset.Position(kv.Pos()), key)
					}
				}
			}
			out = append(out, r)
			return true
		})
	}
	return out
}

// TestRouteTable: the test's route table is exactly the binary's.
func TestRouteTable(t *testing.T) {
	t.Parallel()
	key := func(r route) string { return r.method + " " + r.pattern + " " + r.access }
	var want, got []string
	for _, r := range routes {
		want = append(want, key(r))
	}
	for _, r := range sourceRoutes(t) {
		got = append(got, key(r))
	}
	slices.Sort(want)
	slices.Sort(got)
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("cmd/kidshield serves route %q that the e2e authorization matrix does not cover: add it to routes in e2e/api_test.go", g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("route %q of the e2e table is not in cmd/kidshield any more (or its access changed)", w)
		}
	}
}

const wrongToken = "0123456789abcdef0123456789abcdef0123456789abcdef"

// TestAuthorization: every route with no token, a wrong token and the admin token, over HTTP
// and HTTPS; paths outside the table are not served.
func TestAuthorization(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, 300)
	in := start(t, options{Upstream: up, Body: `
profiles:
  - id: kid
    devices: [{id: tablet}]
default_profile: kid
`})
	dnsParam := "?dns=" + base64.RawURLEncoding.EncodeToString(dohQuery(t, "allowed.example", dns.TypeA))
	creds := []struct{ name, header string }{
		{"anonymous", ""},
		{"wrong token", "Bearer " + wrongToken},
		{"token as Basic", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+in.token))},
		{"token with a suffix", "Bearer " + in.token + "x"},
		{"token prefix", "Bearer " + in.token[:len(in.token)/2]},
		{"admin token", "Bearer " + in.token},
	}
	for _, base := range []string{in.httpURL(""), in.httpsURL("")} {
		for _, r := range routes {
			method := r.method
			if method == "" {
				method = http.MethodGet
			}
			url := base + r.path
			if strings.HasPrefix(r.pattern, "/dns-query") {
				url += dnsParam
			}
			for _, c := range creds {
				var hdr map[string]string
				if c.header != "" {
					hdr = map[string]string{"Authorization": c.header}
				}
				st, body, h := in.request(method, url, "", nil, hdr)
				what := fmt.Sprintf("%s %s (%s)", method, url, c.name)
				switch {
				case r.access == "Admin" && c.name != "admin token":
					if st != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
						t.Errorf("%s: %d, want 401 with WWW-Authenticate: Bearer", what, st)
					}
					if strings.Contains(string(body), in.token) {
						t.Errorf("%s: the answer contains the admin token", what)
					}
				case r.access == "Admin":
					if st < 200 || st > 299 {
						t.Errorf("%s: %d %s, want 2xx", what, st, body)
					}
				default: // public, and metrics from loopback
					if st != http.StatusOK {
						t.Errorf("%s: %d %s, want 200", what, st, body)
					}
				}
				if st != 0 && h.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("%s: no X-Content-Type-Options: nosniff", what)
				}
			}
		}
	}
	// The token is read from the Authorization header only, never from the URL.
	if st, _, _ := in.get(in.httpURL("/api/v1/lists?token="+in.token), ""); st != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/lists?token=…: %d, want 401", st)
	}
	// Routes with a method do not run their handler for the others (405, or 404 from the
	// catch-all "/" route).
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/reload"}, {"DELETE", "/api/v1/stats"}, {"POST", "/healthz"}, {"POST", "/metrics"},
		{"POST", "/debug/pprof/goroutine"}, {"PUT", "/static/style.css"},
	} {
		if st, b, _ := in.request(c.method, in.httpURL(c.path), in.token, nil, nil); st != http.StatusMethodNotAllowed && st != http.StatusNotFound {
			t.Errorf("%s %s: %d %s, want 405 or 404", c.method, c.path, st, b)
		}
	}
	// Paths outside the route table are not served, with or without the token.
	for _, p := range []string{
		"/index.html", "/api", "/api/", "/api/v1", "/api/v1/", "/api/v1/config", "/api/v1/profiles",
		"/api/v1/querylog", "/api/v1/devices", "/api/v1/token", "/api/v1/reload/now", "/api/v2/stats",
		"/admin", "/admin/", "/debug/vars", "/debug", "/metrics/", "/healthz/x", "/readyz/",
		"/dns-query/kid/tablet/extra", "/.env", "/.git/config", "/kidshield.db", "/admin-token", "/tls/self-signed.key",
		"/static/", "/static/../admin-token", "/static/nope.css", "/static/templates/home.html",
		"/setup/apple/nobody", "/setup/apple/", "/setup/apple/kid/extra", "/setup",
	} {
		for _, tok := range []string{"", in.token} {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				st, b, _ := in.request(method, in.httpURL(p), tok, nil, nil)
				if st != http.StatusNotFound {
					t.Errorf("%s %s (token %v): %d %.200s, want 404: the binary serves a route that is not in the e2e table", method, p, tok != "", st, b)
				}
			}
		}
	}
	// HTTPS answers carry HSTS.
	if _, _, h := in.get(in.httpsURL("/healthz"), ""); !strings.HasPrefix(h.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("HTTPS /healthz has no Strict-Transport-Security header")
	}
}

// TestAccessList: with access.allow excluding loopback, DoH answers 403, plain DNS REFUSED and
// TCP/TLS connections get nothing; /metrics outside metrics_allow needs the token; the admin
// API keeps working with its token.
func TestAccessList(t *testing.T) {
	requireTool(t, "dig", "kdig")
	t.Parallel()
	up := startUpstream(t, 300)
	in := start(t, options{Upstream: up, Body: `
access:
  allow: ["10.0.0.0/8"]
admin:
  metrics_allow: ["10.0.0.0/8"]
profiles:
  - id: kid
default_profile: kid
`})
	for _, u := range []string{in.httpURL("/dns-query"), in.httpsURL("/dns-query"), in.httpURL("/dns-query/kid")} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			if st, r := goDoH(t, in, method, u, "allowed.example", dns.TypeA); st != http.StatusForbidden {
				t.Errorf("%s %s from loopback outside access.allow: %d %s, want 403", method, u, st, r)
			}
		}
	}
	for _, cl := range []client{digUDP, kdigUDP} {
		r := cl.ask(t, in, "allowed.example", "A")
		if r.Status != "REFUSED" || len(r.Answer) != 0 {
			t.Errorf("%s outside access.allow: got %s, want REFUSED\n%s", cl.name, r, r.Out)
		}
		if r.EDE != 18 {
			t.Errorf("%s outside access.allow: EDE %d, want 18 (Prohibited)", cl.name, r.EDE)
		}
	}
	for _, cl := range []client{digTCP, digTLS} {
		r, err := runTool("dig", append([]string{"+tries=1", "+time=3"}, append(cl.args(in), "allowed.example", "A")...)...)
		if err == nil && (r.Status == "NOERROR" || len(r.Answer) > 0) {
			t.Errorf("%s outside access.allow: answered %s", cl.name, r)
		}
	}
	if n := up.total(); n != 0 {
		t.Errorf("the upstream was asked %d question(s) by clients outside the access list", n)
	}
	for _, c := range []struct {
		token string
		want  int
	}{{"", 403}, {wrongToken, 403}, {in.token, 200}} {
		if st, _, _ := in.get(in.httpURL("/metrics"), c.token); st != c.want {
			t.Errorf("GET /metrics from outside metrics_allow (token %v): %d, want %d", c.token != "", st, c.want)
		}
	}
	var lists []any
	in.getJSON("/api/v1/lists", &lists)
	if st, _, _ := in.get(in.httpURL("/healthz"), ""); st != http.StatusOK {
		t.Errorf("GET /healthz: %d, want 200", st)
	}
	// What was refused is counted.
	st, b, _ := in.get(in.httpURL("/metrics"), in.token)
	if st != http.StatusOK {
		t.Fatalf("GET /metrics with the token: %d", st)
	}
	m := parseMetrics(t, b)
	for _, c := range []struct {
		transport string
		min       float64
	}{{"udp", 2}, {"tcp", 2}, {"https", 6}} {
		if v := m.value("kidshield_dns_queries_total", map[string]string{"result": "refused", "transport": c.transport}); v < c.min {
			t.Errorf("kidshield_dns_queries_total{result=refused,transport=%s} = %v, want at least %v", c.transport, v, c.min)
		}
	}
	if v := m.sum("kidshield_dns_queries_total", map[string]string{"result": "allowed"}); v != 0 {
		t.Errorf("kidshield_dns_queries_total{result=allowed} = %v outside the access list, want 0", v)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
