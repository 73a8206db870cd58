package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// CookieName is the session cookie.
const CookieName = "ks_session"

// TokenPrefix starts every API token, so a leaked one is recognisable (secret scanners, logs).
const TokenPrefix = "ks_"

// LoginPath is the login page, for web.Options.LoginPath.
const LoginPath = "/login"

// Sealer encrypts TOTP secrets at rest with the data keys; *seal.Keys implements it. aad names
// the column (TOTPColumn), so a sealed value copied elsewhere does not open.
type Sealer interface {
	Seal(plain []byte, aad string) (string, error)
	Open(sealed, aad string) ([]byte, error)
}

// TOTPColumn is the additional data TOTP secrets are sealed with: the column's name, as
// `kidshield keys rotate` (store.Reseal) passes it.
const TOTPColumn = "users.totp_secret"

// Options configures a Manager.
type Options struct {
	Store *store.Store
	// Config is the hotline's auth section (defaults applied by config.Finish; zero values get
	// the same defaults here).
	Config config.Auth
	// Sealer seals TOTP secrets (required).
	Sealer Sealer
	// Issuer names the service in authenticator apps (default "kidshield").
	Issuer string
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
}

// Manager resolves sessions and API tokens, and serves the login, account and admin pages.
type Manager struct {
	st          *store.Store
	seal        Sealer
	log         *slog.Logger
	now         func() time.Time
	issuer      string
	ttl, idle   time.Duration
	requireTOTP bool
	secure      bool
	byAddr      *limiter
	byLogin     *limiter
	views       *web.Views
}

var _ web.Authenticator = (*Manager)(nil)

// New returns a Manager.
func New(o Options) (*Manager, error) {
	if o.Store == nil {
		return nil, errors.New("auth: Options.Store is required")
	}
	if o.Sealer == nil {
		return nil, errors.New("auth: Options.Sealer is required (TOTP secrets are sealed with the data keys)")
	}
	m := &Manager{st: o.Store, seal: o.Sealer, log: o.Logger, now: o.Now, issuer: o.Issuer,
		ttl: o.Config.SessionTTL, idle: o.Config.IdleTimeout, secure: o.Config.SecureCookies,
		requireTOTP: o.Config.RequireTOTP == nil || *o.Config.RequireTOTP}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.issuer == "" {
		m.issuer = "kidshield"
	}
	if m.ttl <= 0 {
		m.ttl = 12 * time.Hour
	}
	if m.idle <= 0 {
		m.idle = time.Hour
	}
	attempts := o.Config.LoginAttempts
	if attempts == 0 {
		attempts = 10
	}
	m.byAddr = newLimiter(attempts, limitWindow)
	m.byLogin = newLimiter(attempts, limitWindow)
	return m, nil
}

// randomString returns n random bytes in unpadded base64url.
func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hashSecret is how session cookies and API tokens are stored: SHA-256 in hex. They are 256-bit
// random values, so a fast hash is enough (nothing to guess, unlike a password).
func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// cookieLen is the length of a session cookie value: 32 bytes in unpadded base64url.
const cookieLen = 43

