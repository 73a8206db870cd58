package auth

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/seal"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// The real data keys seal TOTP secrets in these tests: *seal.Keys is what serve passes.
var _ Sealer = (*seal.Keys)(nil)

func testKeys(t *testing.T) *seal.Keys {
	t.Helper()
	spec, err := seal.Generate()
	if err != nil {
		t.Fatal(err)
	}
	k, err := seal.ParseKeys([]string{spec})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     *testing.T
	st    *store.Store
	m     *Manager
	keys  *seal.Keys
	clock *clock
	srv   *httptest.Server
	path  string // the SQLite file
}

const testPassword = "một mật khẩu đủ dài"

// newEnv starts the web server with the auth routes, a Staff page for analysts (/desk, GET and
// POST) and a Token route (/api/report, scope reports:submit), over a fresh SQLite store.
func newEnv(t *testing.T, c config.Auth) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kidshield.db")
	st, err := store.Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// Start at the beginning of a TOTP step so moving by whole steps is predictable.
	ck := &clock{t: time.Unix(TOTPStep(time.Now())*30, 0)}
	keys := testKeys(t)
	m, err := New(Options{Store: st, Config: c, Sealer: keys, Now: ck.Now})
	if err != nil {
		t.Fatal(err)
	}
	views, err := web.LoadViews()
	if err != nil {
		t.Fatal(err)
	}
	ws := web.New(web.Options{Auth: m, LoginPath: LoginPath})
	ws.Handle(m.Routes(views)...)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok "+web.PrincipalFrom(r.Context()).Actor())
	})
	ws.Handle(
		web.Route{Method: "GET", Pattern: "/desk", Access: web.Staff(web.RoleAnalyst, web.RoleSupervisor), Handler: ok},
		web.Route{Method: "POST", Pattern: "/desk", Access: web.Staff(web.RoleAnalyst, web.RoleSupervisor), Handler: ok},
		web.Route{Method: "POST", Pattern: "/api/report", Access: web.Token("reports:submit"), Handler: ok},
	)
	srv := httptest.NewServer(ws)
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, m: m, keys: keys, clock: ck, srv: srv, path: path}
}

func totpOff() config.Auth { return config.Auth{RequireTOTP: new(false)} }

func (e *env) addUser(login string, rs ...web.Role) int64 {
	e.t.Helper()
	u := NewUser{Login: login, Name: "Người dùng " + login, Roles: rs, Password: testPassword}
	if len(rs) == 1 && rs[0] == web.RolePartner {
		u.PartnerID = 5
	}
	id, err := AddUser(e.t.Context(), e.st, u, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// browser is a client with its own cookies that does not follow redirects.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type resp struct {
	code     int
	location string
	body     string
	header   http.Header
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) resp {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.srv.URL+path, body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	bb, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header.Get("Location"), string(bb), res.Header}
}

func (b *browser) get(path string) resp { return b.do("GET", path, nil) }

func (b *browser) post(path string, kv ...string) resp {
	f := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return b.do("POST", path, f)
}

var (
	csrfRE   = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
	secretRE = regexp.MustCompile(`name="secret" value="([A-Z2-7]+)"`)
	tokenRE  = regexp.MustCompile(`<code class="secret">(ks_[A-Za-z0-9_-]+)</code>`)
)

// csrf reads the CSRF token from a page.
func (b *browser) csrf(path string) string {
	b.e.t.Helper()
	r := b.get(path)
	m := csrfRE.FindStringSubmatch(r.body)
	if r.code != 200 || m == nil || m[1] == "" {
		b.e.t.Fatalf("GET %s: %d, no CSRF token in the page", path, r.code)
	}
	return m[1]
}

func (b *browser) cookie() string {
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == CookieName {
			return c.Value
		}
	}
	return ""
}

func want(t *testing.T, what string, r resp, code int, location string) {
	t.Helper()
	if r.code != code || (location != "" && r.location != location) {
		t.Fatalf("%s: %d %q, want %d %q\n%s", what, r.code, r.location, code, location, r.body)
	}
}

