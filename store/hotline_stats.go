package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

// The hotline's statistics read only columns the purge job keeps (times, harm, channel,
// priority, province, partner, states), so the figures of a period survive the deletion of the
// personal data behind them. Every percentile and every day bucket is computed here, in Go, from
// the stored integers: the two backends give the same answer to the microsecond.

// HotlineStats is the hotline's activity over a period [From, To): reports and cases received in
// it, notices sent in it, and (a snapshot, whatever the period) the cases open now.
type HotlineStats struct {
	From, To time.Time
	Location *time.Location
	// Days lists every calendar day the period touches, "2006-01-02" in Location.
	Days []string

	Reports    int // reports received in the period
	Duplicates int // of which joined an open case with the same URL
	Cases      int // cases opened in the period

	// Daily has one row per day, harm and channel with at least one report, sorted.
	Daily []HotlineDaily
	// ByHarm and ByChannel count reports per day (aligned with Days), one series per harm
	// code or channel seen, sorted by key.
	ByHarm, ByChannel []HotlineSeries

	// Triage is received → triaged; Assessment is received → assessed (the clock the SLA
	// targets), both over the cases received in the period that reached the state.
	Triage, Assessment HotlineClock
	// Removal is the takedown clock, sent → actioned, over the notices sent in the period.
	Removal HotlineClock

	// Partners is the removal rate per recipient of the notices sent in the period, by name.
	Partners []HotlinePartnerRate
	// Open counts the cases open now per handling stage (lifecycle order) and priority.
	Open []HotlineOpenStage
	// Provinces counts the cases opened in the period per province (most first; "" is
	// "not said").
	Provinces []HotlineCount
}

// DuplicateShare is the share of the period's reports that were duplicates (0 without reports).
func (h *HotlineStats) DuplicateShare() float64 {
	if h.Reports == 0 {
		return 0
	}
	return float64(h.Duplicates) / float64(h.Reports)
}

// OpenTotal is the number of cases open now.
func (h *HotlineStats) OpenTotal() int {
	n := 0
	for _, s := range h.Open {
		n += s.Total
	}
	return n
}

// HotlineDaily is the count of one day, harm code and channel.
type HotlineDaily struct {
	Day        string // "2006-01-02" in the statistics' time zone
	Harm       string
	Channel    string
	Reports    int
	Duplicates int
}

// HotlineSeries is a count per day of the period for one key.
type HotlineSeries struct {
	Key    string
	Counts []int // aligned with HotlineStats.Days
	Total  int
}

// HotlineClock summarises durations. Percentiles are nearest-rank: the smallest observed value
// with at least p% of the values at or below it (the median of 1, 2, 3, 4 is 2).
type HotlineClock struct {
	Count       int
	Median, P90 time.Duration
}

// HotlinePartnerRate is the removal rate of one recipient of notices.
type HotlinePartnerRate struct {
	PartnerID int64
	Name      string
	Kind      string
	// Sent counts the notices sent in the period (withdrawn ones that were never actioned are
	// left out: the hotline took them back); Actioned those the partner acted on.
	Sent, Actioned int
	// Removal is the partner's takedown clock over its actioned notices.
	Removal HotlineClock
}

// Rate is Actioned ÷ Sent (0 when nothing was sent).
func (p HotlinePartnerRate) Rate() float64 {
	if p.Sent == 0 {
		return 0
	}
	return float64(p.Actioned) / float64(p.Sent)
}

// HotlineOpenStage counts the open cases of one handling stage per priority P0..P4.
type HotlineOpenStage struct {
	Stage      string // lifecycle.Stage* values
	ByPriority [5]int
	Total      int
}

// HotlineCount is a count for one key.
type HotlineCount struct {
	Key   string
	Count int
}

// hsStages are the stages an open case can be in, in handling order.
var hsStages = []string{lifecycle.StageReceive, lifecycle.StageCollect, lifecycle.StageVerify, lifecycle.StageCoordinate}

// hsDays holds the day boundaries of a period in a time zone.
type hsDays struct {
	starts []int64 // unix microseconds of each day's midnight
	labels []string
}