func validCookie(v string) bool {
	if len(v) != cookieLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// roles converts stored role names, dropping any this binary does not know.
func roles(names []string) []web.Role {
	out := make([]web.Role, 0, len(names))
	for _, n := range names {
		if slices.Contains(web.AllRoles, web.Role(n)) {
			out = append(out, web.Role(n))
		}
	}
	return out
}

func roleNames(rs []web.Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// totpRequired says whether u must give a second factor: everyone with a role when RequireTOTP
// is on (staff and partners alike: a partner account sees case material too), and anyone who
// has enrolled, whatever the setting (an enrolled factor is never skipped).
func (m *Manager) totpRequired(u store.User) bool {
	return u.TOTPSecret != "" || (m.requireTOTP && len(roles(u.Roles)) > 0)
}

func principal(u store.User, ss store.Session) *web.Principal {
	return &web.Principal{UserID: u.ID, Login: u.Login, Name: u.Name, Roles: roles(u.Roles), PartnerID: u.PartnerID,
		CSRF: ss.CSRF, MFAPending: !ss.MFADone}
}

// session returns the request's session and user, or ok false. Expired, idle and disabled
// sessions are deleted on sight.
func (m *Manager) session(r *http.Request) (ss store.Session, u store.User, ok bool, err error) {
	c, cerr := r.Cookie(CookieName)
	if cerr != nil || !validCookie(c.Value) {
		return ss, u, false, nil
	}
	ctx := r.Context()
	hash := hashSecret(c.Value)
	ss, u, err = m.st.SessionByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return ss, u, false, nil
	}
	if err != nil {
		return ss, u, false, fmt.Errorf("auth: session: %w", err)
	}
	now := m.now()
	if u.Disabled || !now.Before(ss.Expires) || now.Sub(ss.LastSeen) >= m.idle {
		if err := m.st.DeleteSession(ctx, hash); err != nil {
			return ss, u, false, fmt.Errorf("auth: end expired session: %w", err)
		}
		return ss, u, false, nil
	}
	if now.Sub(ss.LastSeen) >= time.Minute {
		if err := m.st.TouchSession(ctx, hash, now); err != nil {
			// The session is valid; a failed touch only shortens its idle time.
			m.log.Warn("auth: touch session", "user", u.ID, "err", err)
		}
	}
	return ss, u, true, nil
}

// Session implements web.Authenticator.
func (m *Manager) Session(r *http.Request) (*web.Principal, error) {
	ss, u, ok, err := m.session(r)
	if !ok || err != nil {
		return nil, err
	}
	return principal(u, ss), nil
}

// Token implements web.Authenticator.
func (m *Manager) Token(r *http.Request, token string) (*web.Principal, error) {
	if !strings.HasPrefix(token, TokenPrefix) || len(token) > 128 {
		return nil, nil
	}
	t, err := m.st.APITokenByHash(r.Context(), hashSecret(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("auth: token: %w", err)
	}
	if now := m.now(); now.Sub(t.LastUsed) >= time.Minute {
		if err := m.st.TouchAPIToken(r.Context(), t.ID, now); err != nil {
			m.log.Warn("auth: touch token", "token", t.ID, "err", err)
		}
	}
	p := &web.Principal{TokenID: t.ID, Name: t.Name, PartnerID: t.PartnerID, Scopes: t.Scopes}
	if t.PartnerID != 0 {
		p.Roles = []web.Role{web.RolePartner}
	}
	return p, nil
}

// startSession creates a session for u and sets its cookie. mfaDone false leaves it pending:
// only the second-factor pages accept it.
func (m *Manager) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, u store.User, mfaDone bool) (*web.Principal, error) {
	value, err := randomString(32)
	if err != nil {
		return nil, fmt.Errorf("auth: new session: %w", err)
	}
	csrf, err := randomString(32)
	if err != nil {
		return nil, fmt.Errorf("auth: new session: %w", err)
	}
	now := m.now()
	ss := store.Session{IDHash: hashSecret(value), UserID: u.ID, CSRF: csrf, MFADone: mfaDone, Created: now, LastSeen: now, Expires: now.Add(m.ttl)}
	if err := m.st.CreateSession(ctx, ss); err != nil {
		return nil, fmt.Errorf("auth: new session: %w", err)
	}
	// No Expires: the cookie ends with the browser, which matters on a shared desk; the
	// server ends it earlier after IdleTimeout or SessionTTL.
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: value, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil || m.secure})
	return principal(u, ss), nil
}

// endSession deletes the request's session (if any) and clears the cookie.
func (m *Manager) endSession(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(CookieName); err == nil && validCookie(c.Value) {
		if err := m.st.DeleteSession(ctx, hashSecret(c.Value)); err != nil {
			return fmt.Errorf("auth: end session: %w", err)
		}
	}
	m.clearCookie(w, r)
	return nil
}

func (m *Manager) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil || m.secure})
}

// renewSession replaces the request's session with a fresh one whose second factor is done: a
// new identifier whenever the privilege changes, so an identifier seen before the second factor
// (or before a password change) is worth nothing after it.
func (m *Manager) renewSession(ctx context.Context, w http.ResponseWriter, r *http.Request, u store.User) (*web.Principal, error) {
	if err := m.endSession(ctx, w, r); err != nil {
		return nil, err
	}
	return m.startSession(ctx, w, r, u, true)
}

// PurgeSessions deletes expired and idle sessions; the retention job calls it.
func (m *Manager) PurgeSessions(ctx context.Context) (int64, error) {
	n, err := m.st.DeleteExpiredSessions(ctx, m.now(), m.idle)
	if err != nil {
		return 0, fmt.Errorf("auth: purge sessions: %w", err)
	}
	return n, nil
}

// HomeFor is where a user lands after login: the desk of their main role.
func HomeFor(rs []web.Role) string {
	p := &web.Principal{Roles: rs}
	switch {
	case p.HasAny(web.RoleAnalyst, web.RoleSupervisor):
		return "/desk"
	case p.Has(web.RoleOperator):
		return "/desk/intake"
	case p.Has(web.RoleAdmin):
		return "/admin/users"
	case p.Has(web.RolePartner):
		return "/partner"
	}
	return "/"
}
