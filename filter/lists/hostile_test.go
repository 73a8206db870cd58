package lists

import (
	"bytes"
	"strings"
	"testing"
)

func TestHostileInputs(t *testing.T) {
	tenMB := strings.Repeat("x", 10<<20)
	millionLabels := strings.Repeat("a.", 1_000_000) + "com"
	for _, c := range []struct {
		name, in string
		f        Format
		want     string // outcome()
	}{
		{"10 MB line then a name", tenMB + "\nok.com\n", FormatDomains, "+ok.com subtree | bad: line longer than 4096 bytes"},
		{"10 MB line at EOF", "ok.com\n" + tenMB, FormatAuto, "+ok.com subtree | bad: line longer than 4096 bytes"},
		{"10 MB line of newlines' neighbours", "\n" + tenMB + "\r\n\n", FormatHosts, "skip | bad: line longer than 4096 bytes"},
		{"10^6 labels", millionLabels + "\nok.com", FormatDomains, "+ok.com subtree | bad: line longer than 4096 bytes"},
		{"4096-byte line", strings.Repeat("a", 4096) + "\n", FormatDomains, "bad: label longer than 63 bytes"},
		{"4097-byte line", strings.Repeat("a", 4097) + "\n", FormatDomains, "bad: line longer than 4096 bytes"},
		{"4096 bytes and CRLF", strings.Repeat("a", 4096) + "\r\n", FormatDomains, "bad: label longer than 63 bytes"},
		{"2000 labels within the line limit", strings.Repeat("a.", 2000) + "com\n", FormatDomains, "bad: name longer than 253 bytes"},
		{"long label", strings.Repeat("b", 1000) + ".com\n", FormatAdblock, "bad: label longer than 63 bytes"},
		{"only dots", ".\n..\n...\n" + strings.Repeat(".", 4000) + "\n", FormatDomains, "bad: empty name | bad: empty label | bad: empty label | bad: empty label"},
		{"dots in adblock", "||..^\n||.^\n", FormatAdblock, "bad: empty label | bad: empty name"},
		{"NUL bytes", "\x00\n\x00\x00\x00\nexample.com\x00\n", FormatAuto, "bad: NUL byte | bad: NUL byte | bad: NUL byte"},
		{"NUL in hosts", "0.0.0.0 a\x00.com\n", FormatHosts, "bad: NUL byte"},
		{"invalid UTF-8", "\xff\xfe\xfd\n\xc3\x28.com\n", FormatDomains, "bad: invalid UTF-8 | bad: invalid UTF-8"},
		{"UTF-16 file", "\xff\xfea\x00.\x00c\x00o\x00m\x00\n\x00", FormatDomains, "bad: invalid UTF-8 | bad: NUL byte"},
		{"control characters", "a\x1b[31m.com\nb\x7f.com\n", FormatDomains, "bad: control character '\\x1b' | bad: control character '\\x7f'"},
		{"CRLF", "a.com\r\nb.com\r\n\r\n", FormatDomains, "+a.com subtree | +b.com subtree | skip"},
		{"lone CR", "a.com\rb.com\n", FormatDomains, "bad: unexpected text after the name"},
		{"BOM", "\xef\xbb\xbf||a.com^\n", FormatAuto, "+a.com subtree"},
		{"BOM then comment", "\xef\xbb\xbf# list\na.com\n", FormatDomains, "+a.com subtree | skip"},
		{"punycode", "xn--80ak6aa92e.com\nXN--80AK6AA92E.COM\n", FormatDomains, "+xn--80ak6aa92e.com subtree | +xn--80ak6aa92e.com subtree"},
		{"IDN", "приклад.укр\n", FormatDomains, "+xn--80aikifvh.xn--j1amh subtree"},
		{"IDN exact", "=ví-dụ.vn\n", FormatDomains, "+xn--v-d-rma6749a.vn exact"},
		{"IDN bidi error", "a\u05d0\u0031.com\n", FormatDomains, "bad: invalid internationalized name (idna: invalid label \"a\u05d01.com\")"},
		{"emoji IDN", "💩.la\n", FormatDomains, "+xn--ls8h.la subtree"},
		{"many rules on a hosts line", "0.0.0.0" + strings.Repeat(" a.com", 600) + "\n", FormatHosts, strings.Repeat("+a.com subtree | ", 599) + "+a.com subtree"},
	} {
		got := outcome(t, c.in, c.f)
		if got != c.want {
			if len(got) > 300 {
				got = got[:300] + "..."
			}
			t.Errorf("%s: got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestHostileErrorText(t *testing.T) {
	st, _ := Parse(strings.NewReader(strings.Repeat("é", 3000)+"\n\xff\xff"+strings.Repeat("z", 100)+"\n"), FormatDomains, func(Rule) {})
	if len(st.Errors) != 2 {
		t.Fatalf("errors: %+v", st.Errors)
	}
	for _, e := range st.Errors {
		if len(e.Text) > 80 || !strings.HasPrefix(e.Error(), "line ") || strings.ContainsRune(e.Text, 0xfffd) && e.Line == 1 {
			t.Errorf("bad error text %q", e.Text)
		}
	}
}

func TestHostileQueries(t *testing.T) {
	l := mustCompile(t, "example.com\n=exact.example\n*.subs.example\n", FormatDomains)
	s := NewSet([]Entry{{List: l, Category: 1}})
	long := bytes.Repeat([]byte("a."), 1_000_000)
	for _, c := range []struct {
		name  []byte
		block bool
	}{
		{append(bytes.Clone(long), "example.com"...), true},
		{append(bytes.Clone(long), "exact.example"...), false},
		{append(bytes.Clone(long), "subs.example."...), true},
		{append(bytes.Repeat([]byte("x"), 10<<20), ".example.com"...), true},
		{bytes.Repeat([]byte("x"), 10<<20), false},
		{bytes.Repeat([]byte("."), 10000), false},
		{[]byte("\x00\xff.example.com"), true},
		{[]byte("EXAMPLE\x00COM"), false},
		{[]byte("example.com\x00"), false},
		{[]byte(strings.Repeat("\xff", 300)), false},
	} {
		if b, _ := l.Lookup(c.name); b != c.block {
			t.Errorf("Lookup(%.40q...) = %v, want %v", c.name, b, c.block)
		}
		if b, _ := s.Match(c.name); (b != 0) != c.block {
			t.Errorf("Match(%.40q...) = %v, want %v", c.name, b, c.block)
		}
	}
	if n := testing.AllocsPerRun(3, func() { s.Match(long) }); n != 0 {
		t.Errorf("Match of a 2 MB name: %v allocations", n)
	}
}
