package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Housekeeping of the scanner's tables for a long-running deployment: finished jobs and the
// monitored sources' seen items are pruned by age, and report URLs whose enqueue was lost
// (the process died between the report's commit and the hotline's hook) are found again.

// pruneBatch is how many jobs one transaction deletes: the first pruning of a store that ran
// for months must not hold SQLite's write lock (and stall reports) for the whole of it.
const pruneBatch = 1000

// PruneScanJobs deletes the jobs finished (done or failed) and last updated before before,
// except those a scan result names: a case shows its scan results, and they keep their job.
// Queued and running jobs are never pruned. It returns how many jobs it deleted.
func (s *Store) PruneScanJobs(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		var n int64
		err := s.write(ctx, func(tx *sql.Tx) error {
			// scan_results.job_id has no index; NOT IN reads it once per statement (SQLite and
			// PostgreSQL both build a set of it) instead of once per job.
			r, err := tx.ExecContext(ctx, `DELETE FROM scan_jobs WHERE id IN (SELECT id FROM scan_jobs
				WHERE state IN ('done', 'failed') AND updated_us < $1 AND id NOT IN (SELECT job_id FROM scan_results)
				ORDER BY id LIMIT $2)`, before.UnixMicro(), pruneBatch)
			if err != nil {
				return err
			}
			n, err = r.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("store: prune scan jobs finished before %s: %w", before.UTC().Format(time.RFC3339), err)
		}
		total += int(n)
		if n < pruneBatch {
			return total, nil
		}
	}
}

// PruneSourceSeen forgets the items the monitored sources first yielded before before. An
// item seen since is kept, so it is not queued again. One forgotten and still listed by its
// source is fetched once more, and never becomes a second suggestion: suggestions are unique
// by canonical URL and kept, and a URL a report names is never suggested (AddSourceSuggestion).
// It returns how many items it forgot.
func (s *Store) PruneSourceSeen(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `DELETE FROM scan_source_seen WHERE first_seen_us < $1`, before.UnixMicro())
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune items seen before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	return int(n), nil
}

// UnscannedReportURL is a URL of a report whose case has no scan result for it.
type UnscannedReportURL struct {
	CaseID    int64
	CaseRef   string
	ReportID  int64
	Raw       string
	Canonical string
}

// UnscannedReportURLs lists, oldest first and at most limit, the URLs of reports received at
// or after since whose case is open and has no scan result for the URL (as given or in
// canonical form): the candidates of the scanner's catch-up. A URL still queued, or whose scan
// failed without a result, is listed too; EnqueueScanJobOnce tells those apart.
func (s *Store) UnscannedReportURLs(ctx context.Context, since time.Time, limit int) ([]UnscannedReportURL, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.r.QueryContext(ctx, `SELECT c.id, c.ref, r.id, u.raw, u.canonical FROM report_urls u
		JOIN reports r ON r.id = u.report_id JOIN cases c ON c.id = u.case_id
		WHERE r.received_us >= $1 AND c.state NOT IN ('closed', 'purged', 'not_actionable')
		AND NOT EXISTS (SELECT 1 FROM scan_results x WHERE x.case_id = c.id AND (x.url = u.raw OR x.url = u.canonical))
		ORDER BY u.id LIMIT $2`, since.UnixMicro(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: unscanned report URLs: %w", err)
	}
	defer rows.Close()
	var out []UnscannedReportURL
	for rows.Next() {
		var u UnscannedReportURL
		if err := rows.Scan(&u.CaseID, &u.CaseRef, &u.ReportID, &u.Raw, &u.Canonical); err != nil {
			return nil, fmt.Errorf("store: unscanned report URLs: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: unscanned report URLs: %w", err)
	}
	return out, nil
}

// EnqueueScanJobOnce queues j unless a job of the same kind and payload exists in any state
// (EnqueueScanJob only looks at pending ones, since a later report may ask for a URL to be
// scanned again): a catch-up that runs twice, or on two nodes at once, queues a job once.
// It returns the id of the existing or new job and whether it is new.
func (s *Store) EnqueueScanJobOnce(ctx context.Context, j NewScanJob, now time.Time) (id int64, created bool, err error) {
	next, digest, err := j.prepare(now)
	if err != nil {
		return 0, false, fmt.Errorf("store: enqueue scan job once: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		id, created = 0, false
		if s.dialect == DialectPostgres {
			// Two nodes catching up at once: the second waits for the first's commit and then
			// sees its job. (SQLite has one writer at a time.)
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('kidshield.scan_once:' || $1))`, digest); err != nil {
				return err
			}
		}
		// Pending first (the partial unique index answers it), then any state.
		for _, q := range []string{
			`SELECT id FROM scan_jobs WHERE kind = $1 AND digest = $2 AND state IN ('queued', 'running')`,
			`SELECT id FROM scan_jobs WHERE kind = $1 AND digest = $2 ORDER BY id DESC LIMIT 1`,
		} {
			err := tx.QueryRowContext(ctx, q, j.Kind, digest).Scan(&id)
			if err == nil {
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO scan_jobs (kind, digest, payload, host, state, max_attempts, next_run_us, created_us, updated_us)
			VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $7) RETURNING id`,
			j.Kind, digest, string(j.Payload), strings.ToLower(j.Host), j.MaxAttempts, next.UnixMicro(), now.UnixMicro()).Scan(&id)
		created = err == nil
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("store: enqueue %s scan job once: %w", j.Kind, err)
	}
	return id, created, nil
}
