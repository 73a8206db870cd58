package hotline

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/seal"
	"github.com/kidshield/kidshield/store"
)

var statsTestZone = time.FixedZone("ICT", 7*3600)

func TestParsePeriod(t *testing.T) {
	// 20:00 UTC on 31 March is 03:00 on 1 April in Hà Nội: "today" is 1 April.
	now := time.Date(2025, 3, 31, 20, 0, 0, 0, time.UTC)
	day := func(m time.Month, d int) time.Time { return time.Date(2025, m, d, 0, 0, 0, 0, statsTestZone) }
	for _, c := range []struct {
		from, to    string
		start, end  time.Time
		first, last string
		errKey      string
	}{
		{"", "", day(3, 3), day(4, 2), "2025-03-03", "2025-04-01", ""}, // the last 30 days, today included
		{"2025-03-01", "2025-03-31", day(3, 1), day(4, 1), "2025-03-01", "2025-03-31", ""},
		{"2025-03-05", "2025-03-05", day(3, 5), day(3, 6), "2025-03-05", "2025-03-05", ""}, // one day
		{"", "2025-02-28", day(1, 30), day(3, 1), "2025-01-30", "2025-02-28", ""},
		{"2025-03-20", "", day(3, 20), day(4, 2), "2025-03-20", "2025-04-01", ""},
		{" 2024-03-01 ", "2025-03-01", time.Date(2024, 3, 1, 0, 0, 0, 0, statsTestZone), day(3, 2), "2024-03-01", "2025-03-01", ""}, // 366 days
		{"2024-02-29", "2025-03-01", time.Time{}, time.Time{}, "", "", "stats.err.long"},
		{"2025-03-02", "2025-03-01", time.Time{}, time.Time{}, "", "", "stats.err.order"},
		{"01/03/2025", "", time.Time{}, time.Time{}, "", "", "stats.err.date"},
		{"", "2025-02-30", time.Time{}, time.Time{}, "", "", "stats.err.date"},
	} {
		p, err := ParsePeriod(c.from, c.to, now, statsTestZone)
		if c.errKey != "" {
			var verr ValidationError
			if !errors.As(err, &verr) || verr[0].Key != c.errKey {
				t.Errorf("%q–%q: err %v, want %s", c.from, c.to, err, c.errKey)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q–%q: %v", c.from, c.to, err)
			continue
		}
		if !p.From.Equal(c.start) || !p.To.Equal(c.end) || p.First() != c.first || p.Last() != c.last {
			t.Errorf("%q–%q: [%s, %s) %s..%s, want [%s, %s) %s..%s", c.from, c.to, p.From, p.To, p.First(), p.Last(), c.start, c.end, c.first, c.last)
		}
	}
	if StatsLocation == nil || time.Date(2025, 1, 1, 0, 0, 0, 0, StatsLocation).UTC().Hour() != 17 {
		t.Errorf("StatsLocation %v is not UTC+7", StatsLocation)
	}
}

func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "",
		"Hà Nội":              "Hà Nội",
		"=HYPERLINK(\"x\")":   "'=HYPERLINK(\"x\")",
		"+84 912":             "'+84 912",
		"-2+3":                "'-2+3",
		"@SUM(A1)":            "'@SUM(A1)",
		"\t=1":                "'\t=1",
		"\r=1":                "'\r=1",
		"a=1":                 "a=1",
		"'already":            "'already",
		"2025-03-01 00:00:00": "2025-03-01 00:00:00",
	} {
		if got := CSVSafe(in); got != want {
			t.Errorf("CSVSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// statsTestService is a service over a fresh SQLite store whose clock the test moves, and a
// second connection to the same file for the rows the service has no API for yet (partners,
// notices).
func statsTestService(t *testing.T) (*Service, *store.Store, *sql.DB, *time.Time) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "k.db")
	st, err := store.Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := sql.Open("sqlite", path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	spec, err := seal.Generate()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := seal.ParseKeys([]string{spec})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	now := new(time.Time)
	svc := New(Options{Store: st, Sealer: keys, Config: func() *config.Hotline { return &cfg.Hotline }, Now: func() time.Time { return *now }})
	return svc, st, db, now
}

func statsReadCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	rest, ok := bytes.CutPrefix(b, []byte("\xef\xbb\xbf"))
	if !ok {
		t.Fatalf("no UTF-8 byte order mark: %q", b[:min(len(b), 10)])
	}
	if !bytes.Contains(rest, []byte("\r\n")) {
		t.Error("rows do not end in CRLF")
	}
	rows, err := csv.NewReader(bytes.NewReader(rest)).ReadAll()
	if err != nil {
		t.Fatalf("parse back: %v\n%s", err, rest)
	}
	return rows
}

func TestWriteStatsCSV(t *testing.T) {
	svc, st, db, now := statsTestService(t)
	ctx := t.Context()
	anon := Actor{Label: "anonymous"}
	analyst := Actor{UserID: 7, Label: "user:7:mai"}
	at := func(d, h, m int) time.Time { return time.Date(2025, 3, d, h, m, 0, 0, time.UTC) }

	// Report 1 at 23:30 on 1 March in Hà Nội (16:30 UTC), triaged 15 minutes later, assessed
	// after two hours; report 2 (same page) at 00:30 on 2 March joins its case.
	*now = at(1, 16, 30)
	rc1, err := svc.Submit(ctx, Submission{Channel: "web", Language: "vi", Harm: "VIO.BULLY", URLs: []string{"https://example.vn/a"},
		Province: "Hà Nội", Description: "Bí mật riêng tư của em", Contact: "0912 345 678"}, anon)
	if err != nil {
		t.Fatal(err)
	}
	r1, err := st.ReportByRef(ctx, rc1.Ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		at time.Time
		to string
	}{{at(1, 16, 45), "triaged"}, {at(1, 17, 0), "in_assessment"}, {at(1, 18, 30), "actionable"}} {
		*now = step.at
		if _, err := svc.ChangeCase(ctx, analyst, r1.CaseID, Change{To: step.to, Note: "ghi chú nội bộ"}); err != nil {
			t.Fatal(err)
		}
	}
	*now = at(1, 17, 30)
	if _, err := svc.Submit(ctx, Submission{Channel: "web", Language: "vi", Harm: "VIO.BULLY", URLs: []string{"https://example.vn/a"}}, anon); err != nil {
		t.Fatal(err)
	}
	// Report 3 at 10:00 on 2 March, with a province that is a formula.
	*now = at(2, 3, 0)
	rc3, err := svc.Submit(ctx, Submission{Channel: "zalo", Language: "vi", Harm: "CSE.GROOM", URLs: []string{"https://example.vn/b"},
		Province: "=1+2"}, anon)
	if err != nil {
		t.Fatal(err)
	}
	r3, _ := st.ReportByRef(ctx, rc3.Ref)
	c1, _ := st.CaseByID(ctx, r1.CaseID)
	c3, _ := st.CaseByID(ctx, r3.CaseID)
	// Outside the period: 00:00 on 3 March in Hà Nội.
	*now = at(2, 17, 0)
	if _, err := svc.Submit(ctx, Submission{Channel: "web", Language: "vi", Harm: "OTHER", URLs: []string{"https://example.vn/c"}}, anon); err != nil {
		t.Fatal(err)
	}
	// A notice to a partner whose name is a formula, sent at 10:00 on 2 March, removed 90
	// minutes later.
	var partner int64
	if err := db.QueryRowContext(ctx, `INSERT INTO partners (name, kind, created_us) VALUES ('@evil partner', 'platform', 1) RETURNING id`).Scan(&partner); err != nil {
		t.Fatal(err)
	}
	sent := at(2, 3, 0)
	if _, err := db.ExecContext(ctx, `INSERT INTO notices (ref, case_id, partner_id, state, ground, category, created_us, sent_us, actioned_us,
		action_taken, updated_us) VALUES ('N-1', $1, $2, 'actioned', 'illegal_vn', 'VIO.BULLY', 1, $3, $4, 'removed', 1)`,
		c1.ID, partner, sent.UnixMicro(), sent.Add(90*time.Minute).UnixMicro()); err != nil {
		t.Fatal(err)
	}

	*now = at(10, 2, 0)
	p, err := ParsePeriod("2025-03-01", "2025-03-02", *now, statsTestZone)
	if err != nil {
		t.Fatal(err)
	}
	export := func(kind string) ([][]string, string) {
		var b bytes.Buffer
		if err := svc.WriteStatsCSV(ctx, &b, kind, p, analyst); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		return statsReadCSV(t, b.Bytes()), b.String()
	}

	rows, _ := export(CSVDaily)
	want := [][]string{
		{"date", "harm", "channel", "reports", "duplicates"},
		{"2025-03-01", "VIO.BULLY", "web", "1", "0"},
		{"2025-03-02", "CSE.GROOM", "zalo", "1", "0"},
		{"2025-03-02", "VIO.BULLY", "web", "1", "1"},
	}
	if !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("daily:\n got %q\nwant %q", rows, want)
	}

	rows, raw := export(CSVCases)
	want = [][]string{
		{"ref", "received", "harm", "priority", "channel", "province", "state", "triage_minutes", "assess_minutes", "referred", "resolved"},
		{c1.Ref, "2025-03-01 23:30:00", "VIO.BULLY", "P2", "web", "Hà Nội", "actionable", "15", "120", "", ""},
		{c3.Ref, "2025-03-02 10:00:00", "CSE.GROOM", "P1", "zalo", "'=1+2", "new", "", "", "", ""},
	}
	if !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("cases:\n got %q\nwant %q", rows, want)
	}
	for _, secret := range []string{"Bí mật", "0912", "ghi chú", rc1.Ref, rc1.StatusCode} {
		if strings.Contains(raw, secret) {
			t.Errorf("the cases export contains %q", secret)
		}
	}

	rows, _ = export(CSVNotices)
	want = [][]string{
		{"ref", "partner", "sent", "actioned", "action", "minutes_to_removal", "state"},
		{"N-1", "'@evil partner", "2025-03-02 10:00:00", "2025-03-02 11:30:00", "removed", "90", "actioned"},
	}
	if !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("notices:\n got %q\nwant %q", rows, want)
	}

	// Exports of cases and notices are audited; the daily counts are not personal.
	recs, err := st.AuditList(ctx, store.AuditFilter{Action: "stats.export"})
	if err != nil {
		t.Fatal(err)
	}
	var objs []string
	for _, r := range recs {
		objs = append(objs, r.Object)
		if r.Actor != analyst.Label {
			t.Errorf("audit actor %q", r.Actor)
		}
	}
	slices.Sort(objs)
	if !slices.Equal(objs, []string{"stats:cases", "stats:notices"}) {
		t.Errorf("audited exports %v", objs)
	}

	if err := svc.WriteStatsCSV(ctx, &bytes.Buffer{}, "everything", p, analyst); err == nil {
		t.Error("unknown kind accepted")
	}
	if got := CSVName(CSVCases, p); got != "kidshield-cases-2025-03-01_2025-03-02.csv" {
		t.Errorf("CSVName = %q", got)
	}

	// The service's figures agree with the export.
	s, err := svc.Stats(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if s.Reports != 3 || s.Duplicates != 1 || s.Cases != 2 || s.Triage.Median != 15*time.Minute || s.Removal.Median != 90*time.Minute {
		t.Errorf("stats %+v", s)
	}
}
