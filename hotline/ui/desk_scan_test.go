package ui

import (
	"bytes"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/scanner"
	"github.com/kidshield/kidshield/scanner/fetch"
	"github.com/kidshield/kidshield/scanner/pdq"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web/i18n"
)

// The case page shows the scanner's results as labelled suggestions, in both languages, and
// never an image.
func TestDeskCaseScanResults(t *testing.T) {
	e := newDeskEnv(t)
	c := e.submit(hotline.Submission{Harm: "VIO.BULLY", URLs: []string{"https://example.vn/bai"}})
	path := fmt.Sprintf("/desk/cases/%d", c.ID)

	w := e.do("GET", path+"?lang=vi", "lan", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "Kết quả quét tự động") || !strings.Contains(w.Body.String(), "Chưa có kết quả quét tự động.") {
		t.Fatalf("empty scan section: %d", w.Code)
	}
	sha := strings.Repeat("ab", 32)
	pdqHex := strings.Repeat("0f", 32)
	if _, err := e.st.AddScanResult(t.Context(), store.ScanResult{CaseID: c.ID, URL: "https://example.vn/bai", FinalURL: "https://example.vn/bai-2",
		RemoteAddr: "203.0.113.7:443", HTTPStatus: 200, Fetched: time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC), SHA256: sha, Bytes: 5120, ImagesHashed: 3,
		Raised:     true,
		Suggestion: store.ScanSuggestion{Top: "sexual", Scores: map[string]float64{"sexual": 0.934}, Reasons: []store.ScanReason{{Category: "sexual", Rule: "lexicon", Evidence: "từ khóa-xyz"}}},
		Matches:    []store.ScanMatch{{ImageURL: "https://example.vn/anh.jpg", PDQ: pdqHex, Distance: 7, Transform: "rot90", Source: "list:12"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.AddScanResult(t.Context(), store.ScanResult{CaseID: c.ID, URL: "https://example.vn/khac", Fetched: time.Date(2026, 3, 2, 2, 5, 0, 0, time.UTC),
		Error: "fetch: destination refused"}); err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string][]string{
		"vi": {"Kết quả quét tự động", "Đây chỉ là gợi ý", "Nội dung tình dục", "0,93", "Trùng mã băm đã biết, khoảng cách 7", "Đã nâng mức ưu tiên", "Không quét được",
			"Địa chỉ đã kết nối", "danh sách mạng lưới, mục 12", "Máy quét không tải được đường dẫn này.", ">xoay 90°<"},
		"en": {"Automatic scan", "machine suggestions", "Sexual content", "Known-hash match, distance 7", "Priority raised", "Could not scan", "Connected address",
			"network list, entry 12", "The scanner could not fetch this link.", ">rotated 90°<"},
	} {
		w := e.do("GET", path+"?lang="+lang, "lan", nil)
		body := w.Body.String()
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", lang, w.Code, body)
		}
		for _, s := range append(want, "https://example.vn/bai-2", "203.0.113.7:443", sha, pdqHex, "từ khóa-xyz", "rot90", "destination refused") {
			if !strings.Contains(body, s) {
				t.Errorf("%s: page lacks %q", lang, s)
			}
		}
		i := strings.Index(body, `id="scan"`)
		j := strings.Index(body[i:], "</section>")
		section := body[i : i+j]
		if strings.Contains(section, "<img") {
			t.Errorf("%s: the scan section shows an image", lang)
		}
		if m := regexp.MustCompile(`\bscan\.[a-z_.]+`).FindString(section); m != "" {
			t.Errorf("%s: untranslated key %s", lang, m)
		}
	}
}

// deskScanImage is a smooth picture with a strong PDQ hash.
func deskScanImage() *image.Gray {
	img := image.NewGray(image.Rect(0, 0, 256, 256))
	for y := range 256 {
		for x := range 256 {
			v := 128 + 50*math.Sin(float64(x)/14+1) + 50*math.Cos(float64(y)/21) + 20*math.Sin(float64(x+y)/8)
			img.SetGray(x, y, color.Gray{Y: uint8(max(0, min(255, v)))})
		}
	}
	return img
}

// deskSection is the part of a page from the element with id to the end of its section.
func deskSection(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no %s on the page", id)
	}
	j := strings.Index(body[i:], "</section>")
	return body[i : i+j]
}

