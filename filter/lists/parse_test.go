package lists

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
)

// outcome renders what Parse made of input: the rules, then "skip" or "bad: reason" per line
// that yielded none.
func outcome(t *testing.T, input string, f Format) string {
	t.Helper()
	var out []string
	st, err := Parse(strings.NewReader(input), f, func(r Rule) { out = append(out, ruleString(r)) })
	if err != nil {
		t.Fatalf("Parse(%q): %v", input, err)
	}
	if st.Skipped > 0 {
		out = append(out, "skip")
	}
	for _, e := range st.Errors {
		out = append(out, "bad: "+e.Reason)
	}
	if len(st.Errors) != st.Bad && st.Bad <= maxErrors {
		t.Errorf("Parse(%q): %d bad lines, %d errors", input, st.Bad, len(st.Errors))
	}
	for _, r := range out {
		if name, ok := strings.CutPrefix(r, "+"); ok && !validName(strings.Fields(name)[0]) {
			t.Errorf("Parse(%q) emitted an invalid name: %s", input, r)
		}
	}
	return strings.Join(out, " | ")
}

func ruleString(r Rule) string {
	s := "+" + r.Name + " " + r.Kind.String()
	if r.Allow {
		s += " allow"
	}
	return s
}

type lineCase struct{ in, want string }

func runLineCases(t *testing.T, f Format, cases []lineCase) {
	t.Helper()
	for _, c := range cases {
		if got := outcome(t, c.in, f); got != c.want {
			t.Errorf("%v: %q\n got  %s\n want %s", f, c.in, got, c.want)
		}
	}
}

func TestParseDomains(t *testing.T) {
	runLineCases(t, FormatDomains, []lineCase{
		{"example.com", "+example.com subtree"},
		{"Example.COM.", "+example.com subtree"},
		{"  example.com  ", "+example.com subtree"},
		{"example.com # trailing comment", "+example.com subtree"},
		{"example.com\t#c", "+example.com subtree"},
		{"*.example.com", "+example.com subdomains"},
		{"=example.com", "+example.com exact"},
		{"zip", "+zip subtree"},
		{"_dmarc.example.com", "+_dmarc.example.com subtree"},
		{"xn--bcher-kva.de", "+xn--bcher-kva.de subtree"},
		{"bücher.de", "+xn--bcher-kva.de subtree"},
		{"BÜCHER.DE", "+xn--bcher-kva.de subtree"},
		{"# comment", "skip"},
		{"! comment", "skip"},
		{"\n", "skip"},
		{"   \t", "skip"},
		{"example.com#notacomment", "bad: invalid character '#'"},
		{"example.com other.com", "bad: unexpected text after the name"},
		{"0.0.0.0 example.com", "bad: unexpected text after the name"},
		{"1.2.3.4", "bad: IP address, not a name"},
		{"::1", "bad: IP address, not a name"},
		{"example.123", "bad: numeric top-level label"},
		{"a..b", "bad: empty label"},
		{".example.com", "bad: empty label"},
		{"example.com..", "bad: empty label"},
		{".", "bad: empty name"},
		{"...", "bad: empty label"},
		{"=", "bad: empty name"},
		{"*.", "bad: empty name"},
		{"*example.com", "bad: invalid character '*'"},
		{"a.*.example.com", "bad: invalid character '*'"},
		{"||example.com^", "bad: invalid character '|'"},
		{"exa mple", "bad: unexpected text after the name"},
		{strings.Repeat("a", 63) + ".com", "+" + strings.Repeat("a", 63) + ".com subtree"},
		{strings.Repeat("a", 64) + ".com", "bad: label longer than 63 bytes"},
		{strings.Repeat("abcdefg.", 31) + "co", "+" + strings.Repeat("abcdefg.", 31) + "co subtree"}, // 250 bytes
		{strings.Repeat("abcdefg.", 32) + "com", "bad: name longer than 253 bytes"},
		{"ex\x00ample.com", "bad: NUL byte"},
		{"ex\x01ample.com", "bad: control character '\\x01'"},
		{"ex\xffample.com", "bad: invalid UTF-8"},
		{"ex\u0085ample.com", "bad: control character"},
		{"-x.bücher.de", "bad: invalid internationalized name (idna: invalid label \"-x\")"},
	})
}

