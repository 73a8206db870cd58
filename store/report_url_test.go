package store

import (
	"strings"
	"testing"
)

// The URL to open or fetch is the canonical one (tracking parameters dropped) with the
// reporter's scheme: an http-only page stays http.
func TestReportURLFetchable(t *testing.T) {
	for _, c := range []struct{ raw, canonical, want string }{
		{"http://Example.vn/a?id=3&fbclid=XYZ", "https://example.vn/a?id=3", "http://example.vn/a?id=3"},
		{"  https://example.vn/b  ", "https://example.vn/b", "https://example.vn/b"},
		{"HTTP://example.vn:8000/c", "https://example.vn:8000/c", "http://example.vn:8000/c"},
		{"example.vn/c", "https://example.vn/c", "https://example.vn/c"},
		{"http://example.vn/d", "", "http://example.vn/d"},
		{"javascript:alert(1)", "", ""},
		{"ftp://example.vn/d", "https://example.vn/d", "https://example.vn/d"},
		{"http:///nohost", "https://example.vn/", "https://example.vn/"},
	} {
		if got := (ReportURL{Raw: c.raw, Canonical: c.canonical}).Fetchable(); got != c.want {
			t.Errorf("Fetchable(%q, %q) = %q, want %q", c.raw, c.canonical, got, c.want)
		}
	}
}

// Fetchable faces what reporters typed: it never panics and returns one of the forms it may
// (the canonical one, its http spelling, or a plain http(s) raw URL when there is none).
func FuzzReportURLFetchable(f *testing.F) {
	for _, s := range [][2]string{{"http://Example.vn/a?fbclid=1", "https://example.vn/a"}, {"javascript:x", ""}, {"http://h/x", ""}, {"HTTP://[::1]:80/", "https://[::1]/"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, raw, canonical string) {
		got := ReportURL{Raw: raw, Canonical: canonical}.Fetchable()
		switch {
		case got == canonical:
		case strings.HasPrefix(canonical, "https://") && got == "http://"+strings.TrimPrefix(canonical, "https://"):
		case canonical == "" && got == strings.TrimSpace(raw) && (strings.HasPrefix(strings.ToLower(got), "http://") || strings.HasPrefix(strings.ToLower(got), "https://")):
		default:
			t.Fatalf("Fetchable(%q, %q) = %q", raw, canonical, got)
		}
	})
}
