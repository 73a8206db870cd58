package scanner

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/scanner/fetch"
	"github.com/kidshield/kidshield/scanner/pdq"
	"github.com/kidshield/kidshield/store"
)

// monitorEnv is recheckEnv with the known hash of img and one monitored source at path.
func monitorEnv(t *testing.T, known pdq.Hash, kind, path string) (*env, *site) {
	t.Helper()
	e := newEnv(t, nil, nil, known)
	s := &site{status: map[string]int{}, pages: map[string]string{}, images: map[string][]byte{}}
	s.srv = newSiteServer(t, s)
	e.site = s.srv
	u, _ := url.Parse(s.srv.URL)
	port, _ := strconv.Atoi(u.Port())
	client, err := fetch.NewAllowingLoopbackForTests(fetch.Options{Ports: []int{80, 443, port}, HostInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	e.sc, err = New(Options{Store: e.st, Cases: e.hl, Client: client, Known: e.sc.known.Load(), RecheckEvery: -1,
		Sources: []Source{{Name: "bao", URL: s.srv.URL + path, Kind: kind, Every: time.Hour}},
		Backoff: store.ScanBackoff{Base: time.Second, Max: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	return e, s
}

func (e *env) poll(t *testing.T) {
	t.Helper()
	if err := e.sc.EnqueuePoll(t.Context(), "bao"); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
}

// A monitored feed whose item page shows a known image yields one suggestion with its match;
// a clean item yields none; an item disallowed by robots.txt is not fetched; items already seen
// are not fetched again; a URL that a case already has is not suggested.
func TestMonitorFeedSuggestion(t *testing.T) {
	img := testImage(1)
	known, _ := pdq.HashImage(img)
	e, s := monitorEnv(t, known, "rss", "/rss.xml")
	ctx := t.Context()
	s.setImage("/anh.png", pngBytes(t, img))
	s.set("/robots.txt", 200, "User-agent: *\nDisallow: /rieng\n")
	s.set("/bai-1", 200, `<html><head><title>Bài một</title></head><body><img src="/anh.png"></body></html>`)
	s.set("/bai-2", 200, `<html><head><title>Thời tiết</title></head><body>Trời nắng đẹp.</body></html>`)
	s.set("/rieng/bai-3", 200, `<html><body><img src="/anh.png"></body></html>`)
	s.set("/rss.xml", 200, `<rss version="2.0"><channel><item><title>Một</title><link>/bai-1</link></item>
<item><title>Hai</title><link>/bai-2</link></item><item><title>Ba</title><link>/rieng/bai-3</link></item></channel></rss>`)
	e.poll(t)

	list, err := e.st.SourceSuggestions(ctx, store.SuggestionOpen, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("%d suggestions, want 1: %+v", len(list), list)
	}
	g := list[0]
	if g.Source != "bao" || g.URL != s.srv.URL+"/bai-1" || !strings.HasPrefix(g.Canonical, "https://127.0.0.1:") || g.Title != "Bài một" ||
		len(g.Matches) != 1 || g.Matches[0].Distance > pdq.MatchDistance || g.Matches[0].Known != known.String() {
		t.Fatalf("suggestion %+v", g)
	}
	counts, _ := e.st.ScanQueueCounts(ctx)
	// The poll and three items: the disallowed one fails for good, without a suggestion.
	if counts[store.ScanDone] != 3 || counts[store.ScanFailed] != 1 {
		t.Fatalf("queue %v", counts)
	}

	// A second poll with one new item, whose URL a case already has: nothing new is suggested,
	// and the items already seen are not queued again.
	s.set("/bai-4", 200, `<html><body><img src="/anh.png"></body></html>`)
	e.report(t, "/bai-4")
	e.drain(t)
	s.set("/rss.xml", 200, `<rss version="2.0"><channel><item><link>/bai-1</link></item><item><link>/bai-4</link></item></channel></rss>`)
	before, _ := e.st.ScanQueueCounts(ctx)
	e.poll(t)
	after, _ := e.st.ScanQueueCounts(ctx)
	if after[store.ScanDone]-before[store.ScanDone] != 2 { // the poll and /bai-4
		t.Fatalf("second poll ran %d jobs, want 2 (%v → %v)", after[store.ScanDone]-before[store.ScanDone], before, after)
	}
	if list, _ := e.st.SourceSuggestions(ctx, "", 0); len(list) != 1 {
		t.Fatalf("suggestions after the second poll: %+v", list)
	}
}

// A sitemap index is followed to its sitemaps; a feed that is not one fails the poll.
func TestMonitorSitemap(t *testing.T) {
	img := testImage(2)
	known, _ := pdq.HashImage(img)
	e, s := monitorEnv(t, known, "auto", "/sitemap.xml")
	s.setImage("/a.png", pngBytes(t, img))
	s.set("/p", 200, `<html><body><img src="/a.png"></body></html>`)
	s.set("/sitemap.xml", 200, `<sitemapindex><sitemap><loc>/s1.xml</loc></sitemap></sitemapindex>`)
	s.set("/s1.xml", 200, `<urlset><url><loc>/p</loc></url></urlset>`)
	e.poll(t)
	if list, _ := e.st.SourceSuggestions(t.Context(), store.SuggestionOpen, 0); len(list) != 1 || !strings.HasSuffix(list[0].URL, "/p") {
		t.Fatalf("suggestions %+v", list)
	}
}

// By default a monitored page whose only signal is hate/bullying (its model, trained on
// social-media comments, is the least reliable outside them) is not a suggestion; a gambling
// page is. An administrator who lists hate_bullying in suggest_categories gets both.
func TestMonitorSuggestCategories(t *testing.T) {
	for _, c := range []struct {
		cats []string
		want int
	}{{nil, 1}, {[]string{"gambling", "hate_bullying"}, 2}} {
		e, s := monitorEnv(t, pdq.Hash{}, "rss", "/rss.xml")
		e.sc.o.SuggestCategories = c.cats
		if c.cats == nil {
			e.sc.o.SuggestCategories = defaultSuggestCategories()
		}
		s.set("/tin", 200, `<html><head><title>Tin</title></head><body>thằng này ngu vl, óc chó thật sự</body></html>`)
		s.set("/quang-cao", 200, `<html><body>nổ hũ đổi thưởng uy tín, tài xỉu, cá độ bóng đá nhà cái uy tín</body></html>`)
		s.set("/rss.xml", 200, `<rss version="2.0"><channel><item><link>/tin</link></item><item><link>/quang-cao</link></item></channel></rss>`)
		e.poll(t)
		list, err := e.st.SourceSuggestions(t.Context(), store.SuggestionOpen, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != c.want {
			t.Errorf("categories %v: %d suggestions, want %d: %+v", c.cats, len(list), c.want, list)
		}
	}
}
