package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kidshield/kidshield/auth"
	"github.com/kidshield/kidshield/store"
)

// hotlineBody is the hotline section of the tests that are not about logins or abuse control:
// no second factor (the TOTP flow has its own tests), and limits out of the way of a test that
// logs in many times or submits many reports from one address. rate_per_hour is a huge number,
// not 0: config.Finish turns 0 into the default (30).
const hotlineBody = `
hotline:
  auth:
    require_totp: false
    login_attempts: 1000000
  intake:
    rate_per_hour: 1000000000
`

// rawClient does not follow redirects and keeps no cookies: the tests see each answer as it is
// and say exactly which session a request carries.
var rawClient = &http.Client{
	Timeout:   60 * time.Second,
	Transport: httpClient.Transport,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// call is one HTTP request of a hotline test.
type call struct {
	method, url string
	body        []byte
	ctype       string            // Content-Type of body
	cookie      string            // session cookie value ("" sends none)
	bearer      string            // Authorization: Bearer ("" sends none)
	header      map[string]string // more headers
}

// do sends c without following redirects. A transport error is returned, not fatal: the
// durability test sends while the server is being killed.
func do(c call) (int, []byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var rd io.Reader
	if c.body != nil {
		rd = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: c.cookie})
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, nil, resp.Header, err
	}
	return resp.StatusCode, b, resp.Header, nil
}

// mustDo is do for the test goroutine: a transport error fails the test.
func mustDo(t *testing.T, c call) (int, []byte, http.Header) {
	t.Helper()
	st, b, h, err := do(c)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.url, err)
	}
	return st, b, h
}

const formType = "application/x-www-form-urlencoded"

func form(kv ...string) []byte {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return []byte(v.Encode())
}

// sqliteDSN is the store of an instance that has no store.dsn in its configuration.
func (in *instance) sqliteDSN() string { return "sqlite:" + filepath.Join(in.dataDir, "kidshield.db") }

// openStore opens the store the instance uses, beside the running server (SQLite in WAL mode
// allows it; PostgreSQL anyway). It is closed when the test ends.
func openStore(t *testing.T, dsn string) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open the instance's store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// newPassword is a password the policy accepts.
func newPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "e2e " + hex.EncodeToString(b)
}

