package store

import (
	"strings"
	"testing"
)

// FuzzNormalizeListValue feeds arbitrary values of every kind to the list's normaliser (the
// CLI, the desk's forms and imports all go through it): it never panics, a value it accepts is
// accepted again unchanged (one spelling per value: the dedup and the shadowing of imports
// rely on it), and an accepted name is lower-case ASCII a DNS consumer can use.
func FuzzNormalizeListValue(f *testing.F) {
	for _, s := range []string{"Bad.Example.", "xn--bcher-kva.example", "bücher.example", "10.0.0.1", "a..b", "https://x.example/a b",
		"sha256:" + strings.Repeat("ab", 32), "PDQ:" + strings.Repeat("0f", 32), "-a.example", "*.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, kind := range []string{ListDomain, ListHost, ListURL, ListHash} {
			n, err := NormalizeListValue(kind, v)
			if err != nil {
				continue
			}
			again, err := NormalizeListValue(kind, n)
			if err != nil || again != n {
				t.Fatalf("%s %q → %q, then %q, %v", kind, v, n, again, err)
			}
			if kind == ListDomain || kind == ListHost {
				if len(n) > 253 || n != strings.ToLower(n) || strings.ContainsFunc(n, func(r rune) bool { return r > 0x7e || r <= ' ' }) {
					t.Fatalf("%s %q → %q: not a lower-case ASCII name", kind, v, n)
				}
			}
		}
	})
}
