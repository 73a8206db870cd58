package store

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/seal"
)

// fixture is a hotline database written with plain SQL, so these tests depend only on the
// schema, not on the hotline's store API.
type fixture struct {
	t *testing.T
	s *Store
}

func (f fixture) id(q string, args ...any) int64 {
	f.t.Helper()
	var id int64
	if err := f.s.w.QueryRowContext(f.t.Context(), q+" RETURNING id", args...).Scan(&id); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	return id
}

// addCase stores a case with one report, one attachment and one note; values are sealed with k
// when k is not nil.
func (f fixture) addCase(k *seal.Keys, ref, state string, received, closed time.Time) (caseID, reportID int64) {
	f.t.Helper()
	us := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.UnixMicro()
	}
	sealed := func(v, col string) string {
		if k == nil {
			return "ks1:x:" + v
		}
		s, err := k.SealString(v, col)
		if err != nil {
			f.t.Fatal(err)
		}
		return s
	}
	caseID = f.id(`INSERT INTO cases (ref, state, priority, harm, severity, age_band, province, channel, platform, report_count,
		received_us, sla_due_us, triaged_us, assessed_us, resolved_us, closed_us, updated_us)
		VALUES ($1, $2, 1, 'CSE.GROOM', 2, '13-15', 'HN', 'web', 'tiktok', 2, $3, $4, $5, $6, $7, $8, $9)`,
		ref, state, us(received), us(received.Add(4*time.Hour)), us(received.Add(time.Hour)), us(received.Add(2*time.Hour)),
		us(closed), us(closed), us(received))
	reportID = f.id(`INSERT INTO reports (ref, status_hash, case_id, state, channel, received_us, language, harm, reporter_type,
		age_band, province, platform, account, danger_now, description_sealed, contact_sealed, ip_hash)
		VALUES ($1, 'sh', $2, 'attached', 'web', $3, 'vi', 'CSE.GROOM', 'parent', '13-15', 'HN', 'tiktok', '@acct', 1, $4, $5, 'iphash')`,
		"R"+ref, caseID, us(received), sealed("he asked my son for photos", "reports.description_sealed"), sealed("0901234567", "reports.contact_sealed"))
	f.id(`INSERT INTO attachments (report_id, content_type, width, height, sha256, data_sealed, created_us) VALUES ($1, 'image/png', 10, 10, 'h', $2, $3)`,
		reportID, []byte(sealed("PNGDATA", "attachments.data_sealed")), us(received))
	f.id(`INSERT INTO case_events (case_id, time_us, kind, detail, note_sealed) VALUES ($1, $2, 'note', 'called parent', $3)`,
		caseID, us(received), sealed("mother says the account is new", "case_events.note_sealed"))
	f.id(`INSERT INTO case_events (case_id, time_us, kind, from_state, to_state) VALUES ($1, $2, 'transition', 'new', 'triaged')`,
		caseID, us(received.Add(time.Hour)))
	return caseID, reportID
}

func (f fixture) str(q string, args ...any) string {
	f.t.Helper()
	rows, err := f.s.r.QueryContext(f.t.Context(), q, args...)
	if err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			f.t.Fatal(err)
		}
		for _, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprintf(&b, "%v|", v)
		}
		b.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return b.String()
}

// The statistics read these; a purge must not change them.
const (
	statsCases   = `SELECT id, ref, priority, harm, severity, age_band, province, channel, platform, report_count, received_us, sla_due_us, triaged_us, assessed_us, referred_us, resolved_us, closed_us FROM cases ORDER BY id`
	statsReports = `SELECT id, case_id, state, channel, received_us, language, harm, reporter_type, age_band, province, platform, danger_now FROM reports ORDER BY id`
	statsEvents  = `SELECT id, case_id, time_us, kind, from_state, to_state, detail FROM case_events ORDER BY id`
)

