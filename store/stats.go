package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// OtherDomain is the domain under which queries are counted when the recorder
// stops tracking names to bound its memory. QueryStats leaves it out of the
// top lists and reports it as StatsResult.OtherDomains. Parentheses cannot
// occur unescaped in a DNS name in presentation format, so no real domain
// collides with it.
const OtherDomain = "(other)"

// StatRow is the filter's count for one (hour, profile, device).
type StatRow struct {
	Hour       time.Time // UTC, truncated to the hour (AddStats truncates)
	Profile    string
	Device     string
	Queries    int64
	Blocked    int64
	ByCategory map[string]int64 // blocked queries per category
}

// DomainRow is the filter's count for one domain of one (hour, profile, device).
type DomainRow struct {
	Hour    time.Time
	Profile string
	Device  string
	Domain  string
	Queries int64
	Blocked int64
}

type statKey struct {
	hour            int64
	profile, device string
}

func compareStatKey(a, b statKey) int {
	return cmp.Or(cmp.Compare(a.hour, b.hour), cmp.Compare(a.profile, b.profile), cmp.Compare(a.device, b.device))
}

type subKey struct { // a category or a domain within an hour/profile/device
	statKey
	sub string
}

func compareSubKey(a, b subKey) int {
	return cmp.Or(compareStatKey(a.statKey, b.statKey), cmp.Compare(a.sub, b.sub))
}

type counts2 struct{ queries, blocked int64 }

// hourUnix returns the start of t's hour in unix seconds.
func hourUnix(t time.Time) int64 {
	u := t.Unix()
	m := u % 3600
	if m < 0 {
		m += 3600
	}
	return u - m
}

// ceilHourUnix returns the start of the first hour that begins at or after t.
func ceilHourUnix(t time.Time) int64 {
	h := hourUnix(t)
	if time.Unix(h, 0).Equal(t) {
		return h
	}
	return h + 3600
}

// AddStats adds rows and domains to the stored counters in one transaction:
// a row for an (hour, profile, device[, domain]) already stored is added to,
// not replaced. Rows with the same key within one call are summed first.
func (s *Store) AddStats(ctx context.Context, rows []StatRow, domains []DomainRow) error {
	// Merge and sort: a multi-row upsert may not touch one row twice, and
	// writers that lock rows in one global order cannot deadlock each other
	// on PostgreSQL.
	hourly := map[statKey]counts2{}
	cats := map[subKey]int64{}
	for _, r := range rows {
		k := statKey{hourUnix(r.Hour), cleanText(r.Profile), cleanText(r.Device)}
		c := hourly[k]
		c.queries += r.Queries
		c.blocked += r.Blocked
		hourly[k] = c
		for cat, n := range r.ByCategory {
			cats[subKey{k, cleanText(cat)}] += n
		}
	}
	doms := map[subKey]counts2{}
	for _, d := range domains {
		k := subKey{statKey{hourUnix(d.Hour), cleanText(d.Profile), cleanText(d.Device)}, d.Domain}
		if k.sub != OtherDomain {
			k.sub = cleanName(k.sub)
		}
		c := doms[k]
		c.queries += d.Queries
		c.blocked += d.Blocked
		doms[k] = c
	}
	hkeys := sortedKeys(hourly, compareStatKey, func(c counts2) bool { return c != counts2{} })
	ckeys := sortedKeys(cats, compareSubKey, func(n int64) bool { return n != 0 })
	dkeys := sortedKeys(doms, compareSubKey, func(c counts2) bool { return c != counts2{} })
	if len(hkeys)+len(ckeys)+len(dkeys) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := s.insertBatched(ctx, tx,
			"INSERT INTO filter_stats_hourly (hour, profile, device, queries, blocked) VALUES ",
			" ON CONFLICT (hour, profile, device) DO UPDATE SET"+
				" queries = filter_stats_hourly.queries + excluded.queries,"+
				" blocked = filter_stats_hourly.blocked + excluded.blocked",
			5, len(hkeys), func(i int, dst []any) []any {
				k := hkeys[i]
				c := hourly[k]
				return append(dst, k.hour, k.profile, k.device, c.queries, c.blocked)
			})
		if err != nil {
			return fmt.Errorf("hourly: %w", err)
		}
		err = s.insertBatched(ctx, tx,
			"INSERT INTO filter_stats_category (hour, profile, device, category, blocked) VALUES ",
			" ON CONFLICT (hour, profile, device, category) DO UPDATE SET"+
				" blocked = filter_stats_category.blocked + excluded.blocked",
			5, len(ckeys), func(i int, dst []any) []any {
				k := ckeys[i]
				return append(dst, k.hour, k.profile, k.device, k.sub, cats[k])
			})
		if err != nil {
			return fmt.Errorf("categories: %w", err)
		}
		err = s.insertBatched(ctx, tx,
			"INSERT INTO filter_stats_domain (hour, profile, device, domain, queries, blocked) VALUES ",
			" ON CONFLICT (hour, profile, device, domain) DO UPDATE SET"+
				" queries = filter_stats_domain.queries + excluded.queries,"+
				" blocked = filter_stats_domain.blocked + excluded.blocked",
			6, len(dkeys), func(i int, dst []any) []any {
				k := dkeys[i]
				c := doms[k]
				return append(dst, k.hour, k.profile, k.device, k.sub, c.queries, c.blocked)
			})
		if err != nil {
			return fmt.Errorf("domains: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: add stats: %w", err)
	}
	return nil
}

