package lists

import (
	"bytes"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"testing"
)

func mustCompile(t testing.TB, text string, f Format) *List {
	t.Helper()
	l, st, err := Compile(strings.NewReader(text), f)
	if err != nil || st.Bad != 0 {
		t.Fatalf("Compile: %v, %+v", err, st)
	}
	return l
}

func TestLookupSemantics(t *testing.T) {
	l := mustCompile(t, `
example.com
=exact.org
*.subs.net
zip
||allowed.example.com^
@@||allowed.example.com^
@@||good.example.com^
@@|only.good.example.com^
@@||*.kids.example.com^
`, FormatAuto)
	type ba struct{ block, allow bool }
	for _, c := range []struct {
		name string
		want ba
	}{
		{"example.com", ba{true, false}},
		{"www.example.com", ba{true, false}},
		{"a.b.c.example.com", ba{true, false}},
		{"EXAMPLE.COM", ba{true, false}},
		{"Www.ExAmPlE.cOm.", ba{true, false}},
		{"example.com.", ba{true, false}},
		{"badexample.com", ba{}},
		{"example.co", ba{}},
		{"example.com.evil.net", ba{}},
		{"com", ba{}},
		{"exact.org", ba{true, false}},
		{"EXACT.ORG.", ba{true, false}},
		{"www.exact.org", ba{}},
		{"subs.net", ba{}},
		{"x.subs.net", ba{true, false}},
		{"y.x.SUBS.net", ba{true, false}},
		{"zip", ba{true, false}},
		{"anything.zip", ba{true, false}},
		{"zipper", ba{}},
		{"allowed.example.com", ba{true, true}},
		{"x.allowed.example.com", ba{true, true}},
		{"good.example.com", ba{true, true}},
		{"only.good.example.com", ba{true, true}},
		{"kids.example.com", ba{true, false}},
		{"www.kids.example.com", ba{true, true}},
		{"", ba{}},
		{".", ba{}},
		{"..", ba{}},
		{".com", ba{}},
		{".example.com", ba{true, false}}, // malformed, but a suffix of it is listed
		{"a..example.com", ba{true, false}},
		{"\x00example.com", ba{}},
		{"ex\u00e1mple.com", ba{}},
	} {
		var got ba
		got.block, got.allow = l.Lookup([]byte(c.name))
		if got != c.want {
			t.Errorf("Lookup(%q) = %+v, want %+v", c.name, got, c.want)
		}
		gs := ba{}
		gs.block, gs.allow = l.LookupString(c.name)
		if gs != got {
			t.Errorf("LookupString(%q) = %+v, Lookup = %+v", c.name, gs, got)
		}
	}
}

func TestLookupDoesNotModifyName(t *testing.T) {
	l := mustCompile(t, "example.com\n", FormatDomains)
	name := []byte("WWW.EXAMPLE.COM.")
	l.Lookup(name)
	NewSet([]Entry{{List: l}}).Match(name)
	if string(name) != "WWW.EXAMPLE.COM." {
		t.Errorf("name changed to %q", name)
	}
}

func TestCompileMergesDuplicates(t *testing.T) {
	l := mustCompile(t, "=a.com\n*.a.com\nb.com\nB.com.\n0.0.0.0 b.com\n@@||b.com^\n||c.com^\n|c.com^\n", FormatAuto)
	var got []string
	for _, r := range sortedRules(l) {
		got = append(got, ruleString(r))
	}
	want := "+a.com subtree,+b.com subtree,+b.com subtree allow,+c.com subtree"
	if strings.Join(got, ",") != want {
		t.Errorf("rules = %v, want %v", got, want)
	}
	if l.Len() != 3 {
		t.Errorf("Len = %d, want 3", l.Len())
	}
}

func TestCompileManyDuplicatesShrinks(t *testing.T) {
	var b strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&b, "n%d.example.com\n", i%100)
	}
	l := mustCompile(t, b.String(), FormatDomains)
	if l.Len() != 100 {
		t.Fatalf("Len = %d", l.Len())
	}
	if len(l.table) > tableSize(100) || len(l.names) != 100*len("n00.example.com")-10 {
		t.Errorf("table %d slots, names %d bytes: not shrunk", len(l.table), len(l.names))
	}
	for i := range 100 {
		if blk, _ := l.Lookup(fmt.Appendf(nil, "x.n%d.example.com", i)); !blk {
			t.Errorf("n%d lost in the rehash", i)
		}
	}
}

