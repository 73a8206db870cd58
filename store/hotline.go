package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

// ReportURL is one URL a report names, as given and canonicalised (the dedup key).
type ReportURL struct {
	Raw, Canonical, Host string
}

// Fetchable is the URL to open, fetch or name to a partner: the canonical form (tracking
// parameters such as fbclid dropped: they can tie the hotline's visit to the reporter's own
// click) with the reporter's scheme, since the canonical form says https also for a page
// served only over http. Without a canonical form, the reporter's URL when it is a plain
// http(s) URL.
func (u ReportURL) Fetchable() string {
	raw := strings.TrimSpace(u.Raw)
	p, err := url.Parse(raw)
	plain := err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != ""
	switch {
	case u.Canonical == "" && plain:
		return raw
	case plain && strings.EqualFold(p.Scheme, "http") && strings.HasPrefix(u.Canonical, "https://"):
		return "http://" + strings.TrimPrefix(u.Canonical, "https://")
	}
	return u.Canonical
}

// Attachment is a re-encoded screenshot; DataSealed is its sealed bytes.
type Attachment struct {
	ID            int64
	ReportID      int64
	ContentType   string
	Width, Height int
	SHA256        string
	DataSealed    []byte
	Created       time.Time
}

// NewReport is a report ready to store: validated, canonicalised and sealed by package hotline.
type NewReport struct {
	Ref, StatusHash string
	Received        time.Time
	Channel         string
	Language        string
	Harm            string
	ReporterType    string
	AgeBand         string
	Province        string
	Platform        string
	Account         string
	WhereKind       string
	When            string
	DangerNow       bool
	SelfHarmRisk    bool
	Extortion       bool
	WantsFeedback   bool
	LegalBasis      string
	DescSealed      string
	ContactSealed   string
	IPHash          string
	OperatorID      int64
	TokenID         int64
	IdemKey         string
	URLs            []ReportURL
	Attachments     []Attachment

	// For the case a new report opens (ignored when it joins an open case, except that a more
	// urgent report raises the case's priority and brings its SLA due time forward).
	CaseRef  string
	Priority int
	SLADue   time.Time

	// Actor names who submitted it in the audit log ("anonymous", "user:3:op", "token:2:app").
	Actor string
}

// CreateResult says where a stored report went.
type CreateResult struct {
	ReportID  int64
	ReportRef string
	CaseID    int64
	CaseRef   string
	Duplicate bool // joined an open case with the same canonical URL
	// Replayed: the token and idempotency key were seen before; nothing new was stored and
	// ReportRef is the first report's.
	Replayed bool
}

// CreateReport stores a report in one transaction: idempotency check, dedup against open cases
// by canonical URL, the report machine's path received → screened → attached | duplicate, the
// new case or the raised count of the open one, and the audit record. A report acknowledged to
// its sender is committed (synchronous=FULL on SQLite).
func (s *Store) CreateReport(ctx context.Context, nr NewReport) (CreateResult, error) {
	j := &reportJob{ctx: ctx, nr: nr, done: make(chan struct{})}
	select {
	case s.reports <- j:
	case <-s.quit:
		return CreateResult{}, errors.New("store: create report: the store is closed")
	case <-ctx.Done():
		return CreateResult{}, fmt.Errorf("store: create report: %w", ctx.Err())
	}
	// Once the writer holds the job it finishes it; wait for the outcome even if ctx ends, so
	// that an error is never returned for a report that was in fact committed.
	<-j.done
	if j.err != nil {
		return CreateResult{}, fmt.Errorf("store: create report: %w", j.err)
	}
	return j.res, nil
}

