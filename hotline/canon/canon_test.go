package canon

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	tests := []struct {
		in, want, host string
	}{
		// Schemes and their absence.
		{"https://example.com/", "https://example.com/", "example.com"},
		{"http://example.com/", "https://example.com/", "example.com"},
		{"HTTP://EXAMPLE.COM/A", "https://example.com/A", "example.com"},
		{"example.com/x", "https://example.com/x", "example.com"},
		{"example.com", "https://example.com/", "example.com"},
		{"//example.com/x", "https://example.com/x", "example.com"},
		{"example.com:8080/x", "https://example.com:8080/x", "example.com"},
		{"  \n https://example.com/x \t ", "https://example.com/x", "example.com"},
		{"http:example.com/x", "https://example.com/x", "example.com"},
		{`https:\\example.com\a\b`, "https://example.com/a/b", "example.com"},
		{"https:///example.com/x", "https://example.com/x", "example.com"},

		// Host.
		{"https://Example.COM./", "https://example.com/", "example.com"},
		{"https://www.example.com/", "https://www.example.com/", "www.example.com"},
		{"https://bücher.example/", "https://xn--bcher-kva.example/", "xn--bcher-kva.example"},
		{"https://BÜCHER.example/", "https://xn--bcher-kva.example/", "xn--bcher-kva.example"},
		{"https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/", "xn--bcher-kva.example"},
		{"https://việtnam.vn/tin-tức", "https://xn--vitnam-jk8b.vn/tin-t%E1%BB%A9c", "xn--vitnam-jk8b.vn"},
		{"https://ex%61mple.com/", "https://example.com/", "example.com"},
		{"https://exa\u3002mple.com/", "https://exa.mple.com/", "exa.mple.com"},
		{"https://r3---sn-8qj.googlevideo.com/", "https://r3---sn-8qj.googlevideo.com/", "r3---sn-8qj.googlevideo.com"},
		{"https://my_site.blogspot.com/", "https://my_site.blogspot.com/", "my_site.blogspot.com"},
		{"https://user:pass@example.com/", "https://example.com/", "example.com"},
		{"https://www.facebook.com@evil.example/", "https://evil.example/", "evil.example"},

		// Ports.
		{"https://example.com:443/", "https://example.com/", "example.com"},
		{"http://example.com:80/", "https://example.com/", "example.com"},
		{"http://example.com:443/", "https://example.com/", "example.com"},
		{"https://example.com:80/", "https://example.com:80/", "example.com"},
		{"https://example.com:0080/", "https://example.com:80/", "example.com"},
		{"https://example.com:/", "https://example.com/", "example.com"},
		{"https://example.com:8443/a", "https://example.com:8443/a", "example.com"},

		// IP literals.
		{"http://127.0.0.1/", "https://127.0.0.1/", "127.0.0.1"},
		{"http://2130706433/", "https://127.0.0.1/", "127.0.0.1"},
		{"http://0x7f.1/", "https://127.0.0.1/", "127.0.0.1"},
		{"http://0177.0.0.01/", "https://127.0.0.1/", "127.0.0.1"},
		{"http://127.1/", "https://127.0.0.1/", "127.0.0.1"},
		{"http://192.168.1/", "https://192.168.0.1/", "192.168.0.1"},
		{"http://１２７.０.０.１/", "https://127.0.0.1/", "127.0.0.1"},
		{"http://[::1]/", "https://[::1]/", "::1"},
		{"http://[2001:DB8:0:0::1]:8080/x", "https://[2001:db8::1]:8080/x", "2001:db8::1"},
		{"http://[::ffff:127.0.0.1]/", "https://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"},

		// Path.
		{"https://example.com", "https://example.com/", "example.com"},
		{"https://example.com/a/b/", "https://example.com/a/b", "example.com"},
		{"https://example.com/a/b//", "https://example.com/a/b", "example.com"},
		{"https://example.com/a/./b/../c", "https://example.com/a/c", "example.com"},
		{"https://example.com/../../a", "https://example.com/a", "example.com"},
		{"https://example.com/a/%2e%2E/b", "https://example.com/b", "example.com"},
		{"https://example.com/%7euser/%41", "https://example.com/~user/A", "example.com"},
		{"https://example.com/a%2fb%3f", "https://example.com/a%2Fb%3F", "example.com"},
		{"https://example.com/a b", "https://example.com/a%20b", "example.com"},
		{"https://example.com/100%", "https://example.com/100%25", "example.com"},
		{"https://example.com/%zz", "https://example.com/%25zz", "example.com"},
		{"https://example.com/a//b", "https://example.com/a//b", "example.com"},
		{"https://example.com/<script>", "https://example.com/%3Cscript%3E", "example.com"},
		{"https://example.com/a;b=c:d@e!", "https://example.com/a;b=c:d@e!", "example.com"},

		// Query.
		{"https://example.com/?", "https://example.com/", "example.com"},
		{"https://example.com/?b=2&a=1", "https://example.com/?a=1&b=2", "example.com"},
		{"https://example.com/?b=2&a=1&b=1", "https://example.com/?a=1&b=2&b=1", "example.com"},
		{"https://example.com/?a&a=&&", "https://example.com/?a&a=", "example.com"},
		{"https://example.com/?q=a+b%20c%2B", "https://example.com/?q=a+b%20c%2B", "example.com"},
		{"https://example.com/?q=x=y", "https://example.com/?q=x=y", "example.com"},
		{"https://example.com/?utm_source=zalo&utm_medium=zalo&id=5&zarsrc=30", "https://example.com/?id=5", "example.com"},
		{"https://example.com/?UTM_Source=x&fbclid=1&gclid=2&_ga=3&mc_cid=4&mc_eid=5&igshid=6&p=1", "https://example.com/?p=1", "example.com"},
		{"https://vnexpress.net/a.html?gidzl=abc", "https://vnexpress.net/a.html", "vnexpress.net"},
		{"https://example.com/?si=keep", "https://example.com/?si=keep", "example.com"},
		{"https://example.com/?ref=keep", "https://example.com/?ref=keep", "example.com"},
		{"https://example.com/?k=%C3%A9", "https://example.com/?k=%C3%A9", "example.com"},
		{"https://example.com/?k=é", "https://example.com/?k=%C3%A9", "example.com"},

		// Fragment.
		{"https://example.com/a#top", "https://example.com/a", "example.com"},
		{"https://example.com/#!/user/1", "https://example.com/#!/user/1", "example.com"},
		{"https://example.com/a#", "https://example.com/a", "example.com"},

		// Platforms.
		{"https://m.facebook.com/story.php?story_fbid=1&id=2&mibextid=abc&rdid=x", "https://facebook.com/story.php?id=2&story_fbid=1", "facebook.com"},
		{"https://mbasic.facebook.com/groups/1/", "https://facebook.com/groups/1", "facebook.com"},
		{"https://web.facebook.com/share/p/XYZ/?mibextid=oFDknk", "https://facebook.com/share/p/XYZ", "facebook.com"},
		{"https://www.facebook.com/x?__cft__[0]=AZ&__tn__=%2CO", "https://facebook.com/x", "facebook.com"},
		{"https://youtu.be/dQw4w9WgXcQ?si=abc", "https://youtube.com/watch?v=dQw4w9WgXcQ", "youtube.com"},
		{"https://youtu.be/dQw4w9WgXcQ?t=42", "https://youtube.com/watch?t=42&v=dQw4w9WgXcQ", "youtube.com"},
		{"https://m.youtube.com/watch?v=dQw4w9WgXcQ&feature=share", "https://youtube.com/watch?v=dQw4w9WgXcQ", "youtube.com"},
		{"https://www.youtube.com/shorts/abcDEF12345?feature=share", "https://youtube.com/watch?v=abcDEF12345", "youtube.com"},
		{"https://youtu.be/a/b", "https://youtu.be/a/b", "youtu.be"},
		{"https://www.tiktok.com/@user/video/123?is_from_webapp=1&sender_device=pc&_r=1&_t=ZS-8", "https://tiktok.com/@user/video/123", "tiktok.com"},
		{"https://vm.tiktok.com/ZSabc/", "https://vm.tiktok.com/ZSabc", "vm.tiktok.com"},
		{"https://vm.tiktok.com/ZSabc/?_r=1", "https://vm.tiktok.com/ZSabc", "vm.tiktok.com"},
		{"https://twitter.com/u/status/1?s=20&t=abc", "https://x.com/u/status/1", "x.com"},
		{"https://www.instagram.com/p/Cx/?igsh=abc&img_index=2", "https://instagram.com/p/Cx?img_index=2", "instagram.com"},
		{"https://m.facebook.com:8443/x", "https://m.facebook.com:8443/x", "m.facebook.com"},
	}
	for _, tt := range tests {
		c, err := URL(tt.in)
		if err != nil {
			t.Errorf("URL(%q): %v", tt.in, err)
			continue
		}
		if c.URL != tt.want || c.Host != tt.host {
			t.Errorf("URL(%q) = %q, %q; want %q, %q", tt.in, c.URL, c.Host, tt.want, tt.host)
		}
		checkCanonical(t, tt.in, c)
	}
}

