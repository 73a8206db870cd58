package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"golang.org/x/text/unicode/norm"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's minimum recommendation (19 MiB, 2 passes, 1 lane). A hash made
// with other parameters still verifies, and NeedsRehash tells the login to upgrade it.
const (
	argonMemory  = 19456 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Password length bounds, in characters. The upper bound keeps a hostile form from making the
// server hash megabytes.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

var b64 = base64.RawStdEncoding

// hashSlots bounds how many Argon2id computations run at once. Each takes argonMemory (19 MiB)
// and a core for tens of milliseconds; the login limits count failures per address and login
// only once a hash is done, so a burst of logins sent at once from many addresses would
// otherwise take gigabytes. The others wait their turn (the server's timeouts bound the wait).
var hashSlots = make(chan struct{}, max(2, runtime.NumCPU()))

func slotIDKey(password, salt []byte, t, m uint32, p uint8, n uint32) []byte {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return argon2.IDKey(password, salt, t, m, p, n)
}

// HashPassword returns an Argon2id PHC string: $argon2id$v=19$m=19456,t=2,p=1$SALT$HASH.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := slotIDKey([]byte(norm.NFC.String(password)), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

type phc struct {
	m    uint32
	t    uint32
	p    uint8
	salt []byte
	key  []byte
}

var errBadHash = errors.New("password hash is not an argon2id PHC string")

func parsePHC(s string) (phc, error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, errBadHash
	}
	var h phc
	seen := 0
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return phc{}, errBadHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return phc{}, errBadHash
		}
		switch k {
		case "m":
			h.m = uint32(n)
		case "t":
			h.t = uint32(n)
		case "p":
			if n > 255 {
				return phc{}, errBadHash
			}
			h.p = uint8(n)
		default:
			return phc{}, errBadHash
		}
		seen++
	}
	// Bounds so a tampered row cannot make a login allocate gigabytes or spin for minutes.
	if seen != 3 || h.m == 0 || h.t == 0 || h.p == 0 || h.m > 1<<20 || h.t > 16 {
		return phc{}, errBadHash
	}
	var err error
	if h.salt, err = b64.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return phc{}, errBadHash
	}
	if h.key, err = b64.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return phc{}, errBadHash
	}
	return h, nil
}

// VerifyPassword reports whether password matches hash, comparing in constant time. The error
// is for a hash that cannot be read (a damaged row), never for a wrong password.
func VerifyPassword(hash, password string) (bool, error) {
	h, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	// NFC: Vietnamese typed with a composing keyboard (Unikey "Unicode tổ hợp", macOS) and with
	// a precomposed one is the same password.
	key := slotIDKey([]byte(norm.NFC.String(password)), h.salt, h.t, h.m, h.p, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// NeedsRehash reports whether hash was made with other parameters than HashPassword uses now
// (or cannot be read): the login that just verified the password then stores a fresh hash.
func NeedsRehash(hash string) bool {
	h, err := parsePHC(hash)
	return err != nil || h.m != argonMemory || h.t != argonTime || h.p != argonThreads ||
		len(h.salt) != argonSaltLen || len(h.key) != argonKeyLen
}

// dummyHash is verified against when a login is unknown, so an unknown login takes as long as a
// wrong password and the timing does not tell which logins exist.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("kidshield-dummy-password")
	return h
})

// InputError says why an input (a password, a login, roles, scopes) is refused. Key is the
// message's catalog key, Msg the English text for logs and the command line.
type InputError struct {
	Key string
	Msg string
}

func (e *InputError) Error() string { return e.Msg }

// CheckPassword applies the password policy: at least MinPasswordLen characters, at most
// MaxPasswordLen, not one character repeated, not the login. Length, not composition rules: a
// long passphrase in Vietnamese is better than "P@ssw0rd1".
func CheckPassword(password, login string) error {
	password = norm.NFC.String(password)
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return &InputError{"auth.pw.invalid", "the password contains invalid characters"}
	case n < MinPasswordLen:
		return &InputError{"auth.pw.short", fmt.Sprintf("the password must be at least %d characters long (a few words make a good one)", MinPasswordLen)}
	case n > MaxPasswordLen:
		return &InputError{"auth.pw.long", fmt.Sprintf("the password must be at most %d characters long", MaxPasswordLen)}
	}
	first, _ := utf8.DecodeRuneInString(password)
	if strings.Trim(password, string(first)) == "" {
		return &InputError{"auth.pw.same", "the password must not be one character repeated"}
	}
	if login != "" && strings.EqualFold(strings.TrimSpace(password), strings.TrimSpace(login)) {
		return &InputError{"auth.pw.login", "the password must not be the login"}
	}
	return nil
}
