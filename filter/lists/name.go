package lists

import (
	"strconv"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

const (
	maxName  = 253 // bytes of a name in presentation form without the trailing dot
	maxLabel = 63
)

// NormalizeName returns the canonical form of a list name: lowercase ASCII, Unicode converted
// to punycode (IDNA lookup profile), trailing dot removed. It is what Parse applies to every name,
// and what a caller should apply to names from configuration before NewList (which ignores
// invalid names).
func NormalizeName(s string) (string, error) {
	var buf [maxName]byte
	n, reason := normalize(&buf, []byte(s))
	if reason != "" {
		return "", &nameError{name: s, reason: reason}
	}
	return string(buf[:n]), nil
}

type nameError struct{ name, reason string }

func (e *nameError) Error() string {
	return "normalize name " + strconv.Quote(errorText([]byte(e.name))) + ": " + e.reason
}

// nameByte classifies ASCII bytes: 1 for bytes allowed in a label (after lowercasing), 2 for
// upper case letters, 0 for everything else.
var nameByte = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = 1
		t[c-'a'+'A'] = 2
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	t['-'], t['_'] = 1, 1
	return t
}()

// normalize writes the canonical form of src into dst and returns its length, or the reason
// src is not a valid name. It allocates only for non-ASCII input.
func normalize(dst *[maxName]byte, src []byte) (int, string) {
	if len(src) > 0 && src[len(src)-1] == '.' {
		src = src[:len(src)-1]
	}
	if len(src) == 0 {
		return 0, "empty name"
	}
	if n, ok := normalizeFast(dst, src); ok {
		return n, ""
	}
	if isIP(src) {
		return 0, "IP address, not a name"
	}
	n, reason, ascii := normalizeASCII(dst, src)
	if ascii {
		return n, reason
	}
	// Unicode: reject what IDNA would hide or choke on, then convert.
	if !utf8.Valid(src) {
		return 0, "invalid UTF-8"
	}
	for _, r := range string(src) {
		if r == 0 {
			return 0, "NUL byte"
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return 0, "control character"
		}
	}
	if len(src) > 4*maxName {
		return 0, "name longer than 253 bytes"
	}
	a, err := idna.Lookup.ToASCII(string(src))
	if err != nil {
		return 0, "invalid internationalized name (" + err.Error() + ")"
	}
	if len(a) > 0 && a[len(a)-1] == '.' {
		a = a[:len(a)-1] // a full-width trailing dot maps to '.'
	}
	if a == "" {
		return 0, "empty name"
	}
	n, reason, ascii = normalizeASCII(dst, []byte(a))
	if !ascii {
		return 0, "invalid internationalized name"
	}
	return n, reason
}

// lowerName maps the bytes allowed in a name to their lowercase form and all others to 0.
var lowerName = func() (t [256]byte) {
	for c := range 256 {
		switch nameByte[c] {
		case 1:
			t[c] = byte(c)
		case 2:
			t[c] = byte(c) + 'a' - 'A'
		}
	}
	t['.'] = '.'
	return t
}()

// normalizeFast is the path of the valid ASCII names of real lists: one pass with few branches.
// It accepts exactly the names normalizeASCII accepts; on anything else it reports false and
// normalizeASCII (or IDNA) finds the reason.
func normalizeFast(dst *[maxName]byte, src []byte) (int, bool) {
	if len(src) > maxName {
		return 0, false
	}
	dst2 := dst[:len(src)]
	last := -1 // index of the last dot
	var bad byte
	for i, c := range src {
		m := lowerName[c]
		dst2[i] = m
		if m == '.' {
			if l := i - last - 1; l == 0 || l > maxLabel {
				return 0, false
			}
			last = i
		}
		bad |= m - 1 // allowed bytes are below 0x80, so the top bit is set only by m == 0
	}
	if bad&0x80 != 0 {
		return 0, false
	}
	if l := len(src) - last - 1; l == 0 || l > maxLabel {
		return 0, false
	}
	for _, c := range dst2[last+1:] {
		if c > '9' || c < '0' {
			return len(src), true // a top-level label that is not numeric
		}
	}
	return 0, false
}

