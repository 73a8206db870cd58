package classify

import (
	"bufio"
	_ "embed"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// token is one syllable (or word, or number) of normalised text. text is what Normalize
// prints; alts are other readings that lexicons may match (the token before leetspeak, and
// "1" read as "l" instead of "i"), because "b52" or "s1ut" should not be lost to one guess.
type token struct {
	text     string
	alts     []string
	expanded bool // written as teencode: its diacritics say nothing about the writer
	// leet is the token as written when leetspeak was undone ("b1owjob" read as
	// "biowjob"/"blowjob"): evidence shows what the writer typed, not one of the guesses.
	leet string
}

//go:embed lexicon/teencode.txt
var teencodeData string

var teencode = sync.OnceValue(func() map[string][]string {
	m := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(teencodeData))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		// Keys and values are written in NFC already; lower-case them in case an editor
		// capitalised one, so the table cannot silently miss.
		key := strings.ToLower(norm.NFC.String(f[0]))
		var val []string
		for _, v := range f[1:] {
			val = append(val, strings.ToLower(norm.NFC.String(v)))
		}
		m[key] = val
	}
	return m
})

// invisible reports runes that render as nothing and are used to split a word so a filter
// misses it ("s\u200bex"): zero-width spaces and joiners, bidirectional controls, the soft
// hyphen, variation selectors, the BOM, the combining grapheme joiner and tag characters.
func invisible(r rune) bool {
	switch {
	case r == 0x00AD, r == 0x034F, r == 0x061C, r == 0x115F, r == 0x1160, r == 0x17B4, r == 0x17B5,
		r == 0x180E, r == 0x3164, r == 0xFEFF, r == 0xFFA0:
		return true
	case r >= 0x200B && r <= 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2060 && r <= 0x206F,
		r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0000 && r <= 0xE007F, r >= 0xE0100 && r <= 0xE01EF:
		return true
	}
	return false
}

// clean makes s valid UTF-8 (invalid bytes become spaces), removes invisible characters and
// turns control characters (NUL included) into spaces, then composes (NFC) and lower-cases.
func clean(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == utf8.RuneError && n <= 1:
			b.WriteByte(' ')
		case invisible(r):
		case unicode.IsControl(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	// Lower-casing can produce a sequence NFC composes differently, so compose again.
	return norm.NFC.String(strings.ToLower(norm.NFC.String(b.String())))
}

func tokenRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) ||
		r == '@' || r == '$'
}

var leet = map[rune]rune{'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's'}

// moneyUnits are suffixes that make a letters-and-digits token a quantity ("5k", "100tr",
// "3d"), not leetspeak: scam and gambling texts are full of them.
var moneyUnits = map[string]bool{
	"k": true, "tr": true, "m": true, "d": true, "đ": true, "vnd": true, "vnđ": true, "usd": true, "h": true,
	"p": true, "s": true, "x": true, "kg": true, "g": true, "cm": true, "mm": true, "km": true, "gb": true,
	"mb": true, "tb": true, "th": true, "st": true, "nd": true, "rd": true, "ty": true, "ti": true, "t": true,
}

// leetable reports whether every non-letter of tok is a leetspeak digit or sign and tok
// has a letter: "s3x", "k0ng", "$ex" are; "go88", "b52", "100k" and "88" are not.
func leetable(tok string) bool {
	letter, other := false, false
	for _, r := range tok {
		if unicode.IsLetter(r) {
			letter = true
			continue
		}
		if unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) {
			continue
		}
		if _, ok := leet[r]; !ok {
			return false
		}
		other = true
	}
	if !letter || !other {
		return false
	}
	// A number followed by a unit.
	i := strings.IndexFunc(tok, unicode.IsLetter)
	if i > 0 && strings.IndexFunc(tok[:i], func(r rune) bool { return !unicode.IsDigit(r) }) < 0 && moneyUnits[tok[i:]] {
		return false
	}
	return true
}

func applyLeet(tok string, one rune) string {
	return strings.Map(func(r rune) rune {
		if r == '1' {
			return one
		}
		if m, ok := leet[r]; ok {
			return m
		}
		return r
	}, tok)
}

