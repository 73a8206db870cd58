package auth

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// RFC 6238 Appendix B, SHA-1 rows: the key is the ASCII "12345678901234567890", 8 digits.
func TestTOTPRFC6238Vectors(t *testing.T) {
	key := []byte("12345678901234567890")
	secret := b32.EncodeToString(key)
	for _, tc := range []struct {
		unix int64
		code string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		tm := time.Unix(tc.unix, 0)
		if got := hotp(key, uint64(TOTPStep(tm)), 8); got != tc.code {
			t.Errorf("T=%d: %s, want %s", tc.unix, got, tc.code)
		}
		// Six digits are the last six of the eight (same truncated value, smaller modulus).
		got, err := TOTPCode(secret, tm)
		if err != nil || got != tc.code[2:] {
			t.Errorf("T=%d: 6 digits %s %v, want %s", tc.unix, got, err, tc.code[2:])
		}
	}
}

func TestTOTPVerify(t *testing.T) {
	secret, err := NewTOTPSecret()
	if err != nil || len(secret) != 32 {
		t.Fatalf("secret %q %v", secret, err)
	}
	now := time.Date(2026, 11, 26, 10, 0, 15, 0, time.UTC)
	cur := TOTPStep(now)
	code := func(d int64) string {
		c, _ := TOTPCode(secret, now.Add(time.Duration(d)*30*time.Second))
		return c
	}
	for _, tc := range []struct {
		name     string
		code     string
		last     int64
		wantStep int64
	}{
		{"current", code(0), 0, cur},
		{"previous step", code(-1), 0, cur - 1},
		{"next step", code(1), 0, cur + 1},
		{"two behind", code(-2), 0, 0},
		{"two ahead", code(2), 0, 0},
		{"with spaces", code(0)[:3] + " " + code(0)[3:], 0, cur},
		{"replay", code(0), cur, 0},
		{"older than last", code(-1), cur, 0},
		{"after last", code(1), cur, cur + 1},
		{"five digits", code(0)[:5], 0, 0},
		{"letters", "12a456", 0, 0},
		{"empty", "", 0, 0},
	} {
		step, ok := VerifyTOTP(secret, tc.code, now, tc.last)
		if ok != (tc.wantStep != 0) || step != tc.wantStep {
			t.Errorf("%s: step %d ok %v, want %d", tc.name, step, ok, tc.wantStep)
		}
	}
	// Lower case and spaces in the secret are forgiven (people type it).
	if _, ok := VerifyTOTP(strings.ToLower(GroupSecret(secret)), code(0), now, 0); !ok {
		t.Error("grouped lower-case secret refused")
	}
	if _, ok := VerifyTOTP("not base32!", code(0), now, 0); ok {
		t.Error("bad secret accepted")
	}
}

func TestTOTPURIAndGrouping(t *testing.T) {
	uri := TOTPURI("kidshield 111", "lan@hotline", "JBSWY3DPEHPK3PXP")
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("uri %q %v", uri, err)
	}
	if u.Path != "/kidshield 111:lan@hotline" {
		t.Errorf("label %q", u.Path)
	}
	q := u.Query()
	if q.Get("secret") != "JBSWY3DPEHPK3PXP" || q.Get("issuer") != "kidshield 111" || q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Errorf("query %v", q)
	}
	if g := GroupSecret("JBSWY3DPEHPK3PXP"); g != "JBSW Y3DP EHPK 3PXP" {
		t.Errorf("grouped %q", g)
	}
	if g := GroupSecret("ABCDEF"); g != "ABCD EF" {
		t.Errorf("grouped %q", g)
	}
}