func TestPurgeHotline(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		f := fixture{t, s}
		now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		day := 24 * time.Hour
		ret := config.Retention{Contact: 90 * day, Reports: 730 * day, Sessions: 30 * day}

		old, oldR := f.addCase(nil, "OLD", "closed", now.Add(-800*day), now.Add(-740*day))  // past both periods
		mid, midR := f.addCase(nil, "MID", "closed", now.Add(-120*day), now.Add(-100*day))  // past the contact period
		_, newR := f.addCase(nil, "NEW", "closed", now.Add(-20*day), now.Add(-10*day))      // kept
		_, openR := f.addCase(nil, "OPEN", "in_assessment", now.Add(-900*day), time.Time{}) // open: kept however old
		_, reoR := f.addCase(nil, "REO", "reopened", now.Add(-900*day), time.Time{})        // reopened: kept
		uid := f.id(`INSERT INTO users (login, name, roles, password_hash, created_us, password_changed_us) VALUES ('a', 'A', 'analyst', 'x', 1, 1)`)
		for i, exp := range []time.Duration{-40 * day, -10 * day, day} {
			rawExec(t, s, `INSERT INTO sessions (id_hash, user_id, csrf, created_us, last_seen_us, expires_us) VALUES ($1, $2, 'c', 1, 1, $3)`,
				fmt.Sprint("s", i), uid, now.Add(exp).UnixMicro())
		}

		cases, reports := f.str(statsCases), f.str(statsReports)
		events := f.str(statsEvents)

		res, err := s.PurgeHotline(ctx, now, ret)
		if err != nil {
			t.Fatal(err)
		}
		want := PurgeResult{Contacts: 2, Reports: 1, Cases: 1, Attachments: 1, Notes: 1, Sessions: 1}
		if res != want {
			t.Fatalf("purge: %+v, want %+v", res, want)
		}

		// Statistics add up as before; the history gained only the purge transition.
		if got := f.str(statsCases); got != cases {
			t.Errorf("case statistics changed:\n%s\nwas\n%s", got, cases)
		}
		if got := f.str(statsReports); got != reports {
			t.Errorf("report statistics changed:\n%s\nwas\n%s", got, reports)
		}
		if got := f.str(statsEvents); !strings.HasPrefix(got, events) || strings.Count(got[len(events):], "\n") != 1 ||
			!strings.Contains(got[len(events):], "|transition|closed|purged|") {
			t.Errorf("history changed:\n%s\nwas\n%s", got, events)
		}

		// Personal data is gone exactly where the periods ended.
		if got := f.str(`SELECT id, description_sealed, contact_sealed, ip_hash, CASE WHEN purged_us > 0 THEN 'purged' ELSE 'kept' END FROM reports ORDER BY id`); got != fmt.Sprintf(
			"%d||||purged|\n%d|ks1:x:he asked my son for photos||iphash|kept|\n"+
				"%d|ks1:x:he asked my son for photos|ks1:x:0901234567|iphash|kept|\n"+
				"%d|ks1:x:he asked my son for photos|ks1:x:0901234567|iphash|kept|\n"+
				"%d|ks1:x:he asked my son for photos|ks1:x:0901234567|iphash|kept|\n",
			oldR, midR, newR, openR, reoR) {
			t.Errorf("reports after purge:\n%s", got)
		}
		if got := f.str(`SELECT report_id FROM attachments ORDER BY report_id`); got != fmt.Sprintf("%d|\n%d|\n%d|\n%d|\n", midR, newR, openR, reoR) {
			t.Errorf("attachments: %s", got)
		}
		if got := f.str(`SELECT case_id FROM case_events WHERE note_sealed <> '' ORDER BY case_id`); strings.Contains(got, fmt.Sprintf("%d|", old)) || !strings.Contains(got, fmt.Sprintf("%d|", mid)) {
			t.Errorf("notes: %s", got)
		}
		if got := f.str(`SELECT state FROM cases ORDER BY id`); got != "purged|\nclosed|\nclosed|\nin_assessment|\nreopened|\n" {
			t.Errorf("states: %s", got)
		}
		if got := f.str(`SELECT id_hash FROM sessions ORDER BY id_hash`); got != "s1|\ns2|\n" {
			t.Errorf("sessions: %s", got)
		}

		// A second run finds nothing; both runs are in the audit log with counts only.
		res, err = s.PurgeHotline(ctx, now.Add(time.Hour), ret)
		if err != nil || res != (PurgeResult{}) {
			t.Fatalf("second purge: %+v %v", res, err)
		}
		l, err := s.AuditList(ctx, AuditFilter{Action: "hotline."})
		if err != nil || len(l) != 3 {
			t.Fatalf("audit: %+v %v", l, err)
		}
		if l[1].Detail != `{"attachments":1,"cases":1,"contacts":2,"notes":1,"reports":1,"sessions":1}` {
			t.Errorf("audit detail: %s", l[1].Detail)
		}
		if _, err := s.VerifyAudit(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PurgeHotline(ctx, now, config.Retention{}); err == nil {
			t.Fatal("zero retention accepted")
		}
	})
}

