package ui

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/intake"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/hotline/taxonomy"
	"github.com/kidshield/kidshield/seal"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
	"github.com/kidshield/kidshield/web/i18n"
)

// pubAuth is a fake authenticator: no sessions, API tokens from a map.
type pubAuth map[string]*web.Principal

func (pubAuth) Session(*http.Request) (*web.Principal, error) { return nil, nil }
func (a pubAuth) Token(_ *http.Request, tok string) (*web.Principal, error) {
	return a[tok], nil
}

type pubEnv struct {
	t    *testing.T
	srv  *web.Server
	st   *store.Store
	svc  *hotline.Service
	cfg  *config.Hotline
	ui   *UI
	logs *bytes.Buffer
}

func newPubEnv(t *testing.T) *pubEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "hotline.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := seal.ParseKeys([]string{"test:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default().Hotline
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := hotline.New(hotline.Options{Store: st, Sealer: keys, Config: func() *config.Hotline { return &cfg },
		ClientKey: []byte("client-key"), Logger: log})
	views, err := web.LoadViews()
	if err != nil {
		t.Fatal(err)
	}
	u := New(svc, views, log)
	srv := web.New(web.Options{Logger: log, Auth: pubAuth{
		"good":  {TokenID: 7, Name: "app111", Scopes: []string{ScopeReportsSubmit}},
		"other": {TokenID: 8, Name: "stats", Scopes: []string{"stats:read"}},
	}})
	srv.Handle(u.Routes()...)
	return &pubEnv{t: t, srv: srv, st: st, svc: svc, cfg: &cfg, ui: u, logs: logs}
}