// login logs in with the password and, when asked for, enrols or gives the second factor.
func (b *browser) login(login string) {
	b.e.t.Helper()
	r := b.post("/login", "login", login, "password", testPassword)
	if r.code != http.StatusSeeOther {
		b.e.t.Fatalf("login %s: %d\n%s", login, r.code, r.body)
	}
	switch {
	case strings.HasPrefix(r.location, "/account/totp"):
		b.enrol()
	case strings.HasPrefix(r.location, "/login/totp"):
		u, _ := b.e.st.UserByLogin(b.e.t.Context(), login)
		sec, _ := b.e.keys.Open(u.TOTPSecret, TOTPColumn)
		b.e.clock.Add(30 * time.Second) // a fresh step: the last one may be used
		code, _ := TOTPCode(string(sec), b.e.clock.Now())
		want(b.e.t, "second factor", b.post("/login/totp", "csrf", b.csrf("/login/totp"), "code", code), 303, "")
	}
}

// enrol completes TOTP enrolment and returns the secret.
func (b *browser) enrol() string {
	b.e.t.Helper()
	page := b.get("/account/totp")
	sm, cm := secretRE.FindStringSubmatch(page.body), csrfRE.FindStringSubmatch(page.body)
	if page.code != 200 || sm == nil || cm == nil {
		b.e.t.Fatalf("enrol page: %d\n%s", page.code, page.body)
	}
	code, _ := TOTPCode(sm[1], b.e.clock.Now())
	want(b.e.t, "enrol", b.post("/account/totp", "csrf", cm[1], "secret", sm[1], "code", code), 303, "")
	return sm[1]
}