func TestURLRejects(t *testing.T) {
	tests := []struct {
		in   string
		kind error
	}{
		{"", ErrEmpty},
		{"   \n\t", ErrEmpty},
		{strings.Repeat("a", 10<<20), ErrTooLong},
		{"https://example.com/" + strings.Repeat("a", MaxLen), ErrTooLong},
		{"https://example.com/" + strings.Repeat("é", 600), ErrTooLong}, // fits raw, not escaped
		{"javascript:alert(1)", ErrScheme},
		{"JavaScript:alert(1)", ErrScheme},
		{"javascript:0", ErrScheme},
		{"data:text/html,<script>alert(1)</script>", ErrScheme},
		{"file:///etc/passwd", ErrScheme},
		{"ftp://example.com/", ErrScheme},
		{"mailto:a@example.com", ErrScheme},
		{"vbscript:x", ErrScheme},
		{"chrome://settings", ErrScheme},
		{"zalo://chat", ErrScheme},
		{"https://exa\x00mple.com/", ErrSyntax},
		{"https://example.com/\x00", ErrSyntax},
		{"https://example.com/a\nb", ErrSyntax},
		{"https://example.com/a\tb", ErrSyntax},
		{"https://example.com/\x7f", ErrSyntax},
		{"https://example.com/\u0085x", ErrSyntax},
		{"https://example.com/\xff", ErrSyntax},
		{"\xc3\x28", ErrSyntax},
		{"hello", ErrSyntax},
		{"http://", ErrHost},
		{"https://", ErrHost},
		{"https:///", ErrHost},
		{"https://user@/", ErrHost},
		{"https://[::1", ErrHost},
		{"https://[::1]x/", ErrHost},
		{"https://[1.2.3.4]/", ErrHost},
		{"https://[fe80::1%25eth0]/", ErrHost},
		{"https://[zz]/", ErrHost},
		{"http://a..b/", ErrHost},
		{"http://.example.com/", ErrHost},
		{"http://example.com../", ErrHost},
		{"http://exa mple.com/", ErrHost},
		{"http://example.com%20/", ErrHost},
		{"http://ex%zzample.com/", ErrHost},
		{"http://ex%2Fample.com/", ErrHost},
		{"http://ex<ample.com/", ErrHost},
		{"http://" + strings.Repeat("a", 64) + ".com/", ErrHost},
		{"http://" + strings.Repeat("a.", 127) + "com/", ErrHost},
		{"http://a:b:c/", ErrHost},
		{"http://a.b:c/", ErrPort},
		{"http://256.0.0.1/", ErrHost},
		{"http://1.2.3.4.5/", ErrHost},
		{"http://4294967296/", ErrHost},
		{"http://99999999999999999999999/", ErrHost},
		{"http://1.2.3.09/", ErrHost},
		{"http://example.1/", ErrHost},
		{"http://xn--zz.com/", ErrHost},
		{"http://\u202eexample.com/", ErrHost},
		{"http://example.com:99999/", ErrPort},
		{"http://example.com:8o/", ErrPort},
		{"http://example.com:-1/", ErrPort},
	}
	for _, tt := range tests {
		c, err := URL(tt.in)
		name := tt.in
		if len(name) > 80 {
			name = name[:80] + "..."
		}
		if err == nil {
			t.Errorf("URL(%q) = %q, want error %v", name, c.URL, tt.kind)
			continue
		}
		if !errors.Is(err, tt.kind) {
			t.Errorf("URL(%q): error %v, want %v", name, err, tt.kind)
		}
		if len(err.Error()) > 400 {
			t.Errorf("URL(%q): error message of %d bytes echoes too much input", name, len(err.Error()))
		}
	}
}

