package web

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAccessMatrix(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
	s := New(Options{AdminToken: "0123456789abcdef0123", MetricsAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	s.Handle(
		Route{Method: "GET", Pattern: "/public", Access: Public, Handler: ok},
		Route{Method: "GET", Pattern: "/metrics", Access: Metrics, Handler: ok},
		Route{Method: "POST", Pattern: "/admin", Access: Admin, Handler: ok},
		Route{Method: "GET", Pattern: "/broken", Access: Access{}, Handler: ok},
	)
	type who struct {
		name, remote, auth string
	}
	anon := who{"anonymous, remote", "203.0.113.5:4000", ""}
	local := who{"anonymous, loopback", "127.0.0.1:4000", ""}
	wrong := who{"wrong token", "203.0.113.5:4000", "Bearer nope"}
	prefix := who{"token prefix", "203.0.113.5:4000", "Bearer 0123456789abcdef"}
	admin := who{"admin token", "203.0.113.5:4000", "Bearer 0123456789abcdef0123"}
	cases := []struct {
		method, path string
		who          who
		want         int
	}{
		{"GET", "/public", anon, 299},
		{"GET", "/metrics", anon, 403},
		{"GET", "/metrics", local, 299},
		{"GET", "/metrics", wrong, 403},
		{"GET", "/metrics", admin, 299},
		{"POST", "/admin", anon, 401},
		{"POST", "/admin", local, 401},
		{"POST", "/admin", wrong, 401},
		{"POST", "/admin", prefix, 401},
		{"POST", "/admin", admin, 299},
		{"GET", "/admin", admin, 405},
		{"GET", "/broken", admin, 403}, // a route without a known access rule is closed
		{"GET", "/nowhere", admin, 404},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, c.path, nil)
		r.RemoteAddr = c.who.remote
		if c.who.auth != "" {
			r.Header.Set("Authorization", c.who.auth)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s %s as %s: %d, want %d", c.method, c.path, c.who.name, w.Code, c.want)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s %s: security headers missing", c.method, c.path)
		}
	}
	if n := len(s.Routes()); n != 4 {
		t.Fatalf("route table has %d routes", n)
	}
}

func TestErrorHidesInternalDetail(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/x", nil)
	Error(w, r, discardLogger(), 500, errors.New("open /secret/path: permission denied"))
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body["error"] != "internal error" || len(body["ref"]) != 12 || strings.Contains(w.Body.String(), "secret") {
		t.Fatalf("body %s", w.Body)
	}
}

func TestAdminTokenGenerated(t *testing.T) {
	dir := t.TempDir()
	a, err := AdminToken("", "", dir)
	if err != nil || len(a) < 32 {
		t.Fatalf("%q %v", a, err)
	}
	b, _ := AdminToken("", "", dir)
	if a != b {
		t.Fatal("token changed between starts")
	}
	fi, _ := os.Stat(filepath.Join(dir, "admin-token"))
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v", fi.Mode())
	}
	short := filepath.Join(dir, "short")
	_ = os.WriteFile(short, []byte("abc\n"), 0o600)
	if _, err := AdminToken("", short, dir); err == nil {
		t.Fatal("accepted a 3-character token")
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestSwitchURL(t *testing.T) {
	for _, c := range []struct{ method, url, want string }{
		{"GET", "/desk/cases/5", "/desk/cases/5?lang=en"},
		{"GET", "/desk/stats?from=2026-11-01&lang=vi&to=2026-11-26", "/desk/stats?from=2026-11-01&lang=en&to=2026-11-26"},
		{"POST", "/desk/cases/5/contact", "/desk/cases/5?lang=en"},
		{"POST", "/report", "/report?lang=en"},
		{"POST", "/desk/intake", "/desk/intake?lang=en"},
	} {
		r := httptest.NewRequest(c.method, c.url, nil)
		if got := switchURL(r, "en"); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.method, c.url, got, c.want)
		}
	}
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, c := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"203.0.113.9:5000", []string{"1.2.3.4"}, "203.0.113.9:5000"},            // not from a proxy: header ignored
		{"10.0.0.2:5000", nil, "10.0.0.2:5000"},                                  // proxy without a header
		{"10.0.0.2:5000", []string{"198.51.100.7"}, "198.51.100.7:0"},            // the client
		{"10.0.0.2:5000", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7:0"},   // a forged left part is not believed
		{"10.0.0.2:5000", []string{"198.51.100.7, 10.0.0.3"}, "198.51.100.7:0"},  // two proxies
		{"10.0.0.2:5000", []string{"6.6.6.6", "198.51.100.7"}, "198.51.100.7:0"}, // several header lines
		{"10.0.0.2:5000", []string{"garbage, 10.0.0.3"}, "10.0.0.3:0"},           // stops at the last trusted hop
		{"10.0.0.2:5000", []string{"2001:db8::1"}, "[2001:db8::1]:0"},
	} {
		if got := ClientAddr(c.remote, c.xff, trusted); got != c.want {
			t.Errorf("%s %q: %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
}

// Browsers get a page in both languages that explains the status, keeps internal detail out,
// and shows the reference.
func TestErrorPageHTML(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("Accept", "text/html")
	Error(w, r, discardLogger(), 500, errors.New("open /secret/path: permission denied"))
	b := w.Body.String()
	if strings.Contains(b, "secret") || !strings.Contains(b, "Đã có lỗi ở phía chúng tôi") || !strings.Contains(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("500 page: %s", b)
	}
	w = httptest.NewRecorder()
	Error(w, r, discardLogger(), 403, errors.New("your role does not allow this page"))
	if b := w.Body.String(); !strings.Contains(b, "không được xem trang này") || !strings.Contains(b, "your role does not allow this page") || !strings.Contains(b, `href="/report"`) {
		t.Fatalf("403 page: %s", b)
	}
}
