package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline/lifecycle"
)

// PurgeResult counts what one PurgeHotline run removed.
type PurgeResult struct {
	Contacts    int // reports whose contact details were blanked
	Reports     int // reports whose description was blanked (purged_us set)
	Cases       int // cases moved closed → purged
	Attachments int // attachments deleted
	Notes       int // case notes blanked
	Sessions    int // expired sessions deleted
}

// purgeBatch is how many cases one transaction purges.
const purgeBatch = 100

// PurgeHotline applies the retention periods (HOTLINE.md: personal data is kept only as long
// as needed). Periods count from a case's closing (cases.closed_us), so a case still being
// handled, or reopened, keeps everything:
//
//   - closed longer than r.Contact: the reporters' contact details (reports.contact_sealed)
//     are blanked;
//   - closed longer than r.Reports: descriptions, the hashed address (ip_hash), contact
//     details, attachments and the text of case notes are removed, reports.purged_us is set,
//     and the case moves closed → purged (a final state: it cannot be reopened);
//   - sessions that expired more than r.Sessions ago are deleted.
//
// Everything the statistics read stays: harm, channel, priority, age band, province, platform,
// every clock, report counts, the URLs and the case history's kinds and states. Work is done in
// batches, each one transaction; the run is audited as "hotline.purge" with its counts only.
// On an error the counts say what was committed before it.
func (s *Store) PurgeHotline(ctx context.Context, now time.Time, r config.Retention) (PurgeResult, error) {
	var res PurgeResult
	if r.Contact <= 0 || r.Reports <= 0 || r.Sessions < 0 {
		return res, fmt.Errorf("store: purge: retention periods must be positive (contact %s, reports %s, sessions %s)", r.Contact, r.Reports, r.Sessions)
	}
	nowUS := now.UnixMicro()
	contactCut := now.Add(-r.Contact).UnixMicro()
	reportsCut := now.Add(-r.Reports).UnixMicro()
	sessionsCut := now.Add(-r.Sessions).UnixMicro()

	// Cases past the reports period, a batch at a time.
	for {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("store: purge: %w", err)
		}
		n, err := s.purgeCases(ctx, nowUS, reportsCut, &res)
		if err != nil {
			return res, fmt.Errorf("store: purge cases: %w", err)
		}
		if n < purgeBatch {
			break
		}
	}

	err := s.write(ctx, func(tx *sql.Tx) error {
		// Contact details of cases closed longer than the contact period. The subquery and
		// the update are one statement, so a case reopened meanwhile is either seen open or
		// blanked before it reopened: never blanked after.
		r, err := tx.ExecContext(ctx, `UPDATE reports SET contact_sealed = ''
			WHERE contact_sealed <> '' AND case_id IN
			(SELECT id FROM cases WHERE state = $1 AND closed_us <> 0 AND closed_us <= $2)`,
			lifecycle.CaseClosed, contactCut)
		if err != nil {
			return fmt.Errorf("contacts: %w", err)
		}
		res.Contacts += rowsAffected(r)
		r, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_us <= $1`, sessionsCut)
		if err != nil {
			return fmt.Errorf("sessions: %w", err)
		}
		res.Sessions = rowsAffected(r)
		return s.appendAudit(ctx, tx, AuditEvent{Time: now, Actor: "system:purge", Action: "hotline.purge", Object: "retention",
			Detail: map[string]any{"contacts": res.Contacts, "reports": res.Reports, "cases": res.Cases,
				"attachments": res.Attachments, "notes": res.Notes, "sessions": res.Sessions}})
	})
	if err != nil {
		return res, fmt.Errorf("store: purge: %w", err)
	}
	return res, nil
}

// purgeCases purges up to purgeBatch closed cases whose closing is at or before cut, in one
// transaction, and returns how many it looked at.
func (s *Store) purgeCases(ctx context.Context, nowUS, cut int64, res *PurgeResult) (int, error) {
	if err := lifecycle.Case.Check(lifecycle.CaseClosed, lifecycle.CasePurged); err != nil {
		return 0, err
	}
	var n int
	var add PurgeResult
	err := s.write(ctx, func(tx *sql.Tx) error {
		q := `SELECT id FROM cases WHERE state = $1 AND closed_us <> 0 AND closed_us <= $2 ORDER BY id LIMIT ` + fmt.Sprint(purgeBatch)
		if s.dialect == DialectPostgres {
			q += " FOR UPDATE" // a concurrent reopen waits, or wins and the state test below skips the case
		}
		rows, err := tx.QueryContext(ctx, q, lifecycle.CaseClosed, cut)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		n = len(ids)
		add = PurgeResult{}
		for _, id := range ids {
			r, err := tx.ExecContext(ctx, `UPDATE cases SET state = $1, updated_us = $2, version = version + 1 WHERE id = $3 AND state = $4`,
				lifecycle.CasePurged, nowUS, id, lifecycle.CaseClosed)
			if err != nil {
				return err
			}
			if rowsAffected(r) == 0 {
				continue
			}
			add.Cases++
			if _, err := tx.ExecContext(ctx, `INSERT INTO case_events (case_id, time_us, kind, from_state, to_state, detail)
				VALUES ($1, $2, 'transition', $3, $4, 'retention period ended')`, id, nowUS, lifecycle.CaseClosed, lifecycle.CasePurged); err != nil {
				return err
			}
			if r, err = tx.ExecContext(ctx, `DELETE FROM attachments WHERE report_id IN (SELECT id FROM reports WHERE case_id = $1)`, id); err != nil {
				return err
			}
			add.Attachments += rowsAffected(r)
			if r, err = tx.ExecContext(ctx, `UPDATE reports SET contact_sealed = '' WHERE case_id = $1 AND contact_sealed <> ''`, id); err != nil {
				return err
			}
			add.Contacts += rowsAffected(r)
			if r, err = tx.ExecContext(ctx, `UPDATE reports SET description_sealed = '', ip_hash = '', purged_us = $1
				WHERE case_id = $2 AND purged_us = 0`, nowUS, id); err != nil {
				return err
			}
			add.Reports += rowsAffected(r)
			if r, err = tx.ExecContext(ctx, `UPDATE case_events SET note_sealed = '' WHERE case_id = $1 AND note_sealed <> ''`, id); err != nil {
				return err
			}
			add.Notes += rowsAffected(r)
		}
		if add.Cases == 0 {
			return nil
		}
		return s.appendAudit(ctx, tx, AuditEvent{Actor: "system:purge", Action: "hotline.purge_cases", Object: "retention",
			Detail: map[string]any{"cases": add.Cases, "reports": add.Reports, "attachments": add.Attachments, "notes": add.Notes, "contacts": add.Contacts}})
	})
	if err != nil {
		return 0, err
	}
	res.Cases += add.Cases
	res.Reports += add.Reports
	res.Attachments += add.Attachments
	res.Notes += add.Notes
	res.Contacts += add.Contacts
	return n, nil
}

func rowsAffected(r sql.Result) int {
	n, err := r.RowsAffected()
	if err != nil {
		return 0
	}
	return int(n)
}
