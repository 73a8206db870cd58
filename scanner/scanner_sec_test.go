package scanner

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kidshield/kidshield/scanner/fetch"
	"github.com/kidshield/kidshield/scanner/pdq"
	"github.com/kidshield/kidshield/store"
)

// A page whose images all answer slowly (a slowloris site) must not hold a worker for
// MaxImages times the client's time cap: the images share one budget. The test counts the
// image requests the site saw rather than timing the scan; before the fix every one of the
// MaxImages images was requested, each waiting out its own time cap.
func TestScanSlowImagesShareOneBudget(t *testing.T) {
	e := newEnv(t, nil, nil)
	var imageRequests atomic.Int32
	const images = 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/img") {
			imageRequests.Add(1)
			<-r.Context().Done() // never answers; the client gives up
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<html><body>")
		for i := range images {
			fmt.Fprintf(w, `<img src="/img%d.png">`, i)
		}
		fmt.Fprint(w, "</body></html>")
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())
	client, err := fetch.NewAllowingLoopbackForTests(fetch.Options{Ports: []int{80, 443, port}, HostInterval: -1,
		Timeout: time.Second, HeaderTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	sc, err := New(Options{Store: e.st, Cases: e.hl, Client: client, MaxImages: images, ImageBudget: 1500 * time.Millisecond, RecheckEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	o, err := sc.Scan(t.Context(), srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	if o.ImagesHashed != 0 {
		t.Fatalf("hashed %d images that never arrived", o.ImagesHashed)
	}
	if n := imageRequests.Load(); n >= images {
		t.Fatalf("all %d slow images were requested one after the other: no shared budget", n)
	}
}

// A monitored feed that lists many new URLs at once queues at most MaxNewItemsPerPoll of them
// per poll, and the rest on the next polls (they are not marked seen before they are queued).
// Before the fix one poll queued every item (up to MaxFeedItems, and more from a sitemap
// index), ahead of the reports' own scans.
func TestMonitorPollQueuesBoundedItems(t *testing.T) {
	img := testImage(1)
	known, _ := pdq.HashImage(img)
	e, s := monitorEnv(t, known, "rss", "/rss.xml")
	ctx := t.Context()
	total := MaxNewItemsPerPoll + MaxNewItemsPerPoll/2
	var b strings.Builder
	b.WriteString(`<rss version="2.0"><channel>`)
	for i := range total {
		fmt.Fprintf(&b, "<item><link>/bai-%d</link></item>", i)
	}
	b.WriteString("</channel></rss>")
	s.set("/rss.xml", 200, b.String())

	queued := func() int {
		t.Helper()
		counts, err := e.st.ScanQueueCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return counts[store.ScanQueued]
	}
	// Run only the poll job (the first queued), not the items it queues.
	if err := e.sc.EnqueuePoll(ctx, "bao"); err != nil {
		t.Fatal(err)
	}
	if n, err := e.sc.RunOnce(ctx, "t"); err != nil || n != 1 {
		t.Fatalf("poll: %d %v", n, err)
	}
	if n := queued(); n != MaxNewItemsPerPoll {
		t.Fatalf("first poll queued %d items, want %d", n, MaxNewItemsPerPoll)
	}
	if err := e.sc.EnqueuePoll(ctx, "bao"); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := e.sc.RunOnce(ctx, "t")
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	counts, _ := e.st.ScanQueueCounts(ctx)
	// Two polls and every item, each exactly once.
	if got := counts[store.ScanDone] + counts[store.ScanFailed]; got != 2+total {
		t.Fatalf("jobs run %v, want %d", counts, 2+total)
	}
}