// addUser creates an account with `kidshield user add`, the administrator's way, against the
// instance's configuration (so the same store) while it runs, and returns its password. The
// command reads the password from stdin.
func (in *instance) addUser(t *testing.T, login, roles string, partner int64) string {
	t.Helper()
	pw := newPassword()
	args := []string{"user", "add", "--config", in.cfgPath, "--login", login, "--name", "E2E " + login, "--roles", roles}
	if partner != 0 {
		args = append(args, "--partner", strconv.FormatInt(partner, 10))
	}
	cmd := exec.Command(kidshieldBin, args...)
	cmd.Env = cleanEnv()
	cmd.Stdin = strings.NewReader(pw + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kidshield %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return pw
}

// session is a logged-in browser: its cookie and the CSRF token its forms carry.
type session struct {
	login, password, cookie, csrf string
}

var reCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login logs in through the login form and reads the session's CSRF token from a page.
func (in *instance) login(t *testing.T, login, password string) session {
	t.Helper()
	st, b, h := mustDo(t, call{method: "POST", url: in.httpURL("/login"), ctype: formType, body: form("login", login, "password", password)})
	if st != http.StatusSeeOther {
		t.Fatalf("POST /login as %s: %d %.300s, want 303", login, st, b)
	}
	if loc := h.Get("Location"); strings.HasPrefix(loc, "/login/totp") || strings.HasPrefix(loc, "/account/totp") {
		t.Fatalf("POST /login as %s sent to %s: a second factor is required although the test configures hotline.auth.require_totp: false", login, loc)
	}
	s := session{login: login, password: password}
	resp := &http.Response{Header: h}
	for _, c := range resp.Cookies() {
		if c.Name == auth.CookieName && c.Value != "" {
			s.cookie = c.Value
		}
	}
	if s.cookie == "" {
		t.Fatalf("POST /login as %s set no %s cookie (Set-Cookie: %q)", login, auth.CookieName, h.Values("Set-Cookie"))
	}
	st, b, _ = mustDo(t, call{method: "GET", url: in.httpURL("/account/password"), cookie: s.cookie})
	m := reCSRF.FindSubmatch(b)
	if st != http.StatusOK || m == nil {
		t.Fatalf("GET /account/password as %s: %d, no csrf field in %.300s", login, st, b)
	}
	s.csrf = string(m[1])
	return s
}

var reSecret = regexp.MustCompile(`<code class="secret">([^<]+)</code>`)

// createToken creates an API token on the administrator's page /admin/tokens and returns it.
func (in *instance) createToken(t *testing.T, admin session, name, scopes string) string {
	t.Helper()
	st, b, _ := mustDo(t, call{method: "POST", url: in.httpURL("/admin/tokens"), cookie: admin.cookie, ctype: formType,
		body: form("csrf", admin.csrf, "name", name, "scopes", scopes)})
	m := reSecret.FindSubmatch(b)
	if st != http.StatusOK || m == nil {
		t.Fatalf("POST /admin/tokens (%s): %d, no token in %.500s", name, st, b)
	}
	return string(m[1])
}

// createPartner adds a partner organisation through the store (a partner account needs one).
func createPartner(t *testing.T, st *store.Store, name string) int64 {
	t.Helper()
	id, err := st.CreatePartner(context.Background(), store.Partner{Name: name, Kind: "platform", Country: "VN",
		Email: "abuse@" + strings.ToLower(strings.ReplaceAll(name, " ", "-")) + ".example", Language: "vi", DeadlineH: 24, Active: true}, "e2e")
	if err != nil {
		t.Fatalf("create partner %s: %v", name, err)
	}
	return id
}

var reReportRef = regexp.MustCompile(`KS-[0-9A-Z]{4}-[0-9A-Z]{4}`)

// submitReport sends the public report form (urlencoded) and returns the reference on its
// receipt. A transport error or an answer without a receipt is an error.
func submitReport(base, description string) (string, int, error) {
	st, b, _, err := do(call{method: "POST", url: base + "/report", ctype: formType,
		body: form("choice", "bullying", "description", description, "consent", "yes")})
	if err != nil {
		return "", st, err
	}
	if st != http.StatusOK && st != http.StatusCreated {
		return "", st, fmt.Errorf("POST /report: %d %.300s", st, b)
	}
	ref := reReportRef.Find(b)
	if ref == nil {
		return "", st, fmt.Errorf("POST /report: %d without a reference KS-XXXX-XXXX in %.300s", st, b)
	}
	return string(ref), st, nil
}

// mustSubmitReport is submitReport for the test goroutine.
func (in *instance) mustSubmitReport(t *testing.T, description string) string {
	t.Helper()
	ref, _, err := submitReport(in.httpURL(""), description)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// kill ends the process with SIGKILL, as a crash or the OOM killer would, and waits for it.
func (in *instance) kill() {
	in.t.Helper()
	in.mustBeRunning()
	if err := in.cmd.Process.Signal(os.Kill); err != nil {
		in.t.Fatal(err)
	}
	<-in.exited
	var ee *exec.ExitError
	if !errors.As(in.waitErr, &ee) {
		in.t.Fatalf("after SIGKILL: %v, want an exit by signal", in.waitErr)
	}
}

// restart starts the binary again on the same configuration and data directory after kill, in
// the same instance: the cleanup registered by start then stops the new process (SIGTERM, exit
// status 0 expected). Its output goes to a new log file.
func (in *instance) restart() {
	in.t.Helper()
	if in.running() {
		in.t.Fatal("restart: the instance is still running")
	}
	_ = in.log.f.Close()
	for attempt := 1; ; attempt++ {
		logPath := filepath.Join(in.dir, fmt.Sprintf("kidshield-restart-%d.log", attempt))
		lf, err := os.Create(logPath)
		if err != nil {
			in.t.Fatal(err)
		}
		in.log = &logBuffer{f: lf, path: logPath}
		in.exited = make(chan struct{})
		in.waitErr = nil
		in.dnsAddr, in.dotAddr, in.httpAddr, in.httpsAddr = "", "", "", ""
		in.cmd = exec.Command(kidshieldBin, "serve", "--config", in.cfgPath)
		in.cmd.Env = cleanEnv()
		in.cmd.Stdout, in.cmd.Stderr = in.log, in.log
		in.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := in.cmd.Start(); err != nil {
			in.t.Fatal(err)
		}
		cmd, exited := in.cmd, in.exited
		go func() {
			err := cmd.Wait()
			in.waitErr = err
			close(exited)
		}()
		if in.waitListeners() {
			in.waitReady()
			return
		}
		<-in.exited
		if !reTCPInUse.MatchString(in.log.String()) || attempt == 5 {
			in.t.Fatalf("kidshield exited on restart: %v\n%s", in.waitErr, in.log.String())
		}
		_ = in.log.f.Close()
	}
}
