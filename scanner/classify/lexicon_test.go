package classify

import (
	"strings"
	"testing"
)

// hasReason reports a reason of category for the lexicon entry term: the evidence is the
// term as written, or the words read for it followed by "(term)".
func hasReason(r Result, category, term string) bool {
	for _, x := range r.Reasons {
		if x.Category == category && (x.Evidence == term || strings.HasSuffix(x.Evidence, " ("+term+")")) {
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

// Evidence is what the page shows inside its own quotes: the words matched, no quotes of
// the classifier's, and the lexicon's term in parentheses only when the words differ from it.
func TestLexiconReasonFormat(t *testing.T) {
	for _, c := range []struct {
		text string
		want Reason
	}{
		{"Chơi NỔ HŨ", Reason{Category: Gambling, Rule: "lexicon", Evidence: "nổ hũ"}},
		{"no huuuu", Reason{Category: Gambling, Rule: "lexicon", Evidence: "no huu (nổ hũ)"}},
		{"xem s3x", Reason{Category: Sexual, Rule: "lexicon", Evidence: "s3x (sex)"}},
		// A match that skipped words is its own evidence: the gap's width is the lexicon's
		// business.
		{"Gửi cho anh vài tấm ảnh đi", Reason{Category: Grooming, Rule: "photo_request", Evidence: "gửi cho anh vài tấm ảnh"}},
		{"gui cho anh vai tam anh di", Reason{Category: Grooming, Rule: "photo_request", Evidence: "gui cho anh vai tam anh (gửi … ảnh)"}},
		// Two entries of one rule over overlapping words are one reason covering both.
		{"Gửi cho anh vài tấm ảnh riêng tư", Reason{Category: Grooming, Rule: "photo_request", Evidence: "gửi cho anh vài tấm ảnh riêng tư"}},
	} {
		r := Classify(c.text)
		if len(r.Reasons) == 0 || r.Reasons[0] != c.want {
			t.Errorf("Classify(%q).Reasons = %+v, want first %+v", c.text, r.Reasons, c.want)
		}
		for _, x := range r.Reasons {
			if strings.ContainsAny(x.Evidence, "'\"“”") {
				t.Errorf("Classify(%q): evidence %q carries quotes", c.text, x.Evidence)
			}
		}
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
	for _, s := range []string{"[rule]", "[rule 2]", "term | x", "... term", "term ...", "term ... ... x", "[r 0.5]\n!!!",
		"a ...0 b", "a ...10 b", "a ...x b", "{a/b", "a}b", "{a/{b}}", "{a//b}", "{}", "!", "=",
		"{a/b/c/d/e/f/g/h} {a/b/c/d/e/f/g/h} {a/b/c/d/e/f/g/h} {a/b}"} {
		if _, err := parseLexicon("test", s); err == nil {
			t.Errorf("parseLexicon(%q) accepted it", s)
		}
	}
	es, err := parseLexicon("test", "# c\n[r 0.4]\na b # note\nc | 0.9\n")
	if err != nil || len(es) != 2 || es[0].rule != "r" || es[0].weight != 0.4 || es[1].weight != 0.9 || len(es[0].syls) != 2 {
		t.Errorf("parseLexicon = %+v, %v", es, err)
	}
}

// "{a/b}" is one entry per alternative (several words allowed), "...N" a gap of N, "!" an
// exclusion, "=" a term matched only as written; the weight applies to every expansion.
func TestParseLexiconSyntax(t *testing.T) {
	es, err := parseLexicon("test", "[r 0.4]\nchuyển {sang/qua} {zalo/nói chuyện} ...5 x | 0.3\n! =a {b/c}\n")
	if err != nil {
		t.Fatal(err)
	}
	var terms []string
	for _, e := range es[:4] {
		terms = append(terms, e.term)
		if e.weight != 0.3 || e.exclude || e.syls[0].asWritten {
			t.Errorf("%q: weight %v, exclude %v, as written %v", e.term, e.weight, e.exclude, e.syls[0].asWritten)
		}
		if g := e.syls[len(e.syls)-2].gap; g != 5 {
			t.Errorf("%q: gap %d, want 5", e.term, g)
		}
	}
	want := []string{"chuyển sang zalo … x", "chuyển sang nói chuyện … x", "chuyển qua zalo … x", "chuyển qua nói chuyện … x"}
	if len(es) != 6 || strings.Join(terms, "|") != strings.Join(want, "|") {
		t.Fatalf("%d entries, terms %q, want 6 and %q first", len(es), terms, want)
	}
	for _, e := range es[4:] {
		if !e.exclude || !e.syls[0].asWritten || !e.syls[1].asWritten || e.weight != 0.4 {
			t.Errorf("%q: exclude %v, as written %v, weight %v", e.term, e.exclude, e.syls[0].asWritten, e.weight)
		}
	}
}

// A "=" entry is matched only as written: in a text without diacritics "di", "vai", "cac",
// "sua" are đi, vài, các, sữa, not the profanity they would shadow.
func TestAsWrittenInUnmarkedText(t *testing.T) {
	for _, s := range []string{
		"gui cho anh vai tam anh di",
		"cac ban oi mai di hoc nho mang sua nhe",
		"me oi con dang o nha ban, ti nua con ve nhe",
	} {
		for _, x := range Classify(s).Reasons {
			if x.Category == HateBullying {
				t.Errorf("Classify(%q): %+v", s, x)
			}
		}
	}
	if r := Classify("đồ con đĩ"); !hasReason(r, HateBullying, "đĩ") && !hasReason(r, HateBullying, "con đĩ") {
		t.Errorf("written with diacritics, the word still counts: %+v", r.Reasons)
	}
}
