package lists

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestSetCategories(t *testing.T) {
	adult := mustCompile(t, "porn.example\n||adult.example.com^\n", FormatAuto)
	gambling := mustCompile(t, "bet.example\ncasino.example.com\n", FormatDomains)
	gambling2 := mustCompile(t, "0.0.0.0 poker.example\n", FormatHosts)
	bypass := mustCompile(t, "use-application-dns.net\n=mask.icloud.com\n", FormatDomains)
	allow := NewList([]Rule{{Name: "school.casino.example.com", Allow: true}, {Name: "porn.example", Kind: Exact, Allow: true}})
	s := NewSet([]Entry{
		{List: adult, Category: 0},
		{List: gambling, Category: 5},
		{List: gambling2, Category: 5},
		{List: bypass, Category: 63},
		{List: allow, Category: 5},
		{List: nil, Category: 1},
		{List: NewList(nil), Category: 2},
		{List: adult, Category: 64}, // ignored
	})
	for _, c := range []struct {
		name         string
		block, allow Mask
	}{
		{"www.porn.example", 1, 0},
		{"porn.example", 1, 1 << 5},
		{"adult.example.com", 1, 0},
		{"x.bet.example", 1 << 5, 0},
		{"poker.example.", 1 << 5, 0},
		{"school.casino.example.com", 1 << 5, 1 << 5},
		{"casino.example.com", 1 << 5, 0},
		{"use-application-dns.net", 1 << 63, 0},
		{"mask.icloud.com", 1 << 63, 0},
		{"x.mask.icloud.com", 0, 0},
		{"example.com", 0, 0},
		{"", 0, 0},
	} {
		b, a := s.Match([]byte(c.name))
		if b != c.block || a != c.allow {
			t.Errorf("Match(%q) = %#x, %#x; want %#x, %#x", c.name, b, a, c.block, c.allow)
		}
		if b2, a2 := s.MatchString(c.name); b2 != b || a2 != a {
			t.Errorf("MatchString(%q) = %#x, %#x; Match = %#x, %#x", c.name, b2, a2, b, a)
		}
	}
	if len(s.Entries()) != 8 {
		t.Errorf("Entries: %d", len(s.Entries()))
	}
	var empty Set
	if b, a := empty.Match([]byte("porn.example")); b != 0 || a != 0 {
		t.Error("zero Set matched")
	}
}

// TestSetReuse checks that a new Set built from the entries of another shares the compiled lists.
func TestSetReuse(t *testing.T) {
	a := mustCompile(t, "a.example\n", FormatDomains)
	b := mustCompile(t, "b.example\n", FormatDomains)
	s1 := NewSet([]Entry{{List: a, Category: 1}, {List: b, Category: 2}})
	entries := s1.Entries()
	entries[1].List = mustCompile(t, "c.example\n", FormatDomains)
	s2 := NewSet(entries)
	if &s2.lists[0].table[0] != &a.table[0] {
		t.Error("the unchanged list was copied")
	}
	if blk, _ := s1.Match([]byte("b.example")); blk != 1<<2 {
		t.Error("the old set changed")
	}
	if blk, _ := s2.Match([]byte("c.example")); blk != 1<<2 {
		t.Error("the new set lacks the new list")
	}
	if blk, _ := s2.Match([]byte("b.example")); blk != 0 {
		t.Error("the new set kept the old list")
	}
}

// reference is the obvious implementation the matcher must agree with: a map per list, and a walk
// over the name and every parent suffix.
type reference struct {
	lists []map[string]uint8
	cats  []uint8
}

func (r *reference) add(cat uint8, rules []Rule) {
	m := map[string]uint8{}
	for _, rule := range rules {
		name, err := NormalizeName(rule.Name)
		if err != nil {
			continue
		}
		m[name] |= kindFlags(rule.Kind, rule.Allow)
	}
	r.lists = append(r.lists, m)
	r.cats = append(r.cats, cat)
}

func (r *reference) match(name string) (block, allow Mask) {
	name = strings.TrimSuffix(name, ".")
	if name == "" {
		return 0, 0
	}
	lower := []byte(name)
	for i, c := range lower {
		if c >= 'A' && c <= 'Z' {
			lower[i] = c + 'a' - 'A'
		}
	}
	name = string(lower)
	for i, m := range r.lists {
		bit := Mask(1) << r.cats[i]
		check := func(suffix string, mask uint8) {
			f := m[suffix] & mask
			if f&(flagBlockSelf|flagBlockSubs) != 0 {
				block |= bit
			}
			if f&(flagAllowSelf|flagAllowSubs) != 0 {
				allow |= bit
			}
		}
		check(name, flagsSelf)
		for j := 0; j < len(name); j++ {
			if name[j] == '.' {
				check(name[j+1:], flagsSubs)
			}
		}
	}
	return block, allow
}