// createReport is CreateReport's work inside the (group) transaction.
func (s *Store) createReport(ctx context.Context, tx *sql.Tx, nr NewReport) (CreateResult, error) {
	var res CreateResult
	err := func() error {
		if nr.TokenID != 0 && nr.IdemKey != "" {
			err := tx.QueryRowContext(ctx, `SELECT r.id, r.ref, COALESCE(r.case_id, 0), COALESCE(c.ref, '') FROM reports r LEFT JOIN cases c ON c.id = r.case_id
				WHERE r.token_id = $1 AND r.idem_key = $2`, nr.TokenID, nr.IdemKey).Scan(&res.ReportID, &res.ReportRef, &res.CaseID, &res.CaseRef)
			if err == nil {
				res.Replayed = true
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		now := nr.Received.UnixMicro()
		// Dedup: the oldest open case that already holds one of these URLs. On PostgreSQL two
		// first reports of one URL could otherwise both see no case and open two: a transaction
		// lock per canonical URL serialises them. SQLite has one writer and needs none.
		// (The group writer takes these locks for the whole batch first: see lockURLs.)
		if len(nr.URLs) > 0 {
			var p params
			ph := make([]string, len(nr.URLs))
			for i, u := range nr.URLs {
				ph[i] = p.add(u.Canonical)
			}
			q := `SELECT c.id, c.ref, c.priority, c.sla_due_us FROM report_urls u JOIN cases c ON c.id = u.case_id
				WHERE u.canonical IN (` + strings.Join(ph, ",") + `) AND c.state NOT IN ('closed', 'purged', 'not_actionable')
				ORDER BY c.id LIMIT 1`
			var prio int
			var due int64
			err := tx.QueryRowContext(ctx, q, p...).Scan(&res.CaseID, &res.CaseRef, &prio, &due)
			switch {
			case err == nil:
				res.Duplicate = true
				newPrio, newDue := prio, due
				if nr.Priority < prio {
					newPrio = nr.Priority
					newDue = min(due, nr.SLADue.UnixMicro())
				}
				if _, err := tx.ExecContext(ctx, `UPDATE cases SET report_count = report_count + 1, priority = $1, sla_due_us = $2,
					danger_now = CASE WHEN $3 = 1 THEN 1 ELSE danger_now END, updated_us = $4, version = version + 1 WHERE id = $5`,
					newPrio, newDue, b2i(nr.DangerNow), now, res.CaseID); err != nil {
					return err
				}
				detail := "report linked"
				if newPrio != prio {
					detail = fmt.Sprintf("report linked; priority P%d → P%d", prio, newPrio)
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO case_events (case_id, time_us, kind, detail) VALUES ($1, $2, 'report_linked', $3)`,
					res.CaseID, now, detail); err != nil {
					return err
				}
			case errors.Is(err, sql.ErrNoRows):
			default:
				return err
			}
		}
		final := lifecycle.ReportAttached
		if res.Duplicate {
			final = lifecycle.ReportDuplicate
		}
		if err := lifecycle.Report.CheckPath(lifecycle.Report.Initial(), lifecycle.ReportScreened, final); err != nil {
			return err
		}
		// References are random (they must not reveal how many reports there are): a clash is
		// rare but certain over years, so it is checked and reported for a retry, not a 500.
		taken := func(q, ref string) (bool, error) {
			var n int
			err := tx.QueryRowContext(ctx, q, ref).Scan(&n)
			return n > 0, err
		}
		if t, err := taken("SELECT COUNT(*) FROM reports WHERE ref = $1", nr.Ref); err != nil || t {
			return cmp.Or(err, ErrRefTaken)
		}
		if !res.Duplicate {
			if t, err := taken("SELECT COUNT(*) FROM cases WHERE ref = $1", nr.CaseRef); err != nil || t {
				return cmp.Or(err, ErrRefTaken)
			}
		}
		if !res.Duplicate {
			res.CaseRef = nr.CaseRef
			err := tx.QueryRowContext(ctx, `INSERT INTO cases (ref, state, priority, harm, age_band, province, channel, platform, danger_now,
				received_us, sla_due_us, updated_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $10) RETURNING id`,
				nr.CaseRef, lifecycle.Case.Initial(), nr.Priority, nr.Harm, nr.AgeBand, cleanText(nr.Province), nr.Channel,
				cleanText(nr.Platform), b2i(nr.DangerNow), now, nr.SLADue.UnixMicro()).Scan(&res.CaseID)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO case_events (case_id, time_us, kind, to_state, detail) VALUES ($1, $2, 'created', $3, $4)`,
				res.CaseID, now, lifecycle.CaseNew, "channel "+nr.Channel); err != nil {
				return err
			}
		}
		var idem any
		if nr.TokenID != 0 && nr.IdemKey != "" {
			idem = nr.IdemKey
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO reports (ref, status_hash, case_id, state, channel, received_us, language, harm,
			reporter_type, age_band, province, platform, account, where_kind, incident_when, danger_now, self_harm_risk,
			extortion_ongoing, wants_feedback, legal_basis, description_sealed, contact_sealed, ip_hash, operator_id, token_id, idem_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)
			RETURNING id`,
			nr.Ref, nr.StatusHash, res.CaseID, final, nr.Channel, now, nr.Language, nr.Harm, nr.ReporterType, nr.AgeBand,
			cleanText(nr.Province), cleanText(nr.Platform), cleanText(nr.Account), nr.WhereKind, cleanText(nr.When),
			b2i(nr.DangerNow), b2i(nr.SelfHarmRisk), b2i(nr.Extortion), b2i(nr.WantsFeedback), nr.LegalBasis, nr.DescSealed, nr.ContactSealed,
			nr.IPHash, nullID(nr.OperatorID), nullID(nr.TokenID), idem).Scan(&res.ReportID)
		if err != nil {
			return err
		}
		res.ReportRef = nr.Ref
		for _, u := range nr.URLs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO report_urls (report_id, case_id, raw, canonical, host) VALUES ($1, $2, $3, $4, $5)`,
				res.ReportID, res.CaseID, cleanText(u.Raw), u.Canonical, u.Host); err != nil {
				return err
			}
		}
		for _, a := range nr.Attachments {
			if _, err := tx.ExecContext(ctx, `INSERT INTO attachments (report_id, content_type, width, height, sha256, data_sealed, created_us)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, res.ReportID, a.ContentType, a.Width, a.Height, a.SHA256, a.DataSealed, now); err != nil {
				return err
			}
		}
		return s.appendAudit(ctx, tx, AuditEvent{Time: nr.Received, Actor: nr.Actor, Action: "report.create",
			Object: fmt.Sprintf("report:%d", res.ReportID),
			Detail: map[string]any{"case": res.CaseID, "channel": nr.Channel, "duplicate": res.Duplicate, "urls": len(nr.URLs), "attachments": len(nr.Attachments)}})
	}()
	return res, err
}

// reportJob is one CreateReport call waiting for the group writer.
type reportJob struct {
	ctx  context.Context
	nr   NewReport
	res  CreateResult
	err  error
	done chan struct{}
}

// maxReportBatch bounds a group commit: enough to absorb a burst, small enough that one
// transaction stays short.
const maxReportBatch = 64

// reportWriter commits reports in groups. A report is acknowledged only after the commit that
// holds it (fsynced on SQLite), and that commit is the expensive part: under load, the reports
// that arrived while one group was being committed share the next commit instead of queueing
// for one fsync each. Each report runs under its own savepoint, so a report that fails (a bad
// value, a constraint) is rolled back alone and the others of its group still commit.
func (s *Store) reportWriter() {
	defer close(s.writerDone)
	for {
		var batch []*reportJob
		select {
		case j := <-s.reports:
			batch = append(batch, j)
		case <-s.quit:
			return
		}
	fill:
		for len(batch) < maxReportBatch {
			select {
			case j := <-s.reports:
				batch = append(batch, j)
			default:
				break fill
			}
		}
		s.commitReports(batch)
	}
}

func (s *Store) commitReports(batch []*reportJob) {
	// The statements run under a context of their own: a caller that gives up must not cancel
	// a transaction that also holds other people's reports.
	ctx := context.Background()
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.lockURLs(ctx, tx, batch); err != nil {
			return err
		}
		for _, j := range batch {
			if err := j.ctx.Err(); err != nil {
				j.err = err // the caller left before its report was written: nothing stored
				continue
			}
			if _, err := tx.ExecContext(ctx, "SAVEPOINT report"); err != nil {
				return err
			}
			j.res, j.err = s.createReport(ctx, tx, j.nr)
			if j.err != nil {
				if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT report"); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT report"); err != nil {
				return err
			}
		}
		return nil
	})
	for _, j := range batch {
		if err != nil && j.err == nil {
			j.res, j.err = CreateResult{}, err // the commit failed: none of the group is stored
		}
		close(j.done)
	}
}

// lockURLs takes, on PostgreSQL, a transaction lock per canonical URL of the whole group, in
// sorted order: two groups (two nodes) that share URLs then wait for each other instead of
// deadlocking, and two first reports of one URL cannot both open a case.
func (s *Store) lockURLs(ctx context.Context, tx *sql.Tx, batch []*reportJob) error {
	if s.dialect != DialectPostgres {
		return nil
	}
	var keys []string
	for _, j := range batch {
		for _, u := range j.nr.URLs {
			keys = append(keys, u.Canonical)
		}
	}
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(27507, hashtext($1))`, k); err != nil {
			return err
		}
	}
	return nil
}

// b2i stores a flag as 0 or 1: the columns are integers on both backends.
func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// Report is a stored report. Sealed fields are opened by package hotline, which audits the view.
type Report struct {
	ID, CaseID                             int64
	Ref, StatusHash, State, Channel        string
	Received                               time.Time
	Language, Harm, ReporterType, AgeBand  string
	Province, Platform, Account, WhereKind string
	When                                   string
	DangerNow, SelfHarmRisk, Extortion     bool
	WantsFeedback                          bool
	LegalBasis, DescSealed, ContactSealed  string
	OperatorID, TokenID                    int64
	Purged                                 time.Time
	URLs                                   []ReportURL
	AttachmentIDs                          []int64
}

const reportCols = `r.id, COALESCE(r.case_id, 0), r.ref, r.status_hash, r.state, r.channel, r.received_us, r.language, r.harm,
	r.reporter_type, r.age_band, r.province, r.platform, r.account, r.where_kind, r.incident_when, r.danger_now, r.self_harm_risk,
	r.extortion_ongoing, r.wants_feedback, r.legal_basis, r.description_sealed, r.contact_sealed, COALESCE(r.operator_id, 0),
	COALESCE(r.token_id, 0), r.purged_us`

func scanReport(sc interface{ Scan(...any) error }) (*Report, error) {
	var r Report
	var recv, purged int64
	var danger, selfHarm, ext, fb int64
	err := sc.Scan(&r.ID, &r.CaseID, &r.Ref, &r.StatusHash, &r.State, &r.Channel, &recv, &r.Language, &r.Harm,
		&r.ReporterType, &r.AgeBand, &r.Province, &r.Platform, &r.Account, &r.WhereKind, &r.When, &danger, &selfHarm,
		&ext, &fb, &r.LegalBasis, &r.DescSealed, &r.ContactSealed, &r.OperatorID, &r.TokenID, &purged)
	if err != nil {
		return nil, err
	}
	r.Received, r.Purged = usTime(recv), usTime(purged)
	r.DangerNow, r.SelfHarmRisk, r.Extortion, r.WantsFeedback = danger != 0, selfHarm != 0, ext != 0, fb != 0
	return &r, nil
}

// usTime converts unix microseconds to a time; 0 is the zero time ("not yet").
func usTime(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func usOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// ReportByRef returns a report by its public reference.
func (s *Store) ReportByRef(ctx context.Context, ref string) (*Report, error) {
	r, err := scanReport(s.r.QueryRowContext(ctx, `SELECT `+reportCols+` FROM reports r WHERE r.ref = $1`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: report %q: %w", ref, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: report %q: %w", ref, err)
	}
	return r, nil
}

// CaseReports returns a case's reports, oldest first, with their URLs and attachment ids.
func (s *Store) CaseReports(ctx context.Context, caseID int64) ([]*Report, error) {
	var out []*Report
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+reportCols+` FROM reports r WHERE r.case_id = $1 ORDER BY r.id`, caseID)
		if err != nil {
			return err
		}
		byID := map[int64]*Report{}
		for rows.Next() {
			r, err := scanReport(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, r)
			byID[r.ID] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT report_id, raw, canonical, host FROM report_urls WHERE case_id = $1 ORDER BY id`, caseID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			var u ReportURL
			if err := rows.Scan(&id, &u.Raw, &u.Canonical, &u.Host); err != nil {
				rows.Close()
				return err
			}
			if r := byID[id]; r != nil {
				r.URLs = append(r.URLs, u)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT a.report_id, a.id FROM attachments a JOIN reports r ON r.id = a.report_id WHERE r.case_id = $1 ORDER BY a.id`, caseID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var rid, aid int64
			if err := rows.Scan(&rid, &aid); err != nil {
				return err
			}
			if r := byID[rid]; r != nil {
				r.AttachmentIDs = append(r.AttachmentIDs, aid)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: reports of case %d: %w", caseID, err)
	}
	return out, nil
}

// Attachment returns one attachment with its sealed data.
func (s *Store) Attachment(ctx context.Context, id int64) (*Attachment, error) {
	var a Attachment
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT id, report_id, content_type, width, height, sha256, data_sealed, created_us FROM attachments WHERE id = $1`, id).
		Scan(&a.ID, &a.ReportID, &a.ContentType, &a.Width, &a.Height, &a.SHA256, &a.DataSealed, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: attachment %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: attachment %d: %w", id, err)
	}
	a.Created = usTime(created)
	return &a, nil
}

// Case is a case as the queue and the case page show it.
type Case struct {
	ID           int64
	Ref          string
	State        string
	Priority     int
	Harm         string
	Severity     int
	Legal        string
	AgeBand      string
	Flags        []string
	Province     string
	Channel      string
	Platform     string
	DangerNow    bool
	AssigneeID   int64
	AssigneeName string
	ReportCount  int
	Received     time.Time
	SLADue       time.Time
	Triaged      time.Time
	Assessed     time.Time
	Referred     time.Time
	Resolved     time.Time
	Closed       time.Time
	Updated      time.Time
	// Version increases with every change; ChangeCase refuses a change made on an older one.
	Version int64
}

const caseCols = `c.id, c.ref, c.state, c.priority, c.harm, c.severity, c.legal, c.age_band, c.flags, c.province, c.channel,
	c.platform, c.danger_now, COALESCE(c.assignee_id, 0), COALESCE(u.name, ''), c.report_count, c.received_us, c.sla_due_us,
	c.triaged_us, c.assessed_us, c.referred_us, c.resolved_us, c.closed_us, c.updated_us, c.version`

const caseFrom = ` FROM cases c LEFT JOIN users u ON u.id = c.assignee_id`

func scanCase(sc interface{ Scan(...any) error }) (*Case, error) {
	var c Case
	var flags string
	var danger int64
	var recv, due, tri, ass, ref, res, clo, upd int64
	err := sc.Scan(&c.ID, &c.Ref, &c.State, &c.Priority, &c.Harm, &c.Severity, &c.Legal, &c.AgeBand, &flags, &c.Province,
		&c.Channel, &c.Platform, &danger, &c.AssigneeID, &c.AssigneeName, &c.ReportCount, &recv, &due, &tri, &ass, &ref, &res,
		&clo, &upd, &c.Version)
	if err != nil {
		return nil, err
	}
	if flags != "" {
		c.Flags = strings.Split(flags, ",")
	}
	c.DangerNow = danger != 0
	c.Received, c.SLADue, c.Triaged, c.Assessed = usTime(recv), usTime(due), usTime(tri), usTime(ass)
	c.Referred, c.Resolved, c.Closed, c.Updated = usTime(ref), usTime(res), usTime(clo), usTime(upd)
	return &c, nil
}

// CaseByID returns a case.
func (s *Store) CaseByID(ctx context.Context, id int64) (*Case, error) {
	c, err := scanCase(s.r.QueryRowContext(ctx, `SELECT `+caseCols+caseFrom+` WHERE c.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: case %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: case %d: %w", id, err)
	}
	return c, nil
}

// CaseByRef returns a case by its reference.
func (s *Store) CaseByRef(ctx context.Context, ref string) (*Case, error) {
	c, err := scanCase(s.r.QueryRowContext(ctx, `SELECT `+caseCols+caseFrom+` WHERE c.ref = $1`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: case %q: %w", ref, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: case %q: %w", ref, err)
	}
	return c, nil
}

// CaseFilter selects cases for a queue. Zero fields match everything.
type CaseFilter struct {
	States   []string
	OpenOnly bool   // exclude closed, purged and not actionable
	Harm     string // a code ("VIO.BULLY") or a group prefix ending in "." ("CSE.")
	Priority int    // -1 or 0..4; use AnyPriority for no filter
	Channel  string
	Province string
	AgeBand  string
	// Assignee: 0 any, -1 unassigned, else a user id.
	Assignee int64
	Limit    int // default 100, at most 1000
	Offset   int
}

// AnyPriority in CaseFilter.Priority matches every priority.
const AnyPriority = -1

// Cases lists cases sorted by priority, then SLA due time (the most urgent, least time left
// first), with the total matching count for paging.
func (s *Store) Cases(ctx context.Context, f CaseFilter) ([]*Case, int, error) {
	var p params
	var conds []string
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		for i, st := range f.States {
			ph[i] = p.add(st)
		}
		conds = append(conds, "c.state IN ("+strings.Join(ph, ",")+")")
	}
	if f.OpenOnly {
		conds = append(conds, "c.state NOT IN ('closed', 'purged', 'not_actionable')")
	}
	if f.Harm != "" {
		if strings.HasSuffix(f.Harm, ".") {
			conds = append(conds, "c.harm LIKE "+p.add(strings.NewReplacer("%", "", "_", "\\_").Replace(f.Harm)+"%")+" ESCAPE '\\'")
		} else {
			conds = append(conds, "c.harm = "+p.add(f.Harm))
		}
	}
	if f.Priority >= 0 && f.Priority <= 4 {
		conds = append(conds, "c.priority = "+p.add(f.Priority))
	}
	for _, kv := range [][2]string{{"c.channel", f.Channel}, {"c.province", f.Province}, {"c.age_band", f.AgeBand}} {
		if kv[1] != "" {
			conds = append(conds, kv[0]+" = "+p.add(kv[1]))
		}
	}
	switch {
	case f.Assignee == -1:
		conds = append(conds, "c.assignee_id IS NULL")
	case f.Assignee > 0:
		conds = append(conds, "c.assignee_id = "+p.add(f.Assignee))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var out []*Case
	var total int
	err := s.read(ctx, func(tx *sql.Tx) error {
		w := where(conds)
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM cases c WHERE `+w, p...).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+caseCols+caseFrom+` WHERE `+w+
			fmt.Sprintf(` ORDER BY c.priority, c.sla_due_us, c.id LIMIT %d OFFSET %d`, limit, max(0, f.Offset)), p...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanCase(rows)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: cases: %w", err)
	}
	return out, total, nil
}

// Classification is what an analyst decides about a case.
type Classification struct {
	Harm     string
	Severity int // 0 unknown, 1..5
	Legal    string
	AgeBand  string
	Flags    []string
	Priority int
}

// CaseChange is one change to a case by one person: a transition, an assignment, a
// classification and/or a note. ChangeCase applies all of it in one transaction.
type CaseChange struct {
	ActorID int64
	Actor   string // for the audit log: "user:3:lan"
	// Version, when non-zero, must equal the case's current version (optimistic locking).
	Version int64
	// To is the new state ("" keeps it); checked against lifecycle.Case.
	To string
	// Assign sets the assignee (a pointer to 0 unassigns).
	Assign *int64
	// Classify replaces the classification.
	Classify *Classification
	// NoteSealed is a note already sealed by the caller; Kind names the event ("note",
	// "needs_info", "reporter_info"...), default "note".
	NoteSealed string
	Kind       string
	// Detail is a short non-personal text for the history ("referred to A05").
	Detail string
	Time   time.Time
	// SLADue, when set with Classify, replaces the due time (a raised priority brings it forward).
	SLADue time.Time
	// QuietClassify leaves out the "classify" history entry of a Classify change whose own
	// entry (Kind, with its Detail and note) says what changed: the scanner's priority raise
	// would otherwise read as if someone had reclassified the case. The audit record of the
	// change is written as always. Refused without a note, so that the history never loses
	// the change.
	QuietClassify bool
}

// ChangeCase applies ch to a case: the one place where a case changes state. The transition is
// checked against lifecycle.Case, the clocks the statistics use are set on the first time a
// state is reached, and the change goes into the case history and the audit log in the same
// transaction.
func (s *Store) ChangeCase(ctx context.Context, id int64, ch CaseChange) (*Case, error) {
	if ch.Time.IsZero() {
		ch.Time = time.Now()
	}
	now := ch.Time.UnixMicro()
	err := s.write(ctx, func(tx *sql.Tx) error {
		c, err := scanCase(tx.QueryRowContext(ctx, `SELECT `+caseCols+caseFrom+` WHERE c.id = $1`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if ch.Version != 0 && ch.Version != c.Version {
			return ErrConflict
		}
		sets := []string{"updated_us = $1", "version = version + 1"}
		p := params{now}
		detail := map[string]any{}
		if ch.To != "" && ch.To != c.State {
			if err := lifecycle.Case.Check(c.State, ch.To); err != nil {
				return err
			}
			if c.State == lifecycle.CaseSecondReview && ch.To == lifecycle.CaseReferred {
				// The second review is a second person's: whoever sent the case to review
				// cannot also pass it.
				var proposer int64
				err := tx.QueryRowContext(ctx, `SELECT COALESCE(actor_id, 0) FROM case_events WHERE case_id = $1 AND kind = 'transition'
					AND to_state = $2 ORDER BY id DESC LIMIT 1`, id, lifecycle.CaseSecondReview).Scan(&proposer)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err
				}
				if err := lifecycle.CheckApproval(proposer, ch.ActorID); err != nil {
					return err
				}
			}
			sets = append(sets, "state = "+p.add(ch.To))
			clock := map[string]struct {
				col string
				at  time.Time
			}{
				lifecycle.CaseTriaged:       {"triaged_us", c.Triaged},
				lifecycle.CaseActionable:    {"assessed_us", c.Assessed},
				lifecycle.CaseNotActionable: {"assessed_us", c.Assessed},
				lifecycle.CaseReferred:      {"referred_us", c.Referred},
				lifecycle.CaseResolved:      {"resolved_us", c.Resolved},
			}
			if k, ok := clock[ch.To]; ok && k.at.IsZero() {
				sets = append(sets, k.col+" = $1")
			}
			switch ch.To {
			case lifecycle.CaseClosed:
				sets = append(sets, "closed_us = $1")
			case lifecycle.CaseReopened:
				sets = append(sets, "closed_us = 0")
			}
			detail["from"], detail["to"] = c.State, ch.To
			if _, err := tx.ExecContext(ctx, `INSERT INTO case_events (case_id, time_us, actor_id, kind, from_state, to_state, detail)
				VALUES ($1, $2, $3, 'transition', $4, $5, $6)`, id, now, nullID(ch.ActorID), c.State, ch.To, cleanText(ch.Detail)); err != nil {
				return err
			}
		}
		if ch.Assign != nil {
			sets = append(sets, "assignee_id = "+p.add(nullID(*ch.Assign)))
			detail["assignee"] = *ch.Assign
			if _, err := tx.ExecContext(ctx, `INSERT INTO case_events (case_id, time_us, actor_id, kind, detail) VALUES ($1, $2, $3, 'assign', $4)`,
				id, now, nullID(ch.ActorID), fmt.Sprintf("user %d", *ch.Assign)); err != nil {
				return err
			}
		}
		if k := ch.Classify; k != nil {
			if k.Priority < 0 || k.Priority > 4 {
				return fmt.Errorf("priority P%d is not P0..P4", k.Priority)
			}
			if ch.QuietClassify && (ch.NoteSealed == "" || ch.Kind == "") {
				return errors.New("a classification change without its own history entry needs a note and its kind")
			}
			sets = append(sets, "harm = "+p.add(k.Harm), "severity = "+p.add(k.Severity), "legal = "+p.add(cleanText(k.Legal)),
				"age_band = "+p.add(k.AgeBand), "flags = "+p.add(strings.Join(k.Flags, ",")), "priority = "+p.add(k.Priority))
			if k.Priority != c.Priority {
				detail["priority"] = k.Priority
			}
			if !ch.SLADue.IsZero() {
				sets = append(sets, "sla_due_us = "+p.add(ch.SLADue.UnixMicro()))
			}
			detail["harm"] = k.Harm
			text := fmt.Sprintf("%s, severity %d, P%d", k.Harm, k.Severity, k.Priority)
			if len(k.Flags) > 0 {
				text += ", " + strings.Join(k.Flags, ", ")
			}
			if !ch.QuietClassify {
				if _, err := tx.ExecContext(ctx, `INSERT INTO case_events (case_id, time_us, actor_id, kind, detail) VALUES ($1, $2, $3, 'classify', $4)`,
					id, now, nullID(ch.ActorID), cleanText(text)); err != nil {
					return err
				}
			}
		}
		if ch.NoteSealed != "" {
			kind := ch.Kind
			if kind == "" {
				kind = "note"
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO case_events (case_id, time_us, actor_id, kind, detail, note_sealed) VALUES ($1, $2, $3, $4, $5, $6)`,
				id, now, nullID(ch.ActorID), kind, cleanText(ch.Detail), ch.NoteSealed); err != nil {
				return err
			}
			detail["note"] = kind
		}
		if _, err := tx.ExecContext(ctx, `UPDATE cases SET `+strings.Join(sets, ", ")+` WHERE id = `+p.add(id), p...); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, AuditEvent{Time: ch.Time, Actor: ch.Actor, Action: "case.change", Object: fmt.Sprintf("case:%d", id), Detail: detail})
	})
	if err != nil {
		return nil, fmt.Errorf("store: change case %d: %w", id, err)
	}
	return s.CaseByID(ctx, id)
}

