package ui

import (
	"github.com/kidshield/kidshield/scanner/classify"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/web/i18n"
)

// Every rule the classifier can name — a lexicon file's "[rule weight]" sections and the Rule
// values written in scanner/classify — is in scanRules and has a name in both languages, so
// no rule reaches an analyst as its id.
func TestScanRulesComplete(t *testing.T) {
	ids := map[string]bool{}
	lex, _ := filepath.Glob("../../scanner/classify/lexicon/*.txt")
	section := regexp.MustCompile(`(?m)^\[(\w+) [0-9.]+\]`)
	for _, f := range lex {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range section.FindAllStringSubmatch(string(b), -1) {
			ids[m[1]] = true
		}
	}
	src, _ := filepath.Glob("../../scanner/classify/*.go")
	rule := regexp.MustCompile(`Rule:\s*"(\w+)"`)
	for _, f := range src {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range rule.FindAllStringSubmatch(string(b), -1) {
			ids[m[1]] = true
		}
	}
	ids["lexicon"] = true // the section a lexicon file starts in without a header
	if len(lex) == 0 || len(ids) < 8 {
		t.Fatalf("read %d lexicons, found rules %v", len(lex), ids)
	}
	for id := range ids {
		if !slices.Contains(scanRules, id) {
			t.Errorf("rule %q is not in scanRules", id)
		}
	}
	for _, id := range scanRules {
		for _, lang := range i18n.Languages {
			if got := scanRule(i18n.Get(lang), id); got == id || got == "" {
				t.Errorf("%s: rule %q has no name", lang, id)
			}
		}
	}
	if got := scanRule(i18n.Get("vi"), "zz_unknown"); got != "zz_unknown" {
		t.Errorf("unknown rule shown as %q", got)
	}
}

// Evidence is quoted once: the classifier's own quotes are replaced, its English shapes
// reworded, and text that carries quotes of its own is not wrapped again.
func TestScanEvidence(t *testing.T) {
	vi, en := i18n.Get("vi"), i18n.Get("en")
	for _, tc := range []struct{ in, vi, en string }{
		{"'đừng nói với bố mẹ'", "“đừng nói với bố mẹ”", "“đừng nói với bố mẹ”"},
		{"“đừng nói”", "“đừng nói”", "“đừng nói”"},
		{`"bí mật"`, "“bí mật”", "“bí mật”"},
		{"gặp nhau", "“gặp nhau”", "“gặp nhau”"},
		{"dung noi (đừng nói)", "“dung noi” (được hiểu là “đừng nói”)", "“dung noi” (read as “đừng nói”)"},
		{"chó, ngu, thằng", "“chó, ngu, thằng”", "“chó, ngu, thằng”"},
		{"'nohu' in 'nohu88.vn'", "“nohu” trong “nohu88.vn”", "“nohu” in “nohu88.vn”"},
		{"m.nohu88.vn is listed as gambling", "m.nohu88.vn có trong danh sách mạng lưới, loại Cờ bạc", "m.nohu88.vn is on the network list as Gambling"},
		{"'x' said 'y'", "'x' said 'y'", "'x' said 'y'"},
		{"'it's'", "'it's'", "'it's'"},
		{"  ", "", ""},
	} {
		if got := scanEvidence(vi, tc.in); got != tc.vi {
			t.Errorf("vi %q: %q, want %q", tc.in, got, tc.vi)
		}
		if got := scanEvidence(en, tc.in); got != tc.en {
			t.Errorf("en %q: %q, want %q", tc.in, got, tc.en)
		}
	}
}

// The shapes scanEvidence reads are the classifier's own: evidence from real classifications
// (words read as an entry, exact words, a host's cue and listing) comes out quoted once and
// reworded, so a change of shape in scanner/classify fails here.
func TestScanEvidenceOfRealClassifications(t *testing.T) {
	vi := i18n.Get("vi")
	evidence := func(r classify.Result, rule string) string {
		t.Helper()
		for _, re := range r.Reasons {
			if re.Rule == rule {
				return re.Evidence
			}
		}
		t.Fatalf("no %s reason in %+v", rule, r.Reasons)
		return ""
	}
	for _, tc := range []struct {
		name, ev, want string
	}{
		{"read as an entry", evidence(classify.Classify("em hok dc ke voi ai nha, giu bi mat"), "secrecy"), "(được hiểu là “"},
		{"exact words", evidence(classify.Classify("Nhớ đừng nói với bố mẹ nhé"), "secrecy"), "“đừng nói với bố mẹ”"},
		{"a cue in a host", evidence(classify.ClassifyDomain("nohu88.vn", nil), "name"), "“nohu” trong “nohu88”"},
		{"a listed host", evidence(classify.ClassifyDomain("m.adult.example", func(n string) (string, bool) { return "adult", n == "adult.example" }), "list"),
			"adult.example có trong danh sách mạng lưới, loại nội dung người lớn"},
	} {
		got := scanEvidence(vi, tc.ev)
		if !strings.Contains(got, tc.want) || strings.Count(got, "“") != strings.Count(got, "”") || strings.ContainsAny(got, "'\"") {
			t.Errorf("%s: %q shown as %q, want it to contain %q, quoted once", tc.name, tc.ev, got, tc.want)
		}
	}
}
