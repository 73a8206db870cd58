package classify

import (
	"slices"
	"sort"
	"testing"
)

// raiseAt is the default of scanner.text_threshold (config/scanner.go): a grooming score at
// or above it raises the case to P1. docs/scanner.md (Thresholds) promises that two distinct
// cues reach it.
const raiseAt = 0.65

func groomingRules(r Result) []string {
	var out []string
	for _, x := range r.Reasons {
		if x.Category == Grooming && !slices.Contains(out, x.Rule) {
			out = append(out, x.Rule)
		}
	}
	sort.Strings(out)
	return out
}

// Messages of the kind the hotline receives, with and without diacritics, in teencode and in
// English: each shows exactly its cues; one cue is not a suggestion, two distinct ones are
// and raise the case.
func TestGroomingMessages(t *testing.T) {
	for _, c := range []struct {
		text  string
		rules []string
	}{
		// The trial's misses: a request with four syllables between the verb and the photo,
		// and moving to another app in Vietnamese phrasing.
		{"Gửi cho anh vài tấm ảnh riêng tư", []string{"photo_request"}},
		{"Em mấy tuổi rồi? Gửi cho anh vài tấm ảnh đi", []string{"age_question", "photo_request"}},
		{"Em ơi mình chuyển sang Telegram nói chuyện cho tiện", []string{"move_app"}},
		{"qua Telegram nhé em", []string{"move_app"}},
		{"mình chat qua messenger đi", []string{"move_app"}},
		{"Em ơi mình chuyển sang Telegram nói chuyện cho tiện, nhớ xóa tin nhắn ở đây nhé", []string{"move_app", "secrecy"}},
		{"em oi minh chuyen sang telegram noi chuyen cho tien, nho xoa tin nhan o day nhe", []string{"move_app", "secrecy"}},
		{"e ơi kb zalo vs a nhé, a gửi e mấy cái ảnh", []string{"move_app", "photo_request"}},
		{"Em học lớp mấy rồi? Qua Telegram nhé, ở đây không tiện", []string{"age_question", "move_app"}},
		{"em hoc lop may roi? qua telegram nhe", []string{"age_question", "move_app"}},
		{"Mình chat qua messenger đi em, đừng cho bố mẹ biết nha", []string{"move_app", "secrecy"}},
		{"anh nạp game cho em, em gửi anh vài tấm hình riêng tư nhé", []string{"gift_offer", "photo_request"}},
		{"Mẹ em có biết chuyện này không? Gửi anh vài tấm ảnh nhé, đừng nói với mẹ", []string{"photo_request", "secrecy"}},
		{"Em mấy tuổi? Đừng nói với bố mẹ nhé. Gửi cho anh vài tấm ảnh riêng tư", []string{"age_question", "photo_request", "secrecy"}},
		{"how old are you? let's move to snapchat, it's more private", []string{"age_question", "move_app"}},
		{"send me a few of your private photos, keep this between us", []string{"photo_request", "secrecy"}},
		// Secrecy said three ways is still one cue.
		{"Đừng nói với bố mẹ nhé, đây là bí mật của hai đứa mình, nhớ xóa tin nhắn đi", []string{"secrecy"}},
		// Meeting, as the second trial wrote it.
		{"hẹn gặp nhau ở quán net nhé", []string{"meet_request"}},
		{"anh muốn gặp em ngoài đời, đừng nói với ai nhé", []string{"meet_request", "secrecy"}},
		{"hen gap nhau o quan net nhe, em may tuoi", []string{"age_question", "meet_request"}},
		// A later request counts when an earlier "gửi ảnh" was paperwork.
		{"Con gửi ảnh thẻ cho cô rồi, còn em thì gửi anh mấy tấm ảnh nóng đi", []string{"photo_request"}},
	} {
		r := Classify(c.text)
		got := groomingRules(r)
		if !slices.Equal(got, c.rules) {
			t.Errorf("Classify(%q): grooming rules %v, want %v (%+v)", c.text, got, c.rules, r.Reasons)
			continue
		}
		s := r.Scores[Grooming]
		switch {
		case len(c.rules) == 1 && s >= DefaultThreshold:
			t.Errorf("Classify(%q): one cue scores %v, at or over the threshold %v", c.text, s, DefaultThreshold)
		case len(c.rules) >= 2 && (s < raiseAt || r.Top != Grooming):
			t.Errorf("Classify(%q): %d cues score %v (top %s), want at least %v and grooming on top", c.text, len(c.rules), s, r.Top, raiseAt)
		}
	}
}