func TestLoginEnrolSecondFactorLogout(t *testing.T) {
	e := newEnv(t, config.Auth{})
	e.addUser("lan", web.RoleAnalyst)
	b := e.browser()

	want(t, "anonymous desk", b.get("/desk"), 303, "/login?next=%2Fdesk")
	want(t, "anonymous POST", b.post("/desk"), 401, "")
	if r := b.get("/login?next=%2Fdesk"); r.code != 200 || !strings.Contains(r.body, `autocomplete="current-password"`) || !strings.Contains(r.body, `value="/desk"`) {
		t.Fatalf("login page: %d\n%s", r.code, r.body)
	}
	r := b.post("/login", "login", "lan", "password", "wrong password here", "next", "/desk")
	want(t, "wrong password", r, 401, "")
	if !strings.Contains(r.body, "không đúng") {
		t.Fatalf("no message for a wrong password:\n%s", r.body)
	}
	want(t, "unknown login", b.post("/login", "login", "nobody", "password", testPassword), 401, "")

	// Right password, no factor yet: the session is pending and is sent to enrolment.
	want(t, "password", b.post("/login", "login", " LAN ", "password", testPassword, "next", "/desk"), 303, "/account/totp?next=%2Fdesk")
	pending := b.cookie()
	if pending == "" {
		t.Fatal("no session cookie")
	}
	want(t, "pending GET staff page", b.get("/desk"), 303, "/login?next=%2Fdesk")
	want(t, "pending POST staff page", b.post("/desk"), 401, "")
	want(t, "pending /login/totp without factor", b.get("/login/totp"), 303, "/account/totp")

	page := b.get("/account/totp?next=%2Fdesk")
	sm, cm := secretRE.FindStringSubmatch(page.body), csrfRE.FindStringSubmatch(page.body)
	if page.code != 200 || sm == nil || cm == nil || !strings.Contains(page.body, "otpauth://totp/kidshield:lan?") {
		t.Fatalf("enrol page: %d\n%s", page.code, page.body)
	}
	want(t, "enrol without CSRF", b.post("/account/totp", "secret", sm[1], "code", "123456"), 403, "")
	want(t, "enrol wrong code", b.post("/account/totp", "csrf", cm[1], "secret", sm[1], "code", "000000", "next", "/desk"), 400, "")
	code, _ := TOTPCode(sm[1], e.clock.Now())
	want(t, "enrol", b.post("/account/totp", "csrf", cm[1], "secret", sm[1], "code", code, "next", "/desk"), 303, "/desk")
	if c := b.cookie(); c == "" || c == pending {
		t.Fatal("the session identifier did not change with the second factor")
	}
	if r := b.get("/desk"); r.code != 200 || r.body != "ok user:1:lan" {
		t.Fatalf("desk after enrolment: %d %q", r.code, r.body)
	}
	u, _ := e.st.UserByLogin(t.Context(), "lan")
	if u.TOTPSecret == "" || strings.Contains(u.TOTPSecret, sm[1]) {
		t.Fatalf("TOTP secret stored unsealed or not at all: %q", u.TOTPSecret)
	}
	// The pending identifier is dead.
	old := e.browser()
	old.c.Jar.SetCookies(mustURL(e.srv.URL), []*http.Cookie{{Name: CookieName, Value: pending}})
	want(t, "old pending cookie", old.get("/account/totp"), 303, "")

	// Log out: needs the token, ends the session.
	want(t, "logout without CSRF", b.post("/logout"), 403, "")
	live := b.cookie()
	want(t, "logout", b.post("/logout", "csrf", b.csrf("/account/password")), 303, "/login")
	want(t, "after logout", b.get("/desk"), 303, "")
	again := e.browser()
	again.c.Jar.SetCookies(mustURL(e.srv.URL), []*http.Cookie{{Name: CookieName, Value: live}})
	want(t, "logged-out cookie replayed", again.get("/desk"), 303, "/login?next=%2Fdesk")

	// Next login asks for the code; the code used at enrolment is refused (replay).
	want(t, "second login", b.post("/login", "login", "lan", "password", testPassword), 303, "/login/totp")
	want(t, "pending cannot enrol over a factor", b.get("/account/totp"), 303, "/login/totp")
	tok := b.csrf("/login/totp")
	want(t, "replayed code", b.post("/login/totp", "csrf", tok, "code", code), 401, "")
	want(t, "code without CSRF", b.post("/login/totp", "code", code), 403, "")
	e.clock.Add(30 * time.Second)
	code2, _ := TOTPCode(sm[1], e.clock.Now())
	want(t, "fresh code", b.post("/login/totp", "csrf", tok, "code", code2), 303, "/desk")
	want(t, "desk", b.get("/desk"), 200, "")
	want(t, "same code again", b.post("/login/totp", "csrf", b.csrf("/account/password"), "code", code2), 303, "/desk") // not pending: just sent on
	e.wantAudit("auth.login.failed", "auth.totp.enrol", "auth.login", "auth.logout", "auth.totp.failed", "user.create")
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestLoginRedirectsByRoleAndNext(t *testing.T) {
	e := newEnv(t, totpOff())
	for _, tc := range []struct {
		login string
		roles []web.Role
		next  string
		want  string
	}{
		{"op", []web.Role{web.RoleOperator}, "", "/desk/intake"},
		{"an", []web.Role{web.RoleAnalyst}, "", "/desk"},
		{"sup", []web.Role{web.RoleSupervisor}, "", "/desk"},
		{"par", []web.Role{web.RolePartner}, "", "/partner"},
		{"adm", []web.Role{web.RoleAdmin}, "", "/admin/users"},
		{"adm2", []web.Role{web.RoleAdmin}, "/admin/tokens?x=1", "/admin/tokens?x=1"},
		{"evil1", []web.Role{web.RoleAnalyst}, "//evil.example/", "/desk"},
		{"evil2", []web.Role{web.RoleAnalyst}, "https://evil.example/", "/desk"},
		{"evil3", []web.Role{web.RoleAnalyst}, "/\\evil.example", "/desk"},
		{"loop", []web.Role{web.RoleAnalyst}, "/login", "/desk"},
	} {
		e.addUser(tc.login, tc.roles...)
		r := e.browser().post("/login", "login", tc.login, "password", testPassword, "next", tc.next)
		want(t, tc.login, r, 303, tc.want)
	}
}

func TestLoginRateLimit(t *testing.T) {
	c := totpOff()
	c.LoginAttempts = 3
	e := newEnv(t, c)
	e.addUser("lan", web.RoleAnalyst)
	e.addUser("binh", web.RoleAnalyst)
	b := e.browser()
	for i := range 3 {
		want(t, "wrong "+string(rune('1'+i)), b.post("/login", "login", "lan", "password", "wrong password!!"), 401, "")
	}
	r := b.post("/login", "login", "lan", "password", testPassword)
	want(t, "limited", r, 429, "")
	if r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "15 phút") {
		t.Fatalf("429 without Retry-After or message: %v\n%s", r.header, r.body)
	}
	// The address is limited too: another login from it is refused.
	want(t, "same address, other login", b.post("/login", "login", "binh", "password", testPassword), 429, "")
	e.clock.Add(15 * time.Minute)
	want(t, "after the window", b.post("/login", "login", "lan", "password", testPassword), 303, "/desk")
}

