package ui

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/store"
)

// A URL still in the scanner's queue shows as on its way, and one that failed a try says
// when it is tried again (Viet Nam time), instead of "no scan yet".
func TestDeskCasePendingScans(t *testing.T) {
	e := newDeskEnv(t)
	c := e.submit(hotline.Submission{Harm: "VIO.BULLY", URLs: []string{"https://example.vn/cho"}})
	path := fmt.Sprintf("/desk/cases/%d", c.ID)
	ctx := t.Context()
	now := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC) // 09:00 in Viet Nam
	payload := func(u string) []byte { return []byte(fmt.Sprintf(`{"case_id":%d,"url":%q}`, c.ID, u)) }
	if _, _, err := e.st.EnqueueScanJob(ctx, store.NewScanJob{Kind: store.ScanJobReportURL, Payload: payload("https://example.vn/cho"), Host: "example.vn", MaxAttempts: 5}, now); err != nil {
		t.Fatal(err)
	}
	page := func(lang string) string {
		w := e.do("GET", path+"?lang="+lang, "lan", nil)
		if w.Code != 200 {
			t.Fatalf("%s: %d", lang, w.Code)
		}
		return w.Body.String()
	}
	if b := page("vi"); !strings.Contains(b, "Đang chờ quét: <code class=\"desk-copy\">https://example.vn/cho</code>") || strings.Contains(b, "Chưa có kết quả quét tự động.") {
		t.Errorf("queued: the page does not say the scan is on its way")
	}
	jobs, err := e.st.LeaseScanJobs(ctx, store.ScanLease{Owner: "w", Max: 1, Now: now})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("lease: %v %v", jobs, err)
	}
	if b := page("en"); !strings.Contains(b, "Being scanned now") {
		t.Errorf("running: the page does not say so")
	}
	// As the scanner fails a job: its error names its kind (scanner.FailureKind).
	cause := kinded{errors.New("lookup example.vn: no such host"), "dns"}
	if _, err := e.st.FailScanJob(ctx, jobs[0].ID, "w", cause, false, store.ScanBackoff{Base: 30 * time.Minute, Max: time.Hour}, now); err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string]string{
		"vi": "Lần thử 1/5 chưa truy cập được (tên miền không tồn tại); máy quét sẽ thử lại lúc 09:30",
		"en": "Not reached on try 1 of 5 (the name does not exist); the scanner tries again at 09:30",
	} {
		if b := page(lang); !strings.Contains(b, want) {
			t.Errorf("%s: after a failed try the page lacks %q", lang, want)
		}
	}
}

type kinded struct {
	error
	kind string
}

func (k kinded) ScanFailureKind() string { return k.kind }
