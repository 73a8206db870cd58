package fetch

import "testing"

func TestRobotsAllowed(t *testing.T) {
	const us = "kidshield-scanner"
	cases := []struct {
		name, body, agent, path string
		want                    bool
	}{
		{"empty file", "", us, "/x", true},
		{"disallow all", "User-agent: *\nDisallow: /\n", us, "/x", false},
		{"robots.txt itself", "User-agent: *\nDisallow: /\n", us, "/robots.txt", true},
		{"empty disallow", "User-agent: *\nDisallow:\n", us, "/x", true},
		{"prefix", "User-agent: *\nDisallow: /priv\n", us, "/private/a", false},
		{"not prefix", "User-agent: *\nDisallow: /priv\n", us, "/public", true},
		{"longest wins allow", "User-agent: *\nDisallow: /a\nAllow: /a/b\n", us, "/a/b/c", true},
		{"longest wins disallow", "User-agent: *\nAllow: /a\nDisallow: /a/b\n", us, "/a/b/c", false},
		{"tie goes to allow", "User-agent: *\nDisallow: /a\nAllow: /a\n", us, "/a", true},
		{"star", "User-agent: *\nDisallow: /*.pdf\n", us, "/docs/x.pdf", false},
		{"star not matching", "User-agent: *\nDisallow: /*.pdf\n", us, "/docs/x.html", true},
		{"anchor", "User-agent: *\nDisallow: /*.pdf$\n", us, "/x.pdf?download=1", true},
		{"anchor match", "User-agent: *\nDisallow: /*.pdf$\n", us, "/x.pdf", false},
		{"query", "User-agent: *\nDisallow: /*?session=\n", us, "/a?session=1", false},
		{"our group over star", "User-agent: *\nDisallow: /\n\nUser-agent: kidshield-scanner\nAllow: /\n", us, "/x", true},
		{"our group only", "User-agent: *\nAllow: /\n\nUser-agent: kidshield-scanner\nDisallow: /news\n", us, "/news/1", false},
		{"agent case-insensitive", "User-agent: KidShield-Scanner\nDisallow: /\n", us, "/x", false},
		{"other agent only", "User-agent: googlebot\nDisallow: /\n", us, "/x", true},
		{"shared group", "User-agent: googlebot\nUser-agent: kidshield-scanner\nDisallow: /g\n", us, "/g", false},
		{"groups merged", "User-agent: kidshield-scanner\nDisallow: /a\n\nUser-agent: kidshield-scanner\nDisallow: /b\n", us, "/b", false},
		{"rule before any group ignored", "Disallow: /\nUser-agent: *\nAllow: /\n", us, "/x", true},
		{"comments and CRLF", "User-agent: * # all\r\nDisallow: /c # here\r\n", us, "/c", false},
		{"sitemap does not end a group", "User-agent: a\nSitemap: /s.xml\nUser-agent: kidshield-scanner\nDisallow: /\n", us, "/x", false},
		{"rule ends the agent list", "User-agent: a\nDisallow: /\nUser-agent: kidshield-scanner\nDisallow: /only\n", us, "/x", true},
		{"non-ASCII pattern, encoded path", "User-agent: *\nDisallow: /tin-tức\n", us, "/tin-t%E1%BB%A9c/1", false},
		{"lower-case escape", "User-agent: *\nDisallow: /%e1%bb%a9\n", us, "/%E1%BB%A9", false},
		{"backtracking star", "User-agent: *\nDisallow: /*a*b$\n", us, "/xaxxbxb", false},
	}
	for _, c := range cases {
		if got := ParseRobots([]byte(c.body)).Allowed(c.agent, c.path); got != c.want {
			t.Errorf("%s: Allowed(%q) = %v, want %v", c.name, c.path, got, c.want)
		}
	}
	if !(*Robots)(nil).Allowed(us, "/x") {
		t.Error("nil robots disallows")
	}
	if (&Robots{disallowAll: true}).Allowed(us, "/x") {
		t.Error("unreachable robots allows")
	}
}

// A hostile pattern must not make matching explode: many stars against a long path.
func TestRobotsMatchHostile(t *testing.T) {
	p := "/" + repeat("*a", 1000) + "b$"
	s := "/" + repeat("a", 8000)
	if robotsMatch(p, s) {
		t.Error("matched")
	}
}

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for range n {
		b = append(b, s...)
	}
	return string(b)
}
