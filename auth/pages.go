package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// maxForm bounds a form body: the largest is a few fields of text.
const maxForm = 64 << 10

// Routes returns the login, second-factor, account and admin pages. The login and
// second-factor pages (and TOTP enrolment, which a user without a factor reaches straight from
// the password) are web.Public because a pending session must reach them: they check the
// session and its CSRF token themselves. Everything else is checked by the guard.
func (m *Manager) Routes(v *web.Views) []web.Route {
	m.views = v
	anyone := web.Staff(web.AllRoles...)
	admin := web.Staff(web.RoleAdmin)
	h := func(method, pattern string, a web.Access, f http.HandlerFunc) web.Route {
		return web.Route{Method: method, Pattern: pattern, Access: a, Handler: noStore(f)}
	}
	return []web.Route{
		h("GET", "/login", web.Public, m.loginForm),
		h("POST", "/login", web.Public, m.loginSubmit),
		h("POST", "/logout", web.Public, m.logout),
		h("GET", "/login/totp", web.Public, m.totpForm),
		h("POST", "/login/totp", web.Public, m.totpSubmit),
		h("GET", "/account/totp", web.Public, m.enrolForm),
		h("POST", "/account/totp", web.Public, m.enrolSubmit),
		h("GET", "/account/password", anyone, m.passwordForm),
		h("POST", "/account/password", anyone, m.passwordSubmit),
		h("GET", "/admin/users", admin, m.usersList),
		h("GET", "/admin/users/new", admin, m.userNewForm),
		h("POST", "/admin/users", admin, m.userCreate),
		h("GET", "/admin/users/{id}", admin, m.userEditForm),
		h("POST", "/admin/users/{id}", admin, m.userUpdate),
		h("POST", "/admin/users/{id}/password", admin, m.userPasswordReset),
		h("POST", "/admin/users/{id}/totp-reset", admin, m.userTOTPReset),
		h("GET", "/admin/tokens", admin, m.tokensList),
		h("POST", "/admin/tokens", admin, m.tokenCreate),
		h("POST", "/admin/tokens/{id}/revoke", admin, m.tokenRevoke),
		h("GET", "/admin/audit", admin, m.auditPage),
		h("POST", "/admin/audit/verify", admin, m.auditVerifySubmit),
		h("GET", "/admin/audit/verify", admin, m.auditVerifyGet),
	}
}

// noStore keeps account pages (secrets, a new token, CSRF tokens) out of caches.
func noStore(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h(w, r)
	})
}

func (m *Manager) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	if m.views == nil {
		m.fail(w, r, http.StatusInternalServerError, errors.New("auth: Routes was not given the views"))
		return
	}
	if err := m.views.Render(w, r, status, name, data); err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
	}
}

func (m *Manager) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	web.Error(w, r, m.log, status, err)
}

func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	return r.ParseForm()
}

// current returns the request's session, pending or not, with the principal also put into the
// request (so pages render its CSRF token). nil when there is no valid session.
func (m *Manager) current(w http.ResponseWriter, r *http.Request) (*http.Request, *web.Principal, store.User, bool) {
	ss, u, ok, err := m.session(r)
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return r, nil, u, false
	}
	if !ok {
		return r, nil, u, true
	}
	p := principal(u, ss)
	return r.WithContext(web.WithPrincipal(r.Context(), p)), p, u, true
}

// csrfOK checks the form's token for the pages the guard does not check (Public ones).
func csrfOK(r *http.Request, p *web.Principal) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return p.CSRF != "" && subtle.ConstantTimeCompare([]byte(got), []byte(p.CSRF)) == 1
}

var errCSRF = errors.New("the form expired or did not come from this site: reload the page and try again")

// safeNext returns next if it is a path on this site, else "". A login page that redirects to
// any URL it is given is an open redirect: phishing pages love them.
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\x00\r\n\t") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return ""
	}
	if u.Path == LoginPath || strings.HasPrefix(u.Path, LoginPath+"/") || u.Path == "/logout" {
		return ""
	}
	return next
}

func dest(next string, rs []web.Role) string {
	if next != "" {
		return next
	}
	return HomeFor(rs)
}

func withNext(path, next string) string {
	if next == "" {
		return path
	}
	return path + "?next=" + url.QueryEscape(next)
}

