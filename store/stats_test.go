package store

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func hr(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }

func mustAdd(t *testing.T, s *Store, rows []StatRow, doms []DomainRow) {
	t.Helper()
	if err := s.AddStats(t.Context(), rows, doms); err != nil {
		t.Fatalf("AddStats: %v", err)
	}
}

func mustQuery(t *testing.T, s *Store, q StatsQuery) StatsResult {
	t.Helper()
	res, err := s.QueryStats(t.Context(), q)
	if err != nil {
		t.Fatalf("QueryStats(%+v): %v", q, err)
	}
	return res
}

func TestAddStatsSumsAcrossCalls(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *Store) {
		// Mid-hour times land in their hour; local zones do not matter.
		ict := time.FixedZone("ICT", 7*3600)
		mustAdd(t, s, []StatRow{
			{Hour: hr(0).Add(17 * time.Minute).In(ict), Profile: "kid", Device: "tablet", Queries: 10, Blocked: 3,
				ByCategory: map[string]int64{"adult": 2, "gambling": 1}},
		}, []DomainRow{
			{Hour: hr(0), Profile: "kid", Device: "tablet", Domain: "Example.COM.", Queries: 4},
			{Hour: hr(0), Profile: "kid", Device: "tablet", Domain: "bad.example", Queries: 3, Blocked: 3},
		})
		mustAdd(t, s, []StatRow{
			{Hour: hr(0), Profile: "kid", Device: "tablet", Queries: 5, Blocked: 1, ByCategory: map[string]int64{"adult": 1}},
			// Same key twice in one call: summed.
			{Hour: hr(0), Profile: "kid", Device: "tablet", Queries: 1},
		}, []DomainRow{
			{Hour: hr(0), Profile: "kid", Device: "tablet", Domain: "example.com", Queries: 2},
			{Hour: hr(0), Profile: "kid", Device: "tablet", Domain: "example.com", Queries: 1},
		})
		mustAdd(t, s, nil, nil) // nothing to do

		res := mustQuery(t, s, StatsQuery{})
		want := StatsResult{
			Total:      Counts{16, 4},
			Hours:      []HourCounts{{hr(0), Counts{16, 4}}},
			Devices:    []DeviceCounts{{"kid", "tablet", Counts{16, 4}}},
			Categories: []CategoryCount{{"adult", 3}, {"gambling", 1}},
			TopQueried: []DomainCounts{{"example.com", Counts{7, 0}}, {"bad.example", Counts{3, 3}}},
			TopBlocked: []DomainCounts{{"bad.example", Counts{3, 3}}},
		}
		if !reflect.DeepEqual(res, want) {
			t.Errorf("QueryStats =\n%+v\nwant\n%+v", res, want)
		}
	})
}

