package classify

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestThresholds(t *testing.T) {
	if _, err := New(map[string]float64{"nope": 0.5}); err == nil {
		t.Error("unknown category accepted")
	}
	if _, err := New(map[string]float64{Gambling: 1.5}); err == nil {
		t.Error("threshold 1.5 accepted")
	}
	if _, err := New(map[string]float64{Gambling: math.NaN()}); err == nil {
		t.Error("threshold NaN accepted")
	}
	text := "chơi cá cược online" // one gambling entry, weight 0.6
	if r := Classify(text); r.Top != Gambling {
		t.Fatalf("default: top %q, scores %v", r.Top, r.Scores)
	}
	strict, err := New(map[string]float64{Gambling: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	r := strict.Classify(text)
	if r.Top != Clean {
		t.Errorf("gambling threshold 0.9: top %q, scores %v", r.Top, r.Scores)
	}
	if !hasReason(r, Gambling, "cá cược") {
		t.Errorf("the reason is kept under the threshold: %+v", r.Reasons)
	}
}

func checkResult(t *testing.T, r Result) {
	t.Helper()
	for _, c := range Categories {
		s, ok := r.Scores[c]
		if !ok || s < 0 || s > 1 || math.IsNaN(s) {
			t.Fatalf("score %s = %v (present %v)", c, s, ok)
		}
	}
	if r.Top != Clean {
		if _, ok := r.Scores[r.Top]; !ok {
			t.Fatalf("top %q has no score", r.Top)
		}
	}
	for _, x := range r.Reasons {
		if !utf8.ValidString(x.Evidence) {
			t.Fatalf("reason evidence is not UTF-8: %q", x.Evidence)
		}
	}
}

func TestHostileInput(t *testing.T) {
	big := strings.Repeat("nổ hũ đổi thưởng ", 10<<20/len("nổ hũ đổi thưởng "))
	r := Classify(big)
	checkResult(t, r)
	if !r.Truncated || r.Top != Gambling {
		t.Errorf("10 MB text: truncated %v, top %q", r.Truncated, r.Top)
	}
	for _, s := range []string{
		"nổ\x00hũ", "n\xffổ hũ \xfe\xfe", "\x00\x00\x00", strings.Repeat("\xff", 1000),
		"s\u200bex \u200dp\u200co\u200brn", "\u202eporn\u202c", "\u2067nổ hũ\u2069",
		strings.Repeat("a", 100000), strings.Repeat("\u0301", 10000), strings.Repeat("... ", 10000),
	} {
		checkResult(t, Classify(s))
	}
	if r := Classify("nổ\x00hũ"); !hasReason(r, Gambling, "nổ hũ") {
		t.Errorf("NUL between syllables: %+v", r.Reasons)
	}
	if r := Classify("p\u200bo\u200crn"); !hasReason(r, Sexual, "porn") {
		t.Errorf("zero-width evasion: %+v", r.Reasons)
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{"", "nổ hũ", "em mấy tuổi gửi ... ảnh", "k0ng mu0n s0ng", "\xff\x00", "go88.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkResult(t, Classify(s))
		r := ClassifyDomain(s, func(string) (string, bool) { return "", false })
		if r.Top == "" {
			t.Fatal("empty top")
		}
	})
}

// pageText is about 2 KB of a Vietnamese news page with one gambling advertisement.
var pageText = strings.Repeat("Sáng nay, Bộ Giáo dục và Đào tạo công bố lịch thi tốt nghiệp trung học phổ thông năm 2026. "+
	"Thí sinh cần chuẩn bị giấy tờ, đến điểm thi đúng giờ và mang theo bút, thước kẻ. ", 8) +
	"Quảng cáo: nhà cái uy tín, nạp đầu tặng 100k, chơi nổ hũ và tài xỉu đổi thưởng."

func BenchmarkClassify2KB(b *testing.B) {
	b.SetBytes(int64(len(pageText)))
	c := std()
	for b.Loop() {
		c.Classify(pageText)
	}
}

// Top is the most severe category past its threshold, not the highest score: grooming at its
// threshold outranks a near-certain insult, and a category below its threshold never wins.
func TestTopBySeverity(t *testing.T) {
	c, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		scores map[string]float64
		want   string
	}{
		{map[string]float64{HateBullying: 0.99, Grooming: 0.5}, Grooming},
		{map[string]float64{HateBullying: 0.99, Gambling: 0.6, Sexual: 0.51}, Sexual},
		{map[string]float64{HateBullying: 0.99, Grooming: 0.49}, HateBullying},
		{map[string]float64{Gambling: 0.3, Scam: 0.2}, Clean},
	} {
		if got := c.top(tc.scores); got != tc.want {
			t.Errorf("top(%v) = %s, want %s", tc.scores, got, tc.want)
		}
	}
}
