package auth

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

func TestPasswordHashVerify(t *testing.T) {
	h, err := HashPassword("một câu dài dễ nhớ")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	h2, _ := HashPassword("một câu dài dễ nhớ")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt?")
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"một câu dài dễ nhớ", true}, {"một câu dài dễ nhớ ", false}, {"", false}, {"mot cau dai de nho", false}} {
		ok, err := VerifyPassword(h, tc.pw)
		if err != nil || ok != tc.want {
			t.Errorf("verify %q: %v %v, want %v", tc.pw, ok, err, tc.want)
		}
	}
	if NeedsRehash(h) {
		t.Error("fresh hash needs rehash")
	}
}

func TestPasswordOtherParameters(t *testing.T) {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("old parameters!"), salt, 1, 8192, 2, 32)
	h := fmt.Sprintf("$argon2id$v=19$m=8192,t=1,p=2$%s$%s", b64.EncodeToString(salt), b64.EncodeToString(key))
	ok, err := VerifyPassword(h, "old parameters!")
	if err != nil || !ok {
		t.Fatalf("verify old parameters: %v %v", ok, err)
	}
	if !NeedsRehash(h) {
		t.Fatal("old parameters do not need rehash")
	}
}

func TestPasswordMalformedHash(t *testing.T) {
	good, _ := HashPassword("whatever password")
	parts := strings.Split(good, "$")
	for _, h := range []string{
		"", "plain", "$argon2i$v=19$m=19456,t=2,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=16$m=19456,t=2,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=19456,t=2$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=19456,t=2,p=1,x=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=99999999,t=2,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=19456,t=0,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=19456,t=2,p=1$!!!$" + parts[5],
		"$argon2id$v=19$m=19456,t=2,p=1$" + parts[4] + "$",
		good + "$",
	} {
		if ok, err := VerifyPassword(h, "whatever password"); ok || err == nil {
			t.Errorf("%q: %v %v", h, ok, err)
		}
		if !NeedsRehash(h) {
			t.Errorf("%q: unreadable hash does not need rehash", h)
		}
	}
}

func TestPasswordPolicy(t *testing.T) {
	for _, tc := range []struct{ pw, login, key string }{
		{"correct horse battery", "lan", ""},
		{"mật khẩu tiếng Việt", "lan", ""},
		{"short", "lan", "auth.pw.short"},
		{"elevenchars", "lan", "auth.pw.short"},
		{"ẩẩẩẩẩẩẩẩẩẩẩ", "lan", "auth.pw.short"}, // 11 characters, more bytes
		{"aaaaaaaaaaaaaaaa", "lan", "auth.pw.same"},
		{"ẩẩẩẩẩẩẩẩẩẩẩẩẩ", "lan", "auth.pw.same"},
		{strings.Repeat("ab", 129), "lan", "auth.pw.long"},
		{"lan.nguyen@111", "Lan.Nguyen@111", "auth.pw.login"},
		{"abc\xffdefghijklmn", "lan", "auth.pw.invalid"},
	} {
		err := CheckPassword(tc.pw, tc.login)
		var ie *InputError
		switch {
		case tc.key == "" && err != nil:
			t.Errorf("%q refused: %v", tc.pw, err)
		case tc.key != "" && (!errors.As(err, &ie) || ie.Key != tc.key):
			t.Errorf("%q: %v, want %s", tc.pw, err, tc.key)
		case err != nil && err.Error() == "":
			t.Errorf("%q: empty message", tc.pw)
		}
	}
}

// A Vietnamese password typed with a composing keyboard (decomposed) and with a precomposed one
// is the same password.
func TestPasswordNFC(t *testing.T) {
	composed := "Mật khẩu mới của chi 2027"
	decomposed := norm.NFD.String(composed)
	if composed == decomposed {
		t.Fatal("test needs a decomposable password")
	}
	h, err := HashPassword(composed)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := VerifyPassword(h, decomposed); err != nil || !ok {
		t.Errorf("decomposed form refused: %v %v", ok, err)
	}
	if ok, _ := VerifyPassword(h, "Mat khau moi cua chi 2027"); ok {
		t.Error("a password without its diacritics was accepted")
	}
}