func hsMakeDays(from, to time.Time, tz *time.Location) hsDays {
	var d hsDays
	y, m, dd := from.In(tz).Date()
	day := time.Date(y, m, dd, 0, 0, 0, 0, tz)
	for i := 0; day.Before(to); i++ {
		d.starts = append(d.starts, day.UnixMicro())
		d.labels = append(d.labels, day.Format("2006-01-02"))
		// time.Date normalises: the next midnight even across a DST change.
		day = time.Date(y, m, dd+i+1, 0, 0, 0, 0, tz)
	}
	return d
}

// index returns the day of us (which must be at or after the first day's start).
func (d hsDays) index(us int64) int {
	return sort.Search(len(d.starts), func(i int) bool { return d.starts[i] > us }) - 1
}

// hsBucket is the width, in microseconds, of the buckets the reports are grouped by in SQL
// before they are assigned to days in Go: 15 minutes when every day boundary of the period
// falls on a quarter hour (every time zone offset in use is a multiple of 15 minutes), else 1
// µs, which groups nothing and stays exact.
func (d hsDays) bucket() int64 {
	const quarter = int64(15 * time.Minute / time.Microsecond)
	for _, s := range d.starts {
		if s%quarter != 0 {
			return 1
		}
	}
	return quarter
}

// hsPercentile returns the nearest-rank p-th percentile of sorted (0 when empty).
func hsPercentile(sorted []int64, p int) int64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := (p*n + 99) / 100 // ceil(p·n/100), at least 1 for p > 0
	return sorted[max(rank, 1)-1]
}

func hsClock(us []int64) HotlineClock {
	slices.Sort(us)
	return HotlineClock{Count: len(us),
		Median: time.Duration(hsPercentile(us, 50)) * time.Microsecond,
		P90:    time.Duration(hsPercentile(us, 90)) * time.Microsecond}
}

// HotlineStats computes the statistics of [from, to) with days in tz (UTC when nil). The
// queries run in one read transaction, so the figures agree with each other.
func (s *Store) HotlineStats(ctx context.Context, from, to time.Time, tz *time.Location) (*HotlineStats, error) {
	if tz == nil {
		tz = time.UTC
	}
	if !from.Before(to) {
		return nil, fmt.Errorf("store: hotline stats: empty period %s – %s", from, to)
	}
	days := hsMakeDays(from, to, tz)
	h := &HotlineStats{From: from, To: to, Location: tz, Days: days.labels}
	lo, hi := from.UnixMicro(), to.UnixMicro()
	err := s.read(ctx, func(tx *sql.Tx) error {
		*h = HotlineStats{From: from, To: to, Location: tz, Days: days.labels}
		if err := s.hsReports(ctx, tx, h, days, lo, hi); err != nil {
			return fmt.Errorf("reports: %w", err)
		}
		if err := hsCases(ctx, tx, h, lo, hi); err != nil {
			return fmt.Errorf("cases: %w", err)
		}
		if err := hsNotices(ctx, tx, h, lo, hi); err != nil {
			return fmt.Errorf("notices: %w", err)
		}
		if err := hsOpen(ctx, tx, h); err != nil {
			return fmt.Errorf("open cases: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: hotline stats: %w", err)
	}
	return h, nil
}

func (s *Store) hsReports(ctx context.Context, tx *sql.Tx, h *HotlineStats, days hsDays, lo, hi int64) error {
	bucket := days.bucket()
	// The bucket is our own integer, not input. Integer division of non-negative BIGINTs
	// truncates alike on both backends.
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(`SELECT received_us / %d, harm, channel,
		SUM(CASE WHEN state = 'duplicate' THEN 1 ELSE 0 END), COUNT(*)
		FROM reports WHERE received_us >= $1 AND received_us < $2 GROUP BY received_us / %d, harm, channel`, bucket, bucket), lo, hi)
	if err != nil {
		return err
	}
	defer rows.Close()
	type key struct {
		day           int
		harm, channel string
	}
	daily := map[key]*HotlineDaily{}
	harm, channel := map[string]*HotlineSeries{}, map[string]*HotlineSeries{}
	series := func(m map[string]*HotlineSeries, k string) *HotlineSeries {
		sr := m[k]
		if sr == nil {
			sr = &HotlineSeries{Key: k, Counts: make([]int, len(days.starts))}
			m[k] = sr
		}
		return sr
	}
	for rows.Next() {
		var b int64
		var k key
		var dup, n int
		if err := rows.Scan(&b, &k.harm, &k.channel, &dup, &n); err != nil {
			return err
		}
		k.day = days.index(b * bucket)
		if k.day < 0 {
			continue // cannot happen: lo is at or after the first midnight
		}
		d := daily[k]
		if d == nil {
			d = &HotlineDaily{Day: days.labels[k.day], Harm: k.harm, Channel: k.channel}
			daily[k] = d
		}
		d.Reports += n
		d.Duplicates += dup
		h.Reports += n
		h.Duplicates += dup
		for _, sr := range []*HotlineSeries{series(harm, k.harm), series(channel, k.channel)} {
			sr.Counts[k.day] += n
			sr.Total += n
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, d := range daily {
		h.Daily = append(h.Daily, *d)
	}
	slices.SortFunc(h.Daily, func(a, b HotlineDaily) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Harm, b.Harm), cmp.Compare(a.Channel, b.Channel))
	})
	h.ByHarm, h.ByChannel = hsSorted(harm), hsSorted(channel)
	return nil
}

