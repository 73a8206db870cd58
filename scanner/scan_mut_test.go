package scanner

import (
	"errors"
	"image"
	"testing"

	"github.com/kidshield/kidshield/scanner/fetch"
	"github.com/kidshield/kidshield/scanner/pdq"
	"github.com/kidshield/kidshield/store"
)

// An image whose hash is too weak (quality under 50) is not matched, even against its own
// hash, and is not counted as hashed.
func TestScanSkipsWeakImages(t *testing.T) {
	flat := image.NewGray(image.Rect(0, 0, 64, 64))
	h, q := pdq.HashImage(flat)
	if q >= pdq.MinQuality {
		t.Fatalf("flat image quality %d", q)
	}
	e := newMutEnv(t, fetch.Options{}, h)
	e.site.image("/flat.png", 200, mutPNG(t, flat))
	e.site.page("/p", 200, `<html><body><img src="/flat.png"></body></html>`)
	o, err := e.sc.Scan(t.Context(), e.url("/p"))
	if err != nil {
		t.Fatal(err)
	}
	if e.hits("/flat.png") != 1 || o.ImagesHashed != 0 || len(o.Matches) != 0 {
		t.Fatalf("weak image fetched %d times: hashed %d, matches %+v; want fetched, not hashed, no match", e.hits("/flat.png"), o.ImagesHashed, o.Matches)
	}
}

// A case already at P1 is not raised again: one raise, one audit record.
func TestNoSecondRaise(t *testing.T) {
	img := mutImage(1)
	h := mutStrongHash(t, img)
	e := newMutEnv(t, fetch.Options{}, h)
	e.site.image("/known.png", 200, mutPNG(t, img))
	e.site.page("/p", 200, `<html><body><img src="/known.png"></body></html>`)
	c := e.report(t, "/p")
	e.drain(t)
	if cs, _ := e.st.CaseByID(t.Context(), c.ID); cs.Priority != RaiseTo {
		t.Fatalf("first scan: P%d, want P%d", cs.Priority, RaiseTo)
	}
	if err := e.sc.Enqueue(t.Context(), c.ID, []string{e.url("/p")}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	rs, err := e.st.CaseScanResults(t.Context(), c.ID)
	if err != nil || len(rs) != 2 {
		t.Fatalf("results %+v %v", rs, err)
	}
	raised := 0
	for _, r := range rs {
		if r.Raised {
			raised++
		}
	}
	recs, err := e.st.AuditList(t.Context(), store.AuditFilter{Actor: "scanner", Action: "scanner.raise", Limit: 10})
	if err != nil || raised != 1 || len(recs) != 1 {
		t.Fatalf("two scans of a matching page: %d results raised, %d scanner.raise records (%v); want 1 and 1", raised, len(recs), err)
	}
}

// A reported URL the client cannot use (ErrBadURL) fails at once, like a refused one: a
// retry would fail the same way.
func TestBadURLFailsAtOnce(t *testing.T) {
	e := newMutEnv(t, fetch.Options{})
	e.site.page("/x", 200, "<html><body>x</body></html>")
	c := e.report(t, "/x")
	e.drain(t)
	const bad = "http://bad..host.example/"
	if _, err := fetch.NormalizeURL(bad); !errors.Is(err, fetch.ErrBadURL) || errors.Is(err, fetch.ErrBlocked) {
		t.Fatalf("%s: %v, want ErrBadURL and not ErrBlocked", bad, err)
	}
	if err := e.sc.Enqueue(t.Context(), c.ID, []string{bad}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	counts, err := e.st.ScanQueueCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if counts[store.ScanFailed] != 1 || counts[store.ScanQueued] != 0 {
		t.Fatalf("queue %v: the unusable URL should fail at once", counts)
	}
}
