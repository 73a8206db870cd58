package fetch

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://example.com":                  "http://example.com/",
		"  HTTPS://Example.COM./a?b=1#frag  ": "https://example.com/a?b=1",
		"http://example.com:80/x":             "http://example.com/x",
		"https://example.com:443/":            "https://example.com/",
		"http://example.com:443/":             "http://example.com:443/",
		"https://bücher.example/ä":            "https://xn--bcher-kva.example/%C3%A4",
		"http://tin-tức.vn/":                  "http://xn--tin-tc-fr8b.vn/", // Python: "tin-tức".encode("idna")
		"http://[2606:4700:0:0::1111]/":       "http://[2606:4700::1111]/",
		"http://127.0.0.1/":                   "http://127.0.0.1/", // the dialer refuses it, not the parser
		"http://a_b.example.com/":             "http://a_b.example.com/",
		"http://example.com?":                 "http://example.com/",
	} {
		u, err := NormalizeURL(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if u.String() != want {
			t.Errorf("%q: got %q, want %q", in, u.String(), want)
		}
	}
}

func TestNormalizeURLRefuses(t *testing.T) {
	for in, policy := range map[string]bool{
		"ftp://example.com/":                  true,
		"file:///etc/passwd":                  true,
		"javascript:alert(1)":                 true,
		"gopher://127.0.0.1:70/":              true,
		"data:text/html,hi":                   true,
		"http://user:pw@example.com/":         true,
		"http://user@example.com/":            true,
		"http://@example.com/":                true,
		"http://example.com:22/":              true,
		"http://example.com:8080/":            true,
		"http:///path":                        false,
		"http:example.com":                    false,
		"http://exa mple.com/":                false,
		"http://example.com:99999/":           false,
		"http://[fe80::1%25eth0]/":            false,
		"http://2130706433/":                  false,
		"http://0x7f000001/":                  false,
		"http://127.1/":                       false,
		"http://example.com/\x00":             false,
		"http://ex%41mple.com/":               false,
		"http://-x.example/a\n":               false,
		"":                                    false,
		"http://" + strings.Repeat("a", 9000): false,
	} {
		_, err := NormalizeURL(in)
		if !errors.Is(err, ErrBadURL) {
			t.Errorf("%q: got %v, want ErrBadURL", in, err)
			continue
		}
		if errors.Is(err, ErrBlocked) != policy {
			t.Errorf("%q: ErrBlocked=%v, want %v (%v)", in, !policy, policy, err)
		}
	}
}