func hsSorted(m map[string]*HotlineSeries) []HotlineSeries {
	out := make([]HotlineSeries, 0, len(m))
	for _, sr := range m {
		out = append(out, *sr)
	}
	slices.SortFunc(out, func(a, b HotlineSeries) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

func hsCases(ctx context.Context, tx *sql.Tx, h *HotlineStats, lo, hi int64) error {
	// One pass over only the columns needed, row by row: a million cases cost two slices of
	// int64, sorted once. The province is read as raw bytes, so counting it allocates only
	// for a province not seen before.
	rows, err := tx.QueryContext(ctx, `SELECT received_us, triaged_us, assessed_us, province FROM cases
		WHERE received_us >= $1 AND received_us < $2`, lo, hi)
	if err != nil {
		return err
	}
	defer rows.Close()
	var triage, assess []int64
	provinces := map[string]*int{}
	for rows.Next() {
		var recv, tri, ass int64
		var prov sql.RawBytes
		if err := rows.Scan(&recv, &tri, &ass, &prov); err != nil {
			return err
		}
		h.Cases++
		if tri > 0 && tri >= recv {
			triage = append(triage, tri-recv)
		}
		if ass > 0 && ass >= recv {
			assess = append(assess, ass-recv)
		}
		if n := provinces[string(prov)]; n != nil {
			*n++ // a lookup by string(bytes) does not allocate
		} else {
			one := 1
			provinces[string(prov)] = &one
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	h.Triage, h.Assessment = hsClock(triage), hsClock(assess)
	for k, n := range provinces {
		h.Provinces = append(h.Provinces, HotlineCount{Key: k, Count: *n})
	}
	// Ordered in Go, by bytes: a PostgreSQL collation would order ties differently.
	slices.SortFunc(h.Provinces, func(a, b HotlineCount) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key)) })
	return nil
}

func hsNotices(ctx context.Context, tx *sql.Tx, h *HotlineStats, lo, hi int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT n.partner_id, p.name, p.kind, n.sent_us, n.actioned_us, n.state
		FROM notices n JOIN partners p ON p.id = n.partner_id WHERE n.sent_us >= $1 AND n.sent_us < $2`, lo, hi)
	if err != nil {
		return err
	}
	defer rows.Close()
	type acc struct {
		rate    HotlinePartnerRate
		removal []int64
	}
	byPartner := map[int64]*acc{}
	var removal []int64
	for rows.Next() {
		var id, sent, actioned int64
		var name, kind, state string
		if err := rows.Scan(&id, &name, &kind, &sent, &actioned, &state); err != nil {
			return err
		}
		if state == lifecycle.NoticeWithdrawn && actioned == 0 {
			continue
		}
		a := byPartner[id]
		if a == nil {
			a = &acc{rate: HotlinePartnerRate{PartnerID: id, Name: name, Kind: kind}}
			byPartner[id] = a
		}
		a.rate.Sent++
		if actioned > 0 {
			a.rate.Actioned++
			if actioned >= sent {
				a.removal = append(a.removal, actioned-sent)
				removal = append(removal, actioned-sent)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	h.Removal = hsClock(removal)
	for _, a := range byPartner {
		a.rate.Removal = hsClock(a.removal)
		h.Partners = append(h.Partners, a.rate)
	}
	slices.SortFunc(h.Partners, func(a, b HotlinePartnerRate) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.PartnerID, b.PartnerID))
	})
	return nil
}

func hsOpen(ctx context.Context, tx *sql.Tx, h *HotlineStats) error {
	// Which states are open and which stage each belongs to is lifecycle's to say, not a second
	// list here. Naming the open states lets the query seek the state index instead of
	// counting every case ever closed.
	var p params
	var ph []string
	for _, st := range lifecycle.Case.States() {
		if lifecycle.CaseOpen(st) {
			ph = append(ph, p.add(st))
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT state, priority, COUNT(*) FROM cases WHERE state IN (`+strings.Join(ph, ",")+`)
		GROUP BY state, priority`, p...)
	if err != nil {
		return err
	}
	defer rows.Close()
	h.Open = make([]HotlineOpenStage, len(hsStages))
	for i, st := range hsStages {
		h.Open[i].Stage = st
	}
	for rows.Next() {
		var state string
		var prio, n int
		if err := rows.Scan(&state, &prio, &n); err != nil {
			return err
		}
		if !lifecycle.CaseOpen(state) {
			continue
		}
		i := slices.Index(hsStages, lifecycle.Stage(state))
		if i < 0 {
			continue
		}
		h.Open[i].ByPriority[min(max(prio, 0), 4)] += n
		h.Open[i].Total += n
	}
	return rows.Err()
}

