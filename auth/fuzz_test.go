package auth

import (
	"net/url"
	"strings"
	"testing"
)

// The login's next= parameter is outside input that becomes a redirect: whatever safeNext lets
// through must be a path on this site.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/desk", "/desk?x=1#y", "//evil.example", "/\\evil.example", "https://evil.example/",
		"/login", "javascript:alert(1)", "/%2F%2Fevil", "/ok/../..//evil", "\x00", "/a\tb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := safeNext(s)
		if got == "" {
			return
		}
		if got != s {
			t.Fatalf("safeNext changed %q to %q", s, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.Contains(got, "\\") {
			t.Fatalf("safeNext(%q) let through a non-local path", s)
		}
		// What a browser would resolve it to, against our origin, stays on our origin.
		base, _ := url.Parse("https://hotline.example/login")
		ref, err := url.Parse(got)
		if err != nil {
			t.Fatalf("safeNext(%q) let through an unparsable URL", s)
		}
		if r := base.ResolveReference(ref); r.Host != "hotline.example" || r.Scheme != "https" {
			t.Fatalf("safeNext(%q) leads to %s", s, r)
		}
	})
}

func FuzzParsePHC(f *testing.F) {
	good, _ := HashPassword("a good long password")
	f.Add(good)
	f.Add("$argon2id$v=19$m=1,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parsePHC(s)
		if err == nil && (h.m == 0 || h.m > 1<<20 || h.t == 0 || h.t > 16 || h.p == 0 || len(h.salt) < 8 || len(h.key) < 16) {
			t.Fatalf("parsePHC(%q) accepted out-of-bounds parameters %+v", s, h)
		}
	})
}

func FuzzNormalizeCode(f *testing.F) {
	for _, s := range []string{"123456", "123 456", "12-34-56", "1234567", "١٢٣٤٥٦", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := normalizeCode(s)
		if c == "" {
			return
		}
		if len(c) != 6 || strings.Trim(c, "0123456789") != "" {
			t.Fatalf("normalizeCode(%q) = %q", s, c)
		}
	})
}
