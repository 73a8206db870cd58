package classify

import "testing"

// Only letters are cut to two: a sum of money, a phone number or a year keeps its digits
// (the repeat cap is for "điiiii", not "1000000").
func TestNormalizeKeepsRepeatedDigits(t *testing.T) {
	for in, want := range map[string]string{
		"100 000 đồng":     "100 000 đồng",
		"chuyển 1000000đ":  "chuyển 1000000đ",
		"gọi 0900000111":   "gọi 0900000111",
		"haaaay quáaaaa":   "haay quáaa",
		"năm 2000, 2222!!": "năm 2000 2222",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}
