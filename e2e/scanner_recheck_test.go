package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
)

// TestScannerRecheckRemoval (issue 5, must-show 3, last part): a removed page closes the loop
// on its notice. Through the real binary, a case whose URL is on a loopback site gets a sent
// takedown notice; the site then answers 404 and, within a re-check period
// (scanner.recheck_every: 1s here), the notice shows the removal recorded by the scanner with
// its time, the capture as evidence on the case, and the analyst's notice page shows it.
func TestScannerRecheckRemoval(t *testing.T) {
	t.Parallel()
	var gone atomic.Bool
	var hits atomic.Int32
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/bai-dang" {
			http.NotFound(w, r)
			return
		}
		hits.Add(1)
		if gone.Load() {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html><head><title>Bài đăng</title></head><body><p>nội dung bị báo cáo</p></body></html>`)
	}))
	defer site.Close()
	su, _ := url.Parse(site.URL)
	in := start(t, options{Body: hotlineBody + fmt.Sprintf(`
scanner:
  workers: 2
  ports: [%s]
  recheck_every: 1s
  allow_loopback_for_tests: true
`, su.Port())})

	pageURL := site.URL + "/bai-dang"
	sto, rep := reportPage(t, in, pageURL)
	ctx := context.Background()
	urls, err := sto.CaseURLs(ctx, rep.CaseID)
	if err != nil || len(urls) != 1 {
		t.Fatalf("case URLs %v %v", urls, err)
	}

	// The analyst's assessment and the notice, through the store the pages use: actionable,
	// drafted by one person, approved by another, sent.
	for _, to := range []string{lifecycle.CaseTriaged, lifecycle.CaseInAssessment, lifecycle.CaseActionable} {
		c, err := sto.CaseByID(ctx, rep.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sto.ChangeCase(ctx, rep.CaseID, store.CaseChange{Actor: "e2e", Version: c.Version, To: to}); err != nil {
			t.Fatalf("case → %s: %v", to, err)
		}
	}
	pw := in.addUser(t, "e2e-recheck-analyst", "analyst", 0)
	in.addUser(t, "e2e-recheck-supervisor", "supervisor", 0)
	analyst, err := sto.UserByLogin(ctx, "e2e-recheck-analyst")
	if err != nil {
		t.Fatal(err)
	}
	supervisor, err := sto.UserByLogin(ctx, "e2e-recheck-supervisor")
	if err != nil {
		t.Fatal(err)
	}
	pid := createPartner(t, sto, "Recheck Host")
	now := time.Now()
	nid, err := sto.CreateNotice(ctx, store.NewNotice{Ref: "N-E2E-RECHECK", CaseID: rep.CaseID, PartnerID: pid, Kind: "takedown", Language: "vi",
		Ground: "illegal_vn", Category: "VIO.BULLY", Detection: "report", Action: "remove", Scope: "global", TLP: "AMBER", DeadlineH: 24,
		Items: []store.NoticeItem{{URL: urls[0].Canonical, FirstSeen: now}}, ActorID: analyst.ID, Actor: "e2e", Time: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sto.ChangeNotice(ctx, nid, store.NoticeChange{To: lifecycle.NoticeApproved, ActorID: supervisor.ID, Actor: "e2e", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	sent, err := sto.ChangeNotice(ctx, nid, store.NoticeChange{To: lifecycle.NoticeSent, ActorID: analyst.ID, Actor: "e2e", Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}

	// Re-checks of a page that is still there change nothing.
	eventually(t, "a re-check of the page while it is there", func() error {
		checks, err := sto.NoticeItemChecks(ctx, nid)
		if err != nil {
			return err
		}
		if len(checks) == 0 {
			return fmt.Errorf("no check yet (page fetched %d times)", hits.Load())
		}
		for _, k := range checks {
			if k.Gone || k.HTTPStatus != 200 {
				return fmt.Errorf("check %+v", k)
			}
		}
		return nil
	})
	if n, err := sto.NoticeByID(ctx, nid); err != nil || n.State != lifecycle.NoticeSent {
		t.Fatalf("notice while the page is there: %v %v", n.State, err)
	}

	gone.Store(true)
	removedAfter := time.Now()
	var n *store.Notice
	eventually(t, "the removal recorded on the notice", func() error {
		var err error
		n, err = sto.NoticeByID(ctx, nid)
		if err != nil {
			return err
		}
		if n.State != lifecycle.NoticeActioned {
			return fmt.Errorf("notice %s (page fetched %d times)", n.State, hits.Load())
		}
		return nil
	})
	if n.ActionTaken != "removed" || n.Actioned.Before(removedAfter.Add(-time.Second)) || !n.Sent.Equal(sent.Sent) || n.TimeToRemoval() <= 0 {
		t.Fatalf("removal: action %q at %v (page gone from %v), sent %v, time to removal %v", n.ActionTaken, n.Actioned, removedAfter, n.Sent, n.TimeToRemoval())
	}
	t.Logf("removal recorded %v after the page went, time to removal %v, page fetched %d times", n.Actioned.Sub(removedAfter).Round(time.Millisecond),
		n.TimeToRemoval().Round(time.Millisecond), hits.Load())
	hist, err := sto.NoticeHistory(ctx, nid)
	if err != nil {
		t.Fatal(err)
	}
	var byScanner, capture bool
	for _, h := range hist {
		byScanner = byScanner || h.Action == "notice.actioned" && h.Actor == "scanner"
		capture = capture || h.Action == "notice.scanner_removal" && h.Actor == "scanner" && strings.Contains(h.Detail, `"status":404`)
	}
	if !byScanner || !capture {
		t.Fatalf("notice history: %+v", hist)
	}
	ev, err := sto.CaseEvidence(ctx, rep.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	var ev404 bool
	for _, e := range ev {
		ev404 = ev404 || e.Source == "scanner" && e.HTTPStatus == 404 && len(e.SHA256) == 64
	}
	if !ev404 {
		t.Fatalf("no evidence of the 404 on the case: %+v", ev)
	}

	// The analyst's notice page shows it.
	s := in.login(t, "e2e-recheck-analyst", pw)
	st, b, _ := mustDo(t, call{method: "GET", url: in.httpURL(fmt.Sprintf("/desk/notices/%d?lang=vi", nid)), cookie: s.cookie})
	page := string(b)
	if st != http.StatusOK {
		t.Fatalf("notice page: %d %.300s", st, b)
	}
	for _, want := range []string{"Đã gỡ bỏ", "Máy quét kiểm tra lại: nội dung đã bị gỡ", "máy quét tự động"} {
		if !strings.Contains(page, want) {
			t.Errorf("notice page lacks %q", want)
		}
	}
}
