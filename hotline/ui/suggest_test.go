package ui

import (
	"fmt"
	"html"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/store"
)

func sugAdd(t *testing.T, e *deskEnv, u string, g store.SourceSuggestion) int64 {
	t.Helper()
	g.Source, g.URL, g.Canonical, g.Created, g.HTTPStatus = "bao", u, u, e.now, 200
	id, created, err := e.st.AddSourceSuggestion(t.Context(), g)
	if err != nil || !created {
		t.Fatalf("add suggestion: %v %v", created, err)
	}
	return id
}

// The suggestions page lists each open suggestion with its reasons in both languages, only to
// analysts and supervisors; "open a case" makes a crawler report with the chosen harm and
// "dismiss" closes it; each decision once, with CSRF.
func TestSuggestionsPage(t *testing.T) {
	e := newDeskEnv(t)
	a := sugAdd(t, e, "https://bao.example.vn/tin-1", store.SourceSuggestion{Title: "Tin một",
		Matches: []store.ScanMatch{{ImageURL: "https://bao.example.vn/anh.jpg", Distance: 5, Transform: "original", Source: "file:/k.pdq:1"}}})
	b := sugAdd(t, e, "https://bao.example.vn/tin-2", store.SourceSuggestion{Title: "Tin hai",
		Suggestion: store.ScanSuggestion{Top: "gambling", Scores: map[string]float64{"gambling": 0.91}, Reasons: []store.ScanReason{{Category: "gambling", Rule: "lexicon", Evidence: "cá-cược-xyz"}}}})

	for who, want := range map[string]int{"": 303, "op": 403, "partner": 403, "admin": 403, "lan": 200, "sup": 200} {
		if w := e.do("GET", "/desk/suggestions", who, nil); w.Code != want {
			t.Errorf("GET as %q: %d, want %d", who, w.Code, want)
		}
	}
	for lang, want := range map[string][]string{
		"vi": {"Gợi ý từ nguồn theo dõi", "Trùng mã băm đã biết, khoảng cách 5", "Cờ bạc", "0,91", "cá-cược-xyz", "Mở vụ việc từ gợi ý này", "Bỏ qua"},
		"en": {"Suggestions from monitored sources", "Known-hash match, distance 5", "0.91", "cá-cược-xyz", "Open a case from this", "Dismiss"},
	} {
		w := e.do("GET", "/desk/suggestions?lang="+lang, "lan", nil)
		body := w.Body.String()
		for _, s := range append(want, "Tin một", "https://bao.example.vn/tin-2") {
			if !strings.Contains(body, s) {
				t.Errorf("%s: page lacks %q", lang, s)
			}
		}
		if m := regexp.MustCompile(`\b(suggest|scan|harm)\.[a-zA-Z_.]+`).FindString(body); m != "" {
			t.Errorf("%s: untranslated key %s", lang, m)
		}
		if strings.Contains(body, "<img") {
			t.Errorf("%s: the page shows an image", lang)
		}
	}
	// The known-hash match is preselected as CSAM, the gambling text as gambling.
	body := e.do("GET", "/desk/suggestions", "lan", nil).Body.String()
	if !strings.Contains(body, `value="CSE.CSAM" selected`) || !strings.Contains(body, `value="HARM.GAMBLING" selected`) {
		t.Error("harm not preselected from the reasons")
	}

	// Without the CSRF token, or as an operator: refused, nothing decided.
	if w := e.do("POST", fmt.Sprintf("/desk/suggestions/%d/dismiss", b), "lan", url.Values{"csrf": {"wrong"}}); w.Code != 403 {
		t.Errorf("dismiss without CSRF: %d", w.Code)
	}
	if w := e.do("POST", fmt.Sprintf("/desk/suggestions/%d/dismiss", b), "op", url.Values{}); w.Code != 403 {
		t.Errorf("dismiss as operator: %d", w.Code)
	}
	if w := e.do("POST", fmt.Sprintf("/desk/suggestions/%d/open", a), "lan", url.Values{"harm": {"NOPE"}}); w.Code != 422 {
		t.Errorf("open with an unknown harm: %d", w.Code)
	}
	w := e.do("POST", fmt.Sprintf("/desk/suggestions/%d/open", a), "lan", url.Values{"harm": {"CSE.CSAM"}})
	m := regexp.MustCompile(`^/desk/cases/(\d+)$`).FindStringSubmatch(w.Header().Get("Location"))
	if w.Code != 303 || m == nil {
		t.Fatalf("open: %d %s", w.Code, w.Header().Get("Location"))
	}
	g, _ := e.st.SourceSuggestionByID(t.Context(), a)
	if g.State != store.SuggestionOpened || fmt.Sprint(g.CaseID) != m[1] || !strings.HasPrefix(g.DecidedBy, "user:") {
		t.Fatalf("opened suggestion %+v", g)
	}
	reps, err := e.st.CaseReports(t.Context(), g.CaseID)
	if err != nil || len(reps) != 1 || reps[0].Channel != "crawler" || reps[0].Harm != "CSE.CSAM" {
		t.Fatalf("case reports %+v %v", reps, err)
	}
	if w := e.do("POST", fmt.Sprintf("/desk/suggestions/%d/open", a), "lan", url.Values{"harm": {"CSE.CSAM"}}); w.Code != 409 {
		t.Errorf("opened twice: %d", w.Code)
	}
	if w := e.do("POST", fmt.Sprintf("/desk/suggestions/%d/dismiss", b), "sup", url.Values{}); w.Code != 303 {
		t.Fatalf("dismiss: %d", w.Code)
	}
	if w := e.do("POST", "/desk/suggestions/999/dismiss", "sup", url.Values{}); w.Code != 404 {
		t.Errorf("dismiss unknown: %d", w.Code)
	}
	body = e.do("GET", "/desk/suggestions?lang=vi", "lan", nil).Body.String()
	if !strings.Contains(body, "Không có gợi ý nào đang chờ.") || !strings.Contains(body, "Đã mở vụ việc") || !strings.Contains(body, "Đã bỏ qua") {
		t.Error("decided suggestions not shown as decided")
	}
}

