package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
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
	method, pattern string
	// access is web.Access.String(): public, metrics, admin, staff(role,...), token(scope).
	access string
	// path is a concrete path to call. {case}, {user}, {token} and {partner} stand for the ids
	// of a case, an account, an API token and a partner that TestAuthorization creates (the
	// account and token are spare ones: the matrix may reset or revoke them); a route on an id
	// nobody has (an attachment) answers 404 to those it admits, which the matrix accepts.
	path string
	// body is the form an unsafe method sends (urlencoded; a session's csrf field is added, and
	// POST /api/v1/... sends {} as JSON instead).
	body string
	// want is the exact status for the callers the route admits; 0 accepts any answer but 401,
	// 403, 405 and 5xx (a redirect, 404 for a missing id, 400/409/422 for an empty form).
	want int
	// endsSession: the route ends the caller's session, so the matrix gives it a session of its
	// own.
	endsSession bool
}

const (
	staffAll   = "staff(operator,analyst,supervisor,partner,admin)"
	staffAdmin = "staff(admin)"
	staffDesk  = "staff(operator,analyst,supervisor)"
	staffCase  = "staff(analyst,supervisor)"
	staffStats = "staff(supervisor,analyst)"
)

// routes is every route `kidshield serve` serves. TestRouteTable fails when the running binary's
// route table (GET /api/v1/routes) has a route that is not here, or lacks one that is, so a new
// route cannot skip the authorization matrix of TestAuthorization.
var routes = []route{
	// The filter and its admin API.
	{method: "", pattern: "/dns-query", access: "public", path: "/dns-query", want: 200},
	{method: "", pattern: "/dns-query/{profile}", access: "public", path: "/dns-query/kid", want: 200},
	{method: "", pattern: "/dns-query/{profile}/{device}", access: "public", path: "/dns-query/kid/tablet", want: 200},
	{method: "GET", pattern: "/healthz", access: "public", path: "/healthz", want: 200},
	{method: "GET", pattern: "/readyz", access: "public", path: "/readyz", want: 200},
	{method: "GET", pattern: "/metrics", access: "metrics", path: "/metrics", want: 200},
	{method: "POST", pattern: "/api/v1/reload", access: "admin", path: "/api/v1/reload"},
	{method: "GET", pattern: "/api/v1/lists", access: "admin", path: "/api/v1/lists"},
	{method: "GET", pattern: "/api/v1/upstreams", access: "admin", path: "/api/v1/upstreams"},
	{method: "GET", pattern: "/api/v1/stats", access: "admin", path: "/api/v1/stats"},
	{method: "GET", pattern: "/api/v1/routes", access: "admin", path: "/api/v1/routes"},
	{method: "GET", pattern: "/setup/apple/{profile}", access: "public", path: "/setup/apple/kid", want: 200},
	{method: "GET", pattern: "/static/", access: "public", path: "/static/style.css", want: 200},
	{method: "", pattern: "/", access: "public", path: "/", want: 200}, // status page on kidshield's own names, block page on others
	{method: "GET", pattern: "/debug/pprof/", access: "admin", path: "/debug/pprof/goroutine"},
	{method: "GET", pattern: "/debug/pprof/profile", access: "admin", path: "/debug/pprof/profile?seconds=1"},

	// Logins, accounts, API tokens (package auth). The login and second-factor pages are public
	// because a session whose second factor is pending must reach them; they check the session
	// and its CSRF token themselves.
	{method: "GET", pattern: "/login", access: "public", path: "/login"},
	// The form carries no valid credentials: every caller gets the login page again with 401.
	{method: "POST", pattern: "/login", access: "public", path: "/login", body: "login=nobody&password=not+the+password", want: 401},
	{method: "POST", pattern: "/logout", access: "public", path: "/logout", want: 303, endsSession: true},
	{method: "GET", pattern: "/login/totp", access: "public", path: "/login/totp"},
	{method: "POST", pattern: "/login/totp", access: "public", path: "/login/totp"},
	{method: "GET", pattern: "/account/totp", access: "public", path: "/account/totp"},
	{method: "POST", pattern: "/account/totp", access: "public", path: "/account/totp"},
	{method: "GET", pattern: "/account/password", access: staffAll, path: "/account/password", want: 200},
	{method: "POST", pattern: "/account/password", access: staffAll, path: "/account/password"},
	{method: "GET", pattern: "/admin/audit", access: staffAdmin, path: "/admin/audit", want: 200},
	{method: "POST", pattern: "/admin/audit/verify", access: staffAdmin, path: "/admin/audit/verify", want: 200},
	{method: "GET", pattern: "/admin/audit/verify", access: staffAdmin, path: "/admin/audit/verify", want: 303},
	{method: "GET", pattern: "/admin/users", access: staffAdmin, path: "/admin/users", want: 200},
	{method: "GET", pattern: "/admin/users/new", access: staffAdmin, path: "/admin/users/new", want: 200},
	{method: "POST", pattern: "/admin/users", access: staffAdmin, path: "/admin/users"},
	{method: "GET", pattern: "/admin/users/{id}", access: staffAdmin, path: "/admin/users/{user}", want: 200},
	{method: "POST", pattern: "/admin/users/{id}", access: staffAdmin, path: "/admin/users/{user}"},
	{method: "POST", pattern: "/admin/users/{id}/password", access: staffAdmin, path: "/admin/users/{user}/password"},
	{method: "POST", pattern: "/admin/users/{id}/totp-reset", access: staffAdmin, path: "/admin/users/{user}/totp-reset"},
	{method: "GET", pattern: "/admin/tokens", access: staffAdmin, path: "/admin/tokens", want: 200},
	{method: "POST", pattern: "/admin/tokens", access: staffAdmin, path: "/admin/tokens"},
	{method: "POST", pattern: "/admin/tokens/{id}/revoke", access: staffAdmin, path: "/admin/tokens/{token}/revoke"},

	// The hotline's public pages and API (hotline/ui/public*.go).
	{method: "GET", pattern: "/report", access: "public", path: "/report", want: 200},
	{method: "POST", pattern: "/report", access: "public", path: "/report"}, // an empty form: 422
	{method: "GET", pattern: "/status", access: "public", path: "/status", want: 200},
	{method: "POST", pattern: "/status", access: "public", path: "/status"},
	{method: "POST", pattern: "/status/info", access: "public", path: "/status/info"},
	{method: "POST", pattern: "/api/v1/reports", access: "token(reports:submit)", path: "/api/v1/reports"}, // {}: 422
	{method: "GET", pattern: "/feed/v1/key", access: "public", path: "/feed/v1/key", want: 200},
	{method: "GET", pattern: "/feed/v1/manifest.json", access: "token(feed:read)", path: "/feed/v1/manifest.json", want: 200},
	{method: "GET", pattern: "/feed/v1/{file}", access: "token(feed:read)", path: "/feed/v1/all.domains.txt", want: 200},
	{method: "GET", pattern: "/feed/v1/policy.yaml", access: "token(policy:read)", path: "/feed/v1/policy.yaml", want: 200},
	{method: "GET", pattern: "/api/v1/openapi.json", access: "public", path: "/api/v1/openapi.json", want: 200},

	// The staff desk (hotline/ui/desk*.go).
	{method: "GET", pattern: "/desk", access: staffDesk, path: "/desk", want: 200},
	{method: "GET", pattern: "/desk/intake", access: staffDesk, path: "/desk/intake", want: 200},
	{method: "POST", pattern: "/desk/intake", access: staffDesk, path: "/desk/intake"},
	{method: "GET", pattern: "/desk/cases/{id}", access: staffCase, path: "/desk/cases/{case}", want: 200},
	{method: "POST", pattern: "/desk/cases/{id}/contact", access: staffCase, path: "/desk/cases/{case}/contact"},
	{method: "POST", pattern: "/desk/cases/{id}/reveal", access: staffCase, path: "/desk/cases/{case}/reveal"},
	{method: "POST", pattern: "/desk/cases/{id}/transition", access: staffCase, path: "/desk/cases/{case}/transition"},
	{method: "POST", pattern: "/desk/cases/{id}/assign", access: staffCase, path: "/desk/cases/{case}/assign"},
	{method: "POST", pattern: "/desk/cases/{id}/classify", access: staffCase, path: "/desk/cases/{case}/classify"},
	{method: "POST", pattern: "/desk/cases/{id}/note", access: staffCase, path: "/desk/cases/{case}/note"},
	{method: "POST", pattern: "/desk/cases/{id}/evidence", access: staffCase, path: "/desk/cases/{case}/evidence"},
	{method: "GET", pattern: "/desk/attachments/{id}", access: staffCase, path: "/desk/attachments/999999"},
	// The scanner's suggestions from monitored sources (hotline/ui/suggest.go). None exists:
	// the decisions answer 404 to the roles they admit.
	{method: "GET", pattern: "/desk/suggestions", access: staffCase, path: "/desk/suggestions", want: 200},
	{method: "POST", pattern: "/desk/suggestions/{id}/open", access: staffCase, path: "/desk/suggestions/999999/open"},
	{method: "POST", pattern: "/desk/suggestions/{id}/dismiss", access: staffCase, path: "/desk/suggestions/999999/dismiss"},
	{method: "GET", pattern: "/desk/stats", access: staffStats, path: "/desk/stats", want: 200},
	{method: "GET", pattern: "/desk/stats.csv", access: staffStats, path: "/desk/stats.csv", want: 200},

	// Notices to partners, the partner's view, partner administration, the network list
	// (hotline/ui/notices.go, partners.go, list.go). No notice or list entry exists: those
	// routes answer 404 to the roles they admit.
	{method: "GET", pattern: "/desk/cases/{id}/notices/new", access: staffCase, path: "/desk/cases/{case}/notices/new"},
	{method: "POST", pattern: "/desk/cases/{id}/notices", access: staffCase, path: "/desk/cases/{case}/notices"},
	{method: "GET", pattern: "/desk/notices", access: staffCase, path: "/desk/notices", want: 200},
	{method: "GET", pattern: "/desk/notices/{id}", access: staffCase, path: "/desk/notices/999999"},
	{method: "GET", pattern: "/desk/notices/{id}/print", access: staffCase, path: "/desk/notices/999999/print"},
	{method: "POST", pattern: "/desk/notices/{id}/approve", access: "staff(supervisor)", path: "/desk/notices/999999/approve"},
	{method: "POST", pattern: "/desk/notices/{id}/send", access: staffCase, path: "/desk/notices/999999/send"},
	{method: "POST", pattern: "/desk/notices/{id}/verify", access: staffCase, path: "/desk/notices/999999/verify"},
	{method: "POST", pattern: "/desk/notices/{id}/close", access: staffCase, path: "/desk/notices/999999/close"},
	{method: "POST", pattern: "/desk/notices/{id}/withdraw", access: staffCase, path: "/desk/notices/999999/withdraw"},
	{method: "POST", pattern: "/desk/notices/{id}/escalate", access: staffCase, path: "/desk/notices/999999/escalate"},
	{method: "POST", pattern: "/desk/notices/{id}/record-ack", access: staffCase, path: "/desk/notices/999999/record-ack"},
	{method: "POST", pattern: "/desk/notices/{id}/record-actioned", access: staffCase, path: "/desk/notices/999999/record-actioned"},
	{method: "POST", pattern: "/desk/notices/{id}/record-dispute", access: staffCase, path: "/desk/notices/999999/record-dispute"},
	{method: "GET", pattern: "/.well-known/kidshield-notice-key", access: "public", path: "/.well-known/kidshield-notice-key"},
	{method: "GET", pattern: "/partner", access: "staff(partner)", path: "/partner", want: 200},
	{method: "GET", pattern: "/partner/notices/{id}", access: "staff(partner)", path: "/partner/notices/999999"},
	{method: "POST", pattern: "/partner/notices/{id}/ack", access: "staff(partner)", path: "/partner/notices/999999/ack"},
	{method: "POST", pattern: "/partner/notices/{id}/removed", access: "staff(partner)", path: "/partner/notices/999999/removed"},
	{method: "POST", pattern: "/partner/notices/{id}/dispute", access: "staff(partner)", path: "/partner/notices/999999/dispute"},
	{method: "GET", pattern: "/admin/partners", access: staffAdmin, path: "/admin/partners", want: 200},
	{method: "POST", pattern: "/admin/partners", access: staffAdmin, path: "/admin/partners"},
	{method: "GET", pattern: "/admin/partners/{id}", access: staffAdmin, path: "/admin/partners/{partner}", want: 200},
	{method: "POST", pattern: "/admin/partners/{id}", access: staffAdmin, path: "/admin/partners/{partner}"},
	{method: "GET", pattern: "/desk/cases/{id}/list/new", access: staffCase, path: "/desk/cases/{case}/list/new"},
	{method: "POST", pattern: "/desk/cases/{id}/list", access: staffCase, path: "/desk/cases/{case}/list"},
	{method: "GET", pattern: "/desk/list", access: staffCase, path: "/desk/list", want: 200},
	{method: "POST", pattern: "/desk/list/{id}/approve", access: staffCase, path: "/desk/list/999999/approve"},
	{method: "POST", pattern: "/desk/list/{id}/reject", access: staffCase, path: "/desk/list/999999/reject"},
	{method: "POST", pattern: "/desk/list/{id}/delist", access: staffCase, path: "/desk/list/999999/delist"},
	{method: "POST", pattern: "/desk/list/{id}/disable", access: staffCase, path: "/desk/list/999999/disable"},
	{method: "POST", pattern: "/desk/list/{id}/appeal", access: staffCase, path: "/desk/list/999999/appeal"},
	{method: "POST", pattern: "/desk/list/{id}/uphold", access: staffCase, path: "/desk/list/999999/uphold"},
	{method: "POST", pattern: "/desk/list/{id}/verify", access: staffCase, path: "/desk/list/999999/verify"},
}

