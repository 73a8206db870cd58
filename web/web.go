// Package web is kidshield's HTTP server: one mux for every part, security headers on every
// answer, and a route table in which every route declares who may call it. Parts contribute
// routes; the access check is done here, once, so no handler can forget it.
package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Access says who may call a route. The zero value denies everyone.
type Access struct {
	kind  accessKind
	roles []Role
	scope string
}

type accessKind uint8

const (
	accessNone accessKind = iota
	accessPublic
	accessMetrics
	accessAdminToken
	accessSession
	accessToken
)

var (
	// Public routes answer anyone (DoH applies its own client access list).
	Public = Access{kind: accessPublic}
	// Metrics routes answer the metrics networks, or the admin token.
	Metrics = Access{kind: accessMetrics}
	// Admin routes need the admin token (Authorization: Bearer): the machine API of the filter.
	Admin = Access{kind: accessAdminToken}
)

// Staff admits a logged-in user (session cookie, second factor done when required) who holds
// any of roles. Unsafe methods also need the session's CSRF token (form field "csrf" or header
// X-CSRF-Token).
func Staff(roles ...Role) Access { return Access{kind: accessSession, roles: roles} }

// Token admits an API token that carries scope (Authorization: Bearer).
func Token(scope string) Access { return Access{kind: accessToken, scope: scope} }

// Roles returns the roles a Staff route admits.
func (a Access) Roles() []Role { return a.roles }

// Scope returns the scope a Token route needs.
func (a Access) Scope() string { return a.scope }

func (a Access) String() string {
	switch a.kind {
	case accessPublic:
		return "public"
	case accessMetrics:
		return "metrics"
	case accessAdminToken:
		return "admin"
	case accessSession:
		rs := make([]string, len(a.roles))
		for i, r := range a.roles {
			rs[i] = string(r)
		}
		return "staff(" + strings.Join(rs, ",") + ")"
	case accessToken:
		return "token(" + a.scope + ")"
	}
	return "none"
}

// Role is a staff or partner role.
type Role string

// The roles of HOTLINE.md.
const (
	RoleOperator   Role = "operator"   // takes 111 calls, enters reports; never sees media
	RoleAnalyst    Role = "analyst"    // triages, assesses, classifies, refers
	RoleSupervisor Role = "supervisor" // second review, approvals, statistics
	RolePartner    Role = "partner"    // a partner organisation: its own notices only
	RoleAdmin      Role = "admin"      // accounts, partners, settings
)

// AllRoles lists every role.
var AllRoles = []Role{RoleOperator, RoleAnalyst, RoleSupervisor, RolePartner, RoleAdmin}

// Principal is who is calling: a logged-in user or an API token.
type Principal struct {
	UserID    int64 // 0 for an API token
	TokenID   int64 // 0 for a user
	Login     string
	Name      string
	Roles     []Role
	PartnerID int64 // the partner organisation of a partner user or token
	Scopes    []string
	// CSRF is the session's anti-forgery token, put into every form.
	CSRF string
	// MFAPending: the password was right but the second factor is not done (or not enrolled)
	// yet. Such a session reaches only the second-factor pages (Staff routes refuse it).
	MFAPending bool
}

// Has reports whether p holds role r.
func (p *Principal) Has(r Role) bool { return p != nil && slices.Contains(p.Roles, r) }

// HasAny reports whether p holds any of rs.
func (p *Principal) HasAny(rs ...Role) bool {
	for _, r := range rs {
		if p.Has(r) {
			return true
		}
	}
	return false
}

// Actor names p in the audit log: "user:ID:login" or "token:ID:name".
func (p *Principal) Actor() string {
	switch {
	case p == nil:
		return "anonymous"
	case p.UserID != 0:
		return "user:" + strconv.FormatInt(p.UserID, 10) + ":" + p.Login
	default:
		return "token:" + strconv.FormatInt(p.TokenID, 10) + ":" + p.Name
	}
}

