package store

import (
	"reflect"
	"testing"
	"time"
)

func TestFeedJournal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		if vs, err := s.FeedVersions(ctx, 0); err != nil || len(vs) != 0 {
			t.Fatalf("empty journal: %+v %v", vs, err)
		}
		add := func(serial, prev int64, keep int, ch ...FeedChange) bool {
			t.Helper()
			ok, err := s.AddFeedVersion(ctx, FeedVersion{Serial: serial, Prev: prev, Created: t0, Changes: ch}, keep)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !add(3, 1, 0, FeedChange{"b.example", 0}, FeedChange{"a.example", 1}) || !add(5, 3, 0) || !add(6, 5, 0, FeedChange{"c.example", 3}) {
			t.Fatal("new versions not added")
		}
		// Another node building serial 5 (from another serial even): the first one stays.
		if add(5, 2, 0, FeedChange{"x.example", 2}) {
			t.Fatal("serial 5 added twice")
		}
		vs, err := s.FeedVersions(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []FeedVersion{
			{Serial: 3, Prev: 1, Created: t0, Changes: []FeedChange{{"a.example", 1}, {"b.example", 0}}},
			{Serial: 5, Prev: 3, Created: t0},
			{Serial: 6, Prev: 5, Created: t0, Changes: []FeedChange{{"c.example", 3}}},
		}
		if !reflect.DeepEqual(vs, want) {
			t.Fatalf("versions:\n%+v\nwant\n%+v", vs, want)
		}
		if vs, err := s.FeedVersions(ctx, 5); err != nil || !reflect.DeepEqual(vs, want[2:]) {
			t.Fatalf("after 5: %+v %v", vs, err)
		}
		// Trimming keeps the newest N versions and their changes.
		if !add(7, 6, 2, FeedChange{"d.example", 0}) {
			t.Fatal("7 not added")
		}
		vs, err = s.FeedVersions(ctx, 0)
		if err != nil || len(vs) != 2 || vs[0].Serial != 6 || vs[1].Serial != 7 || len(vs[0].Changes) != 1 {
			t.Fatalf("trimmed to 2: %+v %v", vs, err)
		}
		var n int
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM feed_deltas`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("deltas left: %d %v", n, err)
		}
		if err := s.ClearFeedJournal(ctx); err != nil {
			t.Fatal(err)
		}
		if vs, err := s.FeedVersions(ctx, 0); err != nil || len(vs) != 0 {
			t.Fatalf("cleared: %+v %v", vs, err)
		}
	})
}
