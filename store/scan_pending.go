package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// PendingScan is a report URL of a case still waiting in the scanner's queue: not scanned
// yet, running, or failed and waiting for its next try.
type PendingScan struct {
	JobID       int64
	URL         string
	State       string // ScanQueued or ScanRunning
	Attempts    int    // tries made so far
	MaxAttempts int
	NextRun     time.Time
	Failed      bool // the last try failed (LastError holds why)
	LastError   string
	// LastErrorKind is the last failure's kind (scanner.FailureKind), "" when unknown.
	LastErrorKind string
}

// PendingCaseScans returns the case's report_url jobs that are queued or running, oldest
// first, so that the case page can say a scan is on its way (and that a failing one will be
// tried again) rather than nothing at all. The scanner writes the payload as
// {"case_id":N,"url":…}; the prefix narrows the pending jobs in SQL and the decoded payload
// decides.
func (s *Store) PendingCaseScans(ctx context.Context, caseID int64) ([]PendingScan, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, payload, state, attempts, max_attempts, next_run_us, last_error, last_error_kind FROM scan_jobs
		WHERE kind = $1 AND state IN ($2, $3) AND payload LIKE $4 ORDER BY id`,
		ScanJobReportURL, ScanQueued, ScanRunning, fmt.Sprintf(`{"case_id":%d,%%`, caseID))
	if err != nil {
		return nil, fmt.Errorf("store: pending scans of case %d: %w", caseID, err)
	}
	defer rows.Close()
	var out []PendingScan
	for rows.Next() {
		var p PendingScan
		var payload string
		var next int64
		if err := rows.Scan(&p.JobID, &payload, &p.State, &p.Attempts, &p.MaxAttempts, &next, &p.LastError, &p.LastErrorKind); err != nil {
			return nil, fmt.Errorf("store: pending scans of case %d: %w", caseID, err)
		}
		var j struct {
			CaseID int64  `json:"case_id"`
			URL    string `json:"url"`
		}
		if json.Unmarshal([]byte(payload), &j) != nil || j.CaseID != caseID {
			continue
		}
		p.URL, p.NextRun, p.Failed = j.URL, usTime(next), p.LastError != ""
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: pending scans of case %d: %w", caseID, err)
	}
	return out, nil
}