// Authenticator finds who is calling. Package auth implements it.
type Authenticator interface {
	// Session returns the principal of the request's session cookie, or nil when there is
	// none (or it expired). It may refresh the session's idle timer.
	Session(r *http.Request) (*Principal, error)
	// Token returns the principal of an API token, or nil when the token is unknown or revoked.
	Token(r *http.Request, token string) (*Principal, error)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller of a request that passed a Staff or Token route's check, or
// the logged-in user on any other route (nil when anonymous).
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Route is one entry of the route table.
type Route struct {
	Method  string // "" for any method the handler accepts
	Pattern string // http.ServeMux pattern without the method
	Access  Access
	Handler http.Handler
}

// Options configures the server.
type Options struct {
	AdminToken string
	// Auth resolves sessions and API tokens; without it Staff and Token routes refuse everyone.
	Auth Authenticator
	// LoginPath is where a browser without a session is sent (with ?next=).
	LoginPath    string
	MetricsAllow []netip.Prefix
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
}

// Server is the HTTP front of kidshield.
type Server struct {
	o      Options
	mux    *http.ServeMux
	routes []Route
}

// New returns a server with no routes.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Server{o: o, mux: http.NewServeMux()}
}

// Handle adds routes.
func (s *Server) Handle(rs ...Route) {
	for _, r := range rs {
		p := r.Pattern
		if r.Method != "" {
			p = r.Method + " " + p
		}
		s.mux.Handle(p, s.guard(r))
		s.routes = append(s.routes, r)
	}
}

// Routes lists the route table (for the authorization matrix test and docs).
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// ServeHTTP applies the headers every answer carries, then the mux.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if len(s.o.TrustedProxies) > 0 {
		r.RemoteAddr = ClientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.o.TrustedProxies)
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) guard(rt Route) http.Handler {
	h := rt.Handler
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every state-changing request from a browser must come from our own pages: Go's
		// cross-origin protection checks Sec-Fetch-Site, then Origin against Host. Non-browser
		// clients (DoH, API tokens, curl) send neither and pass; Staff routes add a token.
		if err := crossOrigin.Check(r); err != nil {
			Error(w, r, s.o.Logger, http.StatusForbidden, errors.New("cross-origin request refused"))
			return
		}
		switch rt.Access.kind {
		case accessPublic:
			// Pages that show the login state (the public form's header) see the user; a
			// session still waiting for its second factor is nobody yet (the second-factor pages
			// read it themselves).
			if s.o.Auth != nil {
				if p, err := s.o.Auth.Session(r); err == nil && p != nil && !p.MFAPending {
					r = r.WithContext(WithPrincipal(r.Context(), p))
				}
			}
		case accessMetrics:
			if !s.fromMetricsNet(r) && !s.adminToken(r) {
				Error(w, r, s.o.Logger, http.StatusForbidden, errors.New("metrics are readable from the configured networks or with the admin token"))
				return
			}
		case accessAdminToken:
			if !s.adminToken(r) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="kidshield admin"`)
				Error(w, r, s.o.Logger, http.StatusUnauthorized, errors.New("admin token missing or wrong (Authorization: Bearer TOKEN; see DATA_DIR/admin-token)"))
				return
			}
		case accessSession:
			p, ok := s.session(w, r, rt.Access.roles)
			if !ok {
				return
			}
			// Staff pages show case material, notices and CSRF tokens: no browser or proxy
			// keeps a copy (a shared desk's disk cache included). A handler may say otherwise.
			w.Header().Set("Cache-Control", "no-store")
			r = r.WithContext(WithPrincipal(r.Context(), p))
		case accessToken:
			p, ok := s.apiToken(w, r, rt.Access.scope)
			if !ok {
				return
			}
			r = r.WithContext(WithPrincipal(r.Context(), p))
		default:
			Error(w, r, s.o.Logger, http.StatusForbidden, errors.New("route has no access rule"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

var crossOrigin = http.NewCrossOriginProtection()

// session checks a Staff route: a session, the second factor done, a role, and for unsafe
// methods the CSRF token. A browser asking for a page is sent to the login page; anything else
// gets 401 or 403.
func (s *Server) session(w http.ResponseWriter, r *http.Request, roles []Role) (*Principal, bool) {
	var p *Principal
	if s.o.Auth != nil {
		var err error
		if p, err = s.o.Auth.Session(r); err != nil {
			Error(w, r, s.o.Logger, http.StatusInternalServerError, err)
			return nil, false
		}
	}
	if p == nil || p.MFAPending {
		if r.Method == http.MethodGet && s.o.LoginPath != "" && wantsHTML(r) {
			http.Redirect(w, r, s.o.LoginPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return nil, false
		}
		Error(w, r, s.o.Logger, http.StatusUnauthorized, errors.New("log in first"))
		return nil, false
	}
	if !p.HasAny(roles...) {
		Error(w, r, s.o.Logger, http.StatusForbidden, errors.New("your role does not allow this page"))
		return nil, false
	}
	if !safeMethod(r.Method) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, StaffBodyLimit)
		}
		got := r.Header.Get("X-CSRF-Token")
		if got == "" {
			var err error
			if got, err = formCSRF(r); err != nil {
				status := http.StatusBadRequest
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					status = http.StatusRequestEntityTooLarge
				}
				Error(w, r, s.o.Logger, status, errors.New("the form could not be read"))
				return nil, false
			}
		}
		if p.CSRF == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.CSRF)) != 1 {
			Error(w, r, s.o.Logger, http.StatusForbidden, errors.New("the form expired or did not come from this site: reload the page and try again"))
			return nil, false
		}
	}
	return p, true
}

// StaffBodyLimit bounds the body of every unsafe Staff request: staff forms are a few fields of
// text (the largest, a case note, is 20,000 characters). The bound is far below the memory
// http.Request.ParseMultipartForm keeps before it spills file parts to temporary files, so no
// part of a staff request ever lands on disk, and a logged-in user cannot make the server read
// megabytes. A staff route that must take files needs its own, larger limit here.
const StaffBodyLimit = 1 << 20

// formCSRF reads the "csrf" field of a form body (already bounded by StaffBodyLimit). A
// urlencoded body is parsed into r.PostForm, as the handlers expect. A multipart body is read
// into memory, its text part "csrf" taken, and the body put back unparsed, so a handler that
// decodes it itself (the phone intake refuses files) still sees every part; a handler that calls
// r.PostFormValue parses at most StaffBodyLimit, in memory.
func formCSRF(r *http.Request) (string, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return "", nil
	}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		if err := r.ParseForm(); err != nil {
			return "", err
		}
		return r.PostForm.Get("csrf"), nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return "", err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if part.FormName() == "csrf" && part.FileName() == "" {
			b, err := io.ReadAll(io.LimitReader(part, 256))
			return string(b), err
		}
	}
}

func (s *Server) apiToken(w http.ResponseWriter, r *http.Request, scope string) (*Principal, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	var p *Principal
	if ok && tok != "" && s.o.Auth != nil {
		var err error
		if p, err = s.o.Auth.Token(r, tok); err != nil {
			Error(w, r, s.o.Logger, http.StatusInternalServerError, err)
			return nil, false
		}
	}
	if p == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kidshield api"`)
		Error(w, r, s.o.Logger, http.StatusUnauthorized, errors.New("API token missing, unknown or revoked (Authorization: Bearer TOKEN)"))
		return nil, false
	}
	if !slices.Contains(p.Scopes, scope) {
		Error(w, r, s.o.Logger, http.StatusForbidden, fmt.Errorf("this API token lacks the scope %q", scope))
		return nil, false
	}
	return p, true
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func wantsHTML(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return a == "" || strings.Contains(a, "text/html")
}

