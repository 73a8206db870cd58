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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/scanner/fetch"
	"github.com/kidshield/kidshield/scanner/pdq"
	"github.com/kidshield/kidshield/store"
)

// mutSite is a loopback site whose answers a test sets: pages (status, body), images,
// redirects.
type mutSite struct {
	mu       sync.Mutex
	pages    map[string]mutPage
	images   map[string][]byte
	imgCode  map[string]int
	redirect map[string]string
	hits     map[string]int
	srv      *httptest.Server
}

type mutPage struct {
	status int
	body   string
}

func (s *mutSite) page(path string, status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages[path] = mutPage{status, body}
}

func (s *mutSite) image(path string, status int, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.images[path], s.imgCode[path] = b, status
}

func (s *mutSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.Path]++
	p, isPage := s.pages[r.URL.Path]
	img, isImg := s.images[r.URL.Path]
	code := s.imgCode[r.URL.Path]
	to, isRedirect := s.redirect[r.URL.Path]
	s.mu.Unlock()
	switch {
	case isRedirect:
		http.Redirect(w, r, to, http.StatusFound)
	case isImg:
		w.Header().Set("Content-Type", "image/png")
		w.WriteHeader(code)
		w.Write(img)
	case isPage:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(p.status)
		fmt.Fprint(w, p.body)
	default:
		http.NotFound(w, r)
	}
}

// mutClock is the service's clock, moved by the tests.
type mutClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *mutClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *mutClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type mutEnv struct {
	st     *store.Store
	hl     *hotline.Service
	sc     *Service
	site   *mutSite
	clock  *mutClock
	client *fetch.Client
}

