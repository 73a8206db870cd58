package e2e

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
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kidshield/kidshield/scanner/pdq"
	"github.com/kidshield/kidshield/store"
)

// TestScannerKnownHash (issue 5, must-show 3, first part): a report whose URL points to a page
// with a known-hash image gets, through the real binary, a scan result with the match, the
// case's priority raised to P1 and an evidence record, and the analyst's case page shows it.
//
// The test site listens on loopback, which the scanner's guard refuses in production; the
// instance is configured with scanner.allow_loopback_for_tests, the documented unsafe key,
// which opens 127.0.0.0/8 and ::1 only and is logged as a warning at start.
func TestScannerKnownHash(t *testing.T) {
	t.Parallel()
	img := e2eScanImage()
	known, quality := pdq.HashImage(img)
	if quality < pdq.MinQuality {
		t.Fatalf("test image quality %d < %d", quality, pdq.MinQuality)
	}
	var png1 bytes.Buffer
	if err := png.Encode(&png1, img); err != nil {
		t.Fatal(err)
	}
	var pageHits, imageHits atomic.Int32
	var ua atomic.Value
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bai-viet":
			pageHits.Add(1)
			ua.Store(r.UserAgent())
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<!doctype html><html><head><title>Ảnh chia sẻ</title></head><body><p>Xem ảnh này</p><img src="/anh/1.png" alt=""></body></html>`)
		case "/anh/1.png":
			imageHits.Add(1)
			w.Header().Set("Content-Type", "image/png")
			w.Write(png1.Bytes())
		default:
			http.NotFound(w, r)
		}
	}))
	defer site.Close()
	su, _ := url.Parse(site.URL)

	dir := t.TempDir()
	list := filepath.Join(dir, "known.pdq")
	if err := os.WriteFile(list, []byte("# e2e known hashes\npdq "+known.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := start(t, options{Body: hotlineBody + fmt.Sprintf(`
scanner:
  workers: 2
  user_agent_url: https://hotline.example.vn/scanner
  hash_lists: [%q]
  ports: [%s]
  allow_loopback_for_tests: true
`, list, su.Port())})
	if !in.log.contains("allow_loopback_for_tests is on") {
		t.Errorf("no warning about allow_loopback_for_tests at start:\n%s", lastLines(in.log.String(), 30))
	}

	pageURL := site.URL + "/bai-viet"
	sto, rep := reportPage(t, in, pageURL)
	ctx := context.Background()
	before, err := sto.CaseByID(ctx, rep.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	if before.Priority <= 1 {
		t.Fatalf("the bullying report starts at P%d: the test needs a less urgent one to see the raise", before.Priority)
	}

	var res store.ScanResult
	eventually(t, "the scan result of the reported page", func() error {
		rs, err := sto.CaseScanResults(ctx, rep.CaseID)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return fmt.Errorf("no scan result yet (page fetched %d times)", pageHits.Load())
		}
		res = rs[0]
		return nil
	})
	if res.Error != "" || res.HTTPStatus != 200 || !strings.HasPrefix(res.RemoteAddr, "127.0.0.1:") || len(res.SHA256) != 64 || res.ImagesHashed != 1 {
		t.Fatalf("scan result: %+v", res)
	}
	if len(res.Matches) != 1 || res.Matches[0].Distance > pdq.MatchDistance || res.Matches[0].Known != known.String() || !res.Raised {
		t.Fatalf("matches %+v (raised %v)", res.Matches, res.Raised)
	}
	t.Logf("scan: %s → HTTP %d from %s, match at distance %d (%s), page fetched %d×, image %d×",
		pageURL, res.HTTPStatus, res.RemoteAddr, res.Matches[0].Distance, res.Matches[0].Transform, pageHits.Load(), imageHits.Load())
	if got, _ := ua.Load().(string); !strings.Contains(got, "kidshield") || !strings.Contains(got, "https://hotline.example.vn/scanner") {
		t.Errorf("User-Agent %q does not name the scanner and the operator's page", got)
	}

	after, err := sto.CaseByID(ctx, rep.CaseID)
	if err != nil || after.Priority != 1 {
		t.Fatalf("case after the scan: P%d (was P%d), %v", after.Priority, before.Priority, err)
	}
	ev, err := sto.CaseEvidence(ctx, rep.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	var pageEv, imageEv bool
	for _, e := range ev {
		pageEv = pageEv || e.Source == "scanner" && e.SHA256 == res.SHA256 && e.HTTPStatus == 200
		imageEv = imageEv || e.Source == "scanner" && e.PDQ == res.Matches[0].PDQ
	}
	if !pageEv || !imageEv {
		t.Fatalf("evidence %+v: want the page's capture and the matching image's hash", ev)
	}
	recs, err := sto.AuditList(ctx, store.AuditFilter{Actor: "scanner", Action: "scanner.raise", Limit: 10})
	if err != nil || len(recs) != 1 {
		t.Fatalf("audit of the raise: %v %v", recs, err)
	}

	// The analyst's case page shows it, as a suggestion, without the image.
	pw := in.addUser(t, "e2e-scan-analyst", "analyst", 0)
	s := in.login(t, "e2e-scan-analyst", pw)
	st, b, _ := mustDo(t, call{method: "GET", url: in.httpURL(fmt.Sprintf("/desk/cases/%d?lang=vi", rep.CaseID)), cookie: s.cookie})
	page := string(b)
	if st != http.StatusOK {
		t.Fatalf("case page: %d %.300s", st, b)
	}
	for _, want := range []string{"Kết quả quét tự động", fmt.Sprintf("Trùng mã băm đã biết, khoảng cách %d", res.Matches[0].Distance),
		"Đã nâng mức ưu tiên", res.SHA256, res.RemoteAddr, ">P1<"} {
		if !strings.Contains(page, want) {
			t.Errorf("case page lacks %q", want)
		}
	}
	if strings.Contains(page, "/anh/1.png\"") || strings.Contains(page, "<img src=\""+site.URL) {
		t.Error("the case page embeds the scanned image")
	}
}

// e2eScanImage is a smooth picture with a strong PDQ hash.
func e2eScanImage() *image.Gray {
	img := image.NewGray(image.Rect(0, 0, 320, 240))
	for y := range 240 {
		for x := range 320 {
			v := 128 + 50*math.Sin(float64(x)/14+1) + 50*math.Cos(float64(y)/21) + 20*math.Sin(float64(x+y)/8)
			img.SetGray(x, y, color.Gray{Y: uint8(max(0, min(255, v)))})
		}
	}
	return img
}

// reportPage submits a public report of pageURL (a child reporting bullying with a photo) and
// returns the store and the report, as the scanner tests start.
func reportPage(t *testing.T, in *instance, pageURL string) (*store.Store, *store.Report) {
	t.Helper()
	st, b, _ := mustDo(t, call{method: "POST", url: in.httpURL("/report"), ctype: formType,
		body: form("choice", "bullying", "description", "bạn em bị đăng ảnh", "consent", "yes", "urls", pageURL)})
	ref := reReportRef.Find(b)
	if (st != http.StatusOK && st != http.StatusCreated) || ref == nil {
		t.Fatalf("POST /report: %d %.300s", st, b)
	}
	sto := openStore(t, in.sqliteDSN())
	rep, err := sto.ReportByRef(context.Background(), string(ref))
	if err != nil {
		t.Fatal(err)
	}
	return sto, rep
}