func (s *Server) fromMetricsNet(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	for _, p := range s.o.MetricsAllow {
		if p.Contains(ap.Addr().Unmap()) {
			return true
		}
	}
	return false
}

func (s *Server) adminToken(r *http.Request) bool {
	if s.o.AdminToken == "" {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.o.AdminToken)) == 1
}

// Error answers with a status, a short public message and a reference id; the detail goes to
// the log under the same id, so a user can quote it and an operator can find it.
func Error(w http.ResponseWriter, r *http.Request, log *slog.Logger, status int, err error) {
	ref := newRef()
	msg := err.Error()
	if status >= 500 {
		log.Error("http error", "ref", ref, "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	if status == http.StatusInternalServerError {
		msg = "internal error" // the detail is for the log only; 503 and 4xx say what is wrong
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		vi, en := errorText(status)
		_ = errorPage.Execute(w, map[string]any{"Status": status, "Text": http.StatusText(status), "Vi": vi, "En": en, "Msg": msg, "Ref": ref})
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg, "ref": ref})
}

// errorPage is the page a browser gets: both languages, because an error can come before the
// language is known, a plain explanation of the status, the detail (in English, as the API
// gives it), the reference id to quote, and the ways on: report, log in, or call 111.
var errorPage = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Status}} {{.Text}}</title><link rel="stylesheet" href="/static/style.css"></head>
<body><main class="error-page">
<h1>{{.Status}} {{.Text}}</h1>
<p lang="vi"><strong>{{.Vi}}</strong></p>
<p lang="en">{{.En}}</p>
<p lang="en"><small>{{.Msg}}</small></p>
<p lang="vi">Nếu cần giúp đỡ, hãy gửi mã tham chiếu này cho quản trị viên: <code>{{.Ref}}</code><br>
<span lang="en">If you need help, give this reference to the administrator.</span></p>
<p lang="vi">Nếu em đang gặp nguy hiểm, hãy gọi <a href="tel:111">111</a> (miễn phí) hoặc Công an <a href="tel:113">113</a>.</p>
<p><a href="/report">Báo cáo / Report</a> · <a href="/status">Xem kết quả / Status</a> · <a href="/login">Đăng nhập / Log in</a></p>
</main></body></html>`))

// errorText explains a status in both languages, in words for the person who hit it.
func errorText(status int) (vi, en string) {
	switch status {
	case http.StatusBadRequest:
		return "Yêu cầu không hợp lệ.", "The request is not valid."
	case http.StatusUnauthorized:
		return "Bạn cần đăng nhập để xem trang này.", "Log in to see this page."
	case http.StatusForbidden:
		return "Tài khoản của bạn không được xem trang này, hoặc biểu mẫu đã hết hạn (hãy tải lại trang).",
			"Your account may not see this page, or the form expired (reload the page)."
	case http.StatusNotFound:
		return "Không tìm thấy trang hoặc hồ sơ này.", "This page or record does not exist."
	case http.StatusMethodNotAllowed:
		return "Trang này không nhận cách gửi này.", "This page does not accept this kind of request."
	case http.StatusConflict:
		return "Hồ sơ vừa được người khác thay đổi, hoặc bước này không được phép lúc này.",
			"Someone else changed this record, or this step is not allowed now."
	case http.StatusRequestEntityTooLarge:
		return "Nội dung gửi lên quá lớn.", "What was sent is too large."
	case http.StatusUnprocessableEntity:
		return "Thông tin chưa hợp lệ.", "Some information is not valid."
	case http.StatusTooManyRequests:
		return "Bạn đã gửi quá nhiều lần. Hãy thử lại sau ít phút.", "Too many attempts. Try again in a few minutes."
	}
	if status >= 500 {
		return "Đã có lỗi ở phía chúng tôi. Hãy thử lại sau.", "Something went wrong on our side. Try again later."
	}
	return "Đã có lỗi.", "Something went wrong."
}

func newRef() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// JSON writes v as JSON.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// AdminToken returns the configured token, or reads (creating on first start) DATA_DIR/admin-token.
func AdminToken(configured, file, dataDir string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	if file == "" {
		file = filepath.Join(dataDir, "admin-token")
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			var b [24]byte
			if _, err := rand.Read(b[:]); err != nil {
				return "", err
			}
			if err := os.MkdirAll(dataDir, 0o700); err != nil {
				return "", err
			}
			if err := os.WriteFile(file, []byte(hex.EncodeToString(b[:])+"\n"), 0o600); err != nil {
				return "", fmt.Errorf("write admin token: %w", err)
			}
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if len(t) < 16 {
		return "", fmt.Errorf("admin token in %s is shorter than 16 characters", file)
	}
	return t, nil
}

// Timeouts are the http.Server limits kidshield uses: slow clients cannot hold connections.
func Timeouts(srv *http.Server) {
	srv.ReadHeaderTimeout = 10 * time.Second
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 60 * time.Second
	srv.IdleTimeout = 120 * time.Second
	srv.MaxHeaderBytes = 64 << 10
}

// ClientAddr returns the address of the client behind trusted reverse proxies: when remote is a
// trusted proxy, X-Forwarded-For is read from the right (each proxy appends the address it saw)
// and the first address that is not a trusted proxy is the client. Anything unparsable stops
// the walk at the last trusted hop, so a forged header can never name an arbitrary client
// unless every proxy after it is trusted. The result keeps the "ip:port" form (port 0 for a
// forwarded client), so every consumer of RemoteAddr works unchanged.
func ClientAddr(remote string, xff []string, trusted []netip.Prefix) string {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	ap, err := netip.ParseAddrPort(remote)
	if err != nil || !isTrusted(ap.Addr()) {
		return remote
	}
	var hops []string
	for _, v := range xff {
		for _, h := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	client := remote
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			break
		}
		client = netip.AddrPortFrom(a.Unmap(), 0).String()
		if !isTrusted(a) {
			break
		}
	}
	return client
}
