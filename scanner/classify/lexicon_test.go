package classify

import (
	"strings"
	"testing"
)

func hasReason(r Result, category, term string) bool {
	for _, x := range r.Reasons {
		if x.Category == category && strings.Contains(x.Evidence, "'"+term+"'") {
			return true
		}
	}
	return false
}

func hasRule(r Result, rule string) bool {
	for _, x := range r.Reasons {
		if x.Rule == rule {
			return true
		}
	}
	return false
}

func TestLexiconsLoad(t *testing.T) {
	lx, err := loadLexicon()
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, e := range lx.entries {
		per[e.category]++
	}
	for _, c := range Categories {
		if per[c] == 0 {
			t.Errorf("category %s has no lexicon entries", c)
		}
	}
}

// Each category is found in Vietnamese and in English, with the entry in the reason and the
// category on top.
func TestLexiconCategories(t *testing.T) {
	for _, c := range []struct{ text, cat, term string }{
		{"Xem phim sex miễn phí tại đây", Sexual, "phim sex"},
		{"free porn videos", Sexual, "porn"},
		{"Em chán sống lắm, không muốn sống nữa", SelfHarm, "không muốn sống"},
		{"sometimes I want to kill myself", SelfHarm, "kill myself"},
		{"Clip xả súng ở trường học", Violence, "xả súng"},
		{"video of a beheading", Violence, "beheading"},
		{"Chơi nổ hũ, tài xỉu uy tín", Gambling, "nổ hũ"},
		{"no hu doi thuong", Gambling, "nổ hũ"},
		{"best online casino bonus", Gambling, "online casino"},
		{"Tuyển việc nhẹ lương cao, làm tại nhà", Scam, "việc nhẹ lương cao"},
		{"Get free robux now", Scam, "free robux"},
		{"Mày đúng là đồ ngu, óc chó", HateBullying, "óc chó"},
		{"nobody likes you, just go die", HateBullying, "nobody likes you"},
	} {
		r := Classify(c.text)
		if !hasReason(r, c.cat, c.term) {
			t.Errorf("Classify(%q): no %s reason for %q: %+v", c.text, c.cat, c.term, r.Reasons)
		}
		if r.Top != c.cat {
			t.Errorf("Classify(%q).Top = %q, want %q (scores %v)", c.text, r.Top, c.cat, r.Scores)
		}
	}
}

func TestLexiconReasonFormat(t *testing.T) {
	r := Classify("nổ hũ")
	want := Reason{Category: Gambling, Rule: "lexicon", Evidence: "'nổ hũ'"}
	if len(r.Reasons) == 0 || r.Reasons[0] != want {
		t.Fatalf("reasons = %+v, want first %+v", r.Reasons, want)
	}
	r = Classify("no huuuu")
	if !hasReason(r, Gambling, "nổ hũ") || !strings.Contains(r.Reasons[0].Evidence, "'no huu' for") {
		t.Errorf("shadow match reason = %+v", r.Reasons)
	}
}

func TestClean(t *testing.T) {
	for _, s := range []string{
		"Hôm nay trời đẹp, em đi học cùng các bạn.",
		"The alphabet song for children",
		"Lịch thi tốt nghiệp năm 2026 đã được công bố",
		"Tôi không dám nói",
		"",
	} {
		if r := Classify(s); r.Top != Clean {
			t.Errorf("Classify(%q).Top = %q, want clean (reasons %+v)", s, r.Top, r.Reasons)
		}
	}
}

// An idiom with a violent verb stays under the violence threshold on the lexicon alone.
func TestIdiomUnderThreshold(t *testing.T) {
	r := Classify("Giết thời gian bằng cách đọc sách")
	if !hasReason(r, Violence, "giết") {
		t.Fatalf("'giết' not found: %+v", r.Reasons)
	}
	if r.Scores[Violence] >= DefaultThreshold {
		t.Errorf("violence score %v for an idiom", r.Scores[Violence])
	}
}

// A syllable written with diacritics must match them: "tú tư" is not "tự tử", "tu tu" may be.
func TestDiacriticsDecide(t *testing.T) {
	if r := Classify("tú tư"); hasReason(r, SelfHarm, "tự tử") {
		t.Errorf("'tú tư' matched 'tự tử': %+v", r.Reasons)
	}
	if r := Classify("tu tu"); !hasReason(r, SelfHarm, "tự tử") {
		t.Errorf("'tu tu' did not match 'tự tử': %+v", r.Reasons)
	}
	// In a text written with diacritics an unmarked syllable means what it says.
	if r := Classify("Em gửi anh cái áo mới mua"); hasRule(r, "photo_request") {
		t.Errorf("'gửi anh' in a marked text matched a photo request: %+v", r.Reasons)
	}
	if r := Classify("em gui anh cai anh di"); !hasRule(r, "photo_request") {
		t.Errorf("'gui anh cai anh' in an unmarked text: %+v", r.Reasons)
	}
}

func TestGroomingRules(t *testing.T) {
	one := Classify("em bao nhiêu tuổi rồi?")
	if !hasRule(one, "age_question") {
		t.Fatalf("age question not found: %+v", one.Reasons)
	}
	if one.Top == Grooming {
		t.Errorf("one rule alone is a grooming suggestion: %v", one.Scores)
	}
	for _, c := range []struct {
		text  string
		rules []string
	}{
		{"Em mấy tuổi? Gửi anh cái ảnh đi, nhớ đừng nói với bố mẹ nhé", []string{"age_question", "photo_request", "secrecy"}},
		{"em hok dc ke voi ai nha, giu bi mat", []string{"secrecy"}},
		{"how old are you? send me a pic, don't tell your parents", []string{"age_question", "photo_request", "secrecy"}},
		{"anh cho em tiền nạp game, ib anh qua zalo", []string{"gift_offer", "move_app"}},
		{"are you home alone? let's meet, I'll buy you a phone", []string{"meet_request", "gift_offer"}},
	} {
		r := Classify(c.text)
		for _, rule := range c.rules {
			if !hasRule(r, rule) {
				t.Errorf("Classify(%q): rule %s missing: %+v", c.text, rule, r.Reasons)
			}
		}
		// The model may also score such a text as offensive; grooming must pass its own
		// threshold whatever the top is.
		if len(c.rules) > 1 && r.Scores[Grooming] < DefaultThreshold {
			t.Errorf("Classify(%q): grooming %v under the threshold", c.text, r.Scores[Grooming])
		}
	}
}

func TestParseLexiconErrors(t *testing.T) {
	for _, s := range []string{"[rule]", "[rule 2]", "term | x", "... term", "term ...", "term ... ... x", "[r 0.5]\n!!!"} {
		if _, err := parseLexicon("test", s); err == nil {
			t.Errorf("parseLexicon(%q) accepted it", s)
		}
	}
	es, err := parseLexicon("test", "# c\n[r 0.4]\na b # note\nc | 0.9\n")
	if err != nil || len(es) != 2 || es[0].rule != "r" || es[0].weight != 0.4 || es[1].weight != 0.9 || len(es[0].syls) != 2 {
		t.Errorf("parseLexicon = %+v, %v", es, err)
	}
}
