package scanner

import (
	"context"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/canon"
	"github.com/kidshield/kidshield/scanner/pdq"
	"github.com/kidshield/kidshield/store"
)

// lostReport stores a report of the test site's path as the hotline does, but through a
// hotline without the scanner's hook: the report is committed and its URL never queued, as
// when the process dies between the two.
func (e *env) lostReport(t *testing.T, path string) *store.Case {
	t.Helper()
	c := submitReport(t, testHotline(t, e.st, nil), e.st, e.site.URL+path)
	if n := e.queued(t); n != 0 {
		t.Fatalf("%d jobs queued by a hotline without the hook", n)
	}
	return c
}

func (e *env) queued(t *testing.T) int {
	t.Helper()
	c, err := e.st.ScanQueueCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return c[store.ScanQueued] + c[store.ScanRunning]
}

// A report whose enqueue was lost is scanned once the scanner starts: Run's maintenance
// catches it up at once (Poll is an hour, so only the catch-up's wake-up starts the job).
func TestCatchUpAtStartScansLostReport(t *testing.T) {
	img := testImage(1)
	h, _ := pdq.HashImage(img)
	e := newEnv(t, map[string]string{"/p": `<html><body><img src="/k.png"></body></html>`}, map[string][]byte{"/k.png": pngBytes(t, img)}, h)
	c := e.lostReport(t, "/p")
	e.sc.o.Poll = time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { e.sc.Run(ctx); close(done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rs, err := e.st.CaseScanResults(t.Context(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 1 {
			if !rs[0].Raised || len(rs[0].Matches) != 1 || rs[0].URL != e.site.URL+"/p" {
				t.Fatalf("result %+v", rs[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no scan result: the lost report was not caught up at start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	// Scanned: later catch-ups leave it alone.
	if n, err := e.sc.CatchUp(t.Context()); err != nil || n != 0 {
		t.Fatalf("catch-up after the scan: %d %v", n, err)
	}
	if got, err := e.st.CaseByID(t.Context(), c.ID); err != nil || got.Priority != RaiseTo {
		t.Errorf("case after the caught-up scan: %+v %v", got, err)
	}
}

// The catch-up queues the very job the hook would have queued, once however often it runs,
// and only for reports within its window.
func TestCatchUpOnce(t *testing.T) {
	e := newEnv(t, map[string]string{"/p": `<html><body>ok</body></html>`}, nil)
	e.sc.o.MaintainEvery = -1
	// A tracking parameter: the hook queues the URL as given, not its canonical form, and so
	// must the catch-up.
	const path = "/p?utm_source=zalo"
	c := e.lostReport(t, path)
	cu, err := canon.URL(e.site.URL + path)
	if err != nil || cu.URL == e.site.URL+path {
		t.Fatalf("canonical form %q (%v): want one that differs from the URL given", cu.URL, err)
	}
	// Outside the window (the scanner's clock four days on): nothing.
	e.sc.o.Now = func() time.Time { return time.Now().Add(4 * 24 * time.Hour) }
	if n, err := e.sc.CatchUp(t.Context()); err != nil || n != 0 || e.queued(t) != 0 {
		t.Fatalf("catch-up of a report older than the window: %d %v", n, err)
	}
	e.sc.o.Now = time.Now
	for i, want := range []int{1, 0} {
		if n, err := e.sc.CatchUp(t.Context()); err != nil || n != want {
			t.Fatalf("catch-up #%d: queued %d (%v), want %d", i+1, n, err, want)
		}
	}
	if n := e.queued(t); n != 1 {
		t.Fatalf("%d jobs queued, want 1", n)
	}
	// The hook, had it run late, would have queued the same job: the queue still holds one.
	e.sc.OnReport(t.Context(), hotline.ReportEvent{CaseID: c.ID, CaseRef: c.Ref, URLs: []store.ReportURL{{Raw: e.site.URL + path, Canonical: cu.URL}}})
	if n := e.queued(t); n != 1 {
		t.Fatalf("%d jobs queued after the hook, want 1 (the catch-up's job is not the hook's)", n)
	}
	// A job that ended without a result (its last lease expired): a job exists, so the
	// catch-up leaves it to the analyst, who sees the case unscanned, instead of retrying it
	// at every run.
	js, err := e.st.LeaseScanJobs(t.Context(), store.ScanLease{Owner: "w", Now: time.Now()})
	if err != nil || len(js) != 1 {
		t.Fatalf("lease: %v %v", js, err)
	}
	if u, _ := url.Parse(e.site.URL); js[0].Host != u.Hostname() {
		t.Errorf("caught-up job's host %q, want %q (an address keys itself)", js[0].Host, u.Hostname())
	}
	if _, err := e.st.FailScanJob(t.Context(), js[0].ID, "w", nil, true, store.DefaultScanBackoff, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n, err := e.sc.CatchUp(t.Context()); err != nil || n != 0 || e.queued(t) != 0 {
		t.Fatalf("catch-up after a failed job: queued %d (%v), want 0", n, err)
	}
}

// Maintain prunes what is older than KeepJobs and keeps what a case shows.
func TestMaintainPrunes(t *testing.T) {
	e := newEnv(t, map[string]string{"/p": `<html><body>ok</body></html>`}, nil)
	e.sc.o.MaintainEvery = -1
	ctx := t.Context()
	c := e.report(t, "/p")
	e.drain(t)
	// A finished job no case shows, and an item seen by a source.
	t0 := time.Now()
	id, _, err := e.st.EnqueueScanJob(ctx, store.NewScanJob{Kind: store.ScanJobSourcePoll, Payload: []byte(`{"source":"bao"}`)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if js, err := e.st.LeaseScanJobs(ctx, store.ScanLease{Owner: "w", Now: t0}); err != nil || len(js) != 1 || js[0].ID != id {
		t.Fatalf("lease: %v %v", js, err)
	}
	if err := e.st.CompleteScanJob(ctx, id, "w", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.SourceSeenNew(ctx, "bao", []string{"https://bao.example.vn/1"}, t0); err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) { e.sc.o.Now = func() time.Time { return t0.Add(d) } }
	// Within KeepJobs (default 30 days): nothing goes.
	at(29 * 24 * time.Hour)
	if r, err := e.sc.Maintain(ctx); err != nil || r != (MaintainResult{}) {
		t.Fatalf("maintain within the retention: %+v %v", r, err)
	}
	at(31 * 24 * time.Hour)
	r, err := e.sc.Maintain(ctx)
	if err != nil || r != (MaintainResult{JobsPruned: 1, SeenPruned: 1}) {
		t.Fatalf("maintain past the retention: %+v %v", r, err)
	}
	if _, err := e.st.ScanJobByID(ctx, id); err == nil {
		t.Error("the finished poll job is still there")
	}
	if rs, err := e.st.CaseScanResults(ctx, c.ID); err != nil || len(rs) != 1 {
		t.Fatalf("case's scan results: %+v %v", rs, err)
	} else if _, err := e.st.ScanJobByID(ctx, rs[0].JobID); err != nil {
		t.Errorf("the job of the case's scan result was pruned: %v", err)
	}
}

// Jobs are keyed for the per-host limit by site: a site's names share the limit, two blogs
// on one platform do not.
func TestEnqueueKeysJobsBySite(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := t.Context()
	if err := e.sc.Enqueue(ctx, 1, []string{"https://www.example.vn/a", "https://cdn.example.vn/b", "https://alice.blogspot.com/c",
		"https://bob.blogspot.com/d"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sc.enqueue(ctx, store.ScanJobSourceItem, itemJob{Source: "s", URL: "https://m.example.vn/e"}, "https://m.example.vn/e"); err != nil {
		t.Fatal(err)
	}
	js, err := e.st.LeaseScanJobs(ctx, store.ScanLease{Owner: "w", Max: 10, PerHost: 1, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for _, j := range js {
		hosts = append(hosts, j.Host)
	}
	slices.Sort(hosts)
	if want := []string{"alice.blogspot.com", "bob.blogspot.com", "example.vn"}; !slices.Equal(hosts, want) {
		t.Errorf("leased with one job per host: %v, want %v", hosts, want)
	}
}
