package fetch

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzExtract(f *testing.F) {
	f.Add([]byte(`<title>t</title><p>x</p><a href="/a">a</a><img src="/i.png" srcset="/j.png 2x">`), "http://x.example/p", "text/html")
	f.Add([]byte(`<base href="https://b.example/"><a href="r">`), "https://x.example/", "text/html; charset=utf-8")
	f.Add([]byte("<script/>x</script><template><p>y</template>\xff"), "", "")
	f.Add([]byte(`<meta property="og:image" content="//cdn.example/a.jpg"><svg><title>s</title></svg>`), "http://x.example/", "text/html")
	f.Add([]byte("<meta charset=windows-1258><p>ch\xe0o</p>"), "http://x.example/", "text/html; charset=utf-16")
	lim := ExtractLimits{MaxTitle: 16, MaxText: 64, MaxLinks: 3, MaxImages: 2}
	f.Fuzz(func(t *testing.T, body []byte, base, contentType string) {
		var bu *url.URL
		if base != "" {
			var err error
			if bu, err = url.Parse(base); err != nil {
				return
			}
		}
		checkPage(t, Extract(body, bu, lim), lim)
		checkPage(t, ExtractCapture(&Capture{Body: body, FinalURL: base, DeclaredType: contentType}, lim), lim)
	})
}

// checkPage holds the extractor's promises: caps, valid UTF-8, collapsed whitespace,
// deduplicated absolute http(s) URLs without credentials or fragments.
func checkPage(t *testing.T, p *Page, lim ExtractLimits) {
	t.Helper()
	if len(p.Text) > lim.MaxText || len(p.Title) > lim.MaxTitle {
		t.Fatalf("text %d title %d bytes over the caps", len(p.Text), len(p.Title))
	}
	if len(p.Links) > lim.MaxLinks || len(p.Images) > lim.MaxImages {
		t.Fatalf("%d links %d images over the caps", len(p.Links), len(p.Images))
	}
	if !utf8.ValidString(p.Text) || !utf8.ValidString(p.Title) {
		t.Fatal("invalid UTF-8")
	}
	if strings.HasPrefix(p.Text, " ") || strings.HasSuffix(p.Text, " ") || strings.Contains(p.Text, "  ") {
		t.Fatalf("whitespace not collapsed: %q", p.Text)
	}
	for _, list := range [][]string{p.Links, p.Images} {
		seen := map[string]bool{}
		for _, s := range list {
			if seen[s] {
				t.Fatalf("duplicate %q", s)
			}
			seen[s] = true
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Fragment != "" || u.Host == "" {
				t.Fatalf("unusable URL %q (%v)", s, err)
			}
		}
	}
}

func FuzzParseRobots(f *testing.F) {
	f.Add([]byte("User-agent: *\nDisallow: /a\nAllow: /a/b\n"), "/a/b")
	f.Add([]byte("User-agent: kidshield-scanner\r\nDisallow: /*.pdf$ # x\n"), "/x.pdf")
	f.Add([]byte("user-agent:*\ndisallow:/*a*b*c$\n"), "/aabbcc")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		r := ParseRobots(body)
		got := r.Allowed("kidshield-scanner", path)
		if again := ParseRobots(body).Allowed("kidshield-scanner", path); again != got {
			t.Fatal("not deterministic")
		}
		if !r.Allowed("kidshield-scanner", "/robots.txt") {
			t.Fatal("robots.txt itself disallowed")
		}
		n := 0
		for _, g := range r.groups {
			n += len(g.rules)
			for _, rule := range g.rules {
				if rule.pattern == "" || len(rule.pattern) > maxRobotsPattern {
					t.Fatalf("kept pattern of %d bytes", len(rule.pattern))
				}
			}
		}
		if n > maxRobotsRules {
			t.Fatalf("%d rules kept", n)
		}
	})
}

func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{
		"http://example.com", "HTTPS://Bücher.Example.:443/a/../b?c#d", "http://[::ffff:127.0.0.1]/",
		"http://u@x/", "ftp://x/", "http://x:8080/", "http://x:80", "http://%41/", "http://x/%zz",
		"http://x/a b", "http://tin-tức.vn/?q=cá độ", "http://127.0.0.1:443/",
	} {
		f.Add(s)
	}
	g, err := newGuard([]int{80, 443})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := NormalizeURL(raw)
		if err != nil {
			return
		}
		s := u.String()
		v, err := NormalizeURL(s)
		if err != nil {
			t.Fatalf("%q → %q, which is refused: %v", raw, s, err)
		}
		if v.String() != s {
			t.Fatalf("not idempotent: %q → %q → %q", raw, s, v.String())
		}
		// Nothing the guard would refuse for scheme, userinfo or port reasons.
		if u.Scheme != "http" && u.Scheme != "https" {
			t.Fatalf("scheme %q", u.Scheme)
		}
		if u.User != nil || u.Host == "" || u.Fragment != "" {
			t.Fatalf("userinfo, fragment or no host: %q", s)
		}
		port := u.Port()
		switch {
		case port == "" && u.Scheme == "http":
			port = "80"
		case port == "":
			port = "443"
		}
		if port != "80" && port != "443" {
			t.Fatalf("port %s", port)
		}
		var pn uint16 = 80
		if port == "443" {
			pn = 443
		}
		if !g.ports[pn] {
			t.Fatalf("guard refuses port %d", pn)
		}
	})
}