// newMutEnv is a real store, hotline and scanner whose client reaches a loopback mutSite;
// known are the known hashes; opts may change the client's options.
func newMutEnv(t *testing.T, fopts fetch.Options, known ...pdq.Hash) *mutEnv {
	t.Helper()
	ctx := t.Context()
	st := testStore(t)
	e := &mutEnv{st: st, clock: &mutClock{t: time.Now()}}
	e.hl = testHotline(t, st, func(ctx context.Context, r hotline.ReportEvent) { e.sc.OnReport(ctx, r) })
	e.site = &mutSite{pages: map[string]mutPage{}, images: map[string][]byte{}, imgCode: map[string]int{}, redirect: map[string]string{}, hits: map[string]int{}}
	e.site.srv = httptest.NewServer(e.site)
	t.Cleanup(e.site.srv.Close)
	u, _ := url.Parse(e.site.srv.URL)
	port, _ := strconv.Atoi(u.Port())
	fopts.Ports = append(fopts.Ports, 80, 443, port)
	fopts.HostInterval = -1
	client, err := fetch.NewAllowingLoopbackForTests(fopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	var k *Known
	if len(known) > 0 {
		k, err = LoadKnown(ctx, KnownSources{Files: []string{knownFile(t, known...)}, List: st.ActiveListEntries})
		if err != nil {
			t.Fatal(err)
		}
	}
	e.client = client
	e.sc, err = New(Options{Store: st, Cases: e.hl, Client: client, Known: k, RecheckEvery: -1, Now: e.clock.now,
		Backoff: store.ScanBackoff{Base: time.Second, Max: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *mutEnv) url(path string) string { return e.site.srv.URL + path }

func (e *mutEnv) hits(path string) int {
	e.site.mu.Lock()
	defer e.site.mu.Unlock()
	return e.site.hits[path]
}

func (e *mutEnv) report(t *testing.T, path string) *store.Case {
	t.Helper()
	return submitReport(t, e.hl, e.st, e.url(path))
}

func (e *mutEnv) drain(t *testing.T) {
	t.Helper()
	drainQueue(t, e.sc, 20)
}

func (e *mutEnv) caseTo(t *testing.T, id int64, states ...string) {
	t.Helper()
	for _, to := range states {
		cur, err := e.st.CaseByID(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.ChangeCase(t.Context(), id, store.CaseChange{Actor: "test", Version: cur.Version, To: to}); err != nil {
			t.Fatalf("case → %s: %v", to, err)
		}
	}
}

// sentNotice makes the case actionable and sends it a takedown notice naming urls.
func (e *mutEnv) sentNotice(t *testing.T, c *store.Case, ref string, urls ...string) int64 {
	t.Helper()
	ctx := t.Context()
	e.caseTo(t, c.ID, lifecycle.CaseTriaged, lifecycle.CaseInAssessment, lifecycle.CaseActionable)
	alice, err := e.st.CreateUser(ctx, store.User{Login: "alice", Name: "Alice", Roles: []string{"analyst"}, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := e.st.CreateUser(ctx, store.User{Login: "bob", Name: "Bob", Roles: []string{"supervisor"}, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	pid, err := e.st.CreatePartner(ctx, store.Partner{Name: "Host", Kind: "platform", Domains: []string{"host.example"}, DeadlineH: 24, Active: true}, "test")
	if err != nil {
		t.Fatal(err)
	}
	var items []store.NoticeItem
	for _, u := range urls {
		items = append(items, store.NoticeItem{URL: u})
	}
	now := time.Now()
	id, err := e.st.CreateNotice(ctx, store.NewNotice{Ref: ref, CaseID: c.ID, PartnerID: pid, Kind: "takedown", Language: "vi", Ground: "illegal_vn",
		Category: "VIO.BULLY", Detection: "report", Action: "remove", Scope: "global", TLP: "AMBER", DeadlineH: 24, Items: items, ActorID: alice,
		Actor: "alice", Time: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range []store.NoticeChange{
		{To: lifecycle.NoticeApproved, ActorID: bob, Actor: "bob", Time: now.Add(-50 * time.Minute)},
		{To: lifecycle.NoticeSent, ActorID: alice, Actor: "alice", Time: now.Add(-40 * time.Minute)},
	} {
		if _, err := e.st.ChangeNotice(ctx, id, ch); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func (e *mutEnv) recheck(t *testing.T) {
	t.Helper()
	if _, err := e.sc.EnqueueRechecks(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
}

func (e *mutEnv) notice(t *testing.T, id int64) *store.Notice {
	t.Helper()
	n, err := e.st.NoticeByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// mutImage is a smooth picture with a strong PDQ hash, different for each seed.
func mutImage(seed int) *image.Gray {
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

func mutPNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// mutStrongHash is the hash of img, which must be strong enough to match on.
func mutStrongHash(t *testing.T, img image.Image) pdq.Hash {
	t.Helper()
	h, q := pdq.HashImage(img)
	if q < pdq.MinQuality {
		t.Fatalf("test image quality %d", q)
	}
	return h
}

// mutFlip returns h with the first n bits inverted.
func mutFlip(h pdq.Hash, n int) pdq.Hash {
	for k := range n {
		h[k/8] ^= 1 << (k % 8)
	}
	return h
}

// What one re-check decides, from the page and its images alone.
func TestRecheckDecisionsMore(t *testing.T) {
	ctx := t.Context()
	img := mutImage(1)
	h := mutStrongHash(t, img)
	other := mutImage(5)
	if d := mutStrongHash(t, other).Distance(h); d <= 60 {
		t.Fatalf("test images too close: %d", d)
	}
	flat := image.NewGray(image.Rect(0, 0, 64, 64)) // all zero: quality 0
	flatHash, fq := pdq.HashImage(flat)
	if fq >= pdq.MinQuality {
		t.Fatalf("flat image quality %d", fq)
	}
	e := newMutEnv(t, fetch.Options{})
	s := e.site
	s.page("/gone410", 410, "gone")
	s.page("/moved", 302, "no location") // a redirect without Location is a final answer
	s.image("/img410.png", 410, nil)
	s.page("/p410", 200, `<html><body><img src="/img410.png"></body></html>`)
	s.image("/known.png", 200, mutPNG(t, img))
	s.page("/p31", 200, `<html><body><img src="/known.png"></body></html>`)
	s.image("/flat.png", 200, mutPNG(t, flat))
	s.page("/pflat", 200, `<html><body><img src="/flat.png"></body></html>`)
	pdqHashes := func(hs ...pdq.Hash) ItemHashes { return ItemHashes{PDQ: hs} }
	for _, tc := range []struct {
		name          string
		path          string
		hashes        ItemHashes
		gone, present bool
		reason        string
	}{
		{"page 410", "/gone410", ItemHashes{}, true, false, "http_410"},
		{"302 without Location", "/moved", ItemHashes{}, false, false, "http_302"},
		{"the known image answers 410", "/p410", pdqHashes(h), true, false, "hash_absent"},
		{"known image at distance 31", "/p31", pdqHashes(mutFlip(h, 31)), false, true, "hash_present"},
		{"known image at distance 32", "/p31", pdqHashes(mutFlip(h, 32)), true, false, "hash_absent"},
		{"a weak image's own hash", "/pflat", pdqHashes(flatHash), true, false, "hash_absent"},
	} {
		chk, err := e.sc.Recheck(ctx, e.url(tc.path), tc.hashes)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if chk.Gone != tc.gone || chk.Present != tc.present || chk.Reason != tc.reason {
			t.Errorf("%s: gone %v present %v reason %q; want %v %v %q", tc.name, chk.Gone, chk.Present, chk.Reason, tc.gone, tc.present, tc.reason)
		}
	}
	// A page cut at the byte cap may hold the known image in the part not read: not finding
	// it there proves nothing.
	small := newMutEnv(t, fetch.Options{MaxPageBytes: 2000})
	small.site.image("/other.png", 200, mutPNG(t, other))
	small.site.image("/known.png", 200, mutPNG(t, img))
	small.site.page("/long", 200, `<html><body><img src="/other.png"><p>`+strings.Repeat("chữ ", 1000)+`</p><img src="/known.png"></body></html>`)
	chk, err := small.sc.Recheck(ctx, small.url("/long"), pdqHashes(h))
	if err != nil {
		t.Fatal(err)
	}
	if !chk.Capture.Truncated || chk.Gone || chk.Reason != "images_partial" {
		t.Errorf("truncated page: truncated %v gone %v reason %q; want images_partial, not gone", chk.Capture.Truncated, chk.Gone, chk.Reason)
	}
}

// A notice is actioned only when every URL it names was found gone: one that no check could
// decide (503) holds it back.
func TestRecheckUndecidedItemHoldsRemoval(t *testing.T) {
	e := newMutEnv(t, fetch.Options{})
	e.site.page("/a", 200, "<html><body>a</body></html>")
	e.site.page("/b", 503, "busy")
	c := e.report(t, "/a")
	e.drain(t)
	id := e.sentNotice(t, c, "N-M1", e.url("/a"), e.url("/b"))
	e.site.page("/a", 404, "not found")
	e.recheck(t)
	if n := e.notice(t, id); n.State != lifecycle.NoticeSent {
		t.Fatalf("one URL gone, the other undecided: notice %s, want still sent", n.State)
	}
}

// A notice recorded as removed while its page is still there has not seen the content come
// back: present after present is no reappearance.
func TestRecheckPresentAfterPresentIsNotReappearance(t *testing.T) {
	e := newMutEnv(t, fetch.Options{})
	e.site.page("/a", 200, "<html><body>a</body></html>")
	c := e.report(t, "/a")
	e.drain(t)
	id := e.sentNotice(t, c, "N-M2", e.url("/a"))
	e.recheck(t) // present
	if _, err := e.st.ChangeNotice(t.Context(), id, store.NoticeChange{To: lifecycle.NoticeActioned, ActionTaken: "removed", Actor: "partner", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	e.recheck(t) // present again
	if n := e.notice(t, id); !n.Reappeared.IsZero() {
		t.Fatalf("notice marked reappeared at %v though the page was never gone", n.Reappeared)
	}
	if cs, _ := e.st.CaseByID(t.Context(), c.ID); cs.State == lifecycle.CaseReopened {
		t.Fatal("case reopened though the page was never gone")
	}
}

// GoneSince is the time of the first check that found the item gone, kept by later ones; a
// closed notice's content coming back still reopens the case.
func TestRecheckGoneSinceAndClosedNoticeReappearance(t *testing.T) {
	e := newMutEnv(t, fetch.Options{})
	e.site.page("/a", 200, "<html><body>a</body></html>")
	c := e.report(t, "/a")
	e.drain(t)
	id := e.sentNotice(t, c, "N-M3", e.url("/a"))
	e.site.page("/a", 404, "not found")
	first := e.clock.now()
	e.recheck(t)
	e.clock.advance(time.Hour)
	e.recheck(t)
	checks, err := e.st.NoticeItemChecks(t.Context(), id)
	if err != nil || len(checks) != 1 {
		t.Fatalf("checks %v %v", checks, err)
	}
	for _, k := range checks {
		if !k.Gone || k.GoneSince.Sub(first).Abs() > time.Millisecond || !k.Checked.After(first.Add(time.Minute)) {
			t.Fatalf("second gone check: gone %v since %v checked %v; want since the first check (%v)", k.Gone, k.GoneSince, k.Checked, first)
		}
	}
	for _, to := range []string{lifecycle.NoticeVerified, lifecycle.NoticeClosed} {
		if _, err := e.st.ChangeNotice(t.Context(), id, store.NoticeChange{To: to, Actor: "test", Time: time.Now()}); err != nil {
			t.Fatalf("notice → %s: %v", to, err)
		}
	}
	e.caseTo(t, c.ID, lifecycle.CaseResolved, lifecycle.CaseClosed)
	e.site.page("/a", 200, "<html><body>lại đây</body></html>")
	e.recheck(t)
	if n := e.notice(t, id); n.Reappeared.IsZero() || n.State != lifecycle.NoticeClosed {
		t.Fatalf("closed notice, content back: state %s reappeared %v", n.State, n.Reappeared)
	}
	if cs, _ := e.st.CaseByID(t.Context(), c.ID); cs.State != lifecycle.CaseReopened {
		t.Fatalf("case %s, want reopened", cs.State)
	}
}

// The scanner's own match counts for the notice item at the page the report's URL led to
// (its final URL after redirects), not only at the URL as reported.
func TestRecheckUsesMatchesAtTheFinalURL(t *testing.T) {
	img, other := mutImage(1), mutImage(5)
	h := mutStrongHash(t, img)
	e := newMutEnv(t, fetch.Options{}, h)
	e.site.mu.Lock()
	e.site.redirect["/short"] = "/p"
	e.site.mu.Unlock()
	e.site.image("/known.png", 200, mutPNG(t, img))
	e.site.image("/other.png", 200, mutPNG(t, other))
	e.site.page("/p", 200, `<html><body><img src="/known.png"></body></html>`)
	c := e.report(t, "/short")
	e.drain(t)
	rs, err := e.st.CaseScanResults(t.Context(), c.ID)
	if err != nil || len(rs) != 1 || len(rs[0].Matches) != 1 || rs[0].FinalURL != e.url("/p") {
		t.Fatalf("scan of the reported URL: %+v %v", rs, err)
	}
	id := e.sentNotice(t, c, "N-M4", e.url("/p"))
	e.site.page("/p", 200, `<html><body><img src="/other.png"></body></html>`)
	e.recheck(t)
	if n := e.notice(t, id); n.State != lifecycle.NoticeActioned {
		t.Fatalf("known image gone from the final page: notice %s, want actioned", n.State)
	}
}

// The raise is for open cases only: a strong match on a closed case's page leaves it as it is.
func TestNoRaiseOnClosedCase(t *testing.T) {
	img := mutImage(1)
	h := mutStrongHash(t, img)
	e := newMutEnv(t, fetch.Options{}, h)
	e.site.image("/known.png", 200, mutPNG(t, img))
	e.site.page("/plain", 200, "<html><body>a</body></html>")
	e.site.page("/p", 200, `<html><body><img src="/known.png"></body></html>`)
	c := e.report(t, "/plain")
	e.drain(t)
	e.caseTo(t, c.ID, lifecycle.CaseTriaged, lifecycle.CaseInAssessment, lifecycle.CaseActionable, lifecycle.CaseResolved, lifecycle.CaseClosed)
	before, _ := e.st.CaseByID(t.Context(), c.ID)
	if before.Priority <= RaiseTo {
		t.Fatalf("test case at P%d", before.Priority)
	}
	if err := e.sc.Enqueue(t.Context(), c.ID, []string{e.url("/p")}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	after, _ := e.st.CaseByID(t.Context(), c.ID)
	if after.Priority != before.Priority || after.State != lifecycle.CaseClosed {
		t.Fatalf("closed case after a match: P%d %s, was P%d", after.Priority, after.State, before.Priority)
	}
	rs, _ := e.st.CaseScanResults(t.Context(), c.ID)
	var found bool
	for _, r := range rs {
		if r.URL == e.url("/p") {
			found = true
			if len(r.Matches) != 1 || r.Raised {
				t.Errorf("result %+v: want the match, not raised", r)
			}
		}
	}
	if !found {
		t.Fatalf("no result for the closed case's scan: %+v", rs)
	}
}
