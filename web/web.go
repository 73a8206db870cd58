// Package web is kidshield's HTTP server: one mux for every part, security headers on every
// answer, and a route table in which every route declares who may call it. Parts contribute
// routes; the access check is done here, once, so no handler can forget it.
package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Access says who may call a route.
type Access int

const (
	// Public routes answer anyone (DoH applies its own client access list).
	Public Access = iota
	// Metrics routes answer the metrics networks, or the admin token.
	Metrics
	// Admin routes need the admin token (Authorization: Bearer).
	Admin
)

func (a Access) String() string {
	return [...]string{"public", "metrics", "admin"}[a]
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
	AdminToken   string
	MetricsAllow []netip.Prefix
	Logger       *slog.Logger
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch rt.Access {
		case Public:
		case Metrics:
			if !s.fromMetricsNet(r) && !s.adminToken(r) {
				Error(w, r, s.o.Logger, http.StatusForbidden, errors.New("metrics are readable from the configured networks or with the admin token"))
				return
			}
		case Admin:
			if !s.adminToken(r) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="kidshield admin"`)
				Error(w, r, s.o.Logger, http.StatusUnauthorized, errors.New("admin token missing or wrong (Authorization: Bearer TOKEN; see DATA_DIR/admin-token)"))
				return
			}
		default:
			Error(w, r, s.o.Logger, http.StatusForbidden, errors.New("route has no access rule"))
			return
		}
		rt.Handler.ServeHTTP(w, r)
	})
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
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg, "ref": ref})
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
