package lists

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// seedLines is a corpus of every syntax and of the inputs that broke or nearly broke parsers.
var seedLines = []string{
	"example.com", "*.example.com", "=example.com", "Example.COM.", "example.com # c", "# c", "! c",
	"0.0.0.0 a.com b.com", "127.0.0.1 localhost", ":: a.com", "fe80::1%eth0 a.com", "0.0.0.0 0.0.0.0",
	"||a.com^", "@@||a.com^$important", "||*.a.com^", "|a.com^", "||a.com^$third-party",
	"a.com##.ad", "||a.com/path", "[Adblock Plus 2.0]", "/re+gex/", "@@a.com", "bücher.de",
	"xn--bcher-kva.de", "a..b", ".", "..", "1.2.3.4", "\x00", "\xff\xfe", "\xef\xbb\xbfa.com",
	"a.com\r", strings.Repeat("a.", 200) + "com", strings.Repeat("x", 70) + ".com", "_a.b",
}

func fuzzParse(f *testing.F, format Format) {
	for _, s := range seedLines {
		f.Add([]byte(s))
	}
	f.Add([]byte(strings.Join(seedLines, "\n")))
	f.Add([]byte(strings.Join(seedLines, "\r\n")))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, data, format)
	})
}

// checkParse asserts what must hold for any input: no panic, valid names, consistent stats, and
// a compiled list holding exactly the parsed rules.
func checkParse(t *testing.T, data []byte, format Format) {
	want := map[string]uint8{}
	var rules int
	st, err := Parse(bytes.NewReader(data), format, func(r Rule) {
		rules++
		if !validName(r.Name) {
			t.Fatalf("invalid name %q from %q", r.Name, data)
		}
		if r.Kind > SubdomainsOnly {
			t.Fatalf("kind %d", r.Kind)
		}
		want[r.Name] |= kindFlags(r.Kind, r.Allow)
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Rules != rules || st.Skipped+st.Bad > st.Lines || len(st.Errors) != min(st.Bad, maxErrors) {
		t.Fatalf("inconsistent stats %+v for %d rules", st, rules)
	}
	if lines := bytes.Count(data, []byte{'\n'}); st.Lines != lines && st.Lines != lines+1 {
		t.Fatalf("%d lines counted, input has %d newlines", st.Lines, lines)
	}
	last := 0
	for _, e := range st.Errors {
		if e.Line <= last || len(e.Text) > 80 || !utf8.ValidString(e.Text) || e.Reason == "" {
			t.Fatalf("bad LineError %+v", e)
		}
		last = e.Line
	}
	l, cst, err := Compile(bytes.NewReader(data), format)
	if err != nil {
		t.Fatal(err)
	}
	if cst.Rules != st.Rules || cst.Bad != st.Bad || cst.Skipped != st.Skipped {
		t.Fatalf("Compile stats %+v, Parse stats %+v", cst, st)
	}
	got := map[string]uint8{}
	for r := range l.All() {
		got[r.Name] |= kindFlags(r.Kind, r.Allow)
	}
	if len(got) != len(want) || l.Len() != len(want) {
		t.Fatalf("compiled %d names (Len %d), parsed %d", len(got), l.Len(), len(want))
	}
	for n, f := range want {
		if got[n] != f {
			t.Fatalf("%s: compiled flags %b, parsed %b", n, got[n], f)
		}
	}
}

func FuzzParseDomains(f *testing.F) { fuzzParse(f, FormatDomains) }
func FuzzParseHosts(f *testing.F)   { fuzzParse(f, FormatHosts) }
func FuzzParseAdblock(f *testing.F) { fuzzParse(f, FormatAdblock) }
func FuzzParseAuto(f *testing.F)    { fuzzParse(f, FormatAuto) }

// FuzzMatch compiles rules from the first input and checks Match, Lookup and their string forms
// against the reference on the names of the second input and on variants of the rule names.
func FuzzMatch(f *testing.F) {
	f.Add("example.com\n=exact.org\n*.subs.net\n@@||ok.example.com^\nzip", "www.example.com\nEXACT.ORG.\nsubs.net\na.subs.net\nok.example.com\nfoo.zip\nbadexample.com")
	f.Add(strings.Join(seedLines, "\n"), strings.Join(seedLines, "\n"))
	f.Add("a\nb.a\n=c.b.a", "c.b.a\nB.A.\n.a\na..a\n")
	f.Fuzz(func(t *testing.T, rulesText, queriesText string) {
		var rules []Rule
		if _, err := Parse(strings.NewReader(rulesText), FormatAuto, func(r Rule) { rules = append(rules, r) }); err != nil {
			t.Fatal(err)
		}
		l, _, err := Compile(strings.NewReader(rulesText), FormatAuto)
		if err != nil {
			t.Fatal(err)
		}
		// Two lists in two categories, the second built by NewList from half the rules.
		half := rules[:len(rules)/2]
		var ref reference
		ref.add(1, rules)
		ref.add(40, half)
		s := NewSet([]Entry{{List: l, Category: 1}, {List: NewList(half), Category: 40}})
		queries := strings.Split(queriesText, "\n")
		for _, r := range rules {
			queries = append(queries, r.Name, strings.ToUpper(r.Name)+".", "x."+r.Name, r.Name[1:])
		}
		for _, q := range queries {
			wb, wa := ref.match(q)
			gb, ga := s.Match([]byte(q))
			if gb != wb || ga != wa {
				t.Fatalf("Match(%q) = %#x, %#x; reference %#x, %#x", q, gb, ga, wb, wa)
			}
			if sb, sa := s.MatchString(q); sb != gb || sa != ga {
				t.Fatalf("MatchString(%q) differs from Match", q)
			}
			lb, la := l.Lookup([]byte(q))
			if lb != (wb&2 != 0) || la != (wa&2 != 0) {
				t.Fatalf("Lookup(%q) = %v, %v; reference %#x, %#x", q, lb, la, wb, wa)
			}
		}
	})
}

// FuzzIsIP checks the allocation-free address test against net/netip.
func FuzzIsIP(f *testing.F) {
	for _, s := range []string{"0.0.0.0", "::", "::1", "1:2:3:4:5:6:7:8", "::ffff:1.2.3.4", "fe80::1%eth0",
		"1.2.3", "01.2.3.4", "1::2::3", "1:2:3:4:5:6:7:8:9", "::ffff:1.2.3", "%eth0", "1.2.3.4%x", ":", ":::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := netip.ParseAddr(s)
		if got := isIP([]byte(s)); got != (err == nil) {
			t.Fatalf("isIP(%q) = %v, netip.ParseAddr error %v", s, got, err)
		}
	})
}

// FuzzNormalizeName checks that normalization is idempotent and yields valid names.
func FuzzNormalizeName(f *testing.F) {
	for _, s := range seedLines {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// The fast path must accept exactly what the careful path accepts, with the same result.
		var fast, slow [maxName]byte
		src := []byte(strings.TrimSuffix(s, "."))
		if fn, ok := normalizeFast(&fast, src); ok {
			sn, reason, ascii := normalizeASCII(&slow, src)
			if reason != "" || !ascii || sn != fn || fast != slow || isIP(src) {
				t.Fatalf("normalizeFast accepted %q as %q; normalizeASCII: %q %q %v", src, fast[:fn], slow[:sn], reason, ascii)
			}
		} else if _, reason, ascii := normalizeASCII(&slow, src); ascii && reason == "" && len(src) > 0 {
			t.Fatalf("normalizeFast rejected %q, normalizeASCII accepted it", src)
		}
		n, err := NormalizeName(s)
		if err != nil {
			return
		}
		if !validName(n) || len(n) > maxName || strings.ToLower(n) != n {
			t.Fatalf("NormalizeName(%q) = %q: not canonical", s, n)
		}
		if n2, err := NormalizeName(n); err != nil || n2 != n {
			t.Fatalf("NormalizeName(%q) = %q, %v; not idempotent", n, n2, err)
		}
		if slices.Contains([]byte(n), '.') && strings.HasSuffix(n, ".") {
			t.Fatalf("trailing dot in %q", n)
		}
	})
}