// randomName draws names from a small alphabet and few labels, so that random rules and random
// queries overlap often.
func randomName(rng *rand.Rand) string {
	labels := []string{"a", "b", "ab", "com", "x-y", "_z", "net", "A", "Com", "longerlabel0123456789"}
	n := 1 + rng.IntN(4)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = labels[rng.IntN(len(labels))]
	}
	return strings.Join(parts, ".")
}

func TestMatchAgreesWithReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var ref reference
		var entries []Entry
		nlists := 1 + rng.IntN(4)
		for range nlists {
			var rules []Rule
			for range rng.IntN(30) {
				rules = append(rules, Rule{Name: randomName(rng), Kind: Kind(rng.IntN(3)), Allow: rng.IntN(4) == 0})
			}
			cat := uint8(rng.IntN(64))
			ref.add(cat, rules)
			entries = append(entries, Entry{List: NewList(rules), Category: cat})
		}
		s := NewSet(entries)
		for range 200 {
			q := randomName(rng)
			if rng.IntN(5) == 0 {
				q += "."
			}
			wb, wa := ref.match(q)
			gb, ga := s.Match([]byte(q))
			if gb != wb || ga != wa {
				t.Fatalf("round %d: Match(%q) = %#x, %#x; reference %#x, %#x", round, q, gb, ga, wb, wa)
			}
			if len(entries) == 1 {
				lb, la := entries[0].List.Lookup([]byte(q))
				if lb != (wb != 0) || la != (wa != 0) {
					t.Fatalf("round %d: Lookup(%q) = %v, %v; reference %#x, %#x", round, q, lb, la, wb, wa)
				}
			}
		}
	}
}

// TestMatchLargeAgreesWithReference covers the Bloom filter and long probe runs: a list large
// enough to have one, queried with listed names, their relatives and strangers.
func TestMatchLargeAgreesWithReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var rules []Rule
	for i := range 20000 {
		rules = append(rules, Rule{Name: fmt.Sprintf("n%d.%s", i, randomName(rng)), Kind: Kind(rng.IntN(3)), Allow: rng.IntN(10) == 0})
	}
	var ref reference
	ref.add(7, rules)
	l := NewList(rules)
	if l.bloom == nil {
		t.Fatal("no Bloom filter on a large list")
	}
	s := NewSet([]Entry{{List: l, Category: 7}})
	for i := range 50000 {
		var q string
		switch i % 4 {
		case 0:
			q = rules[rng.IntN(len(rules))].Name
		case 1:
			q = randomName(rng) + "." + rules[rng.IntN(len(rules))].Name
		case 2:
			q = strings.ToUpper(rules[rng.IntN(len(rules))].Name)
		case 3:
			q = fmt.Sprintf("n%d.%s", rng.IntN(40000), randomName(rng))
		}
		wb, wa := ref.match(q)
		if gb, ga := s.Match([]byte(q)); gb != wb || ga != wa {
			t.Fatalf("Match(%q) = %#x, %#x; reference %#x, %#x", q, gb, ga, wb, wa)
		}
	}
}

func TestMatchAllocs(t *testing.T) {
	l := mustCompile(t, "example.com\n*.ads.net\n", FormatDomains)
	s := NewSet([]Entry{{List: l, Category: 3}, {List: NewList([]Rule{{Name: "x.com"}}), Category: 4}})
	name := []byte("WWW.Tracker.Ads.Net.")
	str := "www.example.com"
	if n := testing.AllocsPerRun(100, func() {
		s.Match(name)
		s.MatchString(str)
		l.Lookup(name)
		l.LookupString(str)
	}); n != 0 {
		t.Errorf("%v allocations per run", n)
	}
}

// TestConcurrentMatch runs readers in parallel with the building of the next Set (go test -race).
func TestConcurrentMatch(t *testing.T) {
	a := mustCompile(t, "a.example\n*.b.example\n", FormatDomains)
	s := NewSet([]Entry{{List: a, Category: 1}})
	done := make(chan bool)
	for range 4 {
		go func() {
			ok := true
			for range 1000 {
				b1, _ := s.Match([]byte("x.a.example"))
				b2, _ := a.Lookup([]byte("y.b.example"))
				ok = ok && b1 == 2 && b2
			}
			done <- ok
		}()
	}
	next := NewSet(append(s.Entries(), Entry{List: mustCompile(t, "c.example\n", FormatDomains), Category: 2}))
	for range 4 {
		if !<-done {
			t.Error("a reader saw a wrong answer")
		}
	}
	if b, _ := next.Match([]byte("c.example")); b != 4 {
		t.Errorf("next set: %#x", b)
	}
}