func TestLimiterPerLogin(t *testing.T) {
	l := newLimiter(2, limitWindow)
	now := time.Unix(1_000_000, 0)
	l.fail("a", now)
	if b, _ := l.blocked("a", now); b {
		t.Fatal("blocked after one failure")
	}
	l.fail("a", now.Add(time.Minute))
	if b, after := l.blocked("a", now.Add(2*time.Minute)); !b || after != 13*time.Minute {
		t.Fatalf("blocked %v after %v", b, after)
	}
	if b, _ := l.blocked("b", now); b {
		t.Fatal("another key blocked")
	}
	if b, _ := l.blocked("a", now.Add(15*time.Minute)); b {
		t.Fatal("oldest failure did not expire")
	}
	l.reset("a")
	if b, _ := l.blocked("a", now.Add(2*time.Minute)); b {
		t.Fatal("reset did not clear")
	}
	// The sweep forgets keys whose failures expired.
	l.fail("c", now)
	l.fail("d", now.Add(20*time.Minute))
	if _, ok := l.fails["c"]; ok {
		t.Fatal("expired key kept")
	}
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.7:5000", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:5000", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"garbage", "garbage"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.addr
		if got := clientKey(r); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.addr, got, tc.want)
		}
	}
}

func TestStaffCSRF(t *testing.T) {
	e := newEnv(t, totpOff())
	e.addUser("lan", web.RoleAnalyst)
	b := e.browser()
	b.login("lan")
	want(t, "POST without token", b.post("/desk"), 403, "")
	want(t, "POST with a wrong token", b.post("/desk", "csrf", "nope"), 403, "")
	tok := b.csrf("/account/password")
	want(t, "POST with the form token", b.post("/desk", "csrf", tok), 200, "")
	want(t, "POST with the header", b.do("POST", "/desk", url.Values{}, "X-CSRF-Token", tok), 200, "")
	// A cross-site form post is refused before anything else.
	want(t, "cross-site", b.do("POST", "/desk", url.Values{"csrf": {tok}}, "Sec-Fetch-Site", "cross-site"), 403, "")
}

func TestSessionIdleAndAbsoluteExpiry(t *testing.T) {
	c := totpOff()
	c.IdleTimeout = 30 * time.Minute
	c.SessionTTL = 2 * time.Hour
	e := newEnv(t, c)
	e.addUser("lan", web.RoleAnalyst)
	b := e.browser()
	b.login("lan")
	e.clock.Add(29 * time.Minute)
	want(t, "before idle timeout", b.get("/desk"), 200, "")
	e.clock.Add(29 * time.Minute) // 29 min since the last request: still alive (touched)
	want(t, "activity keeps it", b.get("/desk"), 200, "")
	e.clock.Add(31 * time.Minute)
	want(t, "idle", b.get("/desk"), 303, "/login?next=%2Fdesk")
	if n := countSessions(t, e); n != 0 {
		t.Fatalf("idle session not deleted: %d left", n)
	}

	b.login("lan")
	for range 4 {
		e.clock.Add(25 * time.Minute)
		want(t, "active", b.get("/desk"), 200, "")
	}
	e.clock.Add(25 * time.Minute) // 125 min: past the 2 h absolute end despite activity
	want(t, "absolute end", b.get("/desk"), 303, "")

	b.login("lan")
	e.clock.Add(3 * time.Hour)
	if n, err := e.m.PurgeSessions(t.Context()); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
}