// Ordinary texts near the widened rules: paperwork, a school's photos, a child and a parent,
// news about the apps, a page's navigation, the southern "ảnh" (him), "hình như" (it seems).
// None of them is a grooming cue.
func TestGroomingOrdinaryTextsStayClean(t *testing.T) {
	for _, s := range []string{
		"Con gửi ảnh thẻ để làm hồ sơ ạ",
		"gui anh the de lam ho so a",
		"Kính gửi quý phụ huynh, ảnh kỷ yếu của lớp sẽ được gửi qua Zalo của lớp trong tuần này.",
		"Cô gửi ảnh các con đi dã ngoại cho phụ huynh xem nhé",
		"mẹ ơi con đi học về rồi, con gửi ảnh bài kiểm tra cho mẹ xem nhé",
		"Bấm vào đây để chuyển sang trang sau",
		"Telegram bị phạt vì không gỡ nội dung lừa đảo, nhiều người dùng chuyển sang Signal",
		"Lừa đảo qua Telegram: công an cảnh báo thủ đoạn mới",
		"Em gửi tiền cho ảnh rồi, hình như ảnh chưa nhận được",
		"Em gửi bài tập qua Zalo cho cô rồi ạ",
		"em gui bai tap qua zalo cho co roi a",
		"Chị ơi cho em hỏi shop còn áo size M không, em chuyển khoản qua Momo được không ạ",
		"Please send your passport photo to the school office",
		"Họp phụ huynh: hẹn gặp nhau ở trường lúc 8 giờ sáng thứ bảy",
		"Chúng ta gặp nhau ngoài đời tại hội thảo khoa học năm nay",
	} {
		r := Classify(s)
		if rules := groomingRules(r); len(rules) > 0 || r.Top != Clean {
			t.Errorf("Classify(%q): top %s, grooming rules %v: %+v", s, r.Top, rules, r.Reasons)
		}
	}
}

// A rule counts once whatever number of its lines match (secrecy said three ways scores as
// secrecy said once); distinct rules add up: one cue < two cues < three cues.
func TestGroomingCueCountsOnce(t *testing.T) {
	one := Classify("giữ bí mật nhé")
	thrice := Classify("Đừng nói với ai nhé, giữ bí mật, đừng kể với ai")
	if n := len(thrice.Reasons); n < 3 {
		t.Fatalf("three phrasings gave %d reasons: %+v", n, thrice.Reasons)
	}
	if thrice.Scores[Grooming] != one.Scores[Grooming] {
		t.Errorf("secrecy three times scores %v, once %v: a rule counts once", thrice.Scores[Grooming], one.Scores[Grooming])
	}
	two := Classify("Em mấy tuổi? Đừng nói với ai nhé")
	three := Classify("Em mấy tuổi? Đừng nói với ai nhé. Gửi anh cái ảnh")
	if !(one.Scores[Grooming] < two.Scores[Grooming] && two.Scores[Grooming] < three.Scores[Grooming]) {
		t.Errorf("one cue %v, two %v, three %v: want increasing", one.Scores[Grooming], two.Scores[Grooming], three.Scores[Grooming])
	}
}

// The weights keep the promises of grooming.txt and docs/scanner.md whatever lines match:
// every rule alone stays under the threshold, any two distinct rules reach raiseAt.
func TestGroomingRuleWeights(t *testing.T) {
	lx := defaultLexicon()
	lo, hi := map[string]float64{}, map[string]float64{}
	for _, e := range lx.entries {
		if e.category != Grooming {
			continue
		}
		if w, ok := lo[e.rule]; !ok || e.weight < w {
			lo[e.rule] = e.weight
		}
		hi[e.rule] = max(hi[e.rule], e.weight)
	}
	if len(lo) < 6 {
		t.Fatalf("grooming rules: %v", lo)
	}
	for rule, w := range hi {
		if w >= DefaultThreshold {
			t.Errorf("rule %s alone reaches %v", rule, w)
		}
		for other, v := range lo {
			if other == rule {
				continue
			}
			if s := 1 - (1-lo[rule])*(1-v); s < raiseAt {
				t.Errorf("rules %s and %s together score %v, under %v", rule, other, s, raiseAt)
			}
		}
	}
}
