package classify

import (
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

func TestNormalizeNFCAndNFDAgree(t *testing.T) {
	for _, s := range []string{"Không được nói với bố mẹ", "NỔ HŨ đổi thưởng", "Tiếng Việt có dấu: ắ ằ ẳ ẵ ặ ờ ở ỡ ợ ự"} {
		nfc, nfd := norm.NFC.String(s), norm.NFD.String(s)
		if nfc == nfd {
			t.Fatalf("test input %q has no decomposable letters", s)
		}
		if a, b := Normalize(nfc), Normalize(nfd); a != b {
			t.Errorf("Normalize(NFC) = %q, Normalize(NFD) = %q", a, b)
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Không", "không"},
		{"ko", "không"},
		{"K0", "không"},
		{"k0ng", "không"},
		{"kooooo", "không"},
		{"hok", "không"},
		{"đc", "được"},
		{"dc", "được"},
		{"j vậy", "gì vậy"},
		{"ntn", "như thế nào"},
		{"điiiiii", "đii"},
		{"sooooo goooood", "soo good"},
		{"s3x", "sex"},
		{"$ex", "sex"},
		{"p0rn", "porn"},
		{"88", "88"},
		{"go88 fb88 b52", "go88 fb88 b52"},
		{"nạp 100k nhận 5tr", "nạp 100k nhận 5tr"},
		{"s\u200bex", "sex"},
		{"s\u200dex\u2060", "sex"},
		{"\u202eporn\u202c", "porn"},
		{"p\u00adorn", "porn"},
		{"a\x00b", "a b"},
		{"Xin chào, bạn!", "xin chào bạn"},
	} {
		if got := Normalize(c.in); got != c.want {
			t.Errorf("Normalize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestShadow(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"không", "khong"},
		{"Đường đi", "Duong di"},
		{"ắằẳẵặ ờởỡợ ựừứửữ ỳýỷỹỵ", "aaaaa oooo uuuuu yyyyy"},
		{"plain", "plain"},
	} {
		if got := Shadow(c.in); got != c.want {
			t.Errorf("Shadow(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// The four ways of writing "không" match the same lexicon entry.
func TestKhongEquivalences(t *testing.T) {
	for _, s := range []string{"không muốn sống", "khong muon song", "ko muốn sống", "k0ng mu0n s0ng", "hok muốn sốnggg"} {
		r := Classify(s)
		if !hasReason(r, SelfHarm, "không muốn sống") {
			t.Errorf("Classify(%q): no self_harm reason for 'không muốn sống': %+v", s, r.Reasons)
		}
	}
}

func TestTeencodeTableStable(t *testing.T) {
	table := teencode()
	if len(table) < 20 {
		t.Fatalf("teencode table has %d entries", len(table))
	}
	for k, v := range table {
		full := strings.Join(v, " ")
		if Normalize(full) != full {
			t.Errorf("teencode %q → %q does not normalise to itself (%q)", k, full, Normalize(full))
		}
		for _, w := range v {
			if _, ok := table[w]; ok {
				t.Errorf("teencode %q expands to %q, itself a short form", k, w)
			}
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"", "Không được", "k0ng", "điiiiii", "s\u200bex", "a@\u0301", "\xff\xfe", "İ", "ǅ", "88 go88 1x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if n2 := Normalize(n); n2 != n {
			t.Fatalf("not idempotent: Normalize(%q) = %q, again %q", s, n, n2)
		}
		_ = Shadow(n)
	})
}
