package store

import (
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

func TestListJournal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		alice, bob := ntcUser(t, s, "alice"), ntcUser(t, s, "bob")
		t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		serial, entries, err := s.ListSnapshot(ctx)
		if err != nil || serial != 0 || len(entries) != 0 {
			t.Fatalf("empty snapshot: %d %v %v", serial, entries, err)
		}
		propose := func(kind, v string) int64 {
			t.Helper()
			id, err := s.ProposeListEntry(ctx, ListProposal{Kind: kind, Value: v, Category: "hotline", ActorID: alice, Time: t0})
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		change := func(id int64, to string, actor int64) {
			t.Helper()
			if _, _, err := s.ChangeListEntry(ctx, id, ListChange{To: to, ActorID: actor, Time: t0}); err != nil {
				t.Fatal(err)
			}
		}
		a := propose(ListDomain, "a.example")       // 1
		change(a, lifecycle.ListActive, bob)        // 2
		h := propose(ListHost, "h.example")         // 3
		change(h, lifecycle.ListActive, bob)        // 4
		change(a, lifecycle.ListAppealed, 0)        // 5
		change(a, lifecycle.ListDelisted, alice)    // 6
		r := propose(ListURL, "https://u.example/") // 7
		change(r, lifecycle.ListRejected, bob)      // 8

		serial, entries, err = s.ListSnapshot(ctx)
		if err != nil || serial != 8 || len(entries) != 1 || entries[0].Kind != ListHost || entries[0].Value != "h.example" {
			t.Fatalf("snapshot: %d %+v %v", serial, entries, err)
		}
		all, err := s.ListChangesSince(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			op    string
			value string
			delta int
		}{{"propose", "a.example", 0}, {"approve", "a.example", 1}, {"propose", "h.example", 0}, {"approve", "h.example", 1},
			{"appealed", "a.example", 0}, {"delisted", "a.example", -1}, {"propose", "https://u.example/", 0}, {"rejected", "https://u.example/", 0}}
		if len(all) != len(want) {
			t.Fatalf("%d changes: %+v", len(all), all)
		}
		for i, w := range want {
			c := all[i]
			if c.Serial != int64(i+1) || c.Op != w.op || c.Value != w.value || c.BlockDelta() != w.delta || c.Category != "hotline" {
				t.Errorf("change %d: %+v (delta %d), want %+v", i, c, c.BlockDelta(), w)
			}
		}
		since, err := s.ListChangesSince(ctx, 6)
		if err != nil || len(since) != 2 || since[0].Serial != 7 || since[0].Kind != ListURL {
			t.Fatalf("since 6: %+v %v", since, err)
		}
		if none, err := s.ListChangesSince(ctx, 8); err != nil || len(none) != 0 {
			t.Fatalf("since current: %+v %v", none, err)
		}
	})
}