// What the real scanner records reads right on the case page, in each language: the raise is
// one history entry saying what it did and why (not a reclassification, not twice), its
// evidence is described rather than quoted in English, a hash list is named by its file's name
// and never its server path, and a refused address says what happened and what to do.
func TestDeskCaseScannerRecords(t *testing.T) {
	e := newDeskEnv(t)
	ctx := t.Context()
	img := deskScanImage()
	h, q := pdq.HashImage(img)
	if q < pdq.MinQuality {
		t.Fatalf("test image quality %d", q)
	}
	var png1 bytes.Buffer
	if err := png.Encode(&png1, img); err != nil {
		t.Fatal(err)
	}
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/trang":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<html><head><title>Trang thử</title></head><body><p>Xin chào</p><img src="/anh.png"></body></html>`)
		case "/anh.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(png1.Bytes())
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(site.Close)
	su, _ := url.Parse(site.URL)
	port, _ := strconv.Atoi(su.Port())
	client, err := fetch.NewAllowingLoopbackForTests(fetch.Options{Ports: []int{80, 443, port}, HostInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	dir := filepath.Join(t.TempDir(), "bi-mat-may-chu")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "known.pdq")
	if err := os.WriteFile(list, []byte("# test\npdq "+h.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	known, err := scanner.LoadKnown(ctx, scanner.KnownSources{Files: []string{list}})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scanner.New(scanner.Options{Store: e.st, Cases: e.svc, Client: client, Known: known, Now: func() time.Time { return e.now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	c := e.submit(hotline.Submission{Harm: "VIO.BULLY", URLs: []string{"https://example.vn/bai"}})
	if c.Priority != 2 {
		t.Fatalf("the case starts at P%d: the test needs P2", c.Priority)
	}
	// The page with the known image, and an address the scanner never fetches.
	if err := sc.Enqueue(ctx, c.ID, []string{site.URL + "/trang", "http://10.1.2.3/noi-bo"}); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		n, err := sc.RunOnce(ctx, "test")
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	rs, err := e.st.CaseScanResults(ctx, c.ID)
	if err != nil || len(rs) != 2 {
		t.Fatalf("scan results %+v %v", rs, err)
	}

	path := fmt.Sprintf("/desk/cases/%d", c.ID)
	for _, tc := range []struct {
		lang                             string
		raise, pageEv, imageEv, fail     string
		classified, englishRaise, notice string
	}{
		{lang: "vi", raise: "nâng mức ưu tiên P2 → P1: trùng mã băm đã biết, khoảng cách 0 (ảnh gốc, danh sách mã băm known.pdq, dòng 2)",
			pageEv:  "Trang được tải khi quét tự động: số ảnh đã tính mã băm: 1, số kết quả trùng mã băm đã biết: 1, gợi ý: văn bản và tên miền không có dấu hiệu",
			imageEv: "Ảnh trùng mã băm đã biết, khoảng cách 0 (danh sách mã băm known.pdq, dòng 2)",
			fail:    "máy quét không bao giờ truy cập những địa chỉ như vậy", classified: "<strong>Phân loại</strong>"},
		{lang: "en", raise: "raised the priority P2 → P1: known-hash match at distance 0 (original, hash list known.pdq, line 2)",
			pageEv:  "Page fetched by the automatic scan: images hashed: 1, known-hash matches: 1, suggestion: nothing in the text or the host",
			imageEv: "Image matching a known hash, distance 0 (hash list known.pdq, line 2)",
			fail:    "the scanner never fetches such addresses", classified: "<strong>Classified</strong>"},
	} {
		w := e.do("GET", path+"?lang="+tc.lang, "lan", nil)
		body := w.Body.String()
		if w.Code != 200 {
			t.Fatalf("%s: %d", tc.lang, w.Code)
		}
		hist := deskSection(t, body, "desk-history")
		if n := strings.Count(hist, tc.raise); n != 1 {
			t.Errorf("%s: the history has the raise %d times, want once: %q", tc.lang, n, tc.raise)
		}
		if strings.Contains(hist, tc.classified) {
			t.Errorf("%s: the raise shows as a reclassification", tc.lang)
		}
		for _, s := range []string{tc.pageEv, tc.imageEv} {
			if !strings.Contains(hist, s) || !strings.Contains(deskSection(t, body, "desk-evidence"), s) {
				t.Errorf("%s: evidence not described as %q", tc.lang, s)
			}
		}
		if tc.lang == "vi" {
			// The English records are kept, folded away in the evidence table, nowhere else.
			if strings.Contains(hist, "known-hash match") || strings.Contains(hist, "automatic fetch") {
				t.Errorf("vi: English scanner text in the history: %s", hist)
			}
			if !strings.Contains(deskSection(t, body, "desk-evidence"), "Bản ghi gốc (tiếng Anh)") {
				t.Error("vi: the stored notes are not kept on the page")
			}
		}
		scan := deskSection(t, body, "desk-scan")
		if !strings.Contains(scan, tc.fail) || !strings.Contains(scan, "destination refused") {
			t.Errorf("%s: the refused address is not explained (with the raw error below): %s", tc.lang, scan)
		}
		if strings.Contains(body, dir) || strings.Contains(body, "bi-mat-may-chu") {
			t.Errorf("%s: the page shows the hash list's server path", tc.lang)
		}
	}
}

// Every kind of failure the scanner stores has its sentence in both languages, and the page
// picks the stored kind's sentence; a result stored before kinds existed gets the general one.
func TestDeskCaseScanFailureKinds(t *testing.T) {
	for _, lang := range []string{"vi", "en"} {
		cat := i18n.Get(lang)
		seen := map[string]string{}
		for _, k := range scanner.FailureKinds {
			// The sentence of a failed scan, and the few words of a retrying one.
			for _, key := range []string{"scan.fail." + k, "scan.why." + k} {
				v := cat.T(key)
				if v == key || v == "" {
					t.Errorf("%s: no %s", lang, key)
				}
				if other, dup := seen[v]; dup {
					t.Errorf("%s: %s and %s say the same", lang, key, other)
				}
				seen[v] = key
			}
		}
	}
	e := newDeskEnv(t)
	c := e.submit(hotline.Submission{Harm: "VIO.BULLY", URLs: []string{"https://example.vn/bai"}})
	at := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	for _, r := range []store.ScanResult{
		{URL: "https://example.vn/a", Error: "fetch: unusable URL: port 8080 not allowed", ErrorKind: scanner.FailPort},
		{URL: "https://example.vn/b", Error: "fetch x.invalid: lookup x.invalid: no such host", ErrorKind: scanner.FailDNS},
		{URL: "https://example.vn/c", Error: "fetch: something old"},
	} {
		r.CaseID, r.Fetched = c.ID, at
		if _, err := e.st.AddScanResult(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	for _, lang := range []string{"vi", "en"} {
		cat := i18n.Get(lang)
		scan := deskSection(t, e.do("GET", fmt.Sprintf("/desk/cases/%d?lang=%s", c.ID, lang), "lan", nil).Body.String(), "desk-scan")
		for _, want := range []string{cat.T("scan.fail.port"), cat.T("scan.fail.dns"), cat.T("scan.fail.other"),
			"port 8080 not allowed", "no such host", "something old"} {
			if !strings.Contains(scan, html.EscapeString(want)) {
				t.Errorf("%s: the scan section lacks %q", lang, want)
			}
		}
	}
}

// The reasons the scanner writes are the ones the page reads back: built with the scanner's
// own functions, each is worded in the analyst's language, never with a server path.
func TestDeskRaiseReasons(t *testing.T) {
	vi, en := i18n.Get("vi"), i18n.Get("en")
	for _, tc := range []struct {
		detail, vi, en string
	}{
		{scanner.RaiseDetail(2, 1, scanner.HashReason(7, "rot90", "list:12")),
			"nâng mức ưu tiên P2 → P1: trùng mã băm đã biết, khoảng cách 7 (xoay 90°, danh sách mạng lưới, mục 12)",
			"raised the priority P2 → P1: known-hash match at distance 7 (rotated 90°, network list, entry 12)"},
		{scanner.RaiseDetail(3, 1, scanner.HashReason(0, "orig", "file:/etc/kidshield/hashes.txt:41")),
			"nâng mức ưu tiên P3 → P1: trùng mã băm đã biết, khoảng cách 0 (ảnh gốc, danh sách mã băm hashes.txt, dòng 41)",
			"raised the priority P3 → P1: known-hash match at distance 0 (original, hash list hashes.txt, line 41)"},
		{scanner.RaiseDetail(2, 1, scanner.TextReason("sexual", 0.914, 0.65)),
			"nâng mức ưu tiên P2 → P1: văn bản được gợi ý là “Nội dung tình dục” (điểm 0,91 ≥ ngưỡng 0,65)",
			"raised the priority P2 → P1: text suggests “Sexual content” (score 0.91 ≥ threshold 0.65)"},
		// As the scanner wrote a raise before it said the priorities.
		{"scanner: known-hash match at distance 3 (flipx, file:/srv/lists/known.pdq:5)",
			"nâng mức ưu tiên: trùng mã băm đã biết, khoảng cách 3 (lật trên – dưới, danh sách mã băm known.pdq, dòng 5)",
			"raised the priority: known-hash match at distance 3 (flipped upside down, hash list known.pdq, line 5)"},
		// A transform this page does not know is shown as its code.
		{scanner.RaiseDetail(2, 1, scanner.HashReason(4, "twist", "list:3")),
			"nâng mức ưu tiên P2 → P1: trùng mã băm đã biết, khoảng cách 4 (twist, danh sách mạng lưới, mục 3)",
			"raised the priority P2 → P1: known-hash match at distance 4 (twist, network list, entry 3)"},
	} {
		for _, l := range []struct {
			cat  i18n.Catalog
			want string
		}{{vi, tc.vi}, {en, tc.en}} {
			got, ok := deskRaise(l.cat, tc.detail)
			if !ok || got != l.want {
				t.Errorf("deskRaise(%q) = %q, %v; want %q", tc.detail, got, ok, l.want)
			}
		}
	}
	// The scanner's other entries (a notice's content back, now and as written before) are not
	// raises.
	for _, d := range []string{scanner.ReappearedDetail("TB-1", "page_present", "http_404"),
		"scanner: content of notice TB-1 is back at https://example.vn/a (page_present, HTTP 200; it was gone: http_404 since 2026-03-01T00:00:00Z)"} {
		if got, ok := deskRaise(vi, d); ok {
			t.Errorf("a reappearance read as a raise: %q", got)
		}
	}
}

// A notice's content found back is worded in the analyst's language from the scanner's short
// form (built with its own function) and from the English sentence it wrote before; each
// reason code of a re-check has its words, and other texts are not taken for a reappearance.
func TestDeskReappeared(t *testing.T) {
	vi, en := i18n.Get("vi"), i18n.Get("en")
	for _, tc := range []struct {
		detail, vi, en string
	}{
		{scanner.ReappearedDetail("N260301-AB12CD", "page_present", "http_404"),
			"nội dung của yêu cầu gỡ bỏ N260301-AB12CD xuất hiện trở lại: trang vẫn mở được, không có dấu hiệu đã gỡ (trước đó: trang báo lỗi 404 – không tìm thấy)",
			"content of takedown notice N260301-AB12CD is back: the page still opens, with no sign of removal (it was gone: the page answered 404 – not found)"},
		{scanner.ReappearedDetail("N-2", "hash_present", "hash_absent"),
			"nội dung của yêu cầu gỡ bỏ N-2 xuất hiện trở lại: trang vẫn có ảnh trùng mã băm đã biết (trước đó: trang không còn ảnh trùng mã băm đã biết)",
			"content of takedown notice N-2 is back: an image on the page still matches a known hash (it was gone: no image on the page matches the known hashes any more)"},
		{scanner.ReappearedDetail("N-3", "page_present", "marker:tiktok"),
			"nội dung của yêu cầu gỡ bỏ N-3 xuất hiện trở lại: trang vẫn mở được, không có dấu hiệu đã gỡ (trước đó: trang TikTok báo nội dung không còn khả dụng)",
			"content of takedown notice N-3 is back: the page still opens, with no sign of removal (it was gone: TikTok shows its “content unavailable” page)"},
		{scanner.ReappearedDetail("N-4", "page_present", "http_410"),
			"nội dung của yêu cầu gỡ bỏ N-4 xuất hiện trở lại: trang vẫn mở được, không có dấu hiệu đã gỡ (trước đó: trang báo lỗi 410 – đã bị xóa)",
			"content of takedown notice N-4 is back: the page still opens, with no sign of removal (it was gone: the page answered 410 – gone)"},
		// As the scanner wrote it before the short form.
		{"scanner: content of notice TB-1 is back at https://example.vn/a (page_present, HTTP 200; it was gone: http_404 since 2026-03-01T00:00:00Z)",
			"nội dung của yêu cầu gỡ bỏ TB-1 xuất hiện trở lại: trang vẫn mở được, không có dấu hiệu đã gỡ (trước đó: trang báo lỗi 404 – không tìm thấy)",
			"content of takedown notice TB-1 is back: the page still opens, with no sign of removal (it was gone: the page answered 404 – not found)"},
	} {
		for _, l := range []struct {
			cat  i18n.Catalog
			want string
		}{{vi, tc.vi}, {en, tc.en}} {
			if got, ok := deskReappeared(l.cat, tc.detail); !ok || got != l.want {
				t.Errorf("deskReappeared(%q) = %q, %v; want %q", tc.detail, got, ok, l.want)
			}
		}
	}
	for _, d := range []string{scanner.RaiseDetail(2, 1, scanner.HashReason(7, "rot90", "list:12")), "", "notice N-1: content back"} {
		if got, ok := deskReappeared(vi, d); ok {
			t.Errorf("%q read as a reappearance: %q", d, got)
		}
	}
	// Every reason a re-check records, and those that prove nothing, in words; an HTTP status
	// without its own words and an unknown code still read.
	for _, lang := range []string{"vi", "en"} {
		cat := i18n.Get(lang)
		seen := map[string]string{}
		for _, code := range []string{"http_404", "http_410", "marker:facebook", "hash_absent", "page_present", "hash_present", "images_unfetched", "images_partial"} {
			got := scanCheckReason(cat, code)
			if got == "" || strings.Contains(got, "scan.") || strings.Contains(got, code) {
				t.Errorf("%s: reason %s worded %q", lang, code, got)
			}
			if other, dup := seen[got]; dup {
				t.Errorf("%s: %s and %s say the same: %q", lang, code, other, got)
			}
			seen[got] = code
		}
		if got := scanCheckReason(cat, "http_503"); !strings.Contains(got, "HTTP 503") || strings.Contains(got, "scan.") {
			t.Errorf("%s: http_503 worded %q", lang, got)
		}
		if got := scanCheckReason(cat, "something_new"); got != "something_new" {
			t.Errorf("%s: an unknown code worded %q", lang, got)
		}
	}
}

// The case page shows the scanner's reopening of a case whose notice's content is back in the
// analyst's language, once, on the reopening, with the stored English sentence (URL and
// times) folded away under the scanner's entry, not in the history's text.
func TestDeskCaseReappearedEntry(t *testing.T) {
	e := newDeskEnv(t)
	ctx := t.Context()
	c := e.submit(hotline.Submission{Harm: "VIO.BULLY", URLs: []string{"https://example.vn/bai"}})
	for _, to := range []string{"triaged", "in_assessment", "not_actionable"} {
		cur := e.caseNow(c.ID)
		if _, err := e.st.ChangeCase(ctx, c.ID, store.CaseChange{Actor: "t", Version: cur.Version, To: to}); err != nil {
			t.Fatalf("case → %s: %v", to, err)
		}
	}
	sentence := "scanner: content of notice N-9 is back at https://example.vn/bai (page_present, HTTP 200; it was gone: http_404 since 2026-03-01T00:00:00Z)"
	// As scanner.recordReappeared writes it.
	if _, err := e.svc.ChangeCase(ctx, scanner.Actor, c.ID, hotline.Change{Version: e.caseNow(c.ID).Version, Kind: "scanner", To: "reopened",
		Note: sentence, Detail: scanner.ReappearedDetail("N-9", "page_present", "http_404")}); err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string]string{
		"vi": "nội dung của yêu cầu gỡ bỏ N-9 xuất hiện trở lại: trang vẫn mở được, không có dấu hiệu đã gỡ (trước đó: trang báo lỗi 404 – không tìm thấy)",
		"en": "content of takedown notice N-9 is back: the page still opens, with no sign of removal (it was gone: the page answered 404 – not found)",
	} {
		w := e.do("GET", fmt.Sprintf("/desk/cases/%d?lang=%s", c.ID, lang), "lan", nil)
		if w.Code != 200 {
			t.Fatalf("%s: %d", lang, w.Code)
		}
		hist := deskSection(t, w.Body.String(), "desk-history")
		if n := strings.Count(hist, html.EscapeString(want)); n != 1 {
			t.Errorf("%s: the history says %q %d times, want once (on the reopening; the scanner's entry beside it keeps the record):\n%s", lang, want, n, hist)
		}
		// The record, once, inside its folded block.
		i := strings.Index(hist, `<details class="desk-record">`)
		j := strings.Index(hist, html.EscapeString(sentence))
		k := strings.Index(hist, "</details>")
		if strings.Count(hist, html.EscapeString(sentence)) != 1 || i < 0 || j < i || k < j {
			t.Errorf("%s: the stored sentence is not kept once, folded away:\n%s", lang, hist)
		}
		if strings.Contains(hist, "content back") {
			t.Errorf("%s: the short form shows as it is stored:\n%s", lang, hist)
		}
	}
}

// The words for a match's rotation or flip say what was done to the image: each of the eight
// transforms of a picture is hashed as the scanner hashes a page's image (pdq.HashDihedral),
// and the transform under which it matches the original's hash is worded as that change.
func TestDeskTransformWords(t *testing.T) {
	src := deskScanImage()
	// The picture is square: cut it to a landscape one, so that the turns change its shape.
	src = src.SubImage(image.Rect(0, 0, 256, 160)).(*image.Gray)
	known, _ := pdq.HashImage(src)
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	for _, tc := range []struct {
		vi, en string
		to     func(x, y int) (int, int) // where the pixel at (x, y) goes
		swap   bool                      // the result is h×w
	}{
		{"ảnh gốc", "original", func(x, y int) (int, int) { return x, y }, false},
		{"xoay 90°", "rotated 90°", func(x, y int) (int, int) { return h - 1 - y, x }, true}, // clockwise
		{"xoay 180°", "rotated 180°", func(x, y int) (int, int) { return w - 1 - x, h - 1 - y }, false},
		{"xoay 270°", "rotated 270°", func(x, y int) (int, int) { return y, w - 1 - x }, true},
		{"lật trên – dưới", "flipped upside down", func(x, y int) (int, int) { return x, h - 1 - y }, false},
		{"lật trái – phải", "mirrored left–right", func(x, y int) (int, int) { return w - 1 - x, y }, false},
		{"lật theo đường chéo", "flipped along the diagonal", func(x, y int) (int, int) { return y, x }, true},
		{"lật theo đường chéo phụ", "flipped along the other diagonal", func(x, y int) (int, int) { return h - 1 - y, w - 1 - x }, true},
	} {
		dw, dh := w, h
		if tc.swap {
			dw, dh = h, w
		}
		img := image.NewGray(image.Rect(0, 0, dw, dh))
		for y := range h {
			for x := range w {
				tx, ty := tc.to(x, y)
				img.SetGray(tx, ty, src.GrayAt(x, y))
			}
		}
		hs, _ := pdq.HashDihedral(img)
		best := 0
		for i := range hs {
			if hs[i].Distance(known) < hs[best].Distance(known) {
				best = i
			}
		}
		if d := hs[best].Distance(known); d > 16 {
			t.Fatalf("%s: no transform matches (best %s at %d)", tc.en, pdq.Dihedral[best], d)
		}
		code := pdq.Dihedral[best]
		if got := deskTransform(i18n.Get("vi"), code); got != tc.vi {
			t.Errorf("%s matches as %s, worded %q; want %q", tc.en, code, got, tc.vi)
		}
		if got := deskTransform(i18n.Get("en"), code); got != tc.en {
			t.Errorf("%s matches as %s, worded %q; want %q", tc.en, code, got, tc.en)
		}
	}
}
