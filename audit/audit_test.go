package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func chain(n int) []Record {
	var out []Record
	prev := ""
	for i := 1; i <= n; i++ {
		r := Record{Seq: int64(i), TimeUS: int64(i) * 1e6, Actor: "user:1", Action: "case.view", Object: fmt.Sprintf("case:%d", i), Detail: "{}", PrevHash: prev}
		r.Hash = Hash(prev, r)
		prev = r.Hash
		out = append(out, r)
	}
	return out
}

func reader(recs []Record) func() (Record, bool, error) {
	i := 0
	return func() (Record, bool, error) {
		if i == len(recs) {
			return Record{}, false, nil
		}
		i++
		return recs[i-1], true, nil
	}
}

// Moving bytes from one field to the next changes the hash: the encoding is length-prefixed.
func TestHashUnambiguous(t *testing.T) {
	a := Record{Seq: 1, Actor: "ab", Action: "c"}
	b := Record{Seq: 1, Actor: "a", Action: "bc"}
	if Hash("", a) == Hash("", b) {
		t.Fatal("field boundary not encoded")
	}
	if Hash("", a) != Hash("", a) || len(Hash("", a)) != 64 {
		t.Fatal("hash not stable hex SHA-256")
	}
	c := a
	c.Hash, c.PrevHash = "x", "y"
	if Hash("", a) != Hash("", c) {
		t.Fatal("hash depends on the stored hashes rather than the prev argument")
	}
	if Hash("p", a) == Hash("", a) {
		t.Fatal("prev not covered")
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	good := chain(10)
	res, err := Verify(ctx, reader(good))
	if err != nil || res.Records != 10 || res.HeadSeq != 10 || res.HeadHash != good[9].Hash {
		t.Fatalf("good chain: %+v %v", res, err)
	}
	edit := func(f func(r []Record) []Record) []Record {
		return f(append([]Record(nil), good...))
	}
	for _, tc := range []struct {
		name string
		recs []Record
		seq  int64
		msg  string
	}{
		{"edited", edit(func(r []Record) []Record { r[3].Object = "case:x"; return r }), 4, "edited"},
		{"deleted", edit(func(r []Record) []Record { return append(r[:4], r[5:]...) }), 5, "record 5 is missing"},
		{"deleted two", edit(func(r []Record) []Record { return append(r[:4], r[6:]...) }), 5, "records 5 to 6 are missing"},
		{"first deleted", good[1:], 1, "record 1 is missing"},
		{"reordered", edit(func(r []Record) []Record { r[4], r[5] = r[5], r[4]; return r }), 5, "record 5 is missing"},
		{"duplicated", edit(func(r []Record) []Record { return append(r[:5], r[4:]...) }), 5, "appears after"},
		{"renumbered", edit(func(r []Record) []Record {
			r = append(r[:4], r[5:]...)
			for i := 4; i < len(r); i++ {
				r[i].Seq--
			}
			return r
		}), 5, "prev_hash does not match"},
	} {
		_, err := Verify(ctx, reader(tc.recs))
		var be *BreakError
		if !errors.As(err, &be) || be.Seq != tc.seq || !strings.Contains(err.Error(), tc.msg) || !errors.Is(err, ErrBroken) {
			t.Errorf("%s: %v, want a break at %d with %q", tc.name, err, tc.seq, tc.msg)
		}
	}
	boom := errors.New("disk")
	_, err = Verify(ctx, func() (Record, bool, error) { return Record{}, false, boom })
	if !errors.Is(err, boom) || errors.Is(err, ErrBroken) {
		t.Fatalf("read error: %v", err)
	}
}

func TestAnchor(t *testing.T) {
	ctx := context.Background()
	good := chain(10)
	a := Anchor{Seq: 8, Hash: good[7].Hash}
	p, err := ParseAnchor(a.String() + "\n")
	if err != nil || p != a {
		t.Fatalf("round trip: %+v %v", p, err)
	}
	if _, err := VerifyAnchor(ctx, reader(good), a); err != nil {
		t.Fatal(err)
	}
	_, err = VerifyAnchor(ctx, reader(good[:6]), a)
	var be *BreakError
	if !errors.As(err, &be) || be.Seq != 7 || !strings.Contains(err.Error(), "deleted from the end") {
		t.Fatalf("truncated: %v", err)
	}
	other := chain(10)
	other[0].Actor = "user:2"
	other = rehash(other)
	if _, err := VerifyAnchor(ctx, reader(other), a); !errors.As(err, &be) || be.Seq != 8 {
		t.Fatalf("rewritten: %v", err)
	}
	if e, err := ParseAnchor("0 -"); err != nil || e != (Anchor{}) {
		t.Fatalf("empty anchor: %v", err)
	}
	for _, bad := range []string{"", "8", "x " + a.Hash, "8 abc", "-1 " + a.Hash, "0 " + a.Hash, "3 -", "8 " + a.Hash + " extra"} {
		if _, err := ParseAnchor(bad); err == nil {
			t.Errorf("ParseAnchor(%q) accepted", bad)
		}
	}
}

func rehash(r []Record) []Record {
	prev := ""
	for i := range r {
		r[i].PrevHash = prev
		r[i].Hash = Hash(prev, r[i])
		prev = r[i].Hash
	}
	return r
}

func FuzzParseAnchor(f *testing.F) {
	f.Add("12 " + strings.Repeat("ab", 32))
	f.Add("0 -")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAnchor(s)
		if err != nil {
			return
		}
		b, err := ParseAnchor(a.String())
		if err != nil || a != b {
			t.Fatalf("%q → %+v does not round-trip: %+v %v", s, a, b, err)
		}
	})
}