func sortedKeys[K comparable, V any](m map[K]V, compare func(a, b K) int, keep func(V) bool) []K {
	keys := make([]K, 0, len(m))
	for k, v := range m {
		if keep(v) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compare)
	return keys
}

// StatsQuery selects statistics for QueryStats.
type StatsQuery struct {
	Profile string // "" = all profiles
	Device  string // "" = all devices
	// From and To select the hours that overlap [From, To). A zero From or
	// To leaves that side open.
	From, To time.Time
	// TopN is the length of the top-domain lists: default 10, at most 1000.
	TopN int
}

// Counts is a pair of query counters.
type Counts struct {
	Queries int64 `json:"queries"`
	Blocked int64 `json:"blocked"`
}

// HourCounts is one point of the hourly series.
type HourCounts struct {
	Hour time.Time `json:"hour"`
	Counts
}

// DeviceCounts is the total of one device.
type DeviceCounts struct {
	Profile string `json:"profile"`
	Device  string `json:"device"`
	Counts
}

// CategoryCount is the number of queries blocked for one category.
type CategoryCount struct {
	Category string `json:"category"`
	Blocked  int64  `json:"blocked"`
}

// DomainCounts is the total of one domain.
type DomainCounts struct {
	Domain string `json:"domain"`
	Counts
}

// StatsResult is what a parent's report or the statistics API shows. Slices
// are never nil (they encode as [], not null).
type StatsResult struct {
	// From and To are the hour range covered: From is rounded down and To up
	// to whole hours; zero when the query left that side open.
	From    time.Time      `json:"from"`
	To      time.Time      `json:"to"`
	Total   Counts         `json:"total"`
	Hours   []HourCounts   `json:"hours"`   // hours with data, oldest first
	Devices []DeviceCounts `json:"devices"` // by profile, then device
	// Categories holds blocked queries per category, most blocked first.
	Categories []CategoryCount `json:"categories"`
	// TopQueried and TopBlocked list the domains with the most queries and
	// the most blocked queries (ties by name), OtherDomain excluded.
	TopQueried []DomainCounts `json:"top_queried"`
	TopBlocked []DomainCounts `json:"top_blocked"`
	// OtherDomains counts queries whose domain was not tracked by name.
	OtherDomains Counts `json:"other_domains"`
}

const (
	defaultTopN = 10
	maxTopN     = 1000
)