func TestNewList(t *testing.T) {
	l := NewList([]Rule{
		{Name: "Example.COM."},
		{Name: "bücher.de", Kind: Exact},
		{Name: "ads.example.com", Allow: true, Kind: SubdomainsOnly},
		{Name: "bad..name"},
		{Name: "1.2.3.4"},
		{Name: ""},
	})
	if l.Len() != 3 {
		t.Errorf("Len = %d, want 3", l.Len())
	}
	for _, c := range []struct {
		name         string
		block, allow bool
	}{
		{"www.example.com", true, false},
		{"xn--bcher-kva.de", true, false},
		{"www.xn--bcher-kva.de", false, false},
		{"ads.example.com", true, false},
		{"x.ads.example.com", true, true},
	} {
		if b, a := l.Lookup([]byte(c.name)); b != c.block || a != c.allow {
			t.Errorf("Lookup(%q) = %v, %v, want %v, %v", c.name, b, a, c.block, c.allow)
		}
	}
	for _, empty := range []*List{NewList(nil), nil, {}} {
		if b, a := empty.Lookup([]byte("example.com")); b || a || empty.Len() != 0 || len(slices.Collect(empty.All())) != 0 {
			t.Errorf("empty list %#v matched", empty)
		}
	}
}

func TestKindRoundTrip(t *testing.T) {
	for _, k := range []Kind{Subtree, Exact, SubdomainsOnly} {
		for _, allow := range []bool{false, true} {
			var got []Rule
			flagsRules("a.com", kindFlags(k, allow), func(r Rule) bool { got = append(got, r); return true })
			if len(got) != 1 || got[0] != (Rule{Name: "a.com", Kind: k, Allow: allow}) {
				t.Errorf("%v allow=%v: got %+v", k, allow, got)
			}
		}
	}
}

func TestSizeBytes(t *testing.T) {
	var b bytes.Buffer
	if err := Generate(&b, 10000, 7); err != nil {
		t.Fatal(err)
	}
	l := mustCompile(t, b.String(), FormatDomains)
	if l.Len() != 10000 {
		t.Fatalf("Len = %d", l.Len())
	}
	names := b.Len() - 10000 // the names without newlines
	want := names + 8*tableSize(10000) + 8*bloomWords(10000)
	if got := l.SizeBytes(); got < want || got > want+200 {
		t.Errorf("SizeBytes = %d, want about %d", got, want)
	}
}

func TestNormalizeName(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"Example.COM.", "example.com", ""},
		{"BÜCHER.de", "xn--bcher-kva.de", ""},
		{"ＥＸＡＭＰＬＥ。com", "example.com", ""}, // full-width letters and dot
		{"例え.テスト", "xn--r8jz45g.xn--zckzah", ""},
		{"xn--r8jz45g.xn--zckzah", "xn--r8jz45g.xn--zckzah", ""},
		{"_sip._tcp.example.com", "_sip._tcp.example.com", ""},
		{"zip", "zip", ""},
		{"a..b", "", "empty label"},
		{"1.2.3.4", "", "IP address"},
		{"2001:db8::1", "", "IP address"},
		{"a b", "", "invalid character ' '"},
		{"a/b", "", "invalid character '/'"},
		{"☃.com", "xn--n3h.com", ""},
		{"a\u200b.com", "a.com", ""}, // zero-width space: mapped away by IDNA
	} {
		got, err := NormalizeName(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("NormalizeName(%q) = %q, %v; want error %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// TestTagCollision finds a name whose hash agrees with a listed name's in the slot and in the
// 20 tag bits (a collision the one-word compare cannot tell apart) and checks that the full
// name comparison still rejects it.
func TestTagCollision(t *testing.T) {
	l := NewList([]Rule{{Name: "listed.com"}})
	h0 := hashName([]byte("listed.com"))
	slot := func(h uint64) uint64 { i, _ := bits.Mul64(h, uint64(len(l.table))); return i }
	const tag = 1<<20 - 1
	var q []byte
	for i := 0; i < 1<<26; i++ {
		c := fmt.Appendf(nil, "%06x.com", i)[:len("listed.com")]
		if h := hashName(c); h&tag == h0&tag && slot(h) == slot(h0) && string(c) != "listed.com" {
			q = c
			break
		}
	}
	if q == nil {
		t.Skip("no collision found")
	}
	if b, _ := l.Lookup(q); b {
		t.Errorf("%s matched listed.com: a hash collision was taken for equality", q)
	}
	if b, _ := NewSet([]Entry{{List: l}}).Match(q); b != 0 {
		t.Errorf("Match(%s) matched listed.com", q)
	}
}
