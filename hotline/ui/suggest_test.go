package ui

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

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