func see(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// limited answers 429 on the page the user was on.
func (m *Manager) limited(w http.ResponseWriter, r *http.Request, after time.Duration, view string, data errorSetter) {
	w.Header().Set("Retry-After", strconv.Itoa(int(after.Seconds())+1))
	data.setError("auth.err.limited")
	m.render(w, r, http.StatusTooManyRequests, view, data)
}

type errorSetter interface{ setError(key string) }

// formError carries a page's message key (translated by the template).
type formError struct{ Error string }

func (f *formError) setError(key string) { f.Error = key }

// inputKey returns an InputError's catalog key, or "" for any other error.
func inputKey(err error) string {
	var ie *InputError
	if errors.As(err, &ie) {
		return ie.Key
	}
	return ""
}

// ---- login ----

type loginData struct {
	formError
	Next  string
	Login string
}

func (m *Manager) loginForm(w http.ResponseWriter, r *http.Request) {
	r, p, _, ok := m.current(w, r)
	if !ok {
		return
	}
	next := safeNext(r.URL.Query().Get("next"))
	if p != nil && !p.MFAPending {
		see(w, r, dest(next, p.Roles))
		return
	}
	m.render(w, r, http.StatusOK, "auth_login", &loginData{Next: next})
}

func (m *Manager) loginSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := parseForm(w, r); err != nil {
		m.fail(w, r, http.StatusBadRequest, errors.New("the login form could not be read"))
		return
	}
	login := NormalizeLogin(r.PostFormValue("login"))
	if !loginRE.MatchString(login) {
		login = "" // nothing odd goes into the limiter's keys, the audit log or the page
	}
	password := r.PostFormValue("password")
	data := &loginData{Next: safeNext(r.PostFormValue("next")), Login: login}
	now, addr := m.now(), clientKey(r)
	for _, c := range []struct {
		l    *limiter
		key  string
		what string
	}{{m.byAddr, addr, "address"}, {m.byLogin, login, "login"}} {
		if c.key == "" {
			continue
		}
		if blocked, after := c.l.blocked(c.key, now); blocked {
			object := "login:unknown"
			if u, err := m.st.UserByLogin(ctx, login); err == nil && login != "" {
				object = fmt.Sprintf("user:%d", u.ID)
			}
			m.audit(ctx, "anonymous", "auth.login.limited", object, map[string]any{"net": auditNet(r), "limit": c.what})
			m.limited(w, r, after, "auth_login", data)
			return
		}
	}
	var u store.User
	var err error
	if login != "" {
		u, err = m.st.UserByLogin(ctx, login)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			m.fail(w, r, http.StatusInternalServerError, err)
			return
		}
	}
	ok := false
	if login != "" && err == nil && !u.Disabled {
		if ok, err = VerifyPassword(u.PasswordHash, password); err != nil {
			m.log.Error("auth: stored password hash unreadable", "user", u.ID, "err", err)
			ok = false
		}
	} else {
		_, _ = VerifyPassword(dummyHash(), password) // same time as a wrong password
	}
	if !ok {
		m.byAddr.fail(addr, now)
		// What was typed as a login is not recorded unless it is an account's: it may be a
		// person's name, or a password typed into the wrong field, and the audit log keeps no
		// personal data (nor can it forget any).
		object := "login:unknown"
		if login != "" {
			m.byLogin.fail(login, now)
			if u.ID != 0 {
				object = fmt.Sprintf("user:%d", u.ID)
			}
		}
		m.audit(ctx, "anonymous", "auth.login.failed", object, map[string]any{"net": auditNet(r), "disabled": u.Disabled})
		data.Error = "auth.login.wrong"
		m.render(w, r, http.StatusUnauthorized, "auth_login", data)
		return
	}
	if NeedsRehash(u.PasswordHash) {
		if h, err := HashPassword(password); err == nil {
			if err := m.st.SetPasswordHash(ctx, u.ID, h, u.PasswordChanged); err != nil {
				m.log.Warn("auth: rehash password", "user", u.ID, "err", err)
			}
		}
	}
	if err := m.endSession(ctx, w, r); err != nil { // this browser's previous session, if any
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	mfaDone := !m.totpRequired(u)
	p, err := m.startSession(ctx, w, r, u, mfaDone)
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	switch {
	case mfaDone:
		// The login's failures are forgiven only once the whole login is done: forgiving them
		// after the password alone would let someone who has it guess second-factor codes
		// without end, a fresh allowance at every password login.
		m.byLogin.reset(login)
		m.audit(ctx, p.Actor(), "auth.login", fmt.Sprintf("user:%d", u.ID), map[string]any{"net": auditNet(r), "mfa": false})
		see(w, r, dest(data.Next, p.Roles))
	case u.TOTPSecret == "":
		see(w, r, withNext("/account/totp", data.Next))
	default:
		see(w, r, withNext("/login/totp", data.Next))
	}
}

