package classify

import (
	"strings"
	"testing"
)

// The full severity order of the comment on Severity: grooming, sexual, self-harm,
// violence, scam, gambling, hate/bullying; every pair is decided by it whatever the scores,
// and categories outside it (a list's own) come after it, by name.
func TestTopFollowsEverySeverityPair(t *testing.T) {
	c, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	order := []string{Grooming, Sexual, SelfHarm, Violence, Scam, Gambling, HateBullying}
	for i, hi := range order {
		for _, lo := range order[i+1:] {
			if got := c.top(map[string]float64{hi: 0.5, lo: 0.99}); got != hi {
				t.Errorf("top(%s 0.5, %s 0.99) = %s, want %s", hi, lo, got, hi)
			}
		}
	}
	if got := c.top(map[string]float64{"zz_list": 0.9, "aa_list": 0.9, HateBullying: 0.1}); got != "aa_list" {
		t.Errorf("two unranked categories: top = %s, want aa_list (by name)", got)
	}
	if got := c.top(map[string]float64{"aa_list": 0.9, HateBullying: 0.6}); got != HateBullying {
		t.Errorf("ranked vs unranked: top = %s, want %s", got, HateBullying)
	}
}

// Classify reads the first MaxTextBytes (1 MiB) and says when it cut.
func TestClassifyTruncatesAtOneMiB(t *testing.T) {
	if MaxTextBytes != 1<<20 {
		t.Errorf("MaxTextBytes = %d, want 1 MiB", MaxTextBytes)
	}
	at := strings.Repeat("a ", 1<<19) // exactly 1 MiB
	if r := Classify(at); r.Truncated {
		t.Error("a text of exactly 1 MiB reported truncated")
	}
	if r := Classify(at + "b"); !r.Truncated {
		t.Error("a text of 1 MiB + 1 byte not reported truncated")
	}
}

// The model's score is kept when it is under the threshold too (the score is information,
// only the reason needs the threshold).
func TestModelScoreUnderThresholdKept(t *testing.T) {
	r := Classify("hôm nay trời đẹp, cả nhà đi chơi công viên")
	s := r.Scores[HateBullying]
	if s <= 0 || s >= DefaultThreshold {
		t.Fatalf("hate_bullying score %v for an ordinary sentence: want the model's small positive score", s)
	}
	for _, x := range r.Reasons {
		if x.Category == HateBullying {
			t.Errorf("reason under the threshold: %+v", x)
		}
	}
}

// rescale puts the model's tuned threshold at 0.5 and keeps 0 at 0 and 1 at 1, increasing.
func TestRescaleEnds(t *testing.T) {
	for _, th := range []float64{0.2, 0.35, 0.5, 0.8} {
		if got := rescale(0, th); got != 0 {
			t.Errorf("rescale(0, %v) = %v", th, got)
		}
		if got := rescale(th, th); got != 0.5 {
			t.Errorf("rescale(%v, %v) = %v", th, th, got)
		}
		if got := rescale(1, th); got != 1 {
			t.Errorf("rescale(1, %v) = %v", th, got)
		}
		prev := -1.0
		for p := 0.0; p <= 1; p += 0.05 {
			v := rescale(p, th)
			if v < prev {
				t.Errorf("rescale not increasing at p=%v (t=%v): %v after %v", p, th, v, prev)
			}
			prev = v
		}
	}
}