// HotlineCaseRow is one case of the anonymous export: when and what, never a description, a
// contact or a note.
type HotlineCaseRow struct {
	Ref                                   string
	Received                              time.Time
	Harm                                  string
	Priority                              int
	Channel                               string
	Province                              string
	State                                 string
	Triaged, Assessed, Referred, Resolved time.Time // zero: not (yet) reached
}

// HotlineCaseRows calls fn for every case received in [from, to), oldest first, reading row by
// row: a year of cases is never held in memory. An error from fn stops the reading.
func (s *Store) HotlineCaseRows(ctx context.Context, from, to time.Time, fn func(*HotlineCaseRow) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT ref, received_us, harm, priority, channel, province, state,
		triaged_us, assessed_us, referred_us, resolved_us FROM cases WHERE received_us >= $1 AND received_us < $2
		ORDER BY received_us, id`, from.UnixMicro(), to.UnixMicro())
	if err != nil {
		return fmt.Errorf("store: case rows: %w", err)
	}
	defer rows.Close()
	var r HotlineCaseRow
	for rows.Next() {
		var recv, tri, ass, ref, res int64
		if err := rows.Scan(&r.Ref, &recv, &r.Harm, &r.Priority, &r.Channel, &r.Province, &r.State, &tri, &ass, &ref, &res); err != nil {
			return fmt.Errorf("store: case rows: %w", err)
		}
		r.Received, r.Triaged, r.Assessed, r.Referred, r.Resolved = usTime(recv), usTime(tri), usTime(ass), usTime(ref), usTime(res)
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: case rows: %w", err)
	}
	return nil
}

// HotlineNoticeRow is one takedown notice of the export.
type HotlineNoticeRow struct {
	Ref      string
	Partner  string
	Sent     time.Time
	Actioned time.Time // zero: not actioned
	Action   string    // what the partner did: removed, disabled, geo_blocked, account_suspended
	State    string
}

// HotlineNoticeRows calls fn for every notice sent in [from, to), oldest first.
func (s *Store) HotlineNoticeRows(ctx context.Context, from, to time.Time, fn func(*HotlineNoticeRow) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT n.ref, p.name, n.sent_us, n.actioned_us, n.action_taken, n.state
		FROM notices n JOIN partners p ON p.id = n.partner_id WHERE n.sent_us >= $1 AND n.sent_us < $2
		ORDER BY n.sent_us, n.id`, from.UnixMicro(), to.UnixMicro())
	if err != nil {
		return fmt.Errorf("store: notice rows: %w", err)
	}
	defer rows.Close()
	var r HotlineNoticeRow
	for rows.Next() {
		var sent, actioned int64
		if err := rows.Scan(&r.Ref, &r.Partner, &sent, &actioned, &r.Action, &r.State); err != nil {
			return fmt.Errorf("store: notice rows: %w", err)
		}
		r.Sent, r.Actioned = usTime(sent), usTime(actioned)
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: notice rows: %w", err)
	}
	return nil
}