func (m *Manager) logout(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		m.fail(w, r, http.StatusBadRequest, errors.New("the form could not be read"))
		return
	}
	r, p, _, ok := m.current(w, r)
	if !ok {
		return
	}
	if p != nil {
		if !csrfOK(r, p) {
			m.fail(w, r, http.StatusForbidden, errCSRF)
			return
		}
		if err := m.endSession(r.Context(), w, r); err != nil {
			m.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		m.audit(r.Context(), p.Actor(), "auth.logout", fmt.Sprintf("user:%d", p.UserID), nil)
	} else {
		m.clearCookie(w, r)
	}
	see(w, r, LoginPath)
}

// ---- second factor ----

type totpData struct {
	formError
	Next string
}

func (m *Manager) totpForm(w http.ResponseWriter, r *http.Request) {
	r, p, u, ok := m.current(w, r)
	if !ok {
		return
	}
	next := safeNext(r.URL.Query().Get("next"))
	switch {
	case p == nil:
		see(w, r, withNext(LoginPath, next))
	case !p.MFAPending:
		see(w, r, dest(next, p.Roles))
	case u.TOTPSecret == "":
		see(w, r, withNext("/account/totp", next))
	default:
		m.render(w, r, http.StatusOK, "auth_totp", &totpData{Next: next})
	}
}

// checkCode verifies a code for u and records its step (so it cannot be used again). Failures
// count against the login, like wrong passwords: six digits are guessable without a limit.
func (m *Manager) checkCode(ctx context.Context, u store.User, secret, code string) (bool, error) {
	now := m.now()
	step, ok := VerifyTOTP(secret, code, now, u.TOTPLastStep)
	if ok {
		var err error
		if ok, err = m.st.UseTOTPStep(ctx, u.ID, step); err != nil {
			return false, err
		}
	}
	if !ok {
		m.byLogin.fail(u.Login, now)
		return false, nil
	}
	return true, nil
}

func (m *Manager) totpSubmit(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		m.fail(w, r, http.StatusBadRequest, errors.New("the form could not be read"))
		return
	}
	r, p, u, ok := m.current(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	data := &totpData{Next: safeNext(r.PostFormValue("next"))}
	switch {
	case p == nil:
		see(w, r, withNext(LoginPath, data.Next))
		return
	case !csrfOK(r, p):
		m.fail(w, r, http.StatusForbidden, errCSRF)
		return
	case !p.MFAPending:
		see(w, r, dest(data.Next, p.Roles))
		return
	case u.TOTPSecret == "":
		see(w, r, withNext("/account/totp", data.Next))
		return
	}
	if blocked, after := m.byLogin.blocked(u.Login, m.now()); blocked {
		m.limited(w, r, after, "auth_totp", data)
		return
	}
	secret, err := m.seal.Open(u.TOTPSecret, TOTPColumn)
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, fmt.Errorf("auth: open TOTP secret of user %d: %w", u.ID, err))
		return
	}
	good, err := m.checkCode(ctx, u, string(secret), r.PostFormValue("code"))
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	if !good {
		m.audit(ctx, p.Actor(), "auth.totp.failed", fmt.Sprintf("user:%d", u.ID), map[string]any{"net": auditNet(r)})
		data.Error = "auth.totp.wrong"
		m.render(w, r, http.StatusUnauthorized, "auth_totp", data)
		return
	}
	m.byLogin.reset(u.Login)
	np, err := m.renewSession(ctx, w, r, u)
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	m.audit(ctx, np.Actor(), "auth.login", fmt.Sprintf("user:%d", u.ID), map[string]any{"net": auditNet(r), "mfa": true})
	see(w, r, dest(data.Next, np.Roles))
}

// ---- TOTP enrolment ----

type enrolData struct {
	formError
	Next     string
	Enrolled bool   // the account already has a factor: an administrator resets it
	Secret   string // base32, carried in the form until a code confirms it
	Grouped  string
	URI      string
}

