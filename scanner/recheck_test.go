package scanner

import (
	"fmt"
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

// site is a loopback test site whose answers the test changes between re-checks.
type site struct {
	mu     sync.Mutex
	status map[string]int
	pages  map[string]string
	images map[string][]byte
	srv    *httptest.Server
}

func (s *site) set(path string, status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status[path], s.pages[path] = status, body
}

func (s *site) setImage(path string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.images[path] = b
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	st, page := s.status[r.URL.Path], s.pages[r.URL.Path]
	img, isImg := s.images[r.URL.Path]
	s.mu.Unlock()
	switch {
	case isImg:
		w.Header().Set("Content-Type", "image/png")
		w.Write(img)
	case st != 0:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(st)
		fmt.Fprint(w, page)
	default:
		http.NotFound(w, r)
	}
}

func newSiteServer(t *testing.T, s *site) *httptest.Server {
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

// recheckEnv is newEnv with a changeable site and removal markers for its host.
func recheckEnv(t *testing.T, markers []RemovalMarker) (*env, *site) {
	t.Helper()
	e := newEnv(t, nil, nil)
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
	e.sc, err = New(Options{Store: e.st, Cases: e.hl, Client: client, Known: e.sc.known.Load(), RemovalMarkers: markers, RecheckEvery: -1,
		Backoff: store.ScanBackoff{Base: time.Second, Max: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	return e, s
}

// sentNotice makes a case of the site's paths, actionable, with a takedown notice naming them
// (items with the given hashes), approved by a second person and sent.
func (e *env) sentNotice(t *testing.T, hashes string, paths ...string) (*store.Case, int64) {
	t.Helper()
	ctx := t.Context()
	c := e.report(t, paths[0])
	e.drain(t) // the report's own scan
	for _, to := range []string{lifecycle.CaseTriaged, lifecycle.CaseInAssessment, lifecycle.CaseActionable} {
		cur, err := e.st.CaseByID(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.ChangeCase(ctx, c.ID, store.CaseChange{Actor: "test", Version: cur.Version, To: to}); err != nil {
			t.Fatalf("case → %s: %v", to, err)
		}
	}
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
	// The reported URL is named in its canonical form (https, which the test site does not
	// speak): the re-check must fetch the form the reporter gave.
	us, err := e.st.CaseURLs(ctx, c.ID)
	if err != nil || len(us) != 1 || !strings.HasPrefix(us[0].Canonical, "https://") {
		t.Fatalf("case URLs %+v %v", us, err)
	}
	items := []store.NoticeItem{{URL: us[0].Canonical, Hashes: hashes}}
	for _, p := range paths[1:] {
		items = append(items, store.NoticeItem{URL: e.site.URL + p, Hashes: hashes})
	}
	now := time.Now()
	id, err := e.st.CreateNotice(ctx, store.NewNotice{Ref: "N-T1", CaseID: c.ID, PartnerID: pid, Kind: "takedown", Language: "vi", Ground: "illegal_vn",
		Category: "VIO.BULLY", Detection: "report", Action: "remove", Scope: "global", TLP: "AMBER", DeadlineH: 24, Items: items, ActorID: alice,
		Actor: "alice", Time: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.ChangeNotice(ctx, id, store.NoticeChange{To: lifecycle.NoticeApproved, ActorID: bob, Actor: "bob", Time: now.Add(-50 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.ChangeNotice(ctx, id, store.NoticeChange{To: lifecycle.NoticeSent, ActorID: alice, Actor: "alice", Time: now.Add(-40 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	return c, id
}

// recheck queues the re-checks and runs them; it returns how many were queued.
func (e *env) recheck(t *testing.T) int {
	t.Helper()
	n, err := e.sc.EnqueueRechecks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	return n
}

func (e *env) notice(t *testing.T, id int64) *store.Notice {
	t.Helper()
	n, err := e.st.NoticeByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A page that answers 404 closes the loop on its notice: the removal is recorded (actioned,
// "removed", by the scanner, with the time), with the capture as evidence. A page present
// changes nothing; a 503 proves nothing. Content back after the case was closed reopens it.
func TestRecheckRemovalAndReappearance(t *testing.T) {
	e, s := recheckEnv(t, nil)
	ctx := t.Context()
	s.set("/bai", 200, "<html><title>Bài</title><body>nội dung</body></html>")
	c, id := e.sentNotice(t, "", "/bai")

	if n := e.recheck(t); n != 1 {
		t.Fatalf("%d re-checks queued, want 1", n)
	}
	if n := e.notice(t, id); n.State != lifecycle.NoticeSent {
		t.Fatalf("present page: notice %s", n.State)
	}
	checks, err := e.st.NoticeItemChecks(ctx, id)
	if err != nil || len(checks) != 1 {
		t.Fatalf("checks %v %v", checks, err)
	}
	for _, k := range checks {
		if k.Gone || k.Reason != "page_present" || k.HTTPStatus != 200 {
			t.Fatalf("check of a present page: %+v", k)
		}
	}

	s.set("/bai", 503, "busy")
	e.recheck(t)
	if n := e.notice(t, id); n.State != lifecycle.NoticeSent {
		t.Fatalf("503: notice %s", n.State)
	}

	s.set("/bai", 404, "not found")
	before := time.Now()
	e.recheck(t)
	n := e.notice(t, id)
	if n.State != lifecycle.NoticeActioned || n.ActionTaken != "removed" || n.Actioned.Before(before.Add(-time.Second)) || n.TimeToRemoval() <= 0 {
		t.Fatalf("after a 404: %s %q actioned %v (checked from %v), time to removal %v", n.State, n.ActionTaken, n.Actioned, before, n.TimeToRemoval())
	}
	h, err := e.st.NoticeHistory(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var byScanner, capture bool
	for _, x := range h {
		byScanner = byScanner || x.Action == "notice.actioned" && x.Actor == "scanner"
		capture = capture || x.Action == "notice.scanner_removal" && strings.Contains(x.Detail, `"status":404`) && strings.Contains(x.Detail, `"sha256":"`)
	}
	if !byScanner || !capture {
		t.Fatalf("history lacks the scanner's removal (%v) or its capture (%v): %+v", byScanner, capture, h)
	}
	ev, err := e.st.CaseEvidence(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ev404 bool
	for _, x := range ev {
		// The URL as fetched: the test site serves http, whose canonical form says https.
		ev404 = ev404 || x.Source == "scanner" && x.HTTPStatus == 404 && len(x.SHA256) == 64 && strings.Contains(x.Note, "N-T1") &&
			strings.HasPrefix(x.URL, "http://")
	}
	if !ev404 {
		t.Fatalf("no evidence of the 404: %+v", ev)
	}
	// Still gone: nothing more happens.
	e.recheck(t)
	if n2 := e.notice(t, id); !n2.Actioned.Equal(n.Actioned) || !n2.Reappeared.IsZero() {
		t.Fatalf("second gone check changed the notice: %+v", n2)
	}

	// The analyst closes the case; the content comes back: the case reopens, the notice says so.
	for _, to := range []string{lifecycle.CaseResolved, lifecycle.CaseClosed} {
		cur, _ := e.st.CaseByID(ctx, c.ID)
		if _, err := e.st.ChangeCase(ctx, c.ID, store.CaseChange{Actor: "test", Version: cur.Version, To: to}); err != nil {
			t.Fatalf("case → %s: %v", to, err)
		}
	}
	s.set("/bai", 200, "<html><body>lại xuất hiện</body></html>")
	e.recheck(t)
	cs, err := e.st.CaseByID(ctx, c.ID)
	if err != nil || cs.State != lifecycle.CaseReopened {
		t.Fatalf("case after the content came back: %s %v", cs.State, err)
	}
	if n := e.notice(t, id); n.Reappeared.IsZero() || n.State != lifecycle.NoticeActioned {
		t.Fatalf("notice after the content came back: %s reappeared %v", n.State, n.Reappeared)
	}
	// The history says it in the short form the case page translates, the reopening and the
	// scanner's entry alike; the entry's note keeps the full sentence, with the URL, as the record.
	v, err := e.hl.CaseView(ctx, hotline.Actor{Label: "test"}, c.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	detail := ReappearedDetail("N-T1", "page_present", "http_404")
	var reopened, entry bool
	for _, ev := range v.Events {
		reopened = reopened || ev.To == lifecycle.CaseReopened && ev.Detail == detail
		entry = entry || ev.Kind == "scanner" && ev.Detail == detail && strings.Contains(ev.Note, "content of notice N-T1 is back at "+n.Items[0].URL) &&
			strings.Contains(ev.Note, "it was gone: http_404 since ")
	}
	if !reopened || !entry {
		t.Fatalf("reopening with %q (%v), scanner entry with it and the sentence as note (%v): %+v", detail, reopened, entry, v.Events)
	}
}

// The known image gone from a page that still answers 200 is a removal; the notice is actioned
// only when every URL it names is gone.
func TestRecheckHashAbsentAllItems(t *testing.T) {
	e, s := recheckEnv(t, nil)
	img, other := testImage(1), testImage(5)
	known, _ := pdq.HashImage(img)
	farFrom(t, known, other)
	s.setImage("/a.png", pngBytes(t, img))
	s.setImage("/b.png", pngBytes(t, other))
	s.set("/p1", 200, `<html><body><img src="/a.png"></body></html>`)
	s.set("/p2", 200, `<html><body>trang hai</body></html>`)
	_, id := e.sentNotice(t, "pdq:"+known.String(), "/p1", "/p2")

	if e.recheck(t) != 2 {
		t.Fatal("two items, two re-checks")
	}
	checks, _ := e.st.NoticeItemChecks(t.Context(), id)
	reasons := map[string]bool{}
	for _, k := range checks {
		reasons[k.Reason] = k.Gone
	}
	// p2 has no image at all: the known one is absent there.
	if g, ok := reasons["hash_present"]; !ok || g {
		t.Fatalf("checks %+v: want p1 hash_present", reasons)
	}
	if g := reasons["hash_absent"]; !g {
		t.Fatalf("checks %+v: want p2 hash_absent", reasons)
	}
	if n := e.notice(t, id); n.State != lifecycle.NoticeSent {
		t.Fatalf("one of two URLs gone: notice %s", n.State)
	}
	// Another image in place of the known one.
	s.set("/p1", 200, `<html><body><img src="/b.png"></body></html>`)
	e.recheck(t)
	if n := e.notice(t, id); n.State != lifecycle.NoticeActioned {
		t.Fatalf("both gone: notice %s", n.State)
	}
}

// An image that cannot be fetched (503) proves nothing; one that answers 404 is gone.
func TestRecheckUnfetchedImage(t *testing.T) {
	e, s := recheckEnv(t, nil)
	known, _ := pdq.HashImage(testImage(1))
	s.set("/p", 200, `<html><body><img src="/busy.png"></body></html>`)
	s.set("/busy.png", 503, "busy")
	_, id := e.sentNotice(t, "pdq:"+known.String(), "/p")
	e.recheck(t)
	if n := e.notice(t, id); n.State != lifecycle.NoticeSent {
		t.Fatalf("notice %s", n.State)
	}
	if checks, _ := e.st.NoticeItemChecks(t.Context(), id); len(checks) != 0 {
		t.Fatalf("an inconclusive check was recorded: %+v", checks)
	}
	s.set("/busy.png", 404, "gone")
	e.recheck(t)
	if n := e.notice(t, id); n.State != lifecycle.NoticeActioned {
		t.Fatalf("the only image answers 404: notice %s", n.State)
	}
}

// A platform's removal marker on its host is a removal.
func TestRecheckMarker(t *testing.T) {
	e, s := recheckEnv(t, []RemovalMarker{{Platform: "test", Hosts: []string{"127.0.0.1"}, Texts: []string{"This content isn't available"}}})
	s.set("/v", 200, "<html><body>Video</body></html>")
	_, id := e.sentNotice(t, "", "/v")
	e.recheck(t)
	if n := e.notice(t, id); n.State != lifecycle.NoticeSent {
		t.Fatalf("notice %s", n.State)
	}
	s.set("/v", 200, "<html><body><h1>This content isn\u2019t  available right now</h1></body></html>")
	e.recheck(t)
	if n := e.notice(t, id); n.State != lifecycle.NoticeActioned {
		t.Fatalf("marker: notice %s", n.State)
	}
	checks, _ := e.st.NoticeItemChecks(t.Context(), id)
	for _, k := range checks {
		if k.Reason != "marker:test" {
			t.Fatalf("check %+v", k)
		}
	}
}

func TestMatchRemovalMarker(t *testing.T) {
	for _, tc := range []struct {
		host, text, want string
	}{
		{"www.tiktok.com", "Video hiện không khả dụng", "tiktok"},
		{"m.facebook.com", "THIS CONTENT ISN’T AVAILABLE RIGHT NOW", "facebook"},
		{"youtube.com.", "Video   unavailable\nThis video has been removed", "youtube"},
		{"evil-tiktok.com", "Video hiện không khả dụng", ""}, // not a subdomain
		{"news.example.vn", "Video unavailable", ""},         // a quote elsewhere
		{"www.youtube.com", "Một video hay", ""},
		{"facebook.com", "", ""},
	} {
		if got := MatchRemovalMarker(DefaultRemovalMarkers, tc.host, tc.text); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.host, tc.text, got, tc.want)
		}
	}
}

func TestParseItemHashes(t *testing.T) {
	known, _ := pdq.HashImage(testImage(1))
	sum := strings.Repeat("ab", 32)
	h := ParseItemHashes("sha256:" + strings.ToUpper(sum) + ", pdq:" + known.String() + ",sha256:00,pdq:zz,md5:1,junk")
	if len(h.SHA256) != 1 || h.SHA256[0] != sum || len(h.PDQ) != 1 || h.PDQ[0] != known {
		t.Fatalf("%+v", h)
	}
}

func FuzzParseItemHashes(f *testing.F) {
	f.Add("sha256:" + strings.Repeat("0", 64) + ",pdq:" + strings.Repeat("f", 64))
	f.Add(",,:,pdq:,sha256:")
	f.Fuzz(func(t *testing.T, s string) {
		h := ParseItemHashes(s)
		for _, x := range h.SHA256 {
			if len(x) != 64 {
				t.Fatalf("sha256 %q", x)
			}
		}
	})
}

func FuzzMatchRemovalMarker(f *testing.F) {
	f.Add("www.tiktok.com", "Video hiện không khả dụng")
	f.Add("facebook.com.", "\u2019\u00a0 x")
	f.Fuzz(func(t *testing.T, host, text string) {
		p := MatchRemovalMarker(DefaultRemovalMarkers, host, text)
		if p != "" && MatchRemovalMarker(DefaultRemovalMarkers, "example.invalid", text) != "" {
			t.Fatal("a marker counted off its platform's hosts")
		}
	})
}
