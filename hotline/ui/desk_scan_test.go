package ui

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/store"
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
		"vi": {"Kết quả quét tự động", "Đây chỉ là gợi ý", "Nội dung tình dục", "0.93", "Trùng mã băm đã biết, khoảng cách 7", "Đã nâng mức ưu tiên", "Không quét được", "Địa chỉ đã kết nối"},
		"en": {"Automatic scan", "machine suggestions", "Sexual content", "Known-hash match, distance 7", "Priority raised", "Could not scan", "Connected address"},
	} {
		w := e.do("GET", path+"?lang="+lang, "lan", nil)
		body := w.Body.String()
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", lang, w.Code, body)
		}
		for _, s := range append(want, "https://example.vn/bai-2", "203.0.113.7:443", sha, pdqHex, "từ khóa-xyz", "rot90", "list:12", "destination refused") {
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