func testKey(id string, fill byte) string {
	return id + ":" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{fill}, 32))
}

func TestReseal(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		f := fixture{t, s}
		oldKeys, _ := seal.ParseKeys([]string{testKey("old", 1)})
		now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
		for i := range resealBatch + 5 { // more than one batch
			f.addCase(oldKeys, fmt.Sprint("C", i), "new", now, time.Time{})
		}
		totp, _ := oldKeys.SealString("JBSWY3DPEHPK3PXP", "users.totp_secret")
		f.id(`INSERT INTO users (login, name, roles, password_hash, totp_secret, created_us, password_changed_us) VALUES ('a', 'A', 'analyst', 'x', $1, 1, 1)`, totp)
		f.id(`INSERT INTO users (login, name, roles, password_hash, created_us, password_changed_us) VALUES ('b', 'B', 'analyst', 'x', 1, 1)`)
		rawExec(t, s, `UPDATE reports SET contact_sealed = '' WHERE ref = 'RC3'`) // empty stays empty

		keys, _ := seal.ParseKeys([]string{testKey("new", 2), testKey("old", 1)})
		reseal := func(column, sealed string) (string, error) { return keys.Reseal(sealed, column) }
		counts, err := s.Reseal(ctx, reseal)
		if err != nil {
			t.Fatal(err)
		}
		n := resealBatch + 5
		want := map[string]int{"reports.description_sealed": n, "reports.contact_sealed": n - 1, "case_events.note_sealed": n,
			"attachments.data_sealed": n, "users.totp_secret": 1}
		if fmt.Sprint(counts) != fmt.Sprint(want) {
			t.Fatalf("counts %v, want %v", counts, want)
		}

		// Everything opens with the new key alone, under its own column's name.
		newOnly, _ := seal.ParseKeys([]string{testKey("new", 2)})
		check := func(q, col, plain string) {
			t.Helper()
			rows, err := s.r.QueryContext(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var v []byte
				rows.Scan(&v)
				if got, err := newOnly.OpenString(string(v), col); err != nil || got != plain {
					t.Fatalf("%s: %q %v", col, got, err)
				}
			}
		}
		check(`SELECT description_sealed FROM reports`, "reports.description_sealed", "he asked my son for photos")
		check(`SELECT contact_sealed FROM reports WHERE ref <> 'RC3'`, "reports.contact_sealed", "0901234567")
		check(`SELECT note_sealed FROM case_events WHERE note_sealed <> ''`, "case_events.note_sealed", "mother says the account is new")
		check(`SELECT data_sealed FROM attachments`, "attachments.data_sealed", "PNGDATA")
		check(`SELECT totp_secret FROM users WHERE login = 'a'`, "users.totp_secret", "JBSWY3DPEHPK3PXP")
		if got := f.str(`SELECT contact_sealed, totp_secret FROM reports, users WHERE ref = 'RC3' AND login = 'b'`); got != "||\n" {
			t.Fatalf("empty values changed: %q", got)
		}

		// A second rotation changes nothing; both are audited.
		counts, err = s.Reseal(ctx, reseal)
		if err != nil {
			t.Fatal(err)
		}
		for c, v := range counts {
			if v != 0 {
				t.Fatalf("second rotation re-sealed %d of %s", v, c)
			}
		}
		l, err := s.AuditList(ctx, AuditFilter{Action: "keys.rotate"})
		// Per column, one record per batch that changed something (2+2+2+2+1), and one summary
		// per run.
		if err != nil || len(l) != 11 {
			t.Fatalf("audit: %d records, %v", len(l), err)
		}
		if len(l) == 0 || !strings.Contains(l[0].Detail, `"done":true`) || strings.Contains(l[len(l)-1].Detail, "JBSWY") {
			t.Fatalf("audit: %+v", l)
		}
		if _, err := s.VerifyAudit(ctx); err != nil {
			t.Fatal(err)
		}

		// A value that does not open stops the rotation and names the row.
		rawExec(t, s, `UPDATE reports SET contact_sealed = 'ks1:gone:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' WHERE ref = 'RC3'`)
		_, err = s.Reseal(ctx, reseal)
		if err == nil || !strings.Contains(err.Error(), "reports.contact_sealed") || !strings.Contains(err.Error(), "unknown data key") {
			t.Fatalf("unopenable value: %v", err)
		}
	})
}