func (e *pubEnv) do(r *http.Request) *httptest.ResponseRecorder {
	if r.RemoteAddr == "192.0.2.1:1234" { // httptest's default
		r.RemoteAddr = "203.0.113.9:40000"
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	return w
}

type pubFile struct {
	name, contentType string
	data              []byte
}

// reportRequest is a multipart POST /report, as a browser sends it.
func reportRequest(target string, fields url.Values, files ...pubFile) *http.Request {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range fields {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="screenshot"; filename="`+f.name+`"`)
		h.Set("Content-Type", f.contentType)
		pw, _ := mw.CreatePart(h)
		_, _ = pw.Write(f.data)
	}
	_ = mw.Close()
	r := httptest.NewRequest("POST", target, &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	r.Header.Set("Accept", "text/html")
	return r
}

func (e *pubEnv) submit(fields url.Values, files ...pubFile) *httptest.ResponseRecorder {
	return e.do(reportRequest("/report", fields, files...))
}

var bigCode = regexp.MustCompile(`<output class="bigcode"[^>]*>([^<]+)</output>`)

// receipt returns the reference and status code shown on a receipt page.
func receipt(t *testing.T, w *httptest.ResponseRecorder) (ref, code string) {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("submit: %d\n%s", w.Code, w.Body.String())
	}
	m := bigCode.FindAllStringSubmatch(w.Body.String(), -1)
	if len(m) != 2 {
		t.Fatalf("receipt shows %d codes:\n%s", len(m), w.Body.String())
	}
	return m[0][1], m[1][1]
}

func (e *pubEnv) caseOf(ref string) *store.Case {
	e.t.Helper()
	r, err := e.st.ReportByRef(context.Background(), ref)
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := e.st.CaseByID(context.Background(), r.CaseID)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *pubEnv) caseCount() int {
	e.t.Helper()
	_, n, err := e.st.Cases(context.Background(), store.CaseFilter{Priority: store.AnyPriority})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func bullying(extra ...string) url.Values {
	v := url.Values{"choice": {"bullying"}, "urls": {"https://www.facebook.com/groups/lop7a/posts/123"}, "platform": {"facebook"},
		"where": {"group"}, "description": {"Các bạn trong nhóm lớp chửi em và đăng ảnh chế giễu em."}, "lang": {"vi"}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

// rawKey finds a catalog key that was not translated.
var rawKey = regexp.MustCompile(`(?:^|[^/\w.-])((?:report|status|choice|harm|where|reporter|age|stage|state|channel|priority)\.[a-z][a-z0-9_.-]*)`)

func assertTranslated(t *testing.T, what, body string) {
	t.Helper()
	for _, m := range rawKey.FindAllStringSubmatch(body, -1) {
		t.Errorf("%s shows an untranslated key %s", what, m[1])
	}
}

func TestReportFormPage(t *testing.T) {
	e := newPubEnv(t)
	for _, tc := range []struct{ url, want, lang string }{
		{"/report", "Kể cho chúng tôi điều đã xảy ra", "vi"},
		{"/report?lang=en", "Tell us what happened", "en"},
	} {
		w := e.do(httptest.NewRequest("GET", tc.url, nil))
		body := w.Body.String()
		if w.Code != 200 || !strings.Contains(body, tc.want) || !strings.Contains(body, `<html lang="`+tc.lang+`">`) {
			t.Fatalf("%s: %d\n%s", tc.url, w.Code, body)
		}
		assertTranslated(t, tc.url, body)
		for _, must := range []string{`href="tel:111"`, `href="tel:113"`, `enctype="multipart/form-data"`,
			`name="website"`, `tabindex="-1"`, `aria-hidden="true"`, `accept="image/png,image/jpeg,image/webp,image/gif"`,
			`name="danger_now" id="f-danger_now" value="yes"`, `/static/report.css`, `?lang=` + map[string]string{"vi": "en", "en": "vi"}[tc.lang]} {
			if !strings.Contains(body, must) {
				t.Errorf("%s: page lacks %s", tc.url, must)
			}
		}
		// The emergency box comes before the form.
		if strings.Index(body, `tel:111`) > strings.Index(body, `<form`) {
			t.Errorf("%s: the 111 box is not at the top", tc.url)
		}
		for _, c := range taxonomy.Choices {
			if !strings.Contains(body, `value="`+c.ID+`"`) {
				t.Errorf("%s: choice %s missing", tc.url, c.ID)
			}
		}
		if !strings.Contains(body, "Đừng tải lên hình ảnh nhạy cảm của trẻ em. Chỉ cần gửi đường link.") && tc.lang == "vi" {
			t.Error("the warning about images is missing")
		}
	}
}

func TestReportRoundTripVietnamese(t *testing.T) {
	e := newPubEnv(t)
	desc := "Có người lạ nhắn tin cho em gái tôi trên Zalo, đòi gửi ảnh và dặn không được nói với bố mẹ."
	w := e.submit(url.Values{"choice": {"stranger-asks"}, "urls": {"https://zalo.me/0912345678\r\n"}, "platform": {"zalo"},
		"account": {"Anh Tuấn"}, "where": {"chat"}, "when": {"tối hôm qua"}, "description": {desc}, "reporter": {"parent"},
		"age_band": {"12-15"}, "province": {"Hà Nội"}, "lang": {"vi"}})
	ref, code := receipt(t, w)
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Error("receipt may be cached")
	}
	if !strings.HasPrefix(ref, "KS-") || len(strings.ReplaceAll(code, "-", "")) != 12 {
		t.Fatalf("ref %q code %q", ref, code)
	}
	ctx := context.Background()
	c := e.caseOf(ref)
	if c.Harm != "CSE.GROOM" || c.Channel != "web" || c.Province != "Hà Nội" || c.Priority != 1 {
		t.Fatalf("case %+v", c)
	}
	v, err := e.svc.CaseView(ctx, hotline.Actor{Label: "test"}, c.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	r := v.Reports[0]
	if r.Description != desc || r.Account != "Anh Tuấn" || r.When != "tối hôm qua" || r.Language != "vi" || r.AgeBand != "12-15" || r.ReporterType != "parent" {
		t.Fatalf("stored report %+v, description %q", r.Report, r.Description)
	}
	if len(v.URLs) != 1 || !strings.Contains(v.URLs[0].Canonical, "zalo.me") {
		t.Fatalf("urls %+v", v.URLs)
	}
	if strings.Contains(e.logs.String(), "Tuấn") || strings.Contains(e.logs.String(), "203.0.113.9") {
		t.Error("personal data in the log")
	}
}

func TestReportDangerNowIsP0(t *testing.T) {
	e := newPubEnv(t)
	w := e.submit(bullying("danger_now", "yes"))
	ref, _ := receipt(t, w)
	if c := e.caseOf(ref); c.Priority != 0 || !c.DangerNow {
		t.Fatalf("danger now gave P%d", c.Priority)
	}
	body := w.Body.String()
	if i, j := strings.Index(body, "tel:113"), strings.Index(body, "bigcode"); i < 0 || i > j {
		t.Error("emergency receipt does not show 111/113 first")
	}
}

func TestReportDuplicateJoinsOpenCase(t *testing.T) {
	e := newPubEnv(t)
	ref1, _ := receipt(t, e.submit(bullying()))
	ref2, _ := receipt(t, e.submit(bullying("urls", "http://facebook.com/groups/lop7a/posts/123", "choice", "threats")))
	c1, c2 := e.caseOf(ref1), e.caseOf(ref2)
	if ref1 == ref2 || c1.ID != c2.ID || c2.ReportCount != 2 {
		t.Fatalf("refs %s %s, cases %d %d, count %d", ref1, ref2, c1.ID, c2.ID, c2.ReportCount)
	}
}

func TestReportHoneypotStoresNothing(t *testing.T) {
	e := newPubEnv(t)
	w := e.submit(bullying("website", "http://spam.example"))
	ref, code := receipt(t, w) // looks like a receipt
	if !strings.HasPrefix(ref, "KS-") || code == "" {
		t.Fatalf("decoy receipt %q %q", ref, code)
	}
	if n := e.caseCount(); n != 0 {
		t.Fatalf("a honeypot report was stored (%d cases)", n)
	}
	if _, err := e.st.ReportByRef(context.Background(), ref); err == nil {
		t.Fatal("decoy reference exists")
	}
	if strings.Contains(e.logs.String(), "spam.example") || strings.Contains(e.logs.String(), "203.0.113.9") {
		t.Error("honeypot log line holds request data")
	}
}

func TestReportRateLimit(t *testing.T) {
	e := newPubEnv(t)
	two := 2
	e.cfg.Intake.RatePerHour = &two
	send := func(remote string) *httptest.ResponseRecorder {
		r := reportRequest("/report", bullying())
		r.RemoteAddr = remote
		return e.do(r)
	}
	for i := range 2 {
		if w := send("198.51.100.7:5000"); w.Code != 200 {
			t.Fatalf("report %d: %d", i, w.Code)
		}
	}
	w := send("198.51.100.7:5001")
	if w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), "111") {
		t.Fatalf("third report: %d\n%s", w.Code, w.Body.String())
	}
	assertTranslated(t, "429 page", w.Body.String())
	if w := send("198.51.100.8:5000"); w.Code != 200 {
		t.Fatalf("another address limited: %d", w.Code)
	}
	// IPv6: one /64 is one client.
	send("[2001:db8:1:2::1]:80")
	send("[2001:db8:1:2::2]:80")
	if w := send("[2001:db8:1:2:ffff::3]:80"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("same /64: %d", w.Code)
	}
	if w := send("[2001:db8:1:3::1]:80"); w.Code != 200 {
		t.Fatalf("other /64: %d", w.Code)
	}
}

func TestReportValidationKeepsInput(t *testing.T) {
	e := newPubEnv(t)
	desc := "Em bị một nhóm bạn nhắn tin dọa nạt mỗi tối."
	w := e.submit(url.Values{"urls": {"ftp://example.com/x"}, "description": {desc}, "account": {"@ke_xau"}, "platform": {"tiktok"},
		"contact": {"0912 345 678"}, "reporter": {"child"}, "lang": {"vi"}})
	body := w.Body.String()
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("status %d\n%s", w.Code, body)
	}
	for _, must := range []string{desc, "@ke_xau", `value="tiktok" selected`, `value="child" selected`, "0912 345 678",
		`href="#f-choice"`, `class="err-summary"`, i18n.Get("vi").T("report.err.choice"), i18n.Get("vi").T("report.err.summary")} {
		if !strings.Contains(body, must) {
			t.Errorf("re-rendered form lacks %q", must)
		}
	}
	if !strings.Contains(body, `id="f-urls-err"`) {
		t.Error("no error next to the links")
	}
	assertTranslated(t, "422 form", body)
	if e.caseCount() != 0 {
		t.Fatal("an invalid report was stored")
	}
	// English.
	w = e.do(reportRequest("/report?lang=en", url.Values{"description": {desc}, "lang": {"en"}}))
	if w.Code != 422 || !strings.Contains(w.Body.String(), i18n.Get("en").T("report.err.choice")) {
		t.Fatalf("english errors: %d", w.Code)
	}
}

func jpegWithEXIF(t *testing.T, marker string) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		for y := range 30 {
			img.Set(x, y, color.RGBA{uint8(x * 6), uint8(y * 8), 120, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	payload := append([]byte("Exif\x00\x00"), []byte(marker)...)
	seg := []byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	raw := b.Bytes()
	return slices.Concat(raw[:2], seg, payload, raw[2:])
}

func TestReportScreenshotReencoded(t *testing.T) {
	e := newPubEnv(t)
	const marker = "GPS 21.0285N 105.8542E Nguyen Van A"
	shot := pubFile{"chup.jpg", "image/jpeg", jpegWithEXIF(t, marker)}
	ref, _ := receipt(t, e.submit(bullying(), shot))
	ctx := context.Background()
	r, _ := e.st.ReportByRef(ctx, ref)
	reports, err := e.st.CaseReports(ctx, r.CaseID)
	if err != nil || len(reports) != 1 || len(reports[0].AttachmentIDs) != 1 {
		t.Fatalf("attachments: %v %+v", err, reports)
	}
	a, data, err := e.svc.Attachment(ctx, hotline.Actor{Label: "test"}, reports[0].AttachmentIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(marker)) || bytes.Contains(data, []byte("Exif")) {
		t.Fatal("stored screenshot keeps its metadata")
	}
	if _, _, err := image.Decode(bytes.NewReader(data)); err != nil || a.Width != 40 || a.Height != 30 {
		t.Fatalf("stored screenshot: %v, %dx%d", err, a.Width, a.Height)
	}
	// Never for sexual content: refused, nothing stored.
	before := e.caseCount()
	w := e.submit(bullying("choice", "sexual-images"), shot)
	if w.Code != 422 || e.caseCount() != before {
		t.Fatalf("screenshot with sexual-images: %d", w.Code)
	}
	if !strings.Contains(w.Body.String(), `id="f-screenshot-err"`) {
		t.Error("screenshot error not shown next to the screenshots")
	}
	assertTranslated(t, "screenshot error", w.Body.String())
}

func statusRequest(path string, v url.Values, remote string) *http.Request {
	r := httptest.NewRequest("POST", path, strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", "text/html")
	if remote != "" {
		r.RemoteAddr = remote
	}
	return r
}

func TestStatusPage(t *testing.T) {
	e := newPubEnv(t)
	ref, code := receipt(t, e.submit(bullying()))
	w := e.do(httptest.NewRequest("GET", "/status?ref="+ref, nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `value="`+ref+`"`) {
		t.Fatalf("status form: %d", w.Code)
	}
	assertTranslated(t, "status form", w.Body.String())

	// A child may type the code in lower case without dashes.
	typed := strings.ToLower(strings.ReplaceAll(code, "-", ""))
	w = e.do(statusRequest("/status", url.Values{"ref": {strings.ToLower(ref)}, "code": {typed}}, ""))
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, i18n.Get("vi").T("status.stage.receive")) || !strings.Contains(body, ref) {
		t.Fatalf("status: %d\n%s", w.Code, body)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Error("status page may be cached")
	}
	assertTranslated(t, "status page", body)

	// A later stage shows in child words.
	c := e.caseOf(ref)
	for _, to := range []string{lifecycle.CaseTriaged, lifecycle.CaseInAssessment} {
		if _, err := e.st.ChangeCase(context.Background(), c.ID, store.CaseChange{Actor: "test", To: to}); err != nil {
			t.Fatal(err)
		}
	}
	w = e.do(statusRequest("/status?lang=en", url.Values{"ref": {ref}, "code": {code}}, ""))
	if !strings.Contains(w.Body.String(), i18n.Get("en").T("status.stage.verify")) {
		t.Fatalf("stage verify not shown:\n%s", w.Body.String())
	}

	neutral := i18n.Get("vi").T("status.not_found")
	for _, bad := range []url.Values{{"ref": {ref}, "code": {"AAAA-BBBB-CCCC"}}, {"ref": {"KS-0000-0000"}, "code": {code}}, {}} {
		w := e.do(statusRequest("/status", bad, ""))
		if w.Code != 404 || !strings.Contains(w.Body.String(), neutral) {
			t.Fatalf("wrong %v: %d", bad, w.Code)
		}
	}
}

func TestStatusGuessingIsLimited(t *testing.T) {
	e := newPubEnv(t)
	bad := url.Values{"ref": {"KS-0000-0000"}, "code": {"AAAA-BBBB-CCCC"}}
	for i := range statusLookupsPerHour {
		if w := e.do(statusRequest("/status", bad, "198.51.100.3:1")); w.Code != 404 {
			t.Fatalf("guess %d: %d", i, w.Code)
		}
	}
	if w := e.do(statusRequest("/status/info", bad, "198.51.100.3:1")); w.Code != 429 {
		t.Fatalf("guess after the limit: %d", w.Code)
	}
	if w := e.do(statusRequest("/status", bad, "198.51.100.4:1")); w.Code != 404 {
		t.Fatalf("another address: %d", w.Code)
	}
}

func TestStatusAddInfo(t *testing.T) {
	e := newPubEnv(t)
	ref, code := receipt(t, e.submit(bullying()))
	note := "Hôm nay họ lại đăng thêm một bài mới: https://www.facebook.com/groups/lop7a/posts/456"
	w := e.do(statusRequest("/status/info", url.Values{"ref": {ref}, "code": {code}, "info": {note}}, ""))
	if w.Code != 200 || !strings.Contains(w.Body.String(), i18n.Get("vi").T("status.add.done")) {
		t.Fatalf("add info: %d\n%s", w.Code, w.Body.String())
	}
	v, err := e.svc.CaseView(context.Background(), hotline.Actor{Label: "test"}, e.caseOf(ref).ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(v.Events, func(ev hotline.EventView) bool { return ev.Kind == "reporter_info" && ev.Note == note }) {
		t.Fatalf("note not in the case history: %+v", v.Events)
	}
	w = e.do(statusRequest("/status/info", url.Values{"ref": {ref}, "code": {code}, "info": {"   "}}, ""))
	if w.Code != 422 || !strings.Contains(w.Body.String(), i18n.Get("vi").T("status.err.empty")) {
		t.Fatalf("empty info: %d", w.Code)
	}
	w = e.do(statusRequest("/status/info", url.Values{"ref": {ref}, "code": {"WRONG"}, "info": {note}}, ""))
	if w.Code != 404 {
		t.Fatalf("wrong code: %d", w.Code)
	}
}

func apiRequest(body, token, contentType, idem string) *http.Request {
	r := httptest.NewRequest("POST", "/api/v1/reports", strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if idem != "" {
		r.Header.Set("Idempotency-Key", idem)
	}
	return r
}

func TestReportAPI(t *testing.T) {
	e := newPubEnv(t)
	body := `{"channel": "app", "harm": "VIO.BULLY", "urls": ["https://www.tiktok.com/@ke_xau/video/7300000000000000000"],
		"description": "Bé bị bạn cùng lớp quay video chế giễu rồi đăng lên TikTok.", "age_band": "12-15", "lang": "vi"}`
	for _, tc := range []struct {
		token, ct, idem string
		want            int
	}{
		{"", "application/json", "", 401},
		{"bogus", "application/json", "", 401},
		{"other", "application/json", "", 403},
		{"good", "text/plain", "", 415},
		{"good", "", "", 415},
		{"good", "application/json", strings.Repeat("k", 101), 400},
		{"good", "application/json", "bad\x01key", 400},
	} {
		w := e.do(apiRequest(body, tc.token, tc.ct, tc.idem))
		if w.Code != tc.want {
			t.Errorf("token %q type %q idem %q: %d, want %d: %s", tc.token, tc.ct, tc.idem, w.Code, tc.want, w.Body.String())
		}
	}
	if e.caseCount() != 0 {
		t.Fatal("a refused call stored a report")
	}

	var first, again hotline.Receipt
	w := e.do(apiRequest(body, "good", "application/json; charset=utf-8", "call-2026-11-26-0001"))
	if w.Code != 201 || json.Unmarshal(w.Body.Bytes(), &first) != nil || first.StatusCode == "" || first.Replayed {
		t.Fatalf("first call: %d %s", w.Code, w.Body.String())
	}
	w = e.do(apiRequest(body, "good", "application/json", "call-2026-11-26-0001"))
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &again) != nil || again.Ref != first.Ref || !again.Replayed {
		t.Fatalf("replay: %d %s", w.Code, w.Body.String())
	}
	c := e.caseOf(first.Ref)
	if e.caseCount() != 1 || c.ReportCount != 1 || c.Channel != "app" {
		t.Fatalf("replay stored again: %d cases, %d reports, channel %s", e.caseCount(), c.ReportCount, c.Channel)
	}
	r, _ := e.st.ReportByRef(context.Background(), first.Ref)
	if r.TokenID != 7 {
		t.Fatalf("token id %d", r.TokenID)
	}

	w = e.do(apiRequest(`{"channel": "app", "harm": "NOPE", "urls": ["ftp://x"], "age_band": "old"}`, "good", "application/json", ""))
	var eb apiErrorBody
	if w.Code != 422 || json.Unmarshal(w.Body.Bytes(), &eb) != nil || eb.Error == "" || len(eb.Fields) < 2 {
		t.Fatalf("invalid: %d %s", w.Code, w.Body.String())
	}
	for _, f := range eb.Fields {
		if f.Field == "" || f.Message == "" {
			t.Errorf("field error %+v", f)
		}
	}
	if w := e.do(apiRequest(`{"channel":`, "good", "application/json", "")); w.Code != 400 {
		t.Fatalf("broken JSON: %d", w.Code)
	}
}

// openAPIEnum finds the enum of a property of a schema in the embedded document.
func openAPIEnum(t *testing.T, doc map[string]any, schema, prop string) []string {
	t.Helper()
	var node any = doc
	for _, k := range []string{"components", "schemas", schema, "properties", prop} {
		m, ok := node.(map[string]any)
		if !ok {
			t.Fatalf("openapi: %s.%s: no %q", schema, prop, k)
		}
		node = m[k]
	}
	m, _ := node.(map[string]any)
	if items, ok := m["items"].(map[string]any); ok {
		m = items
	}
	raw, ok := m["enum"].([]any)
	if !ok {
		t.Fatalf("openapi: %s.%s has no enum", schema, prop)
	}
	out := make([]string, len(raw))
	for i, v := range raw {
		out[i], _ = v.(string)
	}
	return out
}

func TestOpenAPIEnumsMatchTaxonomy(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1") {
		t.Fatalf("openapi version %q", v)
	}
	var choices, harms []string
	for _, c := range taxonomy.Choices {
		choices = append(choices, c.ID)
	}
	for _, h := range taxonomy.Harms {
		harms = append(harms, h.Code)
	}
	for _, tc := range []struct {
		prop string
		want []string
	}{
		{"choice", choices},
		{"harm", harms},
		{"where", taxonomy.WhereKinds},
		{"reporter", taxonomy.ReporterTypes},
		{"age_band", taxonomy.AgeBands},
	} {
		if got := openAPIEnum(t, doc, "Report", tc.prop); !slices.Equal(got, tc.want) {
			t.Errorf("openapi Report.%s enum %v, taxonomy %v", tc.prop, got, tc.want)
		}
	}
	if got := openAPIEnum(t, doc, "Report", "channel"); !slices.Equal(got, intake.APIChannels) {
		t.Errorf("openapi Report.channel enum %v, intake.APIChannels %v", got, intake.APIChannels)
	}
	ch, _ := doc["components"].(map[string]any)["schemas"].(map[string]any)["Channel"].(map[string]any)
	var all []string
	for _, v := range ch["enum"].([]any) {
		all = append(all, v.(string))
	}
	if !slices.Equal(all, taxonomy.Channels) {
		t.Errorf("openapi Channel enum %v, taxonomy.Channels %v", all, taxonomy.Channels)
	}
	// The harms that refuse screenshots are named in the harm's description.
	harm := doc["components"].(map[string]any)["schemas"].(map[string]any)["Report"].(map[string]any)["properties"].(map[string]any)["harm"].(map[string]any)
	desc, _ := harm["description"].(string)
	_, listed, _ := strings.Cut(desc, "Screenshots are refused for: ")
	var noShots []string
	for _, h := range taxonomy.Harms {
		if !h.Screenshots {
			noShots = append(noShots, h.Code)
		}
	}
	if strings.TrimSuffix(listed, ".") != strings.Join(noShots, ", ") {
		t.Errorf("openapi harm description lists %q as refusing screenshots, taxonomy: %v", listed, noShots)
	}

	e := newPubEnv(t)
	w := e.do(httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), openAPIDoc) || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET openapi.json: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
}

// TestPublicTemplatesRender renders every page of this part with sample data in both languages
// and fails on a key left untranslated.
func TestPublicTemplatesRender(t *testing.T) {
	e := newPubEnv(t)
	form := (&publicPages{u: e.ui}).newFormData(reportFormInput{Choice: "scam", DangerNow: true, Platform: "game", AgeBand: "7-11"})
	var verr hotline.ValidationError
	for _, f := range append(reportFields, "harm", "urls[3]", "report", "lang") {
		verr = append(verr, hotline.FieldError{Field: f, Key: "report.err.unknown_to_catalogs", Msg: "x"})
	}
	verr = append(verr, hotline.FieldError{Field: "urls[1]", Key: "report.err.url", Msg: "x"})
	form.addErrors(i18n.Get("vi"), verr)
	form.ShotsAgain = true
	pages := []struct {
		name string
		data any
	}{
		{"report_form", (&publicPages{u: e.ui}).newFormData(reportFormInput{})},
		{"report_form", form},
		{"report_receipt", reportReceiptData{Ref: "KS-AAAA-BBBB", Code: "AAAA-BBBB-CCCC"}},
		{"report_receipt", reportReceiptData{Ref: "KS-AAAA-BBBB", Code: "AAAA-BBBB-CCCC", Emergency: true}},
		{"report_again", reportReceiptData{Ref: "KS-AAAA-BBBB"}},
		{"report_again", reportReceiptData{}},
		{"report_problem", reportProblemData{Title: "report.limited.title", Msg: "report.limited.msg", Back: "/report"}},
		{"report_problem", reportProblemData{Title: "report.toolarge.title", Msg: "report.toolarge.msg", Back: "/report"}},
		{"report_problem", reportProblemData{Title: "report.bad.title", Msg: "report.bad.msg", Back: "/report"}},
		{"report_problem", reportProblemData{Title: "status.limited.title", Msg: "status.limited.msg", Back: "/status"}},
		{"status_form", statusFormData{Ref: "KS-AAAA-BBBB", NotFound: true}},
		{"status_form", statusFormData{}},
	}
	for _, stage := range statusSteps {
		d := statusShowData{Ref: "KS-AAAA-BBBB", Code: "X", Received: "01/02/2026", Stage: stage, Closed: true, Removed: true,
			Added: true, InfoErr: "x", Info: "y"}
		for _, s := range statusSteps {
			d.Steps = append(d.Steps, statusStep{Stage: s, Current: s == stage})
		}
		pages = append(pages, struct {
			name string
			data any
		}{"status_show", d})
	}
	views, _ := web.LoadViews()
	for _, lang := range i18n.Languages {
		for _, p := range pages {
			w := httptest.NewRecorder()
			if err := views.Render(w, httptest.NewRequest("GET", "/x?lang="+lang, nil), 200, p.name, p.data); err != nil {
				t.Fatalf("%s %s: %v", lang, p.name, err)
			}
			assertTranslated(t, lang+" "+p.name, w.Body.String())
			if !strings.Contains(w.Body.String(), "tel:111") {
				t.Errorf("%s %s: no 111", lang, p.name)
			}
		}
	}
}

// TestTaxonomyLabels: every code, choice and state other pages translate by a computed key has
// a label in every language.
func TestTaxonomyLabels(t *testing.T) {
	var keys []string
	for _, h := range taxonomy.Harms {
		keys = append(keys, "harm."+h.Code)
	}
	for _, c := range taxonomy.Choices {
		keys = append(keys, "choice."+c.ID)
	}
	add := func(prefix string, vs []string) {
		for _, v := range vs {
			keys = append(keys, prefix+v)
		}
	}
	add("channel.", taxonomy.Channels)
	add("reporter.", taxonomy.ReporterTypes)
	add("age.", taxonomy.AgeBands)
	add("where.", taxonomy.WhereKinds)
	add("flag.", taxonomy.Flags)
	add("stage.", statusSteps)
	add("status.stage.", statusSteps)
	add("status.step.", statusSteps)
	add("state.", lifecycle.Case.States())
	add("notice_state.", lifecycle.Notice.States())
	add("list_state.", lifecycle.List.States())
	add("priority.", []string{"P0", "P1", "P2", "P3", "P4"})
	for _, o := range reportPlatforms {
		if o.Key != "" {
			keys = append(keys, o.Key)
		}
	}
	for _, lang := range i18n.Languages {
		c := i18n.Get(lang)
		for _, k := range keys {
			if strings.TrimSpace(c[k]) == "" {
				t.Errorf("%s: no label for %q", lang, k)
			}
		}
	}
}

var errKeyUse = regexp.MustCompile(`"((?:report|status)\.err\.[a-z0-9_]+)"`)

// TestErrorKeysTranslated reads the decoders and the service for the message keys they return
// and fails when a catalog lacks one: a child must never see a raw key or the generic sentence
// where a precise one was meant.
func TestErrorKeysTranslated(t *testing.T) {
	var files []string
	for _, pat := range []string{"../intake/*.go", "../*.go"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range errKeyUse.FindAllStringSubmatch(string(b), -1) {
			n++
			for _, lang := range i18n.Languages {
				if strings.TrimSpace(i18n.Get(lang)[m[1]]) == "" {
					t.Errorf("%s returns %q, missing in the %s catalog", filepath.Base(f), m[1], lang)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("found no error keys")
	}
}

func TestRateLimiter(t *testing.T) {
	l := newRateLimiter()
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for i := range 3 {
		if !l.allow("a", 3, t0) {
			t.Fatalf("token %d refused", i)
		}
	}
	if l.allow("a", 3, t0) || l.has("a", 3, t0) {
		t.Fatal("empty bucket allowed")
	}
	if !l.allow("b", 3, t0) {
		t.Fatal("keys share a bucket")
	}
	if !l.allow("a", 3, t0.Add(20*time.Minute)) || l.allow("a", 3, t0.Add(20*time.Minute)) {
		t.Fatal("refill is not one token per 20 minutes at 3/hour")
	}
	if !l.allow("a", 0, t0) {
		t.Fatal("0 must mean no limit")
	}
	for i := range 2000 {
		l.allow(strings.Repeat("x", i%50)+string(rune('a'+i%26))+time.Duration(i).String(), 3, t0)
	}
	l.allow("new", 3, t0.Add(2*time.Hour)) // sweeps the idle ones
	if len(l.buckets) > 10 {
		t.Fatalf("sweep kept %d idle buckets", len(l.buckets))
	}
}

func TestClientNetwork(t *testing.T) {
	for _, tc := range []struct{ remote, key string }{
		{"203.0.113.5:80", "203.0.113.5"},
		{"[::ffff:203.0.113.5]:80", "203.0.113.5"},
		{"[2001:db8:a:b:c:d:e:f]:443", "2001:db8:a:b::/64"},
		{"[fe80::1%eth0]:443", "fe80::/64"},
		{"garbage", "unknown"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if _, k := clientNetwork(r); k != tc.key {
			t.Errorf("%s: key %q, want %q", tc.remote, k, tc.key)
		}
	}
}

func TestReportResentFormStoredOnce(t *testing.T) {
	e := newPubEnv(t)
	w := e.do(httptest.NewRequest("GET", "/report", nil))
	m := regexp.MustCompile(`name="once" value="([0-9A-Z]{20})"`).FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatal("form has no once field")
	}
	// An invalid send keeps the same copy of the form.
	w = e.submit(bullying("once", m[1], "choice", ""))
	if w.Code != 422 || !strings.Contains(w.Body.String(), `value="`+m[1]+`"`) {
		t.Fatalf("invalid send: %d", w.Code)
	}
	ref, _ := receipt(t, e.submit(bullying("once", m[1])))
	w = e.submit(bullying("once", m[1])) // the reload of the receipt
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, i18n.Get("vi").T("report.again.title")) || !strings.Contains(body, ref) {
		t.Fatalf("resend: %d\n%s", w.Code, body)
	}
	assertTranslated(t, "resend page", body)
	if c := e.caseOf(ref); c.ReportCount != 1 || e.caseCount() != 1 {
		t.Fatalf("resend stored again: %d reports", c.ReportCount)
	}
	// A new copy of the form is a new report (joined to the case by its link).
	receipt(t, e.submit(bullying("once", publicRandomCode(20))))
	if c := e.caseOf(ref); c.ReportCount != 2 {
		t.Fatalf("new form: %d reports", c.ReportCount)
	}
}
