package classify

import (
	"testing"

	"golang.org/x/net/idna"
)

func TestClassifyDomain(t *testing.T) {
	lists := map[string]string{"listed.example": "gambling", "bad.example": "adult", "odd.example": "dating"}
	lookup := func(n string) (string, bool) { c, ok := lists[n]; return c, ok }
	for _, c := range []struct{ name, top, rule string }{
		{"www.listed.example", Gambling, "list"},
		{"bad.example.", Sexual, "list"},
		{"odd.example", "dating", "list"},
		{"nohu88.com", Gambling, "name"},
		{"go88.vin", Gambling, "name"},
		{"bet365.com", Gambling, "name"},
		{"taixiu-online.net", Gambling, "name"},
		{"nhacai-uytin.vn", Gambling, "name"},
		{"phimsex.net", Sexual, "name"},
		{"free-porn.example", Sexual, "name"},
		{mustASCII(t, "nổhũ.com"), Gambling, "name"},
		{"alphabet.com", Clean, ""},
		{"sussex.ac.uk", Clean, ""},
		{"windows.com", Clean, ""},
		{"vnexpress.net", Clean, ""},
		{"", Clean, ""},
	} {
		r := ClassifyDomain(c.name, lookup)
		if r.Top != c.top {
			t.Errorf("ClassifyDomain(%q).Top = %q, want %q (scores %v, reasons %+v)", c.name, r.Top, c.top, r.Scores, r.Reasons)
		}
		if c.rule != "" && !hasRule(r, c.rule) {
			t.Errorf("ClassifyDomain(%q): no %s reason: %+v", c.name, c.rule, r.Reasons)
		}
	}
	if r := ClassifyDomain("nohu.com", nil); r.Top != Gambling {
		t.Errorf("nil lookup: %+v", r)
	}
}

func mustASCII(t *testing.T, s string) string {
	a, err := idna.ToASCII(s)
	if err != nil || a == s {
		t.Fatalf("idna.ToASCII(%q) = %q, %v", s, a, err)
	}
	return a
}