// TestRouteTable: the test's route table is exactly the running binary's (GET /api/v1/routes).
func TestRouteTable(t *testing.T) {
	t.Parallel()
	in := start(t, options{Body: hotlineBody})
	var served []struct{ Method, Pattern, Access string }
	in.getJSON("/api/v1/routes", &served)
	key := func(method, pattern, access string) string {
		if method == "" {
			method = "*"
		}
		return method + " " + pattern + " " + access
	}
	want := map[string]bool{}
	ids := strings.NewReplacer("{case}", "1", "{user}", "1", "{token}", "1", "{partner}", "1")
	for _, r := range routes {
		k := key(r.method, r.pattern, r.access)
		// The concrete path is one the pattern serves.
		mux := http.NewServeMux()
		mux.Handle(r.pattern, http.NotFoundHandler())
		u, _ := url.Parse(ids.Replace(r.path))
		if _, p := mux.Handler(&http.Request{Method: "GET", Host: "localhost", URL: u}); p != r.pattern {
			t.Errorf("route %q: its path %q is not one the pattern serves", k, r.path)
		}
		if want[k] {
			t.Errorf("route %q is twice in the e2e table", k)
		}
		want[k] = true
	}
	got := map[string]bool{}
	for _, r := range served {
		k := key(r.Method, r.Pattern, r.Access)
		if got[k] {
			t.Errorf("the binary lists route %q twice", k)
		}
		got[k] = true
		if r.Access == "none" {
			t.Errorf("route %q has no access rule (it refuses everyone)", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if !want[k] {
			t.Errorf("kidshield serves route %q that the e2e authorization matrix does not cover: add it, with a concrete path to call, to routes in e2e/api_test.go", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if !got[k] {
			t.Errorf("route %q of the e2e table is not served by kidshield (removed, renamed, or its access changed): update routes in e2e/api_test.go", k)
		}
	}
}

const wrongToken = "0123456789abcdef0123456789abcdef0123456789abcdef"

// credential is one way of calling: nothing, a header, an API token or a staff session.
type credential struct {
	name   string
	header string // Authorization header, verbatim
	admin  bool   // the header holds the admin token
	scopes []string
	api    bool     // the header holds an API token with scopes
	sess   *session // a logged-in user
	role   string   // the session's role
}

// TestAuthorization: every route of the table with every kind of caller — nobody, wrong or
// malformed tokens, the admin token, an API token with and without the route's scope, and a
// session of each role — gets what the route's access says: public routes answer everyone;
// admin routes only the admin token; staff routes the listed roles (and only with the session's
// CSRF token for unsafe methods), 403 for the other roles and 401 (or, for a page, a redirect
// to the login) for callers without a session; token routes only a token with the scope (403
// with another scope). Over HTTP and HTTPS; paths outside the table are not served.
func TestAuthorization(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, 300)
	in := start(t, options{Upstream: up, Body: `
profiles:
  - id: kid
    devices: [{id: tablet}]
default_profile: kid
` + hotlineBody})
	st := openStore(t, in.sqliteDSN())
	ctx := context.Background()

	// Accounts of every role, made the administrator's way, and their sessions.
	partnerID := createPartner(t, st, "E2E Platform")
	roles := []string{"operator", "analyst", "supervisor", "partner", "admin"}
	sessions := map[string]*session{}
	passwords := map[string]string{}
	for _, role := range roles {
		var partner int64
		if role == "partner" {
			partner = partnerID
		}
		passwords[role] = in.addUser(t, "e2e-"+role, role, partner)
	}
	spare := "e2e-spare"
	in.addUser(t, spare, "operator", 0)
	for _, role := range roles {
		s := in.login(t, "e2e-"+role, passwords[role])
		sessions[role] = &s
	}
	relogin := func(role string) *session {
		s := in.login(t, "e2e-"+role, passwords[role])
		return &s
	}
	spareUser, err := st.UserByLogin(ctx, spare)
	if err != nil {
		t.Fatal(err)
	}
	// API tokens, made on the administrator's page.
	admin := *sessions["admin"]
	submitToken := in.createToken(t, admin, "e2e reports", "reports:submit")
	otherToken := in.createToken(t, admin, "e2e other scope", "notices:read")
	feedToken := in.createToken(t, admin, "e2e feed", "feed:read")
	nodeToken := in.createToken(t, admin, "e2e filter node", "feed:read policy:read")
	in.createToken(t, admin, "e2e spare", "reports:submit")
	var spareToken int64
	tokens, err := st.APITokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tokens {
		if tk.Name == "e2e spare" {
			spareToken = tk.ID
		}
	}
	if spareToken == 0 {
		t.Fatalf("the token created on /admin/tokens is not in the store: %+v", tokens)
	}
	// A case: a report through the public form.
	ref := in.mustSubmitReport(t, "Authorization matrix: có người lạ nhắn tin cho em.")
	rep, err := st.ReportByRef(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	ids := strings.NewReplacer("{case}", strconv.FormatInt(rep.CaseID, 10), "{user}", strconv.FormatInt(spareUser.ID, 10),
		"{token}", strconv.FormatInt(spareToken, 10), "{partner}", strconv.FormatInt(partnerID, 10))

	basic := base64.StdEncoding.EncodeToString([]byte("admin:" + in.token))
	machine := []credential{
		{name: "anonymous"},
		{name: "wrong token", header: "Bearer " + wrongToken},
		{name: "token as Basic", header: "Basic " + basic},
		{name: "token with a suffix", header: "Bearer " + in.token + "x"},
		{name: "token prefix", header: "Bearer " + in.token[:len(in.token)/2]},
		{name: "admin token", header: "Bearer " + in.token, admin: true},
		{name: "API token reports:submit", header: "Bearer " + submitToken, api: true, scopes: []string{"reports:submit"}},
		{name: "API token notices:read", header: "Bearer " + otherToken, api: true, scopes: []string{"notices:read"}},
		{name: "API token feed:read", header: "Bearer " + feedToken, api: true, scopes: []string{"feed:read"}},
		{name: "API token feed:read policy:read", header: "Bearer " + nodeToken, api: true, scopes: []string{"feed:read", "policy:read"}},
	}
	var people []credential
	for _, role := range roles {
		people = append(people, credential{name: "session " + role, sess: sessions[role], role: role})
	}

	dnsParam := "?dns=" + base64.RawURLEncoding.EncodeToString(dohQuery(t, "allowed.example", dns.TypeA))
	matrix := func(base string, creds []credential) {
		for _, r := range routes {
			method := r.method
			if method == "" {
				method = http.MethodGet
			}
			u := base + ids.Replace(r.path)
			if strings.HasPrefix(r.pattern, "/dns-query") {
				u += dnsParam
			}
			unsafe := method != http.MethodGet && method != http.MethodHead
			for _, c := range creds {
				req := call{method: method, url: u}
				if c.header != "" {
					req.header = map[string]string{"Authorization": c.header}
				}
				sess := c.sess
				if sess != nil {
					if r.endsSession {
						sess = relogin(c.role)
					}
					req.cookie = sess.cookie
				}
				what := fmt.Sprintf("%s %s (%s)", method, u, c.name)
				if unsafe {
					switch {
					case strings.HasPrefix(r.pattern, "/api/v1/") && r.access != "admin":
						req.body, req.ctype = []byte("{}"), "application/json"
					default:
						req.body, req.ctype = []byte(r.body), formType
					}
					// A session's unsafe request without its CSRF token is refused on staff
					// routes, whatever the role.
					if c.sess != nil && strings.HasPrefix(r.access, "staff(") {
						if st, b, _ := mustDo(t, req); st != http.StatusForbidden {
							t.Errorf("%s without the csrf field: %d %.200s, want 403", what, st, b)
						}
					}
					if sess != nil && req.ctype == formType {
						sep := ""
						if len(req.body) > 0 {
							sep = "&"
						}
						req.body = append(append(append([]byte(nil), req.body...), sep+"csrf="...), url.QueryEscape(sess.csrf)...)
					}
				}
				st, body, h := mustDo(t, req)
				if msg := judge(r, c, method, st, h); msg != "" {
					t.Errorf("%s: %d %.200s: %s", what, st, body, msg)
				}
				if strings.Contains(string(body), in.token) && !c.admin {
					t.Errorf("%s: the answer contains the admin token", what)
				}
				if st != 0 && h.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("%s: no X-Content-Type-Options: nosniff", what)
				}
			}
		}
	}
	matrix(in.httpURL(""), append(machine, people...))
	matrix(in.httpsURL(""), machine)

	// The token is read from the Authorization header only, never from the URL.
	if st, _, _ := in.get(in.httpURL("/api/v1/lists?token="+in.token), ""); st != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/lists?token=…: %d, want 401", st)
	}
	// Routes with a method do not run their handler for the others (405, or 404 from the
	// catch-all "/" route).
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/reload"}, {"DELETE", "/api/v1/stats"}, {"POST", "/healthz"}, {"POST", "/metrics"},
		{"POST", "/debug/pprof/goroutine"}, {"PUT", "/static/style.css"}, {"GET", "/api/v1/reports"},
		{"DELETE", "/report"}, {"PUT", "/status"}, {"GET", "/logout"}, {"DELETE", "/admin/users"},
		{"GET", "/status/info"}, {"POST", "/api/v1/openapi.json"}, {"PUT", "/desk/intake"},
	} {
		for _, cookie := range []string{"", sessions["admin"].cookie, sessions["supervisor"].cookie} {
			if st, b, _ := mustDo(t, call{method: c.method, url: in.httpURL(c.path), bearer: in.token, cookie: cookie}); st != http.StatusMethodNotAllowed && st != http.StatusNotFound {
				t.Errorf("%s %s: %d %.200s, want 405 or 404", c.method, c.path, st, b)
			}
		}
	}
	// Paths outside the route table are not served, with or without the token or a session.
	for _, p := range []string{
		"/index.html", "/api", "/api/", "/api/v1", "/api/v1/", "/api/v1/config", "/api/v1/profiles",
		"/api/v1/querylog", "/api/v1/devices", "/api/v1/token", "/api/v1/reload/now", "/api/v2/stats",
		"/admin", "/admin/", "/debug/vars", "/debug", "/metrics/", "/healthz/x", "/readyz/",
		"/dns-query/kid/tablet/extra", "/.env", "/.git/config", "/kidshield.db", "/admin-token", "/tls/self-signed.key",
		"/data-keys", "/client-hash-key", "/kidshield.db-wal",
		"/static/", "/static/../admin-token", "/static/nope.css", "/static/templates/home.html",
		"/setup/apple/nobody", "/setup/apple/", "/setup/apple/kid/extra", "/setup",
		"/report/", "/report/x", "/status/", "/api/v1/reports/1", "/desk/", "/desk/cases", "/desk/cases/",
		"/desk/cases/1/nope", "/admin/users/1/nope", "/admin/tokens/1", "/account", "/login/x",
		"/partner/", "/partner/notices", "/desk/notices/", "/desk/list/", "/admin/partners/", "/.well-known/", "/desk/stats/",
	} {
		for _, tok := range []string{"", in.token} {
			for _, cookie := range []string{"", sessions["admin"].cookie} {
				for _, method := range []string{http.MethodGet, http.MethodPost} {
					c := call{method: method, url: in.httpURL(p), bearer: tok, cookie: cookie}
					st, b, h := mustDo(t, c)
					if loc := h.Get("Location"); (st == http.StatusMovedPermanently || st == http.StatusTemporaryRedirect ||
						st == http.StatusPermanentRedirect) && strings.HasPrefix(loc, "/") {
						// The mux cleans a path (/static/../x → /x) with a redirect: follow it.
						c.url = in.httpURL(loc)
						st, b, _ = mustDo(t, c)
					}
					if st != http.StatusNotFound {
						t.Errorf("%s %s (token %v, session %v): %d %.200s, want 404: the binary serves a route that is not in the e2e table",
							method, p, tok != "", cookie != "", st, b)
					}
				}
			}
		}
	}
	// HTTPS answers carry HSTS.
	if _, _, h := in.get(in.httpsURL("/healthz"), ""); !strings.HasPrefix(h.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("HTTPS /healthz has no Strict-Transport-Security header")
	}
}

// judge says what is wrong with status st for caller c on route r ("" when it is right).
func judge(r route, c credential, method string, st int, h http.Header) string {
	admitted := func() string {
		if r.want != 0 {
			if st != r.want {
				return fmt.Sprintf("want %d", r.want)
			}
			return ""
		}
		switch {
		case st == 0:
			return "no answer"
		case st == http.StatusUnauthorized || st == http.StatusForbidden:
			return "refused, but the route admits this caller"
		case st == http.StatusMethodNotAllowed:
			return "405 for the route's own method"
		case st >= 500:
			return "server error"
		}
		return ""
	}
	noSession := func() string {
		if st == http.StatusUnauthorized {
			return ""
		}
		if method == http.MethodGet && st == http.StatusSeeOther && strings.HasPrefix(h.Get("Location"), "/login") {
			return ""
		}
		return "want 401, or for a page a 303 redirect to /login"
	}
	switch {
	case r.access == "public":
		return admitted()
	case r.access == "metrics": // from loopback, which metrics_allow holds by default
		return admitted()
	case r.access == "admin":
		if c.admin {
			if st < 200 || st > 299 {
				return "want 2xx"
			}
			return ""
		}
		if st != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			return "want 401 with WWW-Authenticate: Bearer"
		}
		return ""
	case strings.HasPrefix(r.access, "staff(") && strings.HasSuffix(r.access, ")"):
		if c.sess == nil {
			return noSession()
		}
		listed := strings.Split(strings.TrimSuffix(strings.TrimPrefix(r.access, "staff("), ")"), ",")
		if slices.Contains(listed, c.role) {
			return admitted()
		}
		if st != http.StatusForbidden {
			return "want 403: the role is not admitted"
		}
		return ""
	case strings.HasPrefix(r.access, "token(") && strings.HasSuffix(r.access, ")"):
		scope := strings.TrimSuffix(strings.TrimPrefix(r.access, "token("), ")")
		switch {
		case c.api && slices.Contains(c.scopes, scope):
			return admitted()
		case c.api:
			if st != http.StatusForbidden {
				return "want 403: the token lacks the scope " + scope
			}
			return ""
		default:
			if st != http.StatusUnauthorized {
				return "want 401: no API token"
			}
			return ""
		}
	}
	return "unknown access " + strconv.Quote(r.access) + ": teach judge in e2e/api_test.go what it means"
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