// The suggestions page shows times in local time (Asia/Ho_Chi_Minh), as the case page does: a
// suggestion made late in the evening UTC is the next morning's in Viet Nam. A match's source
// is its hash list's file name or the network list, never a server path.
func TestSuggestionsLocalTimesAndSources(t *testing.T) {
	e := newDeskEnv(t)
	ctx := t.Context()
	add := func(u string, created time.Time, source string) int64 {
		id, _, err := e.st.AddSourceSuggestion(ctx, store.SourceSuggestion{Source: "bao", URL: u, Canonical: u, Created: created, HTTPStatus: 200,
			Matches: []store.ScanMatch{{ImageURL: u + "/anh.jpg", Distance: 4, Transform: "orig", Source: source}}})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	add("https://bao.example.vn/khuya", time.Date(2026, 3, 1, 20, 30, 0, 0, time.UTC), "file:/etc/kidshield/may-chu/hashes.txt:9")
	add("https://bao.example.vn/mang-luoi", time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC), "list:77")
	done := add("https://bao.example.vn/da-xu-ly", time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC), "list:78")
	if err := e.st.DecideSourceSuggestion(ctx, done, store.SuggestionDecision{To: store.SuggestionDismissed, Actor: "user:1", Reason: "r",
		Time: time.Date(2026, 3, 2, 17, 45, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string][]string{
		"vi": {"danh sách mã băm hashes.txt, dòng 9", "danh sách mạng lưới, mục 77"},
		"en": {"hash list hashes.txt, line 9", "network list, entry 77"},
	} {
		body := e.do("GET", "/desk/suggestions?lang="+lang, "lan", nil).Body.String()
		// 20:30 UTC on 1 March is 03:30 on 2 March in Viet Nam; the decision at 17:45 UTC on
		// 2 March is 00:45 on 3 March.
		for _, s := range append(want, "02/03 03:30", "01/03 10:00", "03/03 00:45") {
			if !strings.Contains(body, s) {
				t.Errorf("%s: page lacks %q", lang, s)
			}
		}
		for _, s := range []string{"01/03 20:30", "02/03 17:45", "/etc/kidshield", "may-chu", "list:77"} {
			if strings.Contains(body, s) {
				t.Errorf("%s: page shows %q", lang, s)
			}
		}
	}
}

// Dismissing a known-hash match takes a reason: the field is on that form only, a missing
// reason is refused in the analyst's language with nothing decided, a reason too long comes
// back with what was typed, and the reason given is kept and shown. A text suggestion is still
// dismissed in one click. Who decided is shown by name.
func TestSuggestionDismissKnownHashNeedsReason(t *testing.T) {
	e := newDeskEnv(t)
	hash := sugAdd(t, e, "https://bao.example.vn/anh", store.SourceSuggestion{Title: "Ảnh",
		Matches: []store.ScanMatch{{ImageURL: "https://bao.example.vn/anh.jpg", Distance: 0, Transform: "orig", Source: "list:3"}}})
	text := sugAdd(t, e, "https://bao.example.vn/chu", store.SourceSuggestion{Title: "Chữ",
		Suggestion: store.ScanSuggestion{Top: "gambling", Scores: map[string]float64{"gambling": 0.9}}})

	body := e.do("GET", "/desk/suggestions", "lan", nil).Body.String()
	if n := strings.Count(body, `name="reason"`); n != 1 || !strings.Contains(body, `name="reason" required`) {
		t.Errorf("reason fields on the page: %d, want one, required", n)
	}
	dismiss := func(id int64, lang, reason string) *httptest.ResponseRecorder {
		return e.do("POST", fmt.Sprintf("/desk/suggestions/%d/dismiss?lang=%s", id, lang), "lan", url.Values{"reason": {reason}})
	}
	for lang, want := range map[string]string{
		"vi": "Gợi ý trùng mã băm đã biết chỉ được bỏ qua khi có lý do",
		"en": "A page that matched a known hash is dismissed only with a reason",
	} {
		for _, reason := range []string{"", "   "} {
			w := dismiss(hash, lang, reason)
			if w.Code != 422 || !strings.Contains(w.Body.String(), want) || !strings.Contains(w.Body.String(), `aria-invalid="true" autofocus`) {
				t.Errorf("%s: dismiss without a reason %q: %d", lang, reason, w.Code)
			}
		}
	}
	long := strings.Repeat("dài ", sugReasonMax/4) + "thêm"
	if w := dismiss(hash, "vi", long); w.Code != 422 || !strings.Contains(w.Body.String(), "Lý do quá dài: tối đa 500 ký tự.") ||
		!strings.Contains(w.Body.String(), `value="`+long+`"`) {
		t.Errorf("a reason too long: %d, or the typed text is lost", w.Code)
	}
	if g, _ := e.st.SourceSuggestionByID(t.Context(), hash); g.State != store.SuggestionOpen {
		t.Fatalf("a refused dismissal decided it: %+v", g)
	}
	if w := dismiss(hash, "vi", "  logo của báo  "); w.Code != 303 {
		t.Fatalf("dismiss with a reason: %d", w.Code)
	}
	if w := e.do("POST", fmt.Sprintf("/desk/suggestions/%d/dismiss", text), "minh", url.Values{}); w.Code != 303 {
		t.Fatalf("one-click dismiss of a text suggestion: %d", w.Code)
	}
	g, _ := e.st.SourceSuggestionByID(t.Context(), hash)
	if g.State != store.SuggestionDismissed || g.DecidedReason != "logo của báo" {
		t.Fatalf("dismissed %+v", g)
	}
	for lang, want := range map[string][]string{
		"vi": {"do Cán bộ lan xử lý", "do Cán bộ minh xử lý", "Lý do: logo của báo"},
		"en": {"by Cán bộ lan", "by Cán bộ minh", "Reason: logo của báo"},
	} {
		body := e.do("GET", "/desk/suggestions?lang="+lang, "sup", nil).Body.String()
		for _, s := range want {
			if !strings.Contains(body, s) {
				t.Errorf("%s: recently decided lacks %q", lang, s)
			}
		}
		if strings.Contains(body, "user:") {
			t.Errorf("%s: recently decided shows an audit label", lang)
		}
	}
}

// A case opened from a suggestion starts with a report written in the language of the analyst
// who opened it.
func TestSuggestionOpenReportLanguage(t *testing.T) {
	for lang, want := range map[string]string{
		"vi": "Gợi ý số %d của máy quét, từ nguồn theo dõi bao: Tin lạ",
		"en": "Scanner suggestion %d, from the monitored source bao: Tin lạ",
	} {
		e := newDeskEnv(t)
		id := sugAdd(t, e, "https://bao.example.vn/tin-"+lang, store.SourceSuggestion{Title: "Tin lạ",
			Suggestion: store.ScanSuggestion{Top: "grooming", Scores: map[string]float64{"grooming": 0.7}}})
		w := e.do("POST", fmt.Sprintf("/desk/suggestions/%d/open?lang=%s", id, lang), "lan", url.Values{"harm": {"CSE.GROOM"}})
		if w.Code != 303 {
			t.Fatalf("%s: open: %d", lang, w.Code)
		}
		g, _ := e.st.SourceSuggestionByID(t.Context(), id)
		reps, err := e.st.CaseReports(t.Context(), g.CaseID)
		if err != nil || len(reps) != 1 || reps[0].Language != lang {
			t.Fatalf("%s: reports %+v %v", lang, reps, err)
		}
		body := e.do("GET", fmt.Sprintf("/desk/cases/%d?lang=%s", g.CaseID, lang), "lan", nil).Body.String()
		if !strings.Contains(body, fmt.Sprintf(want, id)) {
			t.Errorf("%s: the case page lacks the report %q", lang, fmt.Sprintf(want, id))
		}
	}
}

// Reasons read as words: the rule by its name in the analyst's language (an unknown one as its
// id), the evidence in one pair of quotes however the classifier quoted it.
func TestSuggestionReasonsWorded(t *testing.T) {
	e := newDeskEnv(t)
	sugAdd(t, e, "https://bao.example.vn/ban-be", store.SourceSuggestion{Suggestion: store.ScanSuggestion{Top: "grooming",
		Scores: map[string]float64{"grooming": 0.75}, Reasons: []store.ScanReason{
			{Category: "grooming", Rule: "secrecy", Evidence: "'đừng nói với bố mẹ'"},
			{Category: "grooming", Rule: "photo_request", Evidence: "gui anh (gửi ảnh)"},
			{Category: "grooming", Rule: "zz_new_rule", Evidence: "gặp nhau"},
		}}})
	for lang, want := range map[string][]string{
		"vi": {"đòi giữ bí mật: “đừng nói với bố mẹ”", "đòi gửi ảnh hoặc bật camera: “gui anh” (được hiểu là “gửi ảnh”)", "zz_new_rule: “gặp nhau”"},
		"en": {"asks to keep it secret: “đừng nói với bố mẹ”", "asks for photos or the camera: “gui anh” (read as “gửi ảnh”)", "zz_new_rule: “gặp nhau”"},
	} {
		body := html.UnescapeString(e.do("GET", "/desk/suggestions?lang="+lang, "lan", nil).Body.String())
		for _, s := range want {
			if !strings.Contains(body, s) {
				t.Errorf("%s: page lacks %q", lang, s)
			}
		}
		for _, s := range []string{"“'", "'”", "secrecy", "photo_request"} {
			if strings.Contains(body, s) {
				t.Errorf("%s: page shows %q", lang, s)
			}
		}
	}
}