func TestParseHosts(t *testing.T) {
	runLineCases(t, FormatHosts, []lineCase{
		{"0.0.0.0 example.com", "+example.com subtree"},
		{"127.0.0.1\tExample.com.", "+example.com subtree"},
		{":: example.com", "+example.com subtree"},
		{"::1 example.com", "+example.com subtree"},
		{"fe80::1%eth0 example.com", "+example.com subtree"},
		{"::ffff:1.2.3.4 example.com", "+example.com subtree"},
		{"10.1.2.3 a.com b.com  c.com", "+a.com subtree | +b.com subtree | +c.com subtree"},
		{"0.0.0.0 a.com # comment", "+a.com subtree"},
		{"0.0.0.0 a.com#comment", "+a.com subtree"},
		{"# 0.0.0.0 a.com", "skip"},
		{"127.0.0.1 localhost", "skip"},
		{"127.0.0.1 localhost.localdomain LOCALHOST", "skip"},
		{"255.255.255.255 broadcasthost", "skip"},
		{"::1 localhost ip6-localhost ip6-loopback", "skip"},
		{"fe00::0 ip6-localnet", "skip"},
		{"0.0.0.0 local", "skip"},
		{"0.0.0.0 0.0.0.0", "skip"},
		{"0.0.0.0 localhost a.com", "+a.com subtree"},
		{"0.0.0.0", "bad: address without a name"},
		{"example.com", "bad: first field is not an IP address"},
		{"300.0.0.1 a.com", "bad: first field is not an IP address"},
		{"0.0.0.0 1.2.3.4", "bad: IP address, not a name"},
		{"0.0.0.0 a.com b..com c.com", "+a.com subtree | +c.com subtree | bad: empty label"},
		{"0.0.0.0 *.a.com", "bad: invalid character '*'"},
	})
}

func TestParseAdblock(t *testing.T) {
	runLineCases(t, FormatAdblock, []lineCase{
		{"||example.com^", "+example.com subtree"},
		{"||Example.com^", "+example.com subtree"},
		{"||example.com", "+example.com subtree"},
		{"||example.com^|", "+example.com subtree"},
		{"||example.com^$important", "+example.com subtree"},
		{"||example.com$important", "+example.com subtree"},
		{"@@||example.com^", "+example.com subtree allow"},
		{"@@||example.com^$important", "+example.com subtree allow"},
		{"||*.example.com^", "+example.com subdomains"},
		{"@@||*.example.com^", "+example.com subdomains allow"},
		{"|example.com^", "+example.com exact"},
		{"@@|example.com^", "+example.com exact allow"},
		{"||bücher.de^", "+xn--bcher-kva.de subtree"},
		{"example.com", "+example.com subtree"},
		{"*.example.com", "+example.com subdomains"},
		{"0.0.0.0 example.com", "+example.com subtree"},
		{"@@example.com", "+example.com subtree allow"},
		{"@@example.com^", "+example.com subtree allow"},
		{"[Adblock Plus 2.0]", "skip"},
		{"! Title: list", "skip"},
		{"# comment", "skip"},
		{"||example.com^$third-party", "skip"},
		{"||example.com^$important,third-party", "skip"},
		{"||example.com^$script", "skip"},
		{"||example.com^$domain=a.com", "skip"},
		{"||example.com^$dnstype=AAAA", "skip"},
		{"||example.com^$", "skip"},
		{"||example.com/path", "skip"},
		{"||example.com:8080^", "skip"},
		{"||example.com^*.js", "skip"},
		{"||ads*.example.com^", "skip"},
		{"||*example.com^", "skip"},
		{"|https://example.com/", "skip"},
		{"example.com##.banner", "skip"},
		{"example.com#@#.banner", "skip"},
		{"##.banner", "skip"},
		{"example.com#?#div:has(.ad)", "skip"},
		{"example.com#$#body { color: red }", "skip"},
		{"example.com#%#//scriptlet('x')", "skip"},
		{"example.com$$script[src]", "skip"},
		{"/banner[0-9]+/", "skip"},
		{"banner.gif", "+banner.gif subtree"},
		{"/ads/*", "skip"},
		{"ads^", "skip"},
		{"||^", "bad: empty name"},
		{"||exa mple.com^", "bad: invalid character ' '"},
		{"||1.2.3.4^", "bad: IP address, not a name"},
		{"||a..com^", "bad: empty label"},
		{"@x", "bad: not an adblock rule"},
	})
}

func TestParseAuto(t *testing.T) {
	runLineCases(t, FormatAuto, []lineCase{
		{"example.com", "+example.com subtree"},
		{"0.0.0.0 example.com", "+example.com subtree"},
		{":: example.com", "+example.com subtree"},
		{"||example.com^", "+example.com subtree"},
		{"@@||example.com^", "+example.com subtree allow"},
		{"|example.com^", "+example.com exact"},
		{"=example.com", "+example.com exact"},
		{"*.example.com", "+example.com subdomains"},
		{"example.com # c", "+example.com subtree"},
		{"[Adblock Plus 2.0]", "skip"},
		{"! c", "skip"},
		{"# c", "skip"},
		{"example.com##.ad", "skip"},
		{"||example.com^$third-party", "skip"},
		{"1.2.3.4", "bad: address without a name"},
		{"ads^", "bad: invalid character '^'"},
	})
}

