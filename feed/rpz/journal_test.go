package rpz

import (
	"context"
	"github.com/kidshield/kidshield/internal/pgtest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/store"
)

// forEachStore runs fn on SQLite and on PostgreSQL (when KIDSHIELD_TEST_POSTGRES names a
// server; required under CI=true) with open, which opens the test's store: each call a new
// handle on the same database, as another control node would have.
func forEachStore(t *testing.T, fn func(t *testing.T, open func() *store.Store)) {
	for _, backend := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			var dsn string
			if backend == store.DialectSQLite {
				dsn = "sqlite:" + filepath.Join(t.TempDir(), "data", "kidshield.db")
			} else {
				dsn = postgresTestDSN(t)
			}
			fn(t, func() *store.Store {
				t.Helper()
				s, err := store.Open(t.Context(), dsn)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}

// postgresTestDSN: a PostgreSQL database of the test's own (package pgtest).
func postgresTestDSN(t *testing.T) string { return pgtest.DSN(t) }

func isFull(got []string) bool { return len(got) > 2 && got[1] == testZone+"\t300\tIN\tNS\tlocalhost." }

func ixfr(t *testing.T, addr string, from uint32) []string {
	t.Helper()
	got, err := xfr(t, addr, ixfrQ(from), testSecret)
	if err != nil {
		t.Fatalf("IXFR from %d: %v", from, err)
	}
	return got
}

// After a restart on the same store, IXFR from a version built before it is incremental and
// the same as before the restart; so it is after further changes.
func TestJournalRestart(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func() *store.Store) {
		st := open()
		f := newFakeList()
		bad := f.add(store.ListDomain, "bad.example") // 2
		s1, addr, _ := startServer(t, f, func(o *Options) { o.Journal = st })
		f.add(store.ListHost, "host.example") // 4
		waitSerial(t, s1, 4)
		f.remove(bad)                          // 5
		f.add(store.ListDomain, "new.example") // 7
		waitSerial(t, s1, 7)
		before2, before4 := ixfr(t, addr, 2), ixfr(t, addr, 4)
		want2 := []string{soaStr(7), soaStr(2), cname("bad.example"), cname("*.bad.example"), soaStr(7),
			cname("host.example"), cname("new.example"), cname("*.new.example"), soaStr(7)}
		if !slices.Equal(before2, want2) {
			t.Fatalf("IXFR from 2 before the restart\n%s", strings.Join(before2, "\n"))
		}
		s1.Close()

		s2, addr, logs := startServer(t, f, func(o *Options) { o.Journal = open() })
		if got := ixfr(t, addr, 2); !slices.Equal(got, before2) {
			t.Fatalf("IXFR from 2 after the restart\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(before2, "\n"))
		}
		if got := ixfr(t, addr, 4); !slices.Equal(got, before4) {
			t.Fatalf("IXFR from 4 after the restart\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(before4, "\n"))
		}
		if !logged(logs, "style=incremental serial=7 records=9 from=2") {
			t.Errorf("not logged as incremental:\n%s", logs)
		}
		// A change after the restart: the chain goes on from the journal.
		f.add(store.ListHost, "later.example") // 9
		waitSerial(t, s2, 9)
		want := []string{soaStr(9), soaStr(2), cname("bad.example"), cname("*.bad.example"), soaStr(9),
			cname("host.example"), cname("later.example"), cname("new.example"), cname("*.new.example"), soaStr(9)}
		if got := ixfr(t, addr, 2); !slices.Equal(got, want) {
			t.Fatalf("IXFR from 2 after a change\n%s", strings.Join(got, "\n"))
		}
		// A serial the journal never had (between two built versions): the whole zone.
		if got := ixfr(t, addr, 3); !isFull(got) {
			t.Fatalf("IXFR from an unbuilt serial: %v", got)
		}
	})
}

// Two primaries over one store (two control nodes) answer the same IXFR, and so does a third
// started after the changes.
func TestJournalTwoPrimaries(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func() *store.Store) {
		f := newFakeList()
		f.add(store.ListDomain, "a.example") // 2
		s1, addr1, _ := startServer(t, f, func(o *Options) { o.Journal = open() })
		s2, addr2, _ := startServer(t, f, func(o *Options) { o.Journal = open() })
		b := f.add(store.ListHost, "b.example") // 4
		waitSerial(t, s1, 4)
		waitSerial(t, s2, 4)
		f.add(store.ListDomain, "b.example") // 6
		f.remove(b)                          // 7
		waitSerial(t, s2, 7)                 // s2 first: either may journal a version first
		waitSerial(t, s1, 7)
		f.add(store.ListHost, "c.example") // 9
		waitSerial(t, s1, 9)
		waitSerial(t, s2, 9)
		_, addr3, _ := startServer(t, f, func(o *Options) { o.Journal = open() })
		want := []string{soaStr(9), soaStr(2), soaStr(9), cname("b.example"), cname("*.b.example"), cname("c.example"), soaStr(9)}
		for _, addr := range []string{addr1, addr2, addr3} {
			if got := ixfr(t, addr, 2); !slices.Equal(got, want) {
				t.Fatalf("IXFR from 2 at %s\n%s\nwant\n%s", addr, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
		a1, a2, a3 := ixfr(t, addr1, 4), ixfr(t, addr2, 4), ixfr(t, addr3, 4)
		if isFull(a1) || !slices.Equal(a1, a2) || !slices.Equal(a1, a3) {
			t.Fatalf("IXFR from 4 differs:\n%v\n%v\n%v", a1, a2, a3)
		}
	})
}

// The journal keeps journal_versions versions; IXFR from a dropped one gets the whole zone.
func TestJournalTrim(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func() *store.Store) {
		st := open()
		f := newFakeList()
		s, _, _ := startServer(t, f, func(o *Options) { o.Journal = st; o.JournalVersions = 2 }) // at 0
		for i, n := range []string{"a", "b", "c", "d"} {
			f.add(store.ListHost, n+".example")
			waitSerial(t, s, int64(2*i+2))
		}
		vs, err := st.FeedVersions(t.Context(), 0)
		if err != nil || len(vs) != 2 || vs[0].Serial != 6 || vs[1].Serial != 8 || vs[0].Prev != 4 {
			t.Fatalf("journal: %+v %v", vs, err)
		}
		s.Close()
		_, addr, _ := startServer(t, f, func(o *Options) { o.Journal = open(); o.JournalVersions = 2 })
		if got := ixfr(t, addr, 2); !isFull(got) {
			t.Fatalf("IXFR from a trimmed version: %v", got)
		}
		want := []string{soaStr(8), soaStr(4), soaStr(8), cname("c.example"), cname("d.example"), soaStr(8)}
		if got := ixfr(t, addr, 4); !slices.Equal(got, want) {
			t.Fatalf("IXFR from a kept version\n%s", strings.Join(got, "\n"))
		}
	})
}

// gapJournal hides one version of the store's journal, as a journal with a hole would.
type gapJournal struct {
	*store.Store
	hide int64
}

func (g gapJournal) FeedVersions(ctx context.Context, after int64) ([]store.FeedVersion, error) {
	vs, err := g.Store.FeedVersions(ctx, after)
	return slices.DeleteFunc(vs, func(v store.FeedVersion) bool { return v.Serial == g.hide }), err
}

// A version missing from the journal: IXFR from before it gets the whole zone, from after it
// the difference. So does a version the list moved past while no primary ran.
func TestJournalGap(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func() *store.Store) {
		st := open()
		f := newFakeList()
		s, _, _ := startServer(t, f, func(o *Options) { o.Journal = st })
		for i, n := range []string{"a", "b", "c"} {
			f.add(store.ListHost, n+".example")
			waitSerial(t, s, int64(2*i+2))
		}
		s.Close()
		s2, addr, _ := startServer(t, f, func(o *Options) { o.Journal = gapJournal{open(), 4} })
		if got := ixfr(t, addr, 0); !isFull(got) {
			t.Fatalf("IXFR across the gap: %v", got)
		}
		if got := ixfr(t, addr, 2); !isFull(got) {
			t.Fatalf("IXFR from the hidden version's base: %v", got)
		}
		want := []string{soaStr(6), soaStr(4), soaStr(6), cname("c.example"), soaStr(6)}
		if got := ixfr(t, addr, 4); !slices.Equal(got, want) {
			t.Fatalf("IXFR after the gap\n%s", strings.Join(got, "\n"))
		}
		s2.Close()
		// The list changes while no primary runs: the versions before are not linked to it.
		f.add(store.ListHost, "d.example") // 8
		_, addr, _ = startServer(t, f, func(o *Options) { o.Journal = open() })
		if got := ixfr(t, addr, 6); !isFull(got) {
			t.Fatalf("IXFR from before an unjournaled change: %v", got)
		}
	})
}