// Equivalent spellings of one page meet on one key.
func TestURLDedup(t *testing.T) {
	groups := [][]string{
		{
			"https://www.facebook.com/groups/123/posts/456/",
			"http://m.facebook.com/groups/123/posts/456?mibextid=Nif5oz",
			"facebook.com/groups/123/posts/456/#comments",
			"https://web.facebook.com/groups/123/posts/456/?rdid=1&share_url=x",
			"HTTPS://MBASIC.FACEBOOK.COM:443/groups/123/./posts/456",
		},
		{
			"https://youtu.be/dQw4w9WgXcQ",
			"https://www.youtube.com/watch?v=dQw4w9WgXcQ&feature=youtu.be",
			"m.youtube.com/watch?si=xyz&v=dQw4w9WgXcQ",
			"https://youtube.com/shorts/dQw4w9WgXcQ?feature=share",
		},
		{
			"https://example.com/a?x=1&y=2",
			"http://EXAMPLE.com./a/?y=2&x=1&utm_campaign=zalo#section",
			"https://example.com:443/a/b/../?x=1&y=%32",
		},
	}
	for _, g := range groups {
		first, err := URL(g[0])
		if err != nil {
			t.Fatalf("URL(%q): %v", g[0], err)
		}
		for _, in := range g[1:] {
			c, err := URL(in)
			if err != nil {
				t.Errorf("URL(%q): %v", in, err)
				continue
			}
			if c != first {
				t.Errorf("URL(%q) = %q, want %q (as %q)", in, c.URL, first.URL, g[0])
			}
		}
	}
}