func TestQueryStatsSelects(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *Store) {
		row := func(h int, p, d string, q, b int64) StatRow {
			return StatRow{Hour: hr(h), Profile: p, Device: d, Queries: q, Blocked: b, ByCategory: map[string]int64{"adult": b}}
		}
		mustAdd(t, s, []StatRow{
			row(0, "kid", "tablet", 1, 1),
			row(1, "kid", "tablet", 2, 0),
			row(1, "kid", "phone", 4, 2),
			row(2, "teen", "phone", 8, 4),
			row(5, "kid", "tablet", 16, 0),
		}, []DomainRow{
			{Hour: hr(1), Profile: "kid", Device: "phone", Domain: "a.example", Queries: 4, Blocked: 2},
			{Hour: hr(2), Profile: "teen", Device: "phone", Domain: "b.example", Queries: 8, Blocked: 4},
		})
		for _, tc := range []struct {
			name     string
			q        StatsQuery
			total    Counts
			hours    int
			devices  int
			adult    int64
			from, to time.Time
		}{
			{"all", StatsQuery{}, Counts{31, 7}, 4, 3, 7, time.Time{}, time.Time{}},
			{"profile", StatsQuery{Profile: "kid"}, Counts{23, 3}, 3, 2, 3, time.Time{}, time.Time{}},
			{"device across profiles", StatsQuery{Device: "phone"}, Counts{12, 6}, 2, 2, 6, time.Time{}, time.Time{}},
			{"profile and device", StatsQuery{Profile: "kid", Device: "tablet"}, Counts{19, 1}, 3, 1, 1, time.Time{}, time.Time{}},
			{"range", StatsQuery{From: hr(1), To: hr(3)}, Counts{14, 6}, 2, 3, 6, hr(1), hr(3)},
			// Hours overlapping [From, To): 1:30..2:10 covers hours 1 and 2.
			{"partial hours", StatsQuery{From: hr(1).Add(30 * time.Minute), To: hr(2).Add(10 * time.Minute)}, Counts{14, 6}, 2, 3, 6, hr(1), hr(3)},
			{"open end", StatsQuery{From: hr(2)}, Counts{24, 4}, 2, 2, 4, hr(2), time.Time{}},
			{"open start", StatsQuery{To: hr(1)}, Counts{1, 1}, 1, 1, 1, time.Time{}, hr(1)},
			{"nothing", StatsQuery{Profile: "nobody"}, Counts{}, 0, 0, 0, time.Time{}, time.Time{}},
		} {
			res := mustQuery(t, s, tc.q)
			if res.Total != tc.total || len(res.Hours) != tc.hours || len(res.Devices) != tc.devices || !res.From.Equal(tc.from) || !res.To.Equal(tc.to) {
				t.Errorf("%s: total %v, %d hours, %d devices, [%v, %v); want %v, %d, %d, [%v, %v)", tc.name,
					res.Total, len(res.Hours), len(res.Devices), res.From, res.To, tc.total, tc.hours, tc.devices, tc.from, tc.to)
			}
			var adult int64
			for _, c := range res.Categories {
				adult += c.Blocked
			}
			if adult != tc.adult {
				t.Errorf("%s: blocked adult = %d, want %d", tc.name, adult, tc.adult)
			}
			if res.Hours == nil || res.Devices == nil || res.Categories == nil || res.TopQueried == nil || res.TopBlocked == nil {
				t.Errorf("%s: nil slice in %+v", tc.name, res)
			}
		}
		res := mustQuery(t, s, StatsQuery{Profile: "kid"})
		if len(res.TopQueried) != 1 || res.TopQueried[0].Domain != "a.example" {
			t.Errorf("top domains for kid = %+v, want a.example only", res.TopQueried)
		}
		if want := []DeviceCounts{{"kid", "phone", Counts{4, 2}}, {"kid", "tablet", Counts{19, 1}}}; !reflect.DeepEqual(res.Devices, want) {
			t.Errorf("devices = %+v, want %+v", res.Devices, want)
		}
		if _, err := s.QueryStats(t.Context(), StatsQuery{From: hr(2), To: hr(1)}); err == nil {
			t.Error("QueryStats accepted To before From")
		}
	})
}

func TestTopDomainsOrdering(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *Store) {
		d := func(h int, dev, name string, q, b int64) DomainRow {
			return DomainRow{Hour: hr(h), Profile: "kid", Device: dev, Domain: name, Queries: q, Blocked: b}
		}
		mustAdd(t, s, nil, []DomainRow{
			d(0, "tablet", "c.example", 5, 0),
			d(1, "phone", "c.example", 5, 0), // 10 in total, across devices and hours
			d(0, "tablet", "a.example", 9, 9),
			d(0, "tablet", "b.example", 9, 1), // tie with a.example on queries: by name
			d(0, "tablet", "Z.example", 1, 0), // upper case: stored lower, sorts last
			d(0, "tablet", "y_x.example", 2, 2),
			d(0, "tablet", OtherDomain, 50, 7),
			d(1, "phone", OtherDomain, 1, 1),
		})
		res := mustQuery(t, s, StatsQuery{TopN: 4})
		wantQ := []DomainCounts{
			{"c.example", Counts{10, 0}}, {"a.example", Counts{9, 9}}, {"b.example", Counts{9, 1}}, {"y_x.example", Counts{2, 2}},
		}
		if !reflect.DeepEqual(res.TopQueried, wantQ) {
			t.Errorf("TopQueried = %+v, want %+v", res.TopQueried, wantQ)
		}
		wantB := []DomainCounts{{"a.example", Counts{9, 9}}, {"y_x.example", Counts{2, 2}}, {"b.example", Counts{9, 1}}}
		if !reflect.DeepEqual(res.TopBlocked, wantB) {
			t.Errorf("TopBlocked = %+v, want %+v", res.TopBlocked, wantB)
		}
		if res.OtherDomains != (Counts{51, 8}) {
			t.Errorf("OtherDomains = %+v, want {51 8}", res.OtherDomains)
		}
		res = mustQuery(t, s, StatsQuery{})
		if len(res.TopQueried) != 5 || res.TopQueried[4].Domain != "z.example" {
			t.Errorf("TopQueried (default N) = %+v, want 5 ending with z.example", res.TopQueried)
		}
	})
}

