package ui

import (
	"fmt"
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
		"vi": {"Gợi ý từ nguồn theo dõi", "Trùng mã băm đã biết, khoảng cách 5", "Cờ bạc", "0.91", "cá-cược-xyz", "Mở vụ việc từ gợi ý này", "Bỏ qua"},
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
	if err := e.st.DecideSourceSuggestion(ctx, done, store.SuggestionDismissed, 0, "user:1", time.Date(2026, 3, 2, 17, 45, 0, 0, time.UTC)); err != nil {
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
