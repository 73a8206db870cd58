package fetch

import (
	"reflect"
	"strings"
	"testing"
)

func TestExtractMore(t *testing.T) {
	base := mustURL(t, "https://news.example/section/page")
	t.Run("first title only", func(t *testing.T) {
		p := Extract([]byte(`<html><head><title>One</title></head><body><title>Two</title>x</body></html>`), base, ExtractLimits{})
		if p.Title != "One" {
			t.Errorf("title %q, want %q", p.Title, "One")
		}
	})
	t.Run("relative base href", func(t *testing.T) {
		p := Extract([]byte(`<base href="/dir/"><a href="a.html">a</a>`), base, ExtractLimits{})
		if want := []string{"https://news.example/dir/a.html"}; !reflect.DeepEqual(p.Links, want) {
			t.Errorf("links %q, want %q", p.Links, want)
		}
	})
	t.Run("area links", func(t *testing.T) {
		p := Extract([]byte(`<map><area href="/m1" shape="rect"></map>`), base, ExtractLimits{})
		if want := []string{"https://news.example/m1"}; !reflect.DeepEqual(p.Links, want) {
			t.Errorf("links %q, want %q", p.Links, want)
		}
	})
	t.Run("duplicates do not use up the cap", func(t *testing.T) {
		doc := strings.Repeat(`<a href="/a">a</a><img src="/i.png">`, 3) + `<a href="/b">b</a><img src="/j.png">`
		p := Extract([]byte(doc), base, ExtractLimits{MaxLinks: 2, MaxImages: 2})
		if want := []string{"https://news.example/a", "https://news.example/b"}; !reflect.DeepEqual(p.Links, want) || p.LinksTruncated {
			t.Errorf("links %q truncated %v, want %q", p.Links, p.LinksTruncated, want)
		}
		if want := []string{"https://news.example/i.png", "https://news.example/j.png"}; !reflect.DeepEqual(p.Images, want) || p.ImagesTruncated {
			t.Errorf("images %q truncated %v, want %q", p.Images, p.ImagesTruncated, want)
		}
	})
	t.Run("stray end tag of a skipped element", func(t *testing.T) {
		p := Extract([]byte(`<p>a</p></style><script>secret()</script><p>b</p>`), base, ExtractLimits{})
		if p.Text != "a b" {
			t.Errorf("text %q, want %q", p.Text, "a b")
		}
	})
}

// Links of a fetched page resolve against where it was found after redirects, not where
// the fetch started.
func TestExtractCaptureResolvesAgainstFinalURL(t *testing.T) {
	c := &Capture{
		RequestedURL: "https://short.example/x",
		FinalURL:     "https://news.example/dir/page",
		Body:         []byte(`<a href="next">n</a><img src="i.png">`),
		DeclaredType: "text/html; charset=utf-8",
	}
	p := ExtractCapture(c, ExtractLimits{})
	if want := []string{"https://news.example/dir/next"}; !reflect.DeepEqual(p.Links, want) {
		t.Errorf("links %q, want %q", p.Links, want)
	}
	if want := []string{"https://news.example/dir/i.png"}; !reflect.DeepEqual(p.Images, want) {
		t.Errorf("images %q, want %q", p.Images, want)
	}
}