// checkCanonical asserts the properties every output has.
func checkCanonical(t *testing.T, in string, c Canonical) {
	t.Helper()
	again, err := URL(c.URL)
	if err != nil {
		t.Fatalf("URL(%q) = %q, which is refused: %v", in, c.URL, err)
	}
	if again != c {
		t.Fatalf("not idempotent: URL(%q) = %+v, URL(%q) = %+v", in, c, c.URL, again)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		t.Fatalf("URL(%q) = %q, which net/url refuses: %v", in, c.URL, err)
	}
	if u.Scheme != "https" || u.Hostname() != c.Host || u.User != nil || u.Opaque != "" {
		t.Fatalf("URL(%q) = %q: net/url reads scheme %q host %q user %v opaque %q; Host %q",
			in, c.URL, u.Scheme, u.Hostname(), u.User, u.Opaque, c.Host)
	}
	if u.Fragment != "" && !strings.HasPrefix(u.Fragment, "!") {
		t.Fatalf("URL(%q) = %q keeps a fragment", in, c.URL)
	}
	for i := 0; i < len(c.Host); i++ {
		b := c.Host[i]
		if b >= 0x80 || ('A' <= b && b <= 'Z') {
			t.Fatalf("URL(%q): host %q is not ASCII lower case", in, c.Host)
		}
	}
	if len(c.URL) > MaxLen {
		t.Fatalf("URL(%q): %d bytes", in, len(c.URL))
	}
}

func FuzzURL(f *testing.F) {
	for _, s := range []string{
		"https://example.com/", "example.com/x?b=1&a=2#!/r", "http://2130706433/",
		"https://[2001:db8::1]:8080/a/../b/", "https://bücher.example/%7e?utm_source=x",
		"https://youtu.be/dQw4w9WgXcQ?t=1", "https://m.facebook.com/x?mibextid=1",
		"javascript:alert(1)", "https://[::1", "http://a..b/", "http:\\\\a\\b", "//a.b/%2e%2e/c",
		"https://a.b/?%26=%3D&k=v=w", "0x7f.1", "a.b:0080", "https://xn--bcher-kva.example./",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := URL(in)
		if err != nil {
			return
		}
		checkCanonical(t, in, c)
	})
}