func (m *Manager) enrolPage(w http.ResponseWriter, r *http.Request, status int, u store.User, d *enrolData) {
	if d.Secret == "" && !d.Enrolled {
		s, err := NewTOTPSecret()
		if err != nil {
			m.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		d.Secret = s
	}
	if d.Secret != "" {
		d.Grouped = GroupSecret(d.Secret)
		d.URI = TOTPURI(m.issuer, u.Login, d.Secret)
	}
	m.render(w, r, status, "auth_enrol", d)
}

func (m *Manager) enrolForm(w http.ResponseWriter, r *http.Request) {
	r, p, u, ok := m.current(w, r)
	if !ok {
		return
	}
	next := safeNext(r.URL.Query().Get("next"))
	switch {
	case p == nil:
		see(w, r, withNext(LoginPath, "/account/totp"))
	case u.TOTPSecret != "" && p.MFAPending:
		// Knowing the password is not enough to replace a factor.
		see(w, r, withNext("/login/totp", next))
	default:
		m.enrolPage(w, r, http.StatusOK, u, &enrolData{Next: next, Enrolled: u.TOTPSecret != ""})
	}
}

func (m *Manager) enrolSubmit(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		m.fail(w, r, http.StatusBadRequest, errors.New("the form could not be read"))
		return
	}
	r, p, u, ok := m.current(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	d := &enrolData{Next: safeNext(r.PostFormValue("next"))}
	switch {
	case p == nil:
		see(w, r, withNext(LoginPath, "/account/totp"))
		return
	case !csrfOK(r, p):
		m.fail(w, r, http.StatusForbidden, errCSRF)
		return
	case u.TOTPSecret != "":
		d.Enrolled = true
		m.enrolPage(w, r, http.StatusConflict, u, d)
		return
	}
	secret := strings.ToUpper(strings.ReplaceAll(r.PostFormValue("secret"), " ", ""))
	if key, err := decodeSecret(secret); err != nil || len(key) != totpKeySize {
		m.fail(w, r, http.StatusBadRequest, errors.New("the form's secret is damaged: reload the page"))
		return
	}
	d.Secret = secret
	if blocked, after := m.byLogin.blocked(u.Login, m.now()); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(after.Seconds())+1))
		d.Error = "auth.err.limited"
		m.enrolPage(w, r, http.StatusTooManyRequests, u, d)
		return
	}
	step, good := VerifyTOTP(secret, r.PostFormValue("code"), m.now(), 0)
	if !good {
		m.byLogin.fail(u.Login, m.now())
		d.Error = "auth.enrol.wrong"
		m.enrolPage(w, r, http.StatusBadRequest, u, d)
		return
	}
	sealed, err := m.seal.Seal([]byte(secret), TOTPColumn)
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, fmt.Errorf("auth: seal TOTP secret: %w", err))
		return
	}
	if err := m.st.EnrolTOTP(ctx, u.ID, sealed, step); errors.Is(err, store.ErrConflict) {
		d.Enrolled, d.Secret = true, ""
		m.enrolPage(w, r, http.StatusConflict, u, d)
		return
	} else if err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	m.byLogin.reset(u.Login)
	m.audit(ctx, p.Actor(), "auth.totp.enrol", fmt.Sprintf("user:%d", u.ID), nil)
	np, err := m.renewSession(ctx, w, r, u)
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	if p.MFAPending {
		m.audit(ctx, np.Actor(), "auth.login", fmt.Sprintf("user:%d", u.ID), map[string]any{"net": auditNet(r), "mfa": true})
	}
	see(w, r, dest(d.Next, np.Roles))
}

// ---- own password ----

type passwordData struct {
	formError
	Done bool
}

func (m *Manager) passwordForm(w http.ResponseWriter, r *http.Request) {
	m.render(w, r, http.StatusOK, "auth_password", &passwordData{Done: r.URL.Query().Get("done") == "1"})
}

func (m *Manager) passwordSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := web.PrincipalFrom(ctx)
	d := &passwordData{}
	u, err := m.st.UserByID(ctx, p.UserID)
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	now := m.now()
	if blocked, after := m.byLogin.blocked(u.Login, now); blocked {
		m.limited(w, r, after, "auth_password", d)
		return
	}
	current, next, again := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("again")
	if good, err := VerifyPassword(u.PasswordHash, current); err != nil || !good {
		m.byLogin.fail(u.Login, now)
		d.Error = "auth.pw.current"
		m.render(w, r, http.StatusBadRequest, "auth_password", d)
		return
	}
	if next != again {
		d.Error = "auth.pw.mismatch"
		m.render(w, r, http.StatusBadRequest, "auth_password", d)
		return
	}
	if err := CheckPassword(next, u.Login); err != nil {
		d.Error = inputKey(err)
		m.render(w, r, http.StatusBadRequest, "auth_password", d)
		return
	}
	hash, err := HashPassword(next)
	if err == nil {
		err = m.st.SetPasswordHash(ctx, u.ID, hash, now)
	}
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	// Every other session of the account ends (someone who knew the old password is out);
	// this one continues under a new identifier.
	if _, err := m.st.DeleteUserSessions(ctx, u.ID); err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	m.audit(ctx, p.Actor(), "auth.password.change", fmt.Sprintf("user:%d", u.ID), nil)
	if _, err := m.startSession(ctx, w, r, u, true); err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	see(w, r, "/account/password?done=1")
}
