package scanner

import (
	"testing"
)

func TestHostKey(t *testing.T) {
	for _, c := range []struct{ host, want string }{
		// One site, many names: one key.
		{"www.example.vn", "example.vn"},
		{"a.example.vn", "example.vn"},
		{"B.Example.VN.", "example.vn"},
		{"example.vn", "example.vn"},
		// Multi-label public suffixes (ICANN section): the owner is the label below them.
		{"news.bbc.co.uk", "bbc.co.uk"},
		{"m.bao.com.vn", "bao.com.vn"},
		{"cdn.tin.edu.vn", "tin.edu.vn"},
		// Private section: every blog is its own owner's site, not one blogspot.com site.
		{"alice.blogspot.com", "alice.blogspot.com"},
		{"www.alice.blogspot.com", "alice.blogspot.com"},
		{"bob.blogspot.com", "bob.blogspot.com"},
		{"someone.github.io", "someone.github.io"},
		// A public suffix itself, a single label: themselves.
		{"co.uk", "co.uk"},
		{"blogspot.com", "blogspot.com"},
		{"localhost", "localhost"},
		// Addresses: themselves, IPv6 in its canonical form with or without brackets.
		{"203.0.113.7", "203.0.113.7"},
		{"2001:db8::1", "2001:db8::1"},
		{"[2001:DB8:0::1]", "2001:db8::1"},
		// IDN: the Unicode and punycode forms of a name share a key (in punycode; the form from
		// Python's idna codec, an implementation independent of ours).
		{"tin.ví-dụ.vn", "xn--v-d-rma6749a.vn"},
		{"www.xn--v-d-rma6749a.vn", "xn--v-d-rma6749a.vn"},
		{"Ví-Dụ.VN", "xn--v-d-rma6749a.vn"},
		{"", ""},
	} {
		if got := HostKey(c.host); got != c.want {
			t.Errorf("HostKey(%q) = %q, want %q", c.host, got, c.want)
		}
	}
}

// The scanner keys its client's limiter as it keys its jobs.
func TestClientKeyedBySite(t *testing.T) {
	e := newEnv(t, nil, nil)
	for _, h := range []string{"cdn.example.vn", "www.alice.blogspot.com", "Ví-Dụ.VN"} {
		if got, want := e.sc.o.Client.SiteKey(h), HostKey(h); got != want {
			t.Errorf("client's key of %s: %q, want the queue's %q", h, got, want)
		}
	}
}
