package store

import "testing"

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