func TestParseFormat(t *testing.T) {
	for _, f := range []Format{FormatAuto, FormatDomains, FormatHosts, FormatAdblock} {
		got, err := ParseFormat(f.String())
		if err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f.String(), got, err)
		}
	}
	if got, err := ParseFormat(" Hosts "); err != nil || got != FormatHosts {
		t.Errorf("ParseFormat(\" Hosts \") = %v, %v", got, err)
	}
	if _, err := ParseFormat("dnsmasq"); err == nil {
		t.Error("ParseFormat(dnsmasq) succeeded")
	}
}

func TestStats(t *testing.T) {
	in := "# header\n\nexample.com\n0.0.0.0 a.com b.com\nbad..name\n! c\n"
	st, err := Parse(strings.NewReader(in), FormatAuto, func(Rule) {})
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Lines: 6, Rules: 3, Skipped: 3, Bad: 1, Errors: []LineError{{Line: 5, Reason: "empty label", Text: "bad..name"}}}
	if fmt.Sprint(st) != fmt.Sprint(want) {
		t.Errorf("stats\n got  %+v\n want %+v", st, want)
	}
	if got, want := st.Errors[0].Error(), `line 5: empty label: "bad..name"`; got != want {
		t.Errorf("Error() = %s, want %s", got, want)
	}
}

func TestStatsKeepsFirstErrors(t *testing.T) {
	in := strings.Repeat("bad..name\n", 100) + "good.com\n"
	st, _ := Parse(strings.NewReader(in), FormatDomains, func(Rule) {})
	if st.Bad != 100 || len(st.Errors) != maxErrors || st.Errors[19].Line != 20 || st.Rules != 1 {
		t.Errorf("got Bad=%d, %d errors (last line %d), %d rules", st.Bad, len(st.Errors), st.Errors[len(st.Errors)-1].Line, st.Rules)
	}
}

func TestLineEndings(t *testing.T) {
	for _, in := range []string{
		"a.com\nb.com\n", "a.com\r\nb.com\r\n", "a.com\nb.com", "a.com\r\nb.com",
		"\xef\xbb\xbfa.com\nb.com\n", "\xef\xbb\xbfa.com\r\nb.com",
	} {
		if got, want := outcome(t, in, FormatDomains), "+a.com subtree | +b.com subtree"; got != want {
			t.Errorf("%q: got %s, want %s", in, got, want)
		}
	}
	// Elsewhere U+FEFF is a zero-width no-break space, which IDNA maps to nothing.
	if got, want := outcome(t, "a.com\n\xef\xbb\xbfb.com\n", FormatDomains), "+a.com subtree | +b.com subtree"; got != want {
		t.Errorf("mid-file BOM: got %s, want %s", got, want)
	}
	if got, want := outcome(t, "", FormatDomains), ""; got != want {
		t.Errorf("empty input: got %q, want %q", got, want)
	}
}

func TestReadErrors(t *testing.T) {
	boom := errors.New("boom")
	// One byte per read must not change anything.
	var one []string
	if _, err := Parse(iotest.OneByteReader(strings.NewReader("a.com\r\nb.com")), FormatDomains, func(r Rule) { one = append(one, r.Name) }); err != nil || strings.Join(one, ",") != "a.com,b.com" {
		t.Errorf("OneByteReader: %v, %v", one, err)
	}
	r2 := iotest.ErrReader(boom)
	if _, err := Parse(r2, FormatDomains, func(Rule) {}); !errors.Is(err, boom) {
		t.Errorf("Parse error = %v, want %v", err, boom)
	}
	half := iotest.DataErrReader(strings.NewReader("a.com\nb.c"))
	var rules []string
	st, err := Parse(&failAfter{r: half, err: boom}, FormatDomains, func(r Rule) { rules = append(rules, r.Name) })
	if !errors.Is(err, boom) || st.Rules != 1 || len(rules) != 1 {
		t.Errorf("got %v, %+v, %v; want boom after one rule", err, st, rules)
	}
	if l, _, err := Compile(&failAfter{r: strings.NewReader("a.com\n"), err: boom}, FormatDomains); !errors.Is(err, boom) || l != nil {
		t.Errorf("Compile = %v, %v; want nil list and boom", l, err)
	}
}

// failAfter returns err once r is exhausted, instead of io.EOF.
type failAfter struct {
	r   interface{ Read([]byte) (int, error) }
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil {
		err = f.err
	}
	return n, err
}

func TestErrorText(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	for _, c := range []struct{ in, want string }{
		{"abc", "abc"},
		{strings.Repeat("x", 100), strings.Repeat("x", 80)},
		{long, strings.Repeat("é", 40)},
		{"x" + long, "x" + strings.Repeat("é", 39)},
		{"a\xffb", "a\uFFFDb"},
	} {
		if got := errorText([]byte(c.in)); got != c.want {
			t.Errorf("errorText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
