package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/kidshield/kidshield/audit"
)

// AuditEvent is one entry for the audit log: who did what to which object.
//
// Detail must never hold personal data — no contact details, descriptions, notes, names,
// addresses or URLs a reporter typed. It names what was seen or changed: ids, field names,
// states, counts. Its values may only be strings, numbers, booleans or lists of strings;
// anything else (nested objects, byte slices, structs) is refused, so that a whole record
// cannot be dropped into the log by accident.
type AuditEvent struct {
	Time   time.Time // zero: now
	Actor  string    // "user:12", "token:3", "system:purge", "cli"
	Action string    // "case.view", "report.create", "keys.rotate", ...
	Object string    // "case:2026-000123", "user:4", ...
	Detail map[string]any
}

// auditLockKey is the pg_advisory_xact_lock key that serialises appends on PostgreSQL
// ("ksaudit" in ASCII).
const auditLockKey = 0x6b7361756469

// AppendAudit appends e to the audit log in a transaction of its own.
func (s *Store) AppendAudit(ctx context.Context, e AuditEvent) error {
	return s.write(ctx, func(tx *sql.Tx) error { return s.appendAudit(ctx, tx, e) })
}

// appendAudit appends e inside tx, a write transaction of the caller's, so that a change and
// its audit record commit (or roll back) together. tx must be a transaction on s.w at the
// default isolation (READ COMMITTED on PostgreSQL): appends are serialised by SQLite's single
// writer connection, and on PostgreSQL by a transaction-scoped advisory lock taken before the
// head is read, so the head read is the last committed one and seq has no gaps. The lock is
// held until tx ends: append last in a long transaction.
func (s *Store) appendAudit(ctx context.Context, tx *sql.Tx, e AuditEvent) error {
	detail, err := auditDetail(e.Detail)
	if err != nil {
		return fmt.Errorf("store: audit %s: %w", e.Action, err)
	}
	if e.Action == "" {
		return errors.New("store: audit: empty action")
	}
	t := e.Time
	if t.IsZero() {
		t = time.Now()
	}
	if s.dialect == DialectPostgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(auditLockKey)); err != nil {
			return fmt.Errorf("store: audit %s: lock: %w", e.Action, err)
		}
	}
	var head int64
	var prev string
	err = tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&head, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: audit %s: read head: %w", e.Action, err)
	}
	rec := audit.Record{
		Seq:      head + 1,
		TimeUS:   t.UnixMicro(),
		Actor:    cleanText(e.Actor),
		Action:   cleanText(e.Action),
		Object:   cleanText(e.Object),
		Detail:   detail,
		PrevHash: prev,
	}
	rec.Hash = audit.Hash(prev, rec)
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log (seq, time_us, actor, action, object, detail, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		rec.Seq, rec.TimeUS, rec.Actor, rec.Action, rec.Object, rec.Detail, rec.PrevHash, rec.Hash)
	if err != nil {
		return fmt.Errorf("store: audit %s: %w", e.Action, err)
	}
	return nil
}

// auditDetail checks d's values and encodes it as JSON with sorted keys (encoding/json sorts
// map keys), so the stored bytes, which the hash covers, are one fixed encoding.
func auditDetail(d map[string]any) (string, error) {
	if len(d) == 0 {
		return "{}", nil
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	clean := make(map[string]any, len(d))
	for _, k := range keys {
		switch v := d[k].(type) {
		case string:
			clean[cleanText(k)] = cleanText(v)
		case []string:
			l := make([]string, len(v))
			for i, x := range v {
				l[i] = cleanText(x)
			}
			clean[cleanText(k)] = l
		case bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
			clean[cleanText(k)] = v
		case float32:
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return "", fmt.Errorf("detail %q: %v is not a JSON number", k, v)
			}
			clean[cleanText(k)] = v
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return "", fmt.Errorf("detail %q: %v is not a JSON number", k, v)
			}
			clean[cleanText(k)] = v
		default:
			return "", fmt.Errorf("detail %q: a %T is not allowed (only string, number, bool, []string)", k, v)
		}
	}
	b, err := json.Marshal(clean)
	if err != nil {
		return "", fmt.Errorf("detail: %w", err)
	}
	return string(b), nil
}

const auditColumns = "seq, time_us, actor, action, object, detail, prev_hash, hash"

