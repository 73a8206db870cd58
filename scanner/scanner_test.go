package scanner

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/scanner/fetch"
	"github.com/kidshield/kidshield/scanner/pdq"
	"github.com/kidshield/kidshield/seal"
	"github.com/kidshield/kidshield/store"
)

// testImage is a smooth picture with a strong PDQ hash (robust to rotation), different for
// each seed.
func testImage(seed int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, 256, 256))
	sd := float64(seed)
	for y := range 256 {
		for x := range 256 {
			v := 128 + 50*math.Sin(float64(x)/(13+sd)+sd) + 50*math.Cos(float64(y)/(19+2*sd)) + 20*math.Sin(float64(x+y)/(7+sd))
			img.SetGray(x, y, color.Gray{Y: uint8(max(0, min(255, v)))})
		}
	}
	return img
}

// farFrom fails the test unless other's hash is beyond the match distance of known's.
func farFrom(t *testing.T, known pdq.Hash, other image.Image) {
	t.Helper()
	hs, _ := pdq.HashDihedral(other)
	for _, h := range hs {
		if d := h.Distance(known); d <= pdq.MatchDistance {
			t.Fatalf("test images too close: %d", d)
		}
	}
}

func pngBytes(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type env struct {
	st   *store.Store
	hl   *hotline.Service
	sc   *Service
	site *httptest.Server
	list string
}

// newEnv builds a real store, hotline and scanner whose client may reach the loopback test
// site, with known holding the PDQ hash of the site's /known.png.
func newEnv(t *testing.T, pages map[string]string, images map[string][]byte, known ...pdq.Hash) *env {
	t.Helper()
	ctx := t.Context()
	st := testStore(t)
	e := &env{st: st}
	e.hl = testHotline(t, st, func(ctx context.Context, r hotline.ReportEvent) { e.sc.OnReport(ctx, r) })
	e.site = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, ok := images[r.URL.Path]; ok {
			w.Header().Set("Content-Type", "image/png")
			w.Write(b)
			return
		}
		if p, ok := pages[r.URL.Path]; ok {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, p)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(e.site.Close)
	u, _ := url.Parse(e.site.URL)
	port, _ := strconv.Atoi(u.Port())
	client, err := fetch.NewAllowingLoopbackForTests(fetch.Options{Ports: []int{80, 443, port}, HostInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	e.list = knownFile(t, known...)
	k, err := LoadKnown(ctx, KnownSources{Files: []string{e.list}, List: st.ActiveListEntries})
	if err != nil {
		t.Fatal(err)
	}
	if k.Len() != len(known) {
		t.Fatalf("known hashes: %d, want %d", k.Len(), len(known))
	}
	e.sc, err = New(Options{Store: st, Cases: e.hl, Client: client, Known: k, Backoff: store.ScanBackoff{Base: time.Second, Max: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) report(t *testing.T, path string) *store.Case {
	t.Helper()
	return submitReport(t, e.hl, e.st, e.site.URL+path)
}

func (e *env) drain(t *testing.T) {
	t.Helper()
	drainQueue(t, e.sc, 10)
}

// testStore is a fresh SQLite store, closed at the end of the test.
func testStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// testHotline is a hotline on st with a fresh data key; onReport (nil: none) is its hook for
// new reports, as the scanner's OnReport is in serve.
func testHotline(t *testing.T, st *store.Store, onReport func(context.Context, hotline.ReportEvent)) *hotline.Service {
	t.Helper()
	spec, err := seal.Generate()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := seal.ParseKeys([]string{spec})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	return hotline.New(hotline.Options{Store: st, Sealer: keys, ClientKey: []byte("0123456789abcdef0123456789abcdef"),
		Config: func() *config.Hotline { return &cfg.Hotline }, OnReport: onReport})
}

// knownFile writes a hash list of known in the format scanner.hash_lists reads.
func knownFile(t *testing.T, known ...pdq.Hash) string {
	t.Helper()
	var lines strings.Builder
	lines.WriteString("# known hashes for the test\n")
	for _, h := range known {
		fmt.Fprintf(&lines, "pdq %s\n", h)
	}
	p := filepath.Join(t.TempDir(), "known.pdq")
	if err := os.WriteFile(p, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// submitReport files a public bullying report of rawURL through hl and returns its case.
func submitReport(t *testing.T, hl *hotline.Service, st *store.Store, rawURL string) *store.Case {
	t.Helper()
	rc, err := hl.Submit(t.Context(), hotline.Submission{Channel: "web", Language: "vi", Harm: "VIO.BULLY", URLs: []string{rawURL},
		Description: "xem trang này"}, hotline.Actor{Label: "anonymous"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.ReportByRef(t.Context(), rc.Ref)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.CaseByID(t.Context(), r.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// drainQueue runs sc's jobs until none is left, at most rounds times.
func drainQueue(t *testing.T, sc *Service, rounds int) {
	t.Helper()
	for range rounds {
		n, err := sc.RunOnce(t.Context(), "test")
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("the queue did not drain")
}

func TestScanKnownHashRaisesPriority(t *testing.T) {
	img := testImage(1)
	h, q := pdq.HashImage(img)
	if q < pdq.MinQuality {
		t.Fatalf("test image quality %d", q)
	}
	farFrom(t, h, testImage(3))
	page := `<html><head><title>Trang thử</title></head><body><p>Xin chào</p><img src="/known.png"><img src="/other.png"></body></html>`
	e := newEnv(t, map[string]string{"/page": page}, map[string][]byte{"/known.png": pngBytes(t, img), "/other.png": pngBytes(t, testImage(3))}, h)
	c := e.report(t, "/page")
	if c.Priority <= RaiseTo {
		t.Fatalf("test case starts at P%d: pick a less urgent harm", c.Priority)
	}
	e.drain(t)

	rs, err := e.st.CaseScanResults(t.Context(), c.ID)
	if err != nil || len(rs) != 1 {
		t.Fatalf("results %+v %v", rs, err)
	}
	r := rs[0]
	if r.Error != "" || r.HTTPStatus != 200 || !strings.HasPrefix(r.RemoteAddr, "127.0.0.1:") || len(r.SHA256) != 64 || r.ImagesHashed != 2 || !r.Raised {
		t.Fatalf("result %+v", r)
	}
	if len(r.Matches) != 1 || r.Matches[0].Distance != 0 || r.Matches[0].Known != h.String() || !strings.HasSuffix(r.Matches[0].ImageURL, "/known.png") ||
		!strings.HasPrefix(r.Matches[0].Source, "file:"+e.list+":") {
		t.Fatalf("matches %+v", r.Matches)
	}
	after, err := e.st.CaseByID(t.Context(), c.ID)
	if err != nil || after.Priority != RaiseTo || after.Harm != c.Harm {
		t.Fatalf("case after the scan: %+v %v", after, err)
	}
	ev, err := e.st.CaseEvidence(t.Context(), c.ID)
	if err != nil || len(ev) != 2 || ev[0].Source != "scanner" || ev[0].SHA256 != r.SHA256 || ev[1].PDQ != h.String() {
		t.Fatalf("evidence %+v %v", ev, err)
	}
	// The evidence's URL is canonical (https), but what was fetched, over http, is recorded
	// exactly: the page's URL in its note, the image's where it was fetched from.
	if !strings.Contains(ev[0].Note, "automatic fetch of http://127.0.0.1:") || !strings.HasPrefix(ev[0].FinalURL, "http://127.0.0.1:") ||
		!strings.HasPrefix(ev[1].FinalURL, "http://127.0.0.1:") || !strings.HasSuffix(ev[1].FinalURL, "/known.png") {
		t.Fatalf("evidence does not record what was fetched: page %q → %q (%s); image %q → %q", ev[0].URL, ev[0].FinalURL, ev[0].Note, ev[1].URL, ev[1].FinalURL)
	}
	events, err := e.st.CaseEvents(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events {
		found = found || e.Kind == "scanner" && strings.Contains(e.Detail, "known-hash match at distance 0")
	}
	if !found {
		t.Fatalf("no scanner event in %+v", events)
	}
	recs, err := e.st.AuditList(t.Context(), store.AuditFilter{Actor: "scanner", Action: "scanner.raise", Limit: 10})
	if err != nil || len(recs) != 1 || !strings.Contains(fmt.Sprint(recs[0]), "known-hash match") {
		t.Fatalf("audit %+v %v", recs, err)
	}
}

// A rotated copy of a known picture is found through the dihedral probe.
func TestScanRotatedMatch(t *testing.T) {
	img := testImage(3)
	h, _ := pdq.HashImage(img)
	rot := image.NewGray(img.Bounds())
	for y := range 256 {
		for x := range 256 {
			rot.SetGray(255-y, x, img.GrayAt(x, y))
		}
	}
	page := `<html><body><img src="/rot.png"></body></html>`
	e := newEnv(t, map[string]string{"/p": page}, map[string][]byte{"/rot.png": pngBytes(t, rot)}, h)
	o, err := e.sc.Scan(t.Context(), e.site.URL+"/p")
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Matches) != 1 || o.Matches[0].Transform == "orig" || o.Matches[0].Distance > pdq.MatchDistance {
		t.Fatalf("matches %+v", o.Matches)
	}
}

// A clean page with unknown images leaves the priority alone; a strong signal never lowers
// a P0.
func TestScanNoRaise(t *testing.T) {
	known, _ := pdq.HashImage(testImage(1))
	farFrom(t, known, testImage(9))
	e := newEnv(t, map[string]string{"/clean": `<html><title>Tin tức</title><body>Thời tiết hôm nay đẹp.<img src="/x.png"></body></html>`},
		map[string][]byte{"/x.png": pngBytes(t, testImage(9)), "/known.png": pngBytes(t, testImage(1))}, known)
	c := e.report(t, "/clean")
	e.drain(t)
	after, err := e.st.CaseByID(t.Context(), c.ID)
	if err != nil || after.Priority != c.Priority {
		t.Fatalf("clean page changed the priority: P%d → P%d (%v)", c.Priority, after.Priority, err)
	}
	rs, _ := e.st.CaseScanResults(t.Context(), c.ID)
	if len(rs) != 1 || rs[0].Raised || len(rs[0].Matches) != 0 || rs[0].Suggestion.Top != "clean" {
		t.Fatalf("result %+v", rs)
	}
	// raise on a P0 case: nothing changes.
	rc, err := e.hl.Submit(t.Context(), hotline.Submission{Channel: "web", Language: "vi", Harm: "VIO.BULLY", DangerNow: true,
		URLs: []string{e.site.URL + "/known.png"}}, hotline.Actor{Label: "anonymous"})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := e.st.ReportByRef(t.Context(), rc.Ref)
	p0, _ := e.st.CaseByID(t.Context(), r.CaseID)
	if p0.Priority != 0 {
		t.Fatalf("danger-now case at P%d", p0.Priority)
	}
	e.drain(t)
	p0after, _ := e.st.CaseByID(t.Context(), r.CaseID)
	rs, _ = e.st.CaseScanResults(t.Context(), r.CaseID)
	if p0after.Priority != 0 || len(rs) != 1 || len(rs[0].Matches) != 1 || rs[0].Raised {
		t.Fatalf("P0 case after a match: P%d, results %+v", p0after.Priority, rs)
	}
}

// Strong text raises; weak text does not.
func TestStrongText(t *testing.T) {
	e := newEnv(t, nil, nil)
	for _, tc := range []struct {
		top   string
		score float64
		want  bool
	}{{"sexual", 0.95, true}, {"grooming", 0.8, true}, {"self_harm", 0.9, true}, {"sexual", 0.5, false}, {"gambling", 0.99, false}, {"clean", 0, false}} {
		o := &Outcome{}
		o.Suggestion.Top, o.Suggestion.Scores = tc.top, map[string]float64{tc.top: tc.score}
		if _, got := e.sc.Strong(o); got != tc.want {
			t.Errorf("%s %.2f: strong %v, want %v", tc.top, tc.score, got, tc.want)
		}
	}
	if _, ok := e.sc.Strong(&Outcome{Matches: []store.ScanMatch{{Distance: 32}}}); ok {
		t.Error("a match beyond 31 is strong")
	}
}

// The production guard's refusal is a permanent failure, recorded on the case for the analyst.
func TestScanRefusedDestination(t *testing.T) {
	e := newEnv(t, nil, nil)
	c := e.report(t, "/x") // reachable host, but we queue a refused one directly
	if err := e.sc.Enqueue(t.Context(), c.ID, []string{"http://169.254.169.254/latest/meta-data/"}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	rs, err := e.st.CaseScanResults(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var refused *store.ScanResult
	for i := range rs {
		if strings.Contains(rs[i].URL, "169.254") {
			refused = &rs[i]
		}
	}
	if refused == nil || !strings.Contains(refused.Error, "refused") {
		t.Fatalf("results %+v", rs)
	}
	counts, _ := e.st.ScanQueueCounts(t.Context())
	if counts[store.ScanFailed] != 1 || counts[store.ScanQueued] != 0 {
		t.Fatalf("queue %v: the refused job should fail at once", counts)
	}
}

func TestLoadKnownFromList(t *testing.T) {
	e := newEnv(t, nil, nil)
	h, _ := pdq.HashImage(testImage(4))
	ctx := t.Context()
	if _, err := e.st.ProposeListEntry(ctx, store.ListProposal{Kind: store.ListHash, Value: "pdq:" + h.String(), Category: "csam", Actor: "test"}); err != nil {
		t.Skipf("cannot propose a list entry here: %v", err)
	}
	es, err := e.st.ListEntries(ctx, store.ListFilter{})
	if err != nil || len(es) != 1 {
		t.Fatalf("entries %v %v", es, err)
	}
	all := func(ctx context.Context) ([]*store.ListEntry, error) {
		return e.st.ListEntries(ctx, store.ListFilter{})
	}
	k, err := LoadKnown(ctx, KnownSources{List: all})
	if err != nil || k.Len() != 1 || k.List != 1 || k.Source(1) != fmt.Sprintf("list:%d", es[0].ID) {
		t.Fatalf("known %+v %v", k, err)
	}
	// A bad file refuses the whole load.
	bad := filepath.Join(t.TempDir(), "bad.pdq")
	os.WriteFile(bad, []byte("pdq zz\n"), 0o600)
	if _, err := LoadKnown(ctx, KnownSources{Files: []string{bad}}); err == nil {
		t.Fatal("a bad hash list was loaded")
	}
}

// Run's workers pick up a report's URL as soon as the hotline's hook queues it, and stop
// when the context ends.
func TestRunPicksUpReports(t *testing.T) {
	img := testImage(1)
	h, _ := pdq.HashImage(img)
	e := newEnv(t, map[string]string{"/p": `<html><body><img src="/k.png"></body></html>`}, map[string][]byte{"/k.png": pngBytes(t, img)}, h)
	e.sc.o.Poll = time.Hour // only the hook's wake-up can start the job promptly
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { e.sc.Run(ctx); close(done) }()
	c := e.report(t, "/p")
	deadline := time.Now().Add(30 * time.Second)
	for {
		rs, err := e.st.CaseScanResults(t.Context(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 1 {
			if !rs[0].Raised || len(rs[0].Matches) != 1 {
				t.Fatalf("result %+v", rs[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no scan result: the workers did not pick the job up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}
