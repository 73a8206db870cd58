package classify

import (
	"strings"
	"testing"
)

// mutMarked counts the syllables of s as the shadow rule does: written ones (not expanded
// from teencode) and, of those, the ones with diacritics.
func mutMarked(s string) (written, marked int) {
	for _, t := range tokens(s) {
		if t.expanded {
			continue
		}
		written++
		if Shadow(t.text) != t.text {
			marked++
		}
	}
	return written, marked
}

// A text is read as written without diacritics when fewer than 15% of its syllables carry
// them; then "anh" may stand for "ảnh". At 15% and above, an unmarked syllable means what
// it says, so "gửi anh … anh" is not a photo request.
func TestShadowModeShareBoundary(t *testing.T) {
	fill := func(n int) string {
		return strings.TrimSpace(strings.Repeat("hom nay ", n/2) + strings.Repeat("ban ", n%2))
	}
	for _, c := range []struct {
		name         string
		text         string
		written      int
		marked       int
		photoRequest bool
	}{
		// 3 of 20 marked: exactly 15%, a marked text.
		{"15%", "em gửi anh cai anh nhé đây " + fill(13), 20, 3, false},
		// 2 of 20 marked: 10%, an unmarked text.
		{"10%", "em gửi anh cai anh nhé day " + fill(13), 20, 2, true},
		// 2 of 8 marked: 25%, a marked text.
		{"25%", "em gửi anh cai anh nhé ban oi", 8, 2, false},
	} {
		w, m := mutMarked(c.text)
		if w != c.written || m != c.marked {
			t.Fatalf("%s: %q has %d syllables, %d marked; the test wants %d and %d", c.name, c.text, w, m, c.written, c.marked)
		}
		if got := mutHasRule(Classify(c.text), "photo_request"); got != c.photoRequest {
			t.Errorf("%s (%q): photo_request %v, want %v", c.name, c.text, got, c.photoRequest)
		}
	}
}

// In a text read without diacritics, a syllable that does carry them still has to match
// them: "tú tư" is not "tự tử" even among unmarked words.
func TestMarkedSyllableInUnmarkedText(t *testing.T) {
	text := "hom nay minh gap ban cu ten la tú tư o truong cap ba ngay xua vui lam"
	w, m := mutMarked(text)
	if !(float64(m) < 0.15*float64(w)) || m != 2 {
		t.Fatalf("%q: %d of %d syllables marked, want 2 and under 15%%", text, m, w)
	}
	if r := Classify(text); mutHasReason(r, SelfHarm, "tự tử") {
		t.Errorf("'tú tư' matched 'tự tử' in an unmarked text: %+v", r.Reasons)
	}
	// The same words without their marks do match: the text is read as unmarked.
	plain := strings.Replace(text, "tú tư", "tu tu", 1)
	if r := Classify(plain); !mutHasReason(r, SelfHarm, "tự tử") {
		t.Errorf("'tu tu' did not match 'tự tử' in an unmarked text: %+v", r.Reasons)
	}
}

// "..." in a term skips up to three syllables (lexicon/grooming.txt), not four.
func TestLexiconGapOfThree(t *testing.T) {
	for _, c := range []struct {
		text string
		want bool
	}{
		{"send me your new photo", true},
		{"send me your very new photo", false},
	} {
		if got := mutHasRule(Classify(c.text), "photo_request"); got != c.want {
			t.Errorf("Classify(%q): photo_request %v, want %v", c.text, got, c.want)
		}
	}
}
