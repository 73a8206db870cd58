package main

import (
	"context"
	"maps"
	"path/filepath"
	"testing"

	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
)

// countingStore counts whole reads of the list.
type countingStore struct {
	*store.Store
	snapshots int
}

func (c *countingStore) NetworkListSnapshot(ctx context.Context) (int64, []*store.ListEntry, error) {
	c.snapshots++
	return c.Store.NetworkListSnapshot(ctx)
}

// The filter follows the store's list by its changes: after confirmations, delistings,
// imports and recategorisations, what it compiled incrementally is what a whole read compiles,
// the whole list was read once, and a category no change touched keeps its compiled list.
func TestLocalListFollowsChanges(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "kidshield.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	alice, _ := st.CreateUser(ctx, store.User{Login: "alice", Name: "A", Roles: []string{"analyst"}, PasswordHash: "x"})
	bob, _ := st.CreateUser(ctx, store.User{Login: "bob", Name: "B", Roles: []string{"analyst"}, PasswordHash: "x"})
	confirm := func(kind, v, cat string) int64 {
		id, err := st.ProposeListEntry(ctx, store.ListProposal{Kind: kind, Value: v, Category: cat, ActorID: alice})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.ChangeListEntry(ctx, id, store.ListChange{To: lifecycle.ListActive, ActorID: bob}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	imp := func(cat string, vs ...string) {
		var es []store.ImportEntry
		for _, v := range vs {
			es = append(es, store.ImportEntry{Kind: store.ListDomain, Value: v})
		}
		if _, err := st.ImportList(ctx, store.ListImport{Source: "pub", Category: cat, Actor: "cli", Entries: es}); err != nil {
			t.Fatal(err)
		}
	}
	cs := &countingStore{Store: st}
	var ll localList
	// names returns what a netList blocks, per category, checked name by name against a whole
	// read compiled afresh.
	check := func(step string) *netList {
		t.Helper()
		got, err := ll.load(ctx, cs)
		if err != nil {
			t.Fatal(err)
		}
		var fresh localList
		want, err := fresh.load(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if got.serial != want.serial {
			t.Fatalf("%s: serial %d, want %d", step, got.serial, want.serial)
		}
		if !maps.EqualFunc(ll.cur.Cats, fresh.cur.Cats, maps.Equal) {
			t.Fatalf("%s: followed\n%v\nwhole read\n%v", step, ll.cur.Cats, fresh.cur.Cats)
		}
		for _, name := range []string{"a.example", "x.a.example", "h.example", "x.h.example", "imp.example", "www.imp.example", "both.example", store.CanaryValue} {
			for cat := range want.byCat {
				var g bool
				if l := got.byCat[cat]; l != nil {
					g, _ = l.LookupString(name)
				}
				if w, _ := want.byCat[cat].LookupString(name); g != w {
					t.Errorf("%s: %s in %s: %v, want %v", step, name, cat, g, w)
				}
			}
		}
		return got
	}
	n0 := check("empty")
	a := confirm(store.ListDomain, "a.example", "hotline")
	confirm(store.ListHost, "h.example", "adult")
	n1 := check("confirmed")
	if n1.byCat["hotline"] == n0.byCat["hotline"] {
		t.Error("hotline changed but was not compiled again")
	}
	imp("gambling", "imp.example", "both.example")
	n2 := check("imported")
	if n2.byCat["adult"] != n1.byCat["adult"] || n2.byCat["hotline"] != n1.byCat["hotline"] {
		t.Error("an import in gambling recompiled untouched categories")
	}
	imp("adult", "imp.example", "both.example") // recategorised
	check("recategorised")
	confirm(store.ListDomain, "both.example", "hotline") // the network's entry shadows the import
	check("shadowed")
	if _, _, err := st.ChangeListEntry(ctx, a, store.ListChange{To: lifecycle.ListDelisted, ActorID: bob, Reason: "removed"}); err != nil {
		t.Fatal(err)
	}
	check("delisted")
	imp("adult") // the import emptied
	check("import emptied")
	if cs.snapshots != 1 {
		t.Errorf("the whole list was read %d times, want once", cs.snapshots)
	}
}
