package scanner

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func feedURLs(f *Feed) []string {
	var out []string
	for _, it := range f.Items {
		out = append(out, it.URL)
	}
	return out
}

func TestParseFeedRSS(t *testing.T) {
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Báo</title>
<item><title>  Tin   một </title><link>https://bao.example.vn/tin-1#top</link></item>
<item><title>Tin hai</title><link>/tin-2</link></item>
<item><title>GUID only</title><guid>https://bao.example.vn/tin-3</guid></item>
<item><title>not a permalink</title><guid isPermaLink="false">abc-123</guid></item>
<item><title>dup</title><link>https://bao.example.vn/tin-1</link></item>
<item><title>js</title><link>javascript:alert(1)</link></item>
<item><title>creds</title><link>https://u:p@bao.example.vn/x</link></item>
</channel></rss>`
	f, err := ParseSource("auto", []byte(doc), "https://bao.example.vn/rss/home.rss")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://bao.example.vn/tin-1", "https://bao.example.vn/tin-2", "https://bao.example.vn/tin-3"}
	if f.Kind != "rss" || !slices.Equal(feedURLs(f), want) || f.Items[0].Title != "Tin một" {
		t.Fatalf("%+v", f)
	}
	if _, err := ParseSource("atom", []byte(doc), ""); !errors.Is(err, ErrNotFeed) {
		t.Fatalf("rss read as atom: %v", err)
	}
}

func TestParseFeedAtomAndRDF(t *testing.T) {
	atom := `<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>A</title><link rel="self" href="https://x.vn/self"/>
<link href="https://x.vn/a"/></entry><entry><title>B</title><link rel="alternate" href="b"/></entry></feed>`
	f, err := ParseFeed([]byte(atom), "https://x.vn/feed/")
	if err != nil || f.Kind != "atom" || !slices.Equal(feedURLs(f), []string{"https://x.vn/a", "https://x.vn/feed/b"}) {
		t.Fatalf("%+v %v", f, err)
	}
	rdf := `<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><channel/>
<item><title>R</title><link>https://r.vn/1</link></item></rdf:RDF>`
	if f, err := ParseFeed([]byte(rdf), ""); err != nil || !slices.Equal(feedURLs(f), []string{"https://r.vn/1"}) {
		t.Fatalf("rdf %+v %v", f, err)
	}
}

func TestParseSitemap(t *testing.T) {
	sm := `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://s.vn/a</loc></url><url><loc> https://s.vn/b </loc></url>
<url><loc>ftp://s.vn/c</loc></url></urlset>`
	f, err := ParseSource("sitemap", []byte(sm), "https://s.vn/sitemap.xml")
	if err != nil || f.Kind != "sitemap" || !slices.Equal(feedURLs(f), []string{"https://s.vn/a", "https://s.vn/b"}) {
		t.Fatalf("%+v %v", f, err)
	}
	idx := `<sitemapindex><sitemap><loc>https://s.vn/s1.xml</loc></sitemap><sitemap><loc>/s2.xml</loc></sitemap></sitemapindex>`
	f, err = ParseSource("auto", []byte(idx), "https://s.vn/index.xml")
	if err != nil || f.Kind != "sitemapindex" || !slices.Equal(f.Sitemaps, []string{"https://s.vn/s1.xml", "https://s.vn/s2.xml"}) {
		t.Fatalf("%+v %v", f, err)
	}
	if _, err := ParseSitemap([]byte(`<rss><channel/></rss>`), ""); !errors.Is(err, ErrNotFeed) {
		t.Fatalf("rss as sitemap: %v", err)
	}
}

// Hostile documents: entity bombs, external entities, other charsets, HTML, truncation,
// oversize and item floods are errors or capped, never expanded or followed.
func TestParseFeedHostile(t *testing.T) {
	bomb := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<rss><channel><item><title>&lol2;</title><link>https://a.vn/1</link></item></channel></rss>`
	xxe := `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss><channel><item><title>&x;</title><link>https://a.vn/1</link></item></channel></rss>`
	for name, doc := range map[string]string{
		"bomb":    bomb,
		"xxe":     xxe,
		"latin1":  `<?xml version="1.0" encoding="ISO-8859-1"?><rss><channel/></rss>`,
		"html":    `<!doctype html><html><body>hi</body></html>`,
		"cut":     `<rss><channel><item><link>https://a.vn/1</link>`,
		"empty":   ``,
		"garbage": "\x00\x01\x02",
	} {
		if f, err := ParseSource("auto", []byte(doc), ""); err == nil {
			t.Errorf("%s: parsed %+v", name, f)
		}
	}
	if _, err := ParseSource("auto", make([]byte, MaxFeedBytes+1), ""); err == nil {
		t.Error("oversize document parsed")
	}
	var b strings.Builder
	b.WriteString("<urlset>")
	for i := range MaxFeedItems + 50 {
		b.WriteString("<url><loc>https://a.vn/" + strconv.Itoa(i) + "</loc></url>")
	}
	b.WriteString("</urlset>")
	f, err := ParseSitemap([]byte(b.String()), "")
	if err != nil || len(f.Items) != MaxFeedItems {
		t.Fatalf("flood: %d items, %v", len(f.Items), err)
	}
}

func checkFeed(t *testing.T, f *Feed) {
	if len(f.Items) > MaxFeedItems || len(f.Sitemaps) > MaxFeedItems {
		t.Fatalf("%d items, %d sitemaps", len(f.Items), len(f.Sitemaps))
	}
	for _, it := range f.Items {
		if !strings.HasPrefix(it.URL, "http://") && !strings.HasPrefix(it.URL, "https://") {
			t.Fatalf("item URL %q", it.URL)
		}
	}
}

func FuzzParseFeed(f *testing.F) {
	f.Add([]byte(`<rss><channel><item><title>t</title><link>/a</link></item></channel></rss>`))
	f.Add([]byte(`<feed><entry><link href="b"/></entry></feed>`))
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]><rss/>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if fd, err := ParseFeed(b, "https://a.vn/feed"); err == nil {
			checkFeed(t, fd)
		}
	})
}

func FuzzParseSitemap(f *testing.F) {
	f.Add([]byte(`<urlset><url><loc>https://s.vn/a</loc></url></urlset>`))
	f.Add([]byte(`<sitemapindex><sitemap><loc>/s.xml</loc></sitemap></sitemapindex>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if fd, err := ParseSitemap(b, "https://s.vn/"); err == nil {
			checkFeed(t, fd)
		}
	})
}