// collapse shortens runs of the same letter longer than max to max runes ("điiiii" → "đii"
// with max 2, → "đi" with max 1).
func collapse(s string, max int) string {
	var prev rune = -1
	run := 0
	changed := false
	for _, r := range s {
		if r == prev && unicode.IsLetter(r) {
			run++
			if run > max {
				changed = true
				break
			}
		} else {
			prev, run = r, 1
		}
	}
	if !changed {
		return s
	}
	var b strings.Builder
	prev, run = -1, 0
	for _, r := range s {
		if r == prev && unicode.IsLetter(r) {
			run++
			if run > max {
				continue
			}
		} else {
			prev, run = r, 1
		}
		b.WriteRune(r)
	}
	return b.String()
}

func doubled(s string) bool {
	var prev rune = -1
	for _, r := range s {
		if r == prev {
			return true
		}
		prev = r
	}
	return false
}

// stripSigns removes the leetspeak signs a token kept because it was not leetspeak
// ("100$" → "100"); a token is letters, marks and digits only once normalised.
func stripSigns(s string) string {
	if !strings.ContainsAny(s, "@$") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '@' || r == '$' {
			return -1
		}
		return r
	}, s)
}

// finish composes a token again after leetspeak or sign removal changed it ("@\u0301" → "á")
// and cuts repeated letters, until nothing changes, so a second normalisation is a no-op.
func finish(s string) string {
	for range 4 {
		t := collapse(norm.NFC.String(s), 2)
		if t == s {
			break
		}
		s = t
	}
	return s
}

// tokens normalises s and splits it into syllables.
func tokens(s string) []token {
	s = clean(s)
	table := teencode()
	var out []token
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !tokenRune(r) {
			i += n
			continue
		}
		j := i
		for j < len(s) {
			r, n := utf8.DecodeRuneInString(s[j:])
			if !tokenRune(r) {
				break
			}
			j += n
		}
		raw := s[i:j]
		i = j
		var t token
		if leetable(raw) {
			t.leet = raw
			t.text = finish(applyLeet(raw, 'i'))
			if strings.ContainsRune(raw, '1') {
				t.alts = append(t.alts, finish(applyLeet(raw, 'l')))
			}
			if o := finish(stripSigns(raw)); o != "" {
				t.alts = append(t.alts, o)
			}
		} else {
			t.text = finish(stripSigns(raw))
		}
		if t.text == "" {
			continue
		}
		exp, ok := table[t.text]
		if !ok && doubled(t.text) {
			exp, ok = table[collapse(t.text, 1)]
		}
		if ok {
			for _, e := range exp {
				out = append(out, token{text: e, expanded: true})
			}
			continue
		}
		out = append(out, t)
	}
	return out
}

// Normalize returns s as the classifier reads it: NFC, lower case, invisible characters
// removed, leetspeak undone in tokens that mix letters with leet digits, letters repeated
// more than twice cut to two, teencode expanded, and syllables joined by single spaces
// (punctuation is dropped). Normalize(Normalize(s)) == Normalize(s).
func Normalize(s string) string {
	toks := tokens(s)
	var b strings.Builder
	for i, t := range toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String()
}

var shadowTable = sync.OnceValue(func() map[rune]rune {
	m := map[rune]rune{'đ': 'd', 'Đ': 'D'}
	add := func(lo, hi rune) {
		for r := lo; r <= hi; r++ {
			d := []rune(norm.NFD.String(string(r)))
			if len(d) > 1 && d[0] < 0x80 {
				m[r] = d[0]
			}
		}
	}
	add(0x00C0, 0x024F) // Latin-1 Supplement, Latin Extended-A and -B (ă, â, ê, ô, ơ, ư…)
	add(0x1E00, 0x1EFF) // Latin Extended Additional (every toned Vietnamese vowel)
	return m
})

// Shadow returns s without diacritics: đ → d and every Vietnamese tone and vowel mark
// removed, the way people type when they skip the marks ("không" → "khong").
func Shadow(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	t := shadowTable()
	return strings.Map(func(r rune) rune {
		if r < 0x80 {
			return r
		}
		if m, ok := t[r]; ok {
			return m
		}
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, s)
}