func TestPurgeStats(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *Store) {
		for h := range 4 {
			mustAdd(t, s, []StatRow{{Hour: hr(h), Profile: "kid", Device: "d", Queries: 1, Blocked: 1, ByCategory: map[string]int64{"adult": 1}}},
				[]DomainRow{{Hour: hr(h), Profile: "kid", Device: "d", Domain: "x.example", Queries: 1, Blocked: 1}})
		}
		// Mid-hour 2: hours 0 and 1 ended before it and go; hour 2 stays.
		n, err := s.PurgeStats(t.Context(), hr(2).Add(20*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if n != 6 {
			t.Errorf("PurgeStats deleted %d rows, want 6 (2 hours x 3 tables)", n)
		}
		res := mustQuery(t, s, StatsQuery{})
		if res.Total != (Counts{2, 2}) || !res.Hours[0].Hour.Equal(hr(2)) || res.TopQueried[0].Queries != 2 || res.Categories[0].Blocked != 2 {
			t.Errorf("after purge: %+v", res)
		}
		if n, err := s.PurgeStats(t.Context(), hr(0)); err != nil || n != 0 {
			t.Errorf("second purge = %d, %v; want 0", n, err)
		}
	})
}

// TestAddStatsConcurrent has many writers add overlapping keys in different
// orders at once: the totals must be exact (no lost update, no deadlock).
func TestAddStatsConcurrent(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *Store) {
		const writers, calls = 12, 15
		var wg sync.WaitGroup
		errs := make(chan error, writers*calls)
		for w := range writers {
			wg.Go(func() {
				for c := range calls {
					var rows []StatRow
					var doms []DomainRow
					for i := range 6 {
						k := i
						if w%2 == 1 {
							k = 5 - i // the reverse order provokes deadlocks unless the store orders writes
						}
						rows = append(rows, StatRow{Hour: hr(k % 2), Profile: "kid", Device: fmt.Sprint("dev", k),
							Queries: 2, Blocked: 1, ByCategory: map[string]int64{"adult": 1}})
						doms = append(doms, DomainRow{Hour: hr(k % 2), Profile: "kid", Device: "d",
							Domain: fmt.Sprintf("%d.example", k), Queries: 1})
					}
					if err := s.AddStats(t.Context(), rows, doms); err != nil {
						errs <- fmt.Errorf("writer %d call %d: %w", w, c, err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		res := mustQuery(t, s, StatsQuery{TopN: 100})
		n := int64(writers * calls)
		if res.Total != (Counts{12 * n, 6 * n}) {
			t.Errorf("Total = %+v, want {%d %d}", res.Total, 12*n, 6*n)
		}
		if len(res.Categories) != 1 || res.Categories[0].Blocked != 6*n {
			t.Errorf("Categories = %+v", res.Categories)
		}
		if len(res.TopQueried) != 6 {
			t.Fatalf("TopQueried = %+v", res.TopQueried)
		}
		for _, d := range res.TopQueried {
			if d.Queries != n {
				t.Errorf("%s: %d queries, want %d", d.Domain, d.Queries, n)
			}
		}
	})
}

// TestAddStatsLargeBatch crosses the multi-row statement size.
func TestAddStatsLargeBatch(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *Store) {
		const n = 2500
		doms := make([]DomainRow, n)
		for i := range doms {
			doms[i] = DomainRow{Hour: hr(0), Profile: "kid", Device: "d", Domain: fmt.Sprintf("%04d.example", i), Queries: int64(i + 1)}
		}
		mustAdd(t, s, nil, doms)
		mustAdd(t, s, nil, doms)
		res := mustQuery(t, s, StatsQuery{TopN: 3})
		want := []DomainCounts{{"2499.example", Counts{2 * n, 0}}, {"2498.example", Counts{2 * (n - 1), 0}}, {"2497.example", Counts{2 * (n - 2), 0}}}
		if !reflect.DeepEqual(res.TopQueried, want) {
			t.Errorf("TopQueried = %+v, want %+v", res.TopQueried, want)
		}
	})
}

// TestOddText stores text PostgreSQL would reject; both backends keep the same.
func TestOddText(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *Store) {
		mustAdd(t, s, []StatRow{{Hour: hr(0), Profile: "k\x00id", Device: "d\xff", Queries: 1}},
			[]DomainRow{{Hour: hr(0), Profile: "k\x00id", Device: "d\xff", Domain: "a\x00b\xfe.example", Queries: 1}})
		res := mustQuery(t, s, StatsQuery{Profile: "k\uFFFDid"})
		if res.Total.Queries != 1 || res.Devices[0].Device != "d\uFFFD" || res.TopQueried[0].Domain != "a\uFFFDb\uFFFD.example" {
			t.Errorf("QueryStats = %+v", res)
		}
	})
}
