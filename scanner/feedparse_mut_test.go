package scanner

import (
	"fmt"
	"strings"
	"testing"
)

func mutRSS(n int, extra string) string {
	var b strings.Builder
	b.WriteString(`<rss version="2.0"><channel>`)
	for i := range n {
		fmt.Fprintf(&b, "<item><title>t%d</title><link>https://bao.example/a/%d</link></item>", i, i)
	}
	b.WriteString(extra)
	b.WriteString("</channel></rss>")
	return b.String()
}

// At most MaxFeedItems (1000) items are kept from one document.
func TestParseFeedItemCap(t *testing.T) {
	f, err := ParseFeed([]byte(mutRSS(MaxFeedItems+1, "")), "https://bao.example/rss")
	if err != nil {
		t.Fatal(err)
	}
	if MaxFeedItems != 1000 || len(f.Items) != 1000 || f.Items[999].URL != "https://bao.example/a/999" {
		t.Fatalf("MaxFeedItems %d, %d items kept (last %v), want the first 1000", MaxFeedItems, len(f.Items), f.Items[len(f.Items)-1])
	}
}

// A document of MaxFeedBytes (10 MiB) is read, one byte more is refused.
func TestParseFeedByteCap(t *testing.T) {
	doc := mutRSS(2, "")
	pad := func(n int) []byte { return []byte(doc + strings.Repeat(" ", n-len(doc))) }
	if MaxFeedBytes != 10<<20 {
		t.Errorf("MaxFeedBytes = %d, docs/scanner.md says 10 MiB", MaxFeedBytes)
	}
	if f, err := ParseFeed(pad(MaxFeedBytes), "https://bao.example/"); err != nil || len(f.Items) != 2 {
		t.Errorf("exactly the cap: %v", err)
	}
	if _, err := ParseFeed(pad(MaxFeedBytes+1), "https://bao.example/"); err == nil {
		t.Error("one byte over the cap accepted")
	}
	if _, err := ParseSitemap(pad(MaxFeedBytes+1), "https://bao.example/"); err == nil {
		t.Error("sitemap: one byte over the cap accepted")
	}
}

// A sitemap naming a URL twice yields it once; titles are cut at 300 characters.
func TestParseSitemapDedupeAndTitleCap(t *testing.T) {
	sm := `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://bao.example/a</loc></url>` +
		`<url><loc>https://bao.example/b</loc></url><url><loc>https://bao.example/a</loc></url><url><loc>/b</loc></url></urlset>`
	f, err := ParseSitemap([]byte(sm), "https://bao.example/sitemap.xml")
	if err != nil {
		t.Fatal(err)
	}
	if got := feedURLsMut(f); got != "https://bao.example/a https://bao.example/b" {
		t.Errorf("sitemap URLs %q, want each once", got)
	}
	long := strings.Repeat("ê", 301)
	rf, err := ParseFeed([]byte(mutRSS(0, "<item><title>"+long+"</title><link>https://bao.example/x</link></item>")), "https://bao.example/")
	if err != nil || len(rf.Items) != 1 {
		t.Fatalf("%+v %v", rf, err)
	}
	if got := []rune(rf.Items[0].Title); len(got) != 300 {
		t.Errorf("title of %d characters, want 300", len(got))
	}
}

func feedURLsMut(f *Feed) string {
	var us []string
	for _, it := range f.Items {
		us = append(us, it.URL)
	}
	return strings.Join(us, " ")
}
