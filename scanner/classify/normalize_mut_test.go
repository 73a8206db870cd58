package classify

import (
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// Numbers are not leetspeak: only tokens mixing letters with leet digits are rewritten.
func TestNormalizeKeepsPlainNumbers(t *testing.T) {
	for _, s := range []string{"100", "2026", "1 3 5 7", "0", "nạp 100 nhận 500"} {
		if got := Normalize(s); got != s {
			t.Errorf("Normalize(%q) = %q, want it unchanged", s, got)
		}
	}
}

// Shadow removes every combining mark, also from text that is not composed (NFD input, or
// a mark no precomposed letter has).
func TestShadowDecomposedInput(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{norm.NFD.String("không được"), "khong duoc"},
		{norm.NFD.String("Tiếng Việt"), "Tieng Viet"},
		{"q\u0303", "q"},
	} {
		if got := Shadow(c.in); got != c.want {
			t.Errorf("Shadow(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func mutHasReason(r Result, category, evidence string) bool {
	for _, x := range r.Reasons {
		if x.Category == category && strings.Contains(x.Evidence, evidence) {
			return true
		}
	}
	return false
}

func mutHasRule(r Result, rule string) bool {
	for _, x := range r.Reasons {
		if x.Rule == rule {
			return true
		}
	}
	return false
}

// A "1" in leetspeak may stand for "l" as well as "i": both readings are matched.
func TestLeetOneReadAsL(t *testing.T) {
	for _, c := range []struct{ text, category, term string }{
		{"b1owjob", Sexual, "blowjob"},
		{"1oser", HateBullying, "loser"},
	} {
		if r := Classify(c.text); !mutHasReason(r, c.category, c.term) {
			t.Errorf("Classify(%q): no %s reason for %q: %+v", c.text, c.category, c.term, r.Reasons)
		}
	}
}
