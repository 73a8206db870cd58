package scanner

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/scanner/fetch"
	"github.com/kidshield/kidshield/store"
)

// withSource rebuilds e's scanner with one monitored source "bao" at path.
func (e *mutEnv) withSource(t *testing.T, kind, path string) {
	t.Helper()
	var err error
	e.sc, err = New(Options{Store: e.st, Cases: e.hl, Client: e.client, Known: e.sc.known.Load(), RecheckEvery: -1, Now: e.clock.now,
		Sources: []Source{{Name: "bao", URL: e.url(path), Kind: kind, Every: time.Hour}},
		Backoff: store.ScanBackoff{Base: time.Second, Max: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
}

// pollOnly runs the poll job alone and returns how many item jobs it queued.
func (e *mutEnv) pollOnly(t *testing.T) int {
	t.Helper()
	if err := e.sc.EnqueuePoll(t.Context(), "bao"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sc.RunOnce(t.Context(), "test"); err != nil {
		t.Fatal(err)
	}
	counts, err := e.st.ScanQueueCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return counts[store.ScanQueued]
}

// A sitemap index is followed to its first five sitemaps only.
func TestMonitorFollowsFiveChildSitemaps(t *testing.T) {
	e := newMutEnv(t, fetch.Options{})
	var idx strings.Builder
	idx.WriteString(`<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`)
	for i := range 7 {
		fmt.Fprintf(&idx, "<sitemap><loc>/sm%d.xml</loc></sitemap>", i)
		e.site.page(fmt.Sprintf("/sm%d.xml", i), 200, fmt.Sprintf(`<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>/bai-%d</loc></url></urlset>`, i))
	}
	idx.WriteString("</sitemapindex>")
	e.site.page("/index.xml", 200, idx.String())
	e.withSource(t, "auto", "/index.xml")
	if n := e.pollOnly(t); n != 5 {
		t.Fatalf("%d items queued from a sitemap index of 7 sitemaps, want 5 (the first five)", n)
	}
}

// A source over 10 MiB is refused as a whole, even when its first 10 MiB parse.
func TestMonitorRefusesOversizedSource(t *testing.T) {
	e := newMutEnv(t, fetch.Options{})
	e.site.page("/rss.xml", 200, `<rss version="2.0"><channel><item><link>/bai-1</link></item></channel></rss>`+strings.Repeat(" ", MaxFeedBytes))
	e.site.page("/bai-1", 200, "<html><body>bài</body></html>")
	e.withSource(t, "rss", "/rss.xml")
	if err := e.sc.EnqueuePoll(t.Context(), "bao"); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if e.hits("/rss.xml") == 0 || e.hits("/bai-1") != 0 {
		t.Fatalf("source read %d times, its item %d times: want the item never fetched", e.hits("/rss.xml"), e.hits("/bai-1"))
	}
}

// An item page becomes a suggestion on a match at distance 31, and never when the page did
// not answer 2xx, whatever it shows.
func TestMonitorSuggestionEdges(t *testing.T) {
	img := mutImage(1)
	h := mutStrongHash(t, img)
	e := newMutEnv(t, fetch.Options{}, mutFlip(h, 31))
	e.site.image("/anh.png", 200, mutPNG(t, img))
	e.site.page("/bai-31", 200, `<html><head><title>Bài</title></head><body><img src="/anh.png"></body></html>`)
	e.site.page("/bai-404", 404, `<html><head><title>Bài</title></head><body><img src="/anh.png"></body></html>`)
	e.site.page("/rss.xml", 200, `<rss version="2.0"><channel><item><link>/bai-31</link></item><item><link>/bai-404</link></item></channel></rss>`)
	e.withSource(t, "rss", "/rss.xml")
	if err := e.sc.EnqueuePoll(t.Context(), "bao"); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	gs, err := e.st.SourceSuggestions(t.Context(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, g := range gs {
		urls = append(urls, g.URL)
		if len(g.Matches) != 1 || g.Matches[0].Distance != 31 {
			t.Errorf("suggestion %s: matches %+v, want one at 31", g.URL, g.Matches)
		}
	}
	if len(gs) != 1 || gs[0].URL != e.url("/bai-31") {
		t.Fatalf("suggestions %v, want only /bai-31", urls)
	}
}
