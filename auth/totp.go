package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// TOTP as authenticator apps implement it (RFC 6238 with RFC 4226's truncation): HMAC-SHA1,
// 30-second steps, 6 digits. One step either side is accepted for clock drift; a code is
// accepted once (the step is recorded, see store.UseTOTPStep).
const (
	totpPeriod  = 30
	totpDigits  = 6
	totpSkew    = 1
	totpKeySize = 20 // 160 bits, RFC 4226's recommendation
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns a random secret in base32 without padding, as apps expect it.
func NewTOTPSecret() (string, error) {
	b := make([]byte, totpKeySize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("totp secret: %w", err)
	}
	return b32.EncodeToString(b), nil
}

// decodeSecret reads a base32 secret, forgiving spaces, lower case and padding.
func decodeSecret(secret string) ([]byte, error) {
	s := strings.ToUpper(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '=' {
			return -1
		}
		return r
	}, secret))
	key, err := b32.DecodeString(s)
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("totp: secret is not base32")
	}
	return key, nil
}

// hotp is RFC 4226's HOTP value of counter, with digits digits.
func hotp(key []byte, counter uint64, digits int) string {
	mac := hmac.New(sha1.New, key)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// TOTPStep is the time step of t.
func TOTPStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// TOTPCode returns the code of secret at t (for tests and tools; the server only verifies).
func TOTPCode(secret string, t time.Time) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	return hotp(key, uint64(TOTPStep(t)), totpDigits), nil
}

// normalizeCode strips the spaces and dashes people type or apps show ("123 456"), and
// returns "" unless what is left is exactly six digits.
func normalizeCode(code string) string {
	var b strings.Builder
	for _, r := range code {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '\t':
		default:
			return ""
		}
		if b.Len() > totpDigits {
			return ""
		}
	}
	if b.Len() != totpDigits {
		return ""
	}
	return b.String()
}

// VerifyTOTP checks code against secret at now, accepting one step of drift either side, and
// only for steps after lastStep (a code already used, or older than one used, is refused). It
// returns the matching step, which the caller records with store.UseTOTPStep (compare-and-set)
// before trusting the login: that closes the race of one code sent twice at once.
func VerifyTOTP(secret, code string, now time.Time, lastStep int64) (step int64, ok bool) {
	c := normalizeCode(code)
	if c == "" {
		return 0, false
	}
	key, err := decodeSecret(secret)
	if err != nil {
		return 0, false
	}
	cur := TOTPStep(now)
	matched := int64(0)
	// Every candidate is computed and compared in constant time, so timing does not tell
	// which step (if any) matched.
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		s := cur + d
		if s <= 0 {
			continue
		}
		if hmac.Equal([]byte(hotp(key, uint64(s), totpDigits)), []byte(c)) && s > lastStep && matched == 0 {
			matched = s
		}
	}
	return matched, matched != 0
}

// TOTPURI returns the otpauth:// URI an authenticator app reads (usually from a QR code):
// otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30.
func TOTPURI(issuer, account, secret string) string {
	label := url.PathEscape(issuer) + ":" + url.PathEscape(account)
	q := url.Values{}
	q.Set("secret", secret)
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", fmt.Sprint(totpDigits))
	q.Set("period", fmt.Sprint(totpPeriod))
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// GroupSecret writes a secret in groups of four for typing by hand: "ABCD EFGH IJKL …".
func GroupSecret(secret string) string {
	var b strings.Builder
	for i, r := range secret {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