func countSessions(t *testing.T, e *env) int {
	n, err := e.st.DeleteExpiredSessions(t.Context(), e.clock.Now().Add(1000*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestDisabledUserLosesSession(t *testing.T) {
	e := newEnv(t, totpOff())
	id := e.addUser("lan", web.RoleAnalyst)
	b := e.browser()
	b.login("lan")
	want(t, "desk", b.get("/desk"), 200, "")
	if err := e.st.UpdateUser(t.Context(), id, store.UserChange{Name: "Lan", Roles: []string{"analyst"}, Disabled: true}); err != nil {
		t.Fatal(err)
	}
	want(t, "disabled", b.get("/desk"), 303, "")
	want(t, "disabled login", b.post("/login", "login", "lan", "password", testPassword), 401, "")
}

func TestAPITokens(t *testing.T) {
	e := newEnv(t, totpOff())
	ctx := t.Context()
	tok, id, err := CreateToken(ctx, e.st, NewToken{Name: "zalo", Scopes: []string{"reports:submit"}, PartnerID: 4}, "test")
	if err != nil || !strings.HasPrefix(tok, "ks_") || len(tok) != 46 {
		t.Fatalf("token %q %v", tok, err)
	}
	other, _, err := CreateToken(ctx, e.st, NewToken{Name: "reader", Scopes: []string{"notices:read"}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	call := func(token string) resp {
		b := e.browser()
		if token == "" {
			return b.do("POST", "/api/report", url.Values{}, "Accept", "application/json")
		}
		return b.do("POST", "/api/report", url.Values{}, "Accept", "application/json", "Authorization", "Bearer "+token)
	}
	if r := call(tok); r.code != 200 || r.body != "ok token:1:zalo" {
		t.Fatalf("with scope: %d %q", r.code, r.body)
	}
	want(t, "without scope", call(other), 403, "")
	want(t, "no token", call(""), 401, "")
	want(t, "unknown token", call("ks_"+strings.Repeat("A", 43)), 401, "")
	want(t, "not a token", call("hello"), 401, "")
	tt, err := e.st.APITokenByHash(ctx, hashSecret(tok))
	if err != nil || tt.LastUsed.IsZero() || tt.PartnerID != 4 {
		t.Fatalf("token row %+v %v", tt, err)
	}
	if err := e.st.RevokeAPIToken(ctx, id, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	want(t, "revoked", call(tok), 401, "")

	if _, _, err := CreateToken(ctx, e.st, NewToken{Name: "x", Scopes: []string{"Bad Scope"}}, "test"); inputKey(err) != "auth.err.scope" {
		t.Fatalf("bad scope: %v", err)
	}
	if _, err := ParseScopes(" reports:submit, notices:read reports:submit "); err != nil {
		t.Fatal(err)
	}
}

func TestAdminPages(t *testing.T) {
	e := newEnv(t, totpOff())
	adminID := e.addUser("root", web.RoleAdmin)
	e.addUser("lan", web.RoleAnalyst)
	a := e.browser()
	a.login("root")

	// An analyst may not see them.
	l := e.browser()
	l.login("lan")
	want(t, "analyst on admin page", l.get("/admin/users"), 403, "")

	r := a.get("/admin/users")
	if r.code != 200 || !strings.Contains(r.body, ">lan</a>") || !strings.Contains(r.body, "Chuyên viên đánh giá") {
		t.Fatalf("users page %d\n%s", r.code, r.body)
	}
	tok := a.csrf("/admin/users/new")
	r = a.post("/admin/users", "csrf", tok, "login", "Partner.A", "name", "Đối tác A", "roles", "partner", "password", testPassword)
	want(t, "partner without id", r, 400, "")
	r = a.post("/admin/users", "csrf", tok, "login", "Partner.A", "name", "Đối tác A", "roles", "partner", "partner", "9", "password", "short")
	want(t, "short password", r, 400, "")
	r = a.post("/admin/users", "csrf", tok, "login", "Partner.A", "name", "Đối tác A", "roles", "partner", "partner", "9", "password", testPassword)
	want(t, "create", r, 303, "/admin/users?saved=partner.a")
	want(t, "duplicate", a.post("/admin/users", "csrf", tok, "login", "partner.a", "name", "x", "roles", "operator", "password", testPassword), 400, "")
	u, err := e.st.UserByLogin(t.Context(), "partner.a")
	if err != nil || u.PartnerID != 9 || len(u.Roles) != 1 || u.Roles[0] != "partner" {
		t.Fatalf("created %+v %v", u, err)
	}
	path := "/admin/users/" + itoa(u.ID)
	want(t, "edit page", a.get(path), 200, "")
	want(t, "edit", a.post(path, "csrf", tok, "name", "Đối tác A", "roles", "partner", "roles", "supervisor", "partner", "9"), 303, path+"?done=saved")
	u, _ = e.st.UserByID(t.Context(), u.ID)
	if len(u.Roles) != 2 {
		t.Fatalf("roles %v", u.Roles)
	}
	want(t, "disable self", a.post("/admin/users/"+itoa(adminID), "csrf", tok, "name", "Root", "roles", "admin", "disabled", "1"), 400, "")
	want(t, "drop own admin", a.post("/admin/users/"+itoa(adminID), "csrf", tok, "name", "Root", "roles", "analyst"), 400, "")
	want(t, "unknown user", a.get("/admin/users/999"), 404, "")

	// Password reset logs the user out.
	want(t, "reset lan's password", a.post("/admin/users/2/password", "csrf", tok, "password", "một mật khẩu mới dài"), 303, "/admin/users/2?done=password")
	want(t, "lan logged out", l.get("/desk"), 303, "")
	want(t, "old password", l.post("/login", "login", "lan", "password", testPassword), 401, "")
	want(t, "new password", l.post("/login", "login", "lan", "password", "một mật khẩu mới dài"), 303, "/desk")

	// Tokens: created and shown once, listed, revoked.
	r = a.post("/admin/tokens", "csrf", tok, "name", "Zalo OA", "scopes", "reports:submit", "partner", "9")
	m := tokenRE.FindStringSubmatch(r.body)
	if r.code != 200 || m == nil {
		t.Fatalf("token create: %d\n%s", r.code, r.body)
	}
	want(t, "bad scopes", a.post("/admin/tokens", "csrf", tok, "name", "x", "scopes", "everything"), 400, "")
	list := a.get("/admin/tokens")
	if list.code != 200 || !strings.Contains(list.body, "Zalo OA") || strings.Contains(list.body, m[1]) {
		t.Fatalf("token list shows the token again or not the name:\n%s", list.body)
	}
	if r := e.browser().do("POST", "/api/report", url.Values{}, "Authorization", "Bearer "+m[1]); r.code != 200 {
		t.Fatalf("new token refused: %d", r.code)
	}
	want(t, "revoke", a.post("/admin/tokens/1/revoke", "csrf", tok), 303, "/admin/tokens")
	if r := e.browser().do("POST", "/api/report", url.Values{}, "Authorization", "Bearer "+m[1]); r.code != 401 {
		t.Fatalf("revoked token: %d", r.code)
	}
	want(t, "revoke without CSRF", a.post("/admin/tokens/1/revoke"), 403, "")
	e.wantAudit("user.create", "user.update", "user.password.reset", "token.create", "token.revoke", "auth.login")
}

// wantAudit checks that the audit log holds each action (the append errors are only logged,
// so a detail the log refuses would otherwise go unnoticed).
func (e *env) wantAudit(actions ...string) {
	e.t.Helper()
	recs, err := e.st.AuditList(e.t.Context(), store.AuditFilter{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	have := map[string]bool{}
	for _, r := range recs {
		have[r.Action] = true
	}
	for _, a := range actions {
		if !have[a] {
			e.t.Errorf("audit log lacks %q (has %v)", a, have)
		}
	}
}

func TestAdminResetsTOTP(t *testing.T) {
	e := newEnv(t, config.Auth{})
	e.addUser("root", web.RoleAdmin)
	lanID := e.addUser("lan", web.RoleAnalyst)
	a, l := e.browser(), e.browser()
	a.login("root")
	l.login("lan")
	want(t, "lan in", l.get("/desk"), 200, "")
	if r := l.get("/account/totp"); r.code != 200 || !strings.Contains(r.body, "đã được bật") {
		t.Fatalf("enrolled user's TOTP page: %d\n%s", r.code, r.body)
	}
	want(t, "reset", a.post("/admin/users/"+itoa(lanID)+"/totp-reset", "csrf", a.csrf("/admin/users")), 303, "")
	want(t, "lan out", l.get("/desk"), 303, "")
	want(t, "lan enrols again", l.post("/login", "login", "lan", "password", testPassword), 303, "/account/totp")
	l.enrol()
	want(t, "lan back", l.get("/desk"), 200, "")
	e.wantAudit("user.totp.reset", "auth.totp.enrol", "auth.login")
}

func TestChangeOwnPassword(t *testing.T) {
	e := newEnv(t, totpOff())
	e.addUser("lan", web.RoleAnalyst)
	b, other := e.browser(), e.browser()
	b.login("lan")
	other.login("lan")
	tok := b.csrf("/account/password")
	want(t, "wrong current", b.post("/account/password", "csrf", tok, "current", "nope", "new", "a new long password", "again", "a new long password"), 400, "")
	want(t, "mismatch", b.post("/account/password", "csrf", tok, "current", testPassword, "new", "a new long password", "again", "a new long passwort"), 400, "")
	want(t, "policy", b.post("/account/password", "csrf", tok, "current", testPassword, "new", "short", "again", "short"), 400, "")
	want(t, "change", b.post("/account/password", "csrf", tok, "current", testPassword, "new", "a new long password", "again", "a new long password"), 303, "/account/password?done=1")
	want(t, "this session continues", b.get("/desk"), 200, "")
	want(t, "the other one ended", other.get("/desk"), 303, "")
	u, _ := e.st.UserByLogin(t.Context(), "lan")
	if ok, _ := VerifyPassword(u.PasswordHash, "a new long password"); !ok {
		t.Fatal("new password not stored")
	}
	e.wantAudit("auth.password.change")
}

func TestRehashOnLogin(t *testing.T) {
	e := newEnv(t, totpOff())
	id := e.addUser("lan", web.RoleAnalyst)
	weak := "$argon2id$v=19$m=8192,t=1,p=1$"
	salt := []byte("0123456789abcdef")
	h := weak + b64.EncodeToString(salt) + "$" + b64.EncodeToString(argonKey(testPassword, salt))
	if err := e.st.SetPasswordHash(t.Context(), id, h, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.browser().login("lan")
	u, _ := e.st.UserByID(t.Context(), id)
	if NeedsRehash(u.PasswordHash) {
		t.Fatalf("not rehashed: %s", u.PasswordHash)
	}
}

func TestPrincipalAndAudit(t *testing.T) {
	e := newEnv(t, totpOff())
	e.addUser("par", web.RolePartner)
	b := e.browser()
	b.post("/login", "login", "par", "password", "wrong password!!")
	b.login("par")
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: CookieName, Value: b.cookie()})
	p, err := e.m.Session(req)
	if err != nil || p == nil || p.Login != "par" || p.PartnerID != 5 || !p.Has(web.RolePartner) || p.MFAPending || p.CSRF == "" {
		t.Fatalf("principal %+v %v", p, err)
	}
	recs, err := e.st.AuditList(t.Context(), store.AuditFilter{Action: "auth."})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action)
	}
	got := strings.Join(actions, ",")
	if !strings.Contains(got, "auth.login.failed") || !strings.Contains(got, "auth.login") {
		t.Fatalf("audit actions %q", got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func argonKey(pw string, salt []byte) []byte { return argon2.IDKey([]byte(pw), salt, 1, 8192, 1, 32) }