// normalizeASCII lowercases and validates src. It reports ascii=false, without a reason, as soon
// as it meets a non-ASCII byte, so that the caller can take the IDNA path.
func normalizeASCII(dst *[maxName]byte, src []byte) (n int, reason string, ascii bool) {
	label := 0 // length of the current label
	digits := true
	for _, c := range src {
		if c >= 0x80 {
			return 0, "", false
		}
		if c == '.' {
			if label == 0 {
				return 0, "empty label", true
			}
			label, digits = 0, true
		} else {
			switch nameByte[c] {
			case 0:
				return 0, badByte(c), true
			case 2:
				c += 'a' - 'A'
			}
			label++
			if label > maxLabel {
				return 0, "label longer than 63 bytes", true
			}
			digits = digits && c >= '0' && c <= '9'
		}
		if n == maxName {
			return 0, "name longer than 253 bytes", true
		}
		dst[n] = c
		n++
	}
	if label == 0 {
		return 0, "empty label", true
	}
	if digits {
		// No top-level domain is numeric: this is an IP address or a typo of one.
		if countDots(dst[:n]) == 3 {
			return 0, "IP address, not a name", true
		}
		return 0, "numeric top-level label", true
	}
	return n, "", true
}

func countDots(b []byte) int {
	k := 0
	for _, c := range b {
		if c == '.' {
			k++
		}
	}
	return k
}

func badByte(c byte) string {
	switch {
	case c == 0:
		return "NUL byte"
	case c < 0x20 || c == 0x7f:
		return "control character " + strconv.QuoteRune(rune(c))
	}
	return "invalid character " + strconv.QuoteRune(rune(c))
}

// validName reports whether s is in canonical form (what normalize produces). Tests use it.
func validName(s string) bool {
	var buf [maxName]byte
	n, reason := normalize(&buf, []byte(s))
	return reason == "" && string(buf[:n]) == s
}

// isIP reports whether b is an IPv4 or IPv6 address (with an optional IPv6 zone), without
// allocating. It agrees with net/netip.ParseAddr.
func isIP(b []byte) bool {
	for _, c := range b {
		if c == ':' {
			return isIPv6(b)
		}
	}
	return isIPv4(b)
}

func isIPv4(b []byte) bool {
	fields, val, digits := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 {
				return false
			}
			fields++
			val, digits = 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' || (digits == 1 && val == 0) { // no leading zeros
			return false
		}
		val = val*10 + int(c-'0')
		digits++
		if val > 255 {
			return false
		}
	}
	return fields == 4
}

func isIPv6(b []byte) bool {
	for i, c := range b {
		if c == '%' {
			if i == len(b)-1 {
				return false // empty zone
			}
			b = b[:i]
			break
		}
	}
	groups := 0       // 16-bit groups seen
	ellipsis := false // "::" seen
	i := 0
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis = true
		i = 2
		if i == len(b) {
			return true
		}
	}
	for i < len(b) {
		// One group, or an embedded IPv4 address at the end.
		j := i
		for j < len(b) && j-i < 5 && isHex(b[j]) {
			j++
		}
		if j < len(b) && b[j] == '.' {
			if !isIPv4(b[i:]) || groups > 6 {
				return false
			}
			groups += 2
			i = len(b)
			break
		}
		if j == i || j-i > 4 {
			return false
		}
		groups++
		i = j
		if i == len(b) {
			break
		}
		if b[i] != ':' {
			return false
		}
		i++
		if i < len(b) && b[i] == ':' {
			if ellipsis {
				return false
			}
			ellipsis = true
			i++
			if i == len(b) {
				break
			}
		} else if i == len(b) {
			return false // trailing single colon
		}
	}
	if ellipsis {
		return groups < 8
	}
	return groups == 8
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
