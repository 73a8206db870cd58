package ui

import (
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
		{"'dung noi' for 'đừng nói'", "“dung noi” (được hiểu là “đừng nói”)", "“dung noi” (read as “đừng nói”)"},
		{"'nohu' in 'nohu88.vn'", "“nohu” trong “nohu88.vn”", "“nohu” in “nohu88.vn”"},
		{"p=0.912 (tuned threshold 0.500); strongest words: 'ngu', 'vãi'", "xác suất 0.912 (ngưỡng 0.500); các từ ảnh hưởng nhiều nhất: “ngu”, “vãi”",
			"probability 0.912 (threshold 0.500); strongest words: “ngu”, “vãi”"},
		{"p=0.700 (tuned threshold 0.500)", "xác suất 0.700 (ngưỡng 0.500)", "probability 0.700 (threshold 0.500)"},
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
