package ui

import (
	"testing"

	"github.com/kidshield/kidshield/web/i18n"
)

// The details the store writes in English read in the analyst's language; other text is
// left alone.
func TestDeskStoredDetail(t *testing.T) {
	vi, en := i18n.Get("vi"), i18n.Get("en")
	for _, c := range []struct{ in, vi, en string }{
		{"notice N261127-4WJ21J drafted", "đã soạn yêu cầu N261127-4WJ21J", "notice N261127-4WJ21J drafted"},
		{"notice N261127-4WJ21J sent to Nhà cung cấp thử", "đã gửi yêu cầu N261127-4WJ21J cho Nhà cung cấp thử", "notice N261127-4WJ21J sent to Nhà cung cấp thử"},
		{"CSE.CSAM, severity 3, P1", "Tài liệu xâm hại tình dục trẻ em, mức độ nghiêm trọng 3, P1", "Child sexual abuse material, severity 3, P1"},
		{"CSE.CSAM, severity 3, P1, ai_generated", "Tài liệu xâm hại tình dục trẻ em, mức độ nghiêm trọng 3, P1, Do AI tạo ra", ""},
	} {
		if got, ok := deskStoredDetail(vi, c.in); !ok || got != c.vi {
			t.Errorf("vi %q: %q %v, want %q", c.in, got, ok, c.vi)
		}
		if got, ok := deskStoredDetail(en, c.in); c.en != "" && (!ok || got != c.en) {
			t.Errorf("en %q: %q %v, want %q", c.in, got, ok, c.en)
		}
	}
	for _, s := range []string{"referred to A05", "notice drafted", "severity 3"} {
		if got, ok := deskStoredDetail(vi, s); ok {
			t.Errorf("%q read as a stored form: %q", s, got)
		}
	}
}
