package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kidshield/kidshield/scanner/pdq"
	"github.com/kidshield/kidshield/store"
)

// TestScannerMonitoredFeed (issue 5, must-show 3, second part): a monitored local RSS feed
// whose item page shows a known-hash image yields, through the real binary, a suggestion in the
// analysts' queue with its reason; the analyst's page lists it, and "open a case from this"
// makes a case on the crawler channel. The feed's robots.txt is read (monitoring honours it)
// and a disallowed item is never fetched.
func TestScannerMonitoredFeed(t *testing.T) {
	t.Parallel()
	img := e2eScanImage()
	known, _ := pdq.HashImage(img)
	var pngb bytes.Buffer
	if err := png.Encode(&pngb, img); err != nil {
		t.Fatal(err)
	}
	var robots, private atomic.Int32
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			robots.Add(1)
			fmt.Fprint(w, "User-agent: *\nDisallow: /rieng/\n")
		case "/rss.xml":
			w.Header().Set("Content-Type", "application/rss+xml")
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Báo thử</title>
<item><title>Tin có ảnh</title><link>/tin/1</link></item>
<item><title>Tin thời tiết</title><link>/tin/2</link></item>
<item><title>Riêng tư</title><link>/rieng/3</link></item></channel></rss>`)
		case "/tin/1":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<!doctype html><html><head><title>Tin có ảnh</title></head><body><img src="/anh/1.png" alt=""></body></html>`)
		case "/tin/2":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<!doctype html><html><head><title>Thời tiết</title></head><body>Hà Nội trời nắng.</body></html>`)
		case "/rieng/3":
			private.Add(1)
			fmt.Fprint(w, `<html><body><img src="/anh/1.png"></body></html>`)
		case "/anh/1.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(pngb.Bytes())
		default:
			http.NotFound(w, r)
		}
	}))
	defer site.Close()
	su, _ := url.Parse(site.URL)
	list := filepath.Join(t.TempDir(), "known.pdq")
	if err := os.WriteFile(list, []byte("pdq "+known.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := start(t, options{Body: hotlineBody + fmt.Sprintf(`
scanner:
  hash_lists: [%q]
  ports: [%s]
  allow_loopback_for_tests: true
  sources:
    - {name: bao-thu, url: %q, kind: rss, every: 2s}
`, list, su.Port(), site.URL+"/rss.xml")})
	sto := openStore(t, in.sqliteDSN())
	ctx := context.Background()

	var g *store.SourceSuggestion
	eventually(t, "a suggestion from the monitored feed", func() error {
		gs, err := sto.SourceSuggestions(ctx, store.SuggestionOpen, 0)
		if err != nil {
			return err
		}
		if len(gs) == 0 {
			return fmt.Errorf("none yet (robots.txt read %d times)", robots.Load())
		}
		g = gs[0]
		return nil
	})
	if g.Source != "bao-thu" || g.URL != site.URL+"/tin/1" || g.Title != "Tin có ảnh" || len(g.Matches) != 1 || g.Matches[0].Known != known.String() ||
		g.Matches[0].Distance > pdq.MatchDistance {
		t.Fatalf("suggestion %+v", g)
	}
	if robots.Load() == 0 || private.Load() != 0 {
		t.Fatalf("robots.txt read %d times, disallowed page fetched %d times", robots.Load(), private.Load())
	}
	// The next polls find nothing new: still one suggestion.
	seenPolls := func() int {
		n := 0
		for _, l := range strings.Split(in.log.String(), "\n") {
			if strings.Contains(l, "scanner: source polled") {
				n++
			}
		}
		return n
	}
	first := seenPolls()
	eventually(t, "another poll", func() error {
		if seenPolls() <= first {
			return fmt.Errorf("polls %d", seenPolls())
		}
		return nil
	})
	if gs, _ := sto.SourceSuggestions(ctx, "", 0); len(gs) != 1 {
		t.Fatalf("%d suggestions after another poll", len(gs))
	}

	// The analyst's queue shows it with its reason, and opens a case from it.
	pw := in.addUser(t, "e2e-suggest-analyst", "analyst", 0)
	s := in.login(t, "e2e-suggest-analyst", pw)
	st, b, _ := mustDo(t, call{method: "GET", url: in.httpURL("/desk/suggestions?lang=vi"), cookie: s.cookie})
	page := string(b)
	if st != http.StatusOK {
		t.Fatalf("suggestions page: %d %.300s", st, b)
	}
	for _, want := range []string{"Gợi ý từ nguồn theo dõi", "Tin có ảnh", fmt.Sprintf("Trùng mã băm đã biết, khoảng cách %d", g.Matches[0].Distance),
		"bao-thu", "Mở vụ việc từ gợi ý này"} {
		if !strings.Contains(page, want) {
			t.Errorf("suggestions page lacks %q", want)
		}
	}
	if strings.Contains(page, `<img src="`+site.URL) {
		t.Error("the suggestions page embeds the image")
	}
	st, b, h := mustDo(t, call{method: "POST", url: in.httpURL(fmt.Sprintf("/desk/suggestions/%d/open", g.ID)), cookie: s.cookie, ctype: formType,
		body: form("csrf", s.csrf, "harm", "CSE.CSAM")})
	m := regexp.MustCompile(`^/desk/cases/(\d+)$`).FindStringSubmatch(h.Get("Location"))
	if st != http.StatusSeeOther || m == nil {
		t.Fatalf("open a case: %d %s %.300s", st, h.Get("Location"), b)
	}
	caseID, _ := strconv.ParseInt(m[1], 10, 64)
	g2, err := sto.SourceSuggestionByID(ctx, g.ID)
	if err != nil || g2.State != store.SuggestionOpened || g2.CaseID != caseID {
		t.Fatalf("suggestion after opening: %+v %v", g2, err)
	}
	reps, err := sto.CaseReports(ctx, caseID)
	if err != nil || len(reps) != 1 || reps[0].Channel != "crawler" {
		t.Fatalf("reports of the case: %+v %v", reps, err)
	}
}