func scanAudit(rows *sql.Rows) ([]audit.Record, error) {
	defer rows.Close()
	var out []audit.Record
	for rows.Next() {
		var r audit.Record
		if err := rows.Scan(&r.Seq, &r.TimeUS, &r.Actor, &r.Action, &r.Object, &r.Detail, &r.PrevHash, &r.Hash); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// AuditRange returns up to limit records with seq > afterSeq, in seq order.
func (s *Store) AuditRange(ctx context.Context, afterSeq int64, limit int) ([]audit.Record, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.r.QueryContext(ctx, "SELECT "+auditColumns+" FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2", afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("store: audit range: %w", err)
	}
	out, err := scanAudit(rows)
	if err != nil {
		return nil, fmt.Errorf("store: audit range: %w", err)
	}
	return out, nil
}

// AuditHead returns the seq and hash of the last record: 0 and "" for an empty log.
func (s *Store) AuditHead(ctx context.Context) (seq int64, hash string, err error) {
	err = s.r.QueryRowContext(ctx, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("store: audit head: %w", err)
	}
	return seq, hash, nil
}

// AuditRecords returns a reader of the whole log in seq order, batch records per query, for
// audit.Verify. Records appended while it reads are read too.
func (s *Store) AuditRecords(ctx context.Context, batch int) func() (audit.Record, bool, error) {
	if batch <= 0 {
		batch = 1000
	}
	var buf []audit.Record
	var after int64
	done := false
	return func() (audit.Record, bool, error) {
		if len(buf) == 0 && !done {
			var err error
			if buf, err = s.AuditRange(ctx, after, batch); err != nil {
				return audit.Record{}, false, err
			}
			if len(buf) < batch {
				done = true
			}
		}
		if len(buf) == 0 {
			return audit.Record{}, false, nil
		}
		r := buf[0]
		buf = buf[1:]
		after = r.Seq
		return r, true, nil
	}
}

// AuditFilter selects records for the admin page. Empty fields match everything.
type AuditFilter struct {
	ObjectPrefix string    // "case:" or "case:2026-000123"
	Actor        string    // exact
	Action       string    // exact; a value ending in "." is a prefix ("case.")
	Since, Until time.Time // Since <= time < Until
	BeforeSeq    int64     // only seq < BeforeSeq (paging: the last seq of the previous page)
	Limit        int       // default 100, at most 1000
}

// AuditList returns the records f selects, newest first.
func (s *Store) AuditList(ctx context.Context, f AuditFilter) ([]audit.Record, error) {
	var p params
	var conds []string
	prefix := func(col, v string) string {
		// substr rather than LIKE: LIKE is case-insensitive on SQLite, case-sensitive on
		// PostgreSQL, and would need its wildcards escaped.
		return fmt.Sprintf("substr(%s, 1, %s) = %s", col, p.add(len([]rune(v))), p.add(v))
	}
	if f.ObjectPrefix != "" {
		conds = append(conds, prefix("object", f.ObjectPrefix))
	}
	if f.Actor != "" {
		conds = append(conds, "actor = "+p.add(f.Actor))
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			conds = append(conds, prefix("action", f.Action))
		} else {
			conds = append(conds, "action = "+p.add(f.Action))
		}
	}
	if !f.Since.IsZero() {
		conds = append(conds, "time_us >= "+p.add(f.Since.UnixMicro()))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "time_us < "+p.add(f.Until.UnixMicro()))
	}
	if f.BeforeSeq > 0 {
		conds = append(conds, "seq < "+p.add(f.BeforeSeq))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	q := "SELECT " + auditColumns + " FROM audit_log WHERE " + where(conds) + " ORDER BY seq DESC LIMIT " + p.add(limit)
	rows, err := s.r.QueryContext(ctx, q, p...)
	if err != nil {
		return nil, fmt.Errorf("store: audit list: %w", err)
	}
	out, err := scanAudit(rows)
	if err != nil {
		return nil, fmt.Errorf("store: audit list: %w", err)
	}
	return out, nil
}

// VerifyAudit walks the whole log with audit.Verify.
func (s *Store) VerifyAudit(ctx context.Context) (audit.Result, error) {
	return audit.Verify(ctx, s.AuditRecords(ctx, 1000))
}
