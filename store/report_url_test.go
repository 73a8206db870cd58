package store

import "testing"

// The URL to open or fetch is the reporter's own when it is a plain http(s) URL: the
// canonical form may say https for an http-only page or drop a parameter the page needs.
func TestReportURLFetchable(t *testing.T) {
	for _, c := range []struct{ raw, canonical, want string }{
		{"http://example.vn/a?id=3&utm_source=x", "https://example.vn/a?id=3", "http://example.vn/a?id=3&utm_source=x"},
		{"  https://example.vn/b  ", "https://example.vn/b", "https://example.vn/b"},
		{"example.vn/c", "https://example.vn/c", "https://example.vn/c"},
		{"javascript:alert(1)", "", ""},
		{"ftp://example.vn/d", "https://example.vn/d", "https://example.vn/d"},
		{"http:///nohost", "https://example.vn/", "https://example.vn/"},
	} {
		if got := (ReportURL{Raw: c.raw, Canonical: c.canonical}).Fetchable(); got != c.want {
			t.Errorf("Fetchable(%q, %q) = %q, want %q", c.raw, c.canonical, got, c.want)
		}
	}
}
