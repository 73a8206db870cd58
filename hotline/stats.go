package hotline

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/kidshield/kidshield/store"
)

// The statistics the hotline publishes and reports to its ministry: counted from the columns
// the purge job keeps, so they outlive the personal data behind them.

// StatsLocation is the time zone statistics days are counted in: Viet Nam's. Without a time
// zone database on the machine it is the fixed UTC+7 Viet Nam has kept since 1975.
var StatsLocation = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Ho_Chi_Minh"); err == nil {
		return loc
	}
	return time.FixedZone("ICT", 7*3600)
}()

// StatsDefaultDays is the length of the period shown when none is asked for.
const StatsDefaultDays = 30

// StatsMaxDays bounds a period: a year and a day, enough for an annual report.
const StatsMaxDays = 366

// Period is a span of whole days [From, To) in a time zone.
type Period struct {
	From, To time.Time
	Loc      *time.Location
}

// First is the period's first day, "2006-01-02".
func (p Period) First() string { return p.From.In(p.Loc).Format(time.DateOnly) }

// Last is the period's last day (inclusive), "2006-01-02".
func (p Period) Last() string { return p.To.In(p.Loc).AddDate(0, 0, -1).Format(time.DateOnly) }

// ParsePeriod reads a period from two dates, both inclusive ("2025-03-01", "2025-03-31" is the
// whole of March), in loc (StatsLocation when nil). An empty from or to defaults to the last
// StatsDefaultDays days up to today (now, in loc).
func ParsePeriod(from, to string, now time.Time, loc *time.Location) (Period, error) {
	if loc == nil {
		loc = StatsLocation
	}
	var verr ValidationError
	day := func(field, s string) time.Time {
		d, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(s), loc)
		if err != nil {
			verr = append(verr, FieldError{Field: field, Key: "stats.err.date", Msg: fmt.Sprintf("%s: want a date as YYYY-MM-DD", field)})
		}
		return d
	}
	y, m, d := now.In(loc).Date()
	end := time.Date(y, m, d+1, 0, 0, 0, 0, loc) // the midnight after today
	if strings.TrimSpace(to) != "" {
		t := day("to", to)
		end = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
	}
	start := time.Date(end.Year(), end.Month(), end.Day()-StatsDefaultDays, 0, 0, 0, 0, loc)
	if strings.TrimSpace(from) != "" {
		start = day("from", from)
	}
	if len(verr) > 0 {
		return Period{}, verr
	}
	if !start.Before(end) {
		return Period{}, ValidationError{{Field: "from", Key: "stats.err.order", Msg: "the first day is after the last"}}
	}
	if start.AddDate(0, 0, StatsMaxDays).Before(end) {
		return Period{}, ValidationError{{Field: "to", Key: "stats.err.long", Msg: fmt.Sprintf("a period is at most %d days", StatsMaxDays)}}
	}
	return Period{From: start, To: end, Loc: loc}, nil
}

// Stats returns the statistics of a period.
func (s *Service) Stats(ctx context.Context, p Period) (*store.HotlineStats, error) {
	st, err := s.o.Store.HotlineStats(ctx, p.From, p.To, p.Loc)
	if err != nil {
		return nil, fmt.Errorf("hotline: stats: %w", err)
	}
	return st, nil
}

// The kinds of CSV export.
const (
	CSVDaily   = "daily"   // reports per day, harm and channel
	CSVCases   = "cases"   // one anonymous row per case
	CSVNotices = "notices" // one row per takedown notice
)

// CSVKinds lists the export kinds.
var CSVKinds = []string{CSVDaily, CSVCases, CSVNotices}

// CSVName is the file name of an export: kidshield-cases-2025-03-01_2025-03-31.csv.
func CSVName(kind string, p Period) string {
	return fmt.Sprintf("kidshield-%s-%s_%s.csv", kind, p.First(), p.Last())
}

// utf8BOM makes Excel read the file as UTF-8 (without it Vietnamese comes out garbled).
const utf8BOM = "\ufeff"

// csvTime is the format of times in the exports: the statistics' time zone, which Excel and
// LibreOffice read as a date and time.
const csvTime = "2006-01-02 15:04:05"

// WriteStatsCSV writes an export of the period to w: UTF-8 with a byte order mark, a header row,
// times in the period's time zone. The rows hold no description, contact or note. Exports of
// cases and notices are recorded in the audit log.
func (s *Service) WriteStatsCSV(ctx context.Context, w io.Writer, kind string, p Period, by Actor) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // what spreadsheets expect (RFC 4180)
	if _, err := io.WriteString(w, utf8BOM); err != nil {
		return err
	}
	row := func(cells ...string) error {
		for i, c := range cells {
			cells[i] = CSVSafe(c)
		}
		return cw.Write(cells)
	}
	tm := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(p.Loc).Format(csvTime)
	}
	minutes := func(from, to time.Time) string {
		if from.IsZero() || to.IsZero() || to.Before(from) {
			return ""
		}
		return strconv.FormatInt(int64(to.Sub(from)/time.Minute), 10)
	}
	var err error
	switch kind {
	case CSVDaily:
		var st *store.HotlineStats
		if st, err = s.Stats(ctx, p); err != nil {
			return err
		}
		if err = row("date", "harm", "channel", "reports", "duplicates"); err != nil {
			return err
		}
		for _, d := range st.Daily {
			if err = row(d.Day, d.Harm, d.Channel, strconv.Itoa(d.Reports), strconv.Itoa(d.Duplicates)); err != nil {
				return err
			}
		}
	case CSVCases:
		if err = s.auditExport(ctx, kind, p, by); err != nil {
			return err
		}
		if err = row("ref", "received", "harm", "priority", "channel", "province", "state", "triage_minutes", "assess_minutes", "referred", "resolved"); err != nil {
			return err
		}
		err = s.o.Store.HotlineCaseRows(ctx, p.From, p.To, func(c *store.HotlineCaseRow) error {
			return row(c.Ref, tm(c.Received), c.Harm, "P"+strconv.Itoa(c.Priority), c.Channel, c.Province, c.State,
				minutes(c.Received, c.Triaged), minutes(c.Received, c.Assessed), tm(c.Referred), tm(c.Resolved))
		})
	case CSVNotices:
		if err = s.auditExport(ctx, kind, p, by); err != nil {
			return err
		}
		if err = row("ref", "partner", "sent", "actioned", "action", "minutes_to_removal", "state"); err != nil {
			return err
		}
		err = s.o.Store.HotlineNoticeRows(ctx, p.From, p.To, func(n *store.HotlineNoticeRow) error {
			return row(n.Ref, n.Partner, tm(n.Sent), tm(n.Actioned), n.Action, minutes(n.Sent, n.Actioned), n.State)
		})
	default:
		return ValidationError{{Field: "kind", Key: "stats.err.kind", Msg: fmt.Sprintf("unknown export %q (daily, cases or notices)", kind)}}
	}
	if err != nil {
		return fmt.Errorf("hotline: export %s: %w", kind, err)
	}
	cw.Flush()
	return cw.Error()
}

func (s *Service) auditExport(ctx context.Context, kind string, p Period, by Actor) error {
	return s.o.Store.AppendAudit(ctx, store.AuditEvent{Time: s.o.Now(), Actor: by.Label, Action: "stats.export", Object: "stats:" + kind,
		Detail: map[string]any{"from": p.First(), "to": p.Last()}})
}

// CSVSafe guards a cell against formula injection: a spreadsheet runs a cell starting with =,
// +, -, @ (or a tab or carriage return, which some read past) as a formula, so such a cell gets
// a leading single quote and is shown as text (OWASP's advice).
func CSVSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
