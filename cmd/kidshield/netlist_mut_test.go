package main

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
)

// The network list reaches the filter as the analysts approved it: a domain entry blocks the
// name and every subdomain, a host entry exactly that host (store.ListHost: "exactly this host
// name") and nothing under it; proposals and delisted entries block nothing.
func TestNetListKindsReachTheFilter(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "kidshield.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	user := func(login string) int64 {
		id, err := st.CreateUser(ctx, store.User{Login: login, Name: login, Roles: []string{"analyst"}, PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	alice, bob := user("alice"), user("bob")
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	entry := func(kind, value, to string) {
		id, err := st.ProposeListEntry(ctx, store.ListProposal{Kind: kind, Value: value, Category: "hotline", ActorID: alice, Actor: "user:alice", Time: at})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range map[string][]string{
			lifecycle.ListProposed: nil,
			lifecycle.ListActive:   {lifecycle.ListActive},
			lifecycle.ListDelisted: {lifecycle.ListActive, lifecycle.ListDelisted},
		}[to] {
			if _, _, err := st.ChangeListEntry(ctx, id, store.ListChange{To: s, ActorID: bob, Actor: "user:bob", Time: at}); err != nil {
				t.Fatal(err)
			}
		}
	}
	entry(store.ListDomain, "bad.example", lifecycle.ListActive)
	entry(store.ListHost, "cdn.shared.example", lifecycle.ListActive)
	entry(store.ListDomain, "waiting.example", lifecycle.ListProposed)
	entry(store.ListDomain, "gone.example", lifecycle.ListDelisted)

	a := &app{st: st}
	nl, err := a.loadNetList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l := nl.byCat["hotline"]
	if l == nil {
		t.Fatalf("no compiled list for category hotline: %v", nl.byCat)
	}
	for name, want := range map[string]bool{
		"bad.example":            true,
		"www.bad.example":        true, // a domain entry covers its subdomains
		"cdn.shared.example":     true,
		"img.cdn.shared.example": false, // a host entry is that host only
		"shared.example":         false,
		"waiting.example":        false, // proposed: not approved yet
		"gone.example":           false, // delisted
	} {
		if block, _ := l.LookupString(name); block != want {
			t.Errorf("%s: blocked %v, want %v", name, block, want)
		}
	}
	cfg := config.Default()
	es := nl.entries(cfg)
	if len(es) != 1 || int(es[0].Category) != slices.Index(cfg.AllCategories(), "hotline") || es[0].List != l {
		t.Errorf("the filter gets %d entries %+v, want the hotline list tagged with the hotline category", len(es), es)
	}
}