// QueryStats sums the statistics selected by q.
func (s *Store) QueryStats(ctx context.Context, q StatsQuery) (StatsResult, error) {
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		return StatsResult{}, errors.New("store: query stats: To must be after From")
	}
	topN := q.TopN
	if topN <= 0 {
		topN = defaultTopN
	}
	topN = min(topN, maxTopN)

	res := StatsResult{
		Hours: []HourCounts{}, Devices: []DeviceCounts{}, Categories: []CategoryCount{},
		TopQueried: []DomainCounts{}, TopBlocked: []DomainCounts{},
	}
	var p params
	var conds []string
	if !q.From.IsZero() {
		h := hourUnix(q.From)
		res.From = time.Unix(h, 0).UTC()
		conds = append(conds, "hour >= "+p.add(h))
	}
	if !q.To.IsZero() {
		h := ceilHourUnix(q.To)
		res.To = time.Unix(h, 0).UTC()
		conds = append(conds, "hour < "+p.add(h))
	}
	if q.Profile != "" {
		conds = append(conds, "profile = "+p.add(q.Profile))
	}
	if q.Device != "" {
		conds = append(conds, "device = "+p.add(q.Device))
	}
	w := where(conds)
	c := s.collate()
	sum := func(col string) string { return "CAST(COALESCE(SUM(" + col + "), 0) AS BIGINT)" }

	err := s.read(ctx, func(tx *sql.Tx) error {
		err := scanAll(ctx, tx, "SELECT hour, "+sum("queries")+", "+sum("blocked")+
			" FROM filter_stats_hourly WHERE "+w+" GROUP BY hour ORDER BY hour", p,
			func(rows *sql.Rows) error {
				var h HourCounts
				var hour int64
				if err := rows.Scan(&hour, &h.Queries, &h.Blocked); err != nil {
					return err
				}
				h.Hour = time.Unix(hour, 0).UTC()
				res.Total.Queries += h.Queries
				res.Total.Blocked += h.Blocked
				res.Hours = append(res.Hours, h)
				return nil
			})
		if err != nil {
			return fmt.Errorf("hours: %w", err)
		}
		err = scanAll(ctx, tx, "SELECT profile, device, "+sum("queries")+", "+sum("blocked")+
			" FROM filter_stats_hourly WHERE "+w+" GROUP BY profile, device ORDER BY profile"+c+", device"+c, p,
			func(rows *sql.Rows) error {
				var d DeviceCounts
				if err := rows.Scan(&d.Profile, &d.Device, &d.Queries, &d.Blocked); err != nil {
					return err
				}
				res.Devices = append(res.Devices, d)
				return nil
			})
		if err != nil {
			return fmt.Errorf("devices: %w", err)
		}
		err = scanAll(ctx, tx, "SELECT category, "+sum("blocked")+
			" FROM filter_stats_category WHERE "+w+" GROUP BY category HAVING SUM(blocked) <> 0"+
			" ORDER BY 2 DESC, category"+c, p,
			func(rows *sql.Rows) error {
				var cc CategoryCount
				if err := rows.Scan(&cc.Category, &cc.Blocked); err != nil {
					return err
				}
				res.Categories = append(res.Categories, cc)
				return nil
			})
		if err != nil {
			return fmt.Errorf("categories: %w", err)
		}
		for _, top := range []struct {
			list   *[]DomainCounts
			having string
			order  string
		}{
			{&res.TopQueried, "SUM(queries) > 0", "2 DESC"},
			{&res.TopBlocked, "SUM(blocked) > 0", "3 DESC"},
		} {
			tp := slices.Clone(p)
			other := tp.add(OtherDomain)
			limit := tp.add(topN)
			err = scanAll(ctx, tx, "SELECT domain, "+sum("queries")+", "+sum("blocked")+
				" FROM filter_stats_domain WHERE "+w+" AND domain <> "+other+
				" GROUP BY domain HAVING "+top.having+
				" ORDER BY "+top.order+", domain"+c+" LIMIT "+limit, tp,
				func(rows *sql.Rows) error {
					var d DomainCounts
					if err := rows.Scan(&d.Domain, &d.Queries, &d.Blocked); err != nil {
						return err
					}
					*top.list = append(*top.list, d)
					return nil
				})
			if err != nil {
				return fmt.Errorf("top domains: %w", err)
			}
		}
		op := slices.Clone(p)
		other := op.add(OtherDomain)
		err = tx.QueryRowContext(ctx, "SELECT "+sum("queries")+", "+sum("blocked")+
			" FROM filter_stats_domain WHERE "+w+" AND domain = "+other, op...).
			Scan(&res.OtherDomains.Queries, &res.OtherDomains.Blocked)
		if err != nil {
			return fmt.Errorf("other domains: %w", err)
		}
		return nil
	})
	if err != nil {
		return StatsResult{}, fmt.Errorf("store: query stats: %w", err)
	}
	return res, nil
}

func scanAll(ctx context.Context, tx *sql.Tx, query string, args []any, row func(*sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PurgeStats deletes the statistics of hours that ended at or before before
// (the hour containing before is kept) and returns the number of rows
// deleted across the statistics tables.
func (s *Store) PurgeStats(ctx context.Context, before time.Time) (int64, error) {
	h := hourUnix(before)
	var total int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"filter_stats_hourly", "filter_stats_category", "filter_stats_domain"} {
			r, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE hour < $1", h)
			if err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
			n, err := r.RowsAffected()
			if err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: purge stats: %w", err)
	}
	return total, nil
}