// CaseEvent is one line of a case's history.
type CaseEvent struct {
	ID         int64
	Time       time.Time
	ActorID    int64
	ActorName  string
	Kind       string
	From, To   string
	Detail     string
	NoteSealed string
}

// CaseEvents returns a case's history, oldest first.
func (s *Store) CaseEvents(ctx context.Context, caseID int64) ([]CaseEvent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT e.id, e.time_us, COALESCE(e.actor_id, 0), COALESCE(u.name, ''), e.kind, e.from_state, e.to_state,
		e.detail, e.note_sealed FROM case_events e LEFT JOIN users u ON u.id = e.actor_id WHERE e.case_id = $1 ORDER BY e.id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("store: events of case %d: %w", caseID, err)
	}
	defer rows.Close()
	var out []CaseEvent
	for rows.Next() {
		var e CaseEvent
		var t int64
		if err := rows.Scan(&e.ID, &t, &e.ActorID, &e.ActorName, &e.Kind, &e.From, &e.To, &e.Detail, &e.NoteSealed); err != nil {
			return nil, fmt.Errorf("store: events of case %d: %w", caseID, err)
		}
		e.Time = usTime(t)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Evidence is what was seen at a URL and when: hashes and metadata, never sexual media.
type Evidence struct {
	ID          int64
	CaseID      int64
	URL         string
	FinalURL    string
	Captured    time.Time
	HTTPStatus  int
	SHA256      string
	PDQ         string
	ContentType string
	Source      string // "analyst", "scanner", "reporter"
	Note        string
	AddedBy     int64
}

// AddEvidence records evidence on a case, audited.
func (s *Store) AddEvidence(ctx context.Context, e Evidence, actor string) (int64, error) {
	if e.Source == "" {
		e.Source = "analyst"
	}
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO evidence (case_id, url, final_url, captured_us, http_status, sha256, pdq, content_type, source, note, added_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
			e.CaseID, cleanText(e.URL), cleanText(e.FinalURL), usOf(e.Captured), e.HTTPStatus, e.SHA256, e.PDQ, cleanText(e.ContentType),
			e.Source, cleanText(e.Note), nullID(e.AddedBy)).Scan(&id)
		if err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, AuditEvent{Time: e.Captured, Actor: actor, Action: "evidence.add", Object: fmt.Sprintf("case:%d", e.CaseID),
			Detail: map[string]any{"evidence": id, "source": e.Source}})
	})
	if err != nil {
		return 0, fmt.Errorf("store: add evidence to case %d: %w", e.CaseID, err)
	}
	return id, nil
}

// CaseEvidence lists a case's evidence, oldest first.
func (s *Store) CaseEvidence(ctx context.Context, caseID int64) ([]Evidence, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, case_id, url, final_url, captured_us, http_status, sha256, pdq, content_type, source, note,
		COALESCE(added_by, 0) FROM evidence WHERE case_id = $1 ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("store: evidence of case %d: %w", caseID, err)
	}
	defer rows.Close()
	var out []Evidence
	for rows.Next() {
		var e Evidence
		var t int64
		if err := rows.Scan(&e.ID, &e.CaseID, &e.URL, &e.FinalURL, &t, &e.HTTPStatus, &e.SHA256, &e.PDQ, &e.ContentType, &e.Source, &e.Note, &e.AddedBy); err != nil {
			return nil, fmt.Errorf("store: evidence of case %d: %w", caseID, err)
		}
		e.Captured = usTime(t)
		out = append(out, e)
	}
	return out, rows.Err()
}

// SealedSample returns one sealed value with its column (the newest report description, else a
// TOTP secret), or "" when the store holds none: serve opens it at start to check that its data
// keys are the ones the data was sealed with.
func (s *Store) SealedSample(ctx context.Context) (column, sealed string, err error) {
	for _, q := range [][2]string{
		{"reports.description_sealed", `SELECT description_sealed FROM reports WHERE description_sealed <> '' ORDER BY id DESC LIMIT 1`},
		{"users.totp_secret", `SELECT totp_secret FROM users WHERE totp_secret <> '' ORDER BY id DESC LIMIT 1`},
	} {
		err := s.r.QueryRowContext(ctx, q[1]).Scan(&sealed)
		if err == nil {
			return q[0], sealed, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return "", "", fmt.Errorf("store: sealed sample: %w", err)
		}
	}
	return "", "", nil
}

// CaseRemoved reports whether a partner acted on any notice of the case (removed, disabled,
// geo-blocked, suspended): what a reporter's status page calls "taken down".
func (s *Store) CaseRemoved(ctx context.Context, caseID int64) (bool, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM notices WHERE case_id = $1 AND actioned_us <> 0`, caseID).Scan(&n); err != nil {
		return false, fmt.Errorf("store: case %d removed: %w", caseID, err)
	}
	return n > 0, nil
}

// CaseURLs returns the distinct canonical URLs and hosts of a case's reports.
func (s *Store) CaseURLs(ctx context.Context, caseID int64) ([]ReportURL, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT MIN(raw), canonical, MIN(host) FROM report_urls WHERE case_id = $1 GROUP BY canonical ORDER BY MIN(id)`, caseID)
	if err != nil {
		return nil, fmt.Errorf("store: URLs of case %d: %w", caseID, err)
	}
	defer rows.Close()
	var out []ReportURL
	for rows.Next() {
		var u ReportURL
		if err := rows.Scan(&u.Raw, &u.Canonical, &u.Host); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}
