package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The scanner's job queue (migration 0009). It lives in the store so that it survives a
// restart and is shared by every node of a deployment: on PostgreSQL, leasing takes rows with
// SELECT … FOR UPDATE SKIP LOCKED, so two nodes never lease the same job and never wait on
// each other's rows.

// Scan job states.
const (
	ScanQueued  = "queued"
	ScanRunning = "running"
	ScanDone    = "done"
	ScanFailed  = "failed"
)

// ScanJobReportURL is the kind of job that fetches and scans one URL of a report.
const ScanJobReportURL = "report_url"

// NewScanJob is a job to queue. Payload is the job's JSON; two jobs of the same kind with the
// same payload bytes are the same job, and an identical one still queued or running is not
// queued again.
type NewScanJob struct {
	Kind    string
	Payload []byte
	// Host is the host the job will contact, for the per-host limit ("" for none).
	Host string
	// MaxAttempts is how many times the job is tried before it fails for good (default 5).
	MaxAttempts int
	// NotBefore delays the first run (zero: now).
	NotBefore time.Time
}

// ScanJob is a queued, running or finished job.
type ScanJob struct {
	ID          int64
	Kind        string
	Payload     []byte
	Host        string
	State       string
	Attempts    int
	MaxAttempts int
	NextRun     time.Time
	LeaseOwner  string
	LeaseUntil  time.Time
	LastError   string
	// LastErrorKind is the kind of the last failure (store.ScanFailureKinded), "" when unknown.
	LastErrorKind string
	Created       time.Time
	Updated       time.Time
}

// ScanLease asks for jobs to run.
type ScanLease struct {
	Owner string        // who holds the lease (a node and worker name), for Complete and Fail
	Max   int           // at most this many jobs (default 1)
	TTL   time.Duration // how long the lease lasts before the job is given to another worker (default 5m)
	// PerHost is the most jobs of one host running at once, across every owner (default 2).
	PerHost int
	Now     time.Time
}

// ScanBackoff is the retry schedule of a failed attempt: Base × 2^(attempt-1), at most Max.
type ScanBackoff struct {
	Base, Max time.Duration
}

// DefaultScanBackoff: 30s, 1m, 2m, 4m… up to 1h.
var DefaultScanBackoff = ScanBackoff{Base: 30 * time.Second, Max: time.Hour}

// Delay is the wait after the attempt-th failed attempt (1-based).
func (b ScanBackoff) Delay(attempt int) time.Duration {
	if b.Base <= 0 {
		b = DefaultScanBackoff
	}
	d := b.Base
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	return d
}

func scanDigest(kind string, payload []byte) string {
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(payload)
	return hex.EncodeToString(h.Sum(nil))
}

// prepare fills j's defaults and returns when it first runs and its identity (kind and
// payload) for deduplication.
func (j *NewScanJob) prepare(now time.Time) (next time.Time, digest string, err error) {
	if j.Kind == "" {
		return time.Time{}, "", errors.New("no kind")
	}
	if j.MaxAttempts <= 0 {
		j.MaxAttempts = 5
	}
	if len(j.Payload) == 0 {
		j.Payload = []byte("{}")
	}
	next = now
	if j.NotBefore.After(now) {
		next = j.NotBefore
	}
	return next, scanDigest(j.Kind, j.Payload), nil
}

// EnqueueScanJob queues j unless an identical job is already queued or running; it returns
// the id of the job that will run and whether it is a new one.
func (s *Store) EnqueueScanJob(ctx context.Context, j NewScanJob, now time.Time) (id int64, created bool, err error) {
	next, digest, err := j.prepare(now)
	if err != nil {
		return 0, false, fmt.Errorf("store: enqueue scan job: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO scan_jobs (kind, digest, payload, host, state, max_attempts, next_run_us, created_us, updated_us)
			VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $7) ON CONFLICT DO NOTHING RETURNING id`,
			j.Kind, digest, string(j.Payload), strings.ToLower(j.Host), j.MaxAttempts, next.UnixMicro(), now.UnixMicro()).Scan(&id)
		if err == nil {
			created = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT id FROM scan_jobs WHERE kind = $1 AND digest = $2 AND state IN ('queued', 'running')`,
			j.Kind, digest).Scan(&id)
	})
	if err != nil {
		return 0, false, fmt.Errorf("store: enqueue %s scan job: %w", j.Kind, err)
	}
	return id, created, nil
}

const scanJobCols = `id, kind, payload, host, state, attempts, max_attempts, next_run_us, lease_owner, lease_until_us, last_error, last_error_kind, created_us, updated_us`

func scanScanJob(sc interface{ Scan(...any) error }) (*ScanJob, error) {
	var j ScanJob
	var payload string
	var next, until, created, updated int64
	if err := sc.Scan(&j.ID, &j.Kind, &payload, &j.Host, &j.State, &j.Attempts, &j.MaxAttempts, &next, &j.LeaseOwner, &until,
		&j.LastError, &j.LastErrorKind, &created, &updated); err != nil {
		return nil, err
	}
	j.Payload = []byte(payload)
	j.NextRun, j.LeaseUntil, j.Created, j.Updated = usTime(next), usTime(until), usTime(created), usTime(updated)
	return &j, nil
}

// ScanJobByID returns a job.
func (s *Store) ScanJobByID(ctx context.Context, id int64) (*ScanJob, error) {
	j, err := scanScanJob(s.w.QueryRowContext(ctx, `SELECT `+scanJobCols+` FROM scan_jobs WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: scan job %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: scan job %d: %w", id, err)
	}
	return j, nil
}

// requeueExpired gives the jobs whose lease ran out back to the queue (or fails them when
// their attempts are spent): their worker died or lost the store.
func requeueExpired(ctx context.Context, tx *sql.Tx, now int64) (int64, error) {
	r, err := tx.ExecContext(ctx, `UPDATE scan_jobs SET
			state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
			lease_owner = '', lease_until_us = 0, next_run_us = $1, updated_us = $1,
			last_error = 'lease expired: the worker stopped before finishing'
		WHERE state = 'running' AND lease_until_us < $1`, now)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// RequeueExpiredScanJobs returns to the queue every running job whose lease expired before
// now (LeaseScanJobs does it too, first), and says how many.
func (s *Store) RequeueExpiredScanJobs(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = requeueExpired(ctx, tx, now.UnixMicro())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: requeue expired scan jobs: %w", err)
	}
	return int(n), nil
}

// LeaseScanJobs takes up to l.Max runnable jobs for l.Owner: queued, due (next run not in the
// future), and of a host with fewer than l.PerHost jobs running. Each leased job is running,
// its attempts counted, until Complete, Fail or the lease's expiry. Expired leases are
// requeued first.
func (s *Store) LeaseScanJobs(ctx context.Context, l ScanLease) ([]*ScanJob, error) {
	if l.Owner == "" {
		return nil, errors.New("store: lease scan jobs: no owner")
	}
	if l.Max <= 0 {
		l.Max = 1
	}
	if l.TTL <= 0 {
		l.TTL = 5 * time.Minute
	}
	if l.PerHost <= 0 {
		l.PerHost = 2
	}
	if l.Now.IsZero() {
		l.Now = time.Now()
	}
	now := l.Now.UnixMicro()
	pg := s.dialect == DialectPostgres
	var out []*ScanJob
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		if _, err := requeueExpired(ctx, tx, now); err != nil {
			return err
		}
		// Candidates: more than asked, since some may belong to a host that fills up below.
		q := `SELECT id, host FROM scan_jobs j WHERE state = 'queued' AND next_run_us <= $1
			AND (host = '' OR (SELECT COUNT(*) FROM scan_jobs r WHERE r.state = 'running' AND r.host = j.host) < $2)
			ORDER BY next_run_us, id LIMIT $3`
		if pg {
			// Rows another node is leasing are skipped, not waited for.
			q += ` FOR UPDATE SKIP LOCKED`
		}
		rows, err := tx.QueryContext(ctx, q, now, l.PerHost, l.Max*4+l.PerHost)
		if err != nil {
			return err
		}
		type cand struct {
			id   int64
			host string
		}
		var cands []cand
		for rows.Next() {
			var c cand
			if err := rows.Scan(&c.id, &c.host); err != nil {
				rows.Close()
				return err
			}
			cands = append(cands, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		running := map[string]int{}
		for _, c := range cands {
			if len(out) == l.Max {
				break
			}
			if c.host != "" {
				if _, seen := running[c.host]; !seen {
					if pg {
						// The per-host count must hold across nodes: whoever holds the host's
						// lock counts and leases for it; a node that cannot take the lock leaves
						// that host's jobs to the node that has it.
						var ok bool
						if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock(hashtext('kidshield.scan_host:' || $1))`, c.host).Scan(&ok); err != nil {
							return err
						}
						if !ok {
							running[c.host] = l.PerHost
							continue
						}
					}
					var n int
					if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM scan_jobs WHERE state = 'running' AND host = $1`, c.host).Scan(&n); err != nil {
						return err
					}
					running[c.host] = n
				}
				if running[c.host] >= l.PerHost {
					continue
				}
			}
			j, err := scanScanJob(tx.QueryRowContext(ctx, `UPDATE scan_jobs SET state = 'running', attempts = attempts + 1,
				lease_owner = $1, lease_until_us = $2, updated_us = $3 WHERE id = $4 AND state = 'queued' RETURNING `+scanJobCols,
				l.Owner, l.Now.Add(l.TTL).UnixMicro(), now, c.id))
			if errors.Is(err, sql.ErrNoRows) {
				continue // taken meanwhile (SQLite cannot race here; kept for safety)
			}
			if err != nil {
				return err
			}
			if c.host != "" {
				running[c.host]++
			}
			out = append(out, j)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: lease scan jobs: %w", err)
	}
	return out, nil
}

// ExtendScanLease pushes a running job's lease to now+ttl; ErrConflict when owner no longer
// holds it.
func (s *Store) ExtendScanLease(ctx context.Context, id int64, owner string, now time.Time, ttl time.Duration) error {
	return s.finishScanJob(ctx, id, owner, `lease_until_us = $3, updated_us = $4`, now.Add(ttl).UnixMicro(), now.UnixMicro())
}

// CompleteScanJob marks a leased job done. ErrConflict: the lease was lost (it expired and
// the job went to another worker), and this worker's result should not be taken as the job's.
func (s *Store) CompleteScanJob(ctx context.Context, id int64, owner string, now time.Time) error {
	return s.finishScanJob(ctx, id, owner, `state = 'done', lease_owner = '', lease_until_us = 0, last_error = '', updated_us = $3`, now.UnixMicro())
}

// ReleaseScanJob gives a leased job back to the queue at once without counting the attempt:
// the worker is shutting down, not failing.
func (s *Store) ReleaseScanJob(ctx context.Context, id int64, owner string, now time.Time) error {
	return s.finishScanJob(ctx, id, owner, `state = 'queued', attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,
		lease_owner = '', lease_until_us = 0, next_run_us = $3, updated_us = $3`, now.UnixMicro())
}

// ScanFailureKinded is an error that names the kind of a scan's failure (the scanner wraps
// its errors in one: scanner.FailureKind); FailScanJob keeps the kind beside the message.
type ScanFailureKinded interface {
	error
	ScanFailureKind() string
}

// FailScanJob records a failed attempt of a leased job: back to the queue after the backoff
// of its attempt count, or failed for good when its attempts are spent or permanent is set (a
// URL the guard refuses will not be accepted on a retry). It returns the job's new state.
// When cause is (or wraps) a ScanFailureKinded, its kind is kept as the job's last error kind.
func (s *Store) FailScanJob(ctx context.Context, id int64, owner string, cause error, permanent bool, b ScanBackoff, now time.Time) (string, error) {
	msg, kind := "failed", ""
	if cause != nil {
		msg = cause.Error()
		var k ScanFailureKinded
		if errors.As(cause, &k) {
			kind = k.ScanFailureKind()
		}
	}
	if len(msg) > 500 {
		msg = msg[:500]
	}
	msg = cleanText(msg)
	var state string
	err := s.write(ctx, func(tx *sql.Tx) error {
		var attempts, maxAttempts int
		err := tx.QueryRowContext(ctx, `SELECT attempts, max_attempts FROM scan_jobs WHERE id = $1 AND state = 'running' AND lease_owner = $2`,
			id, owner).Scan(&attempts, &maxAttempts)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrConflict
		}
		if err != nil {
			return err
		}
		state = ScanQueued
		next := now.Add(b.Delay(attempts))
		if permanent || attempts >= maxAttempts {
			state, next = ScanFailed, now
		}
		_, err = tx.ExecContext(ctx, `UPDATE scan_jobs SET state = $1, next_run_us = $2, last_error = $3, last_error_kind = $4, lease_owner = '',
			lease_until_us = 0, updated_us = $5 WHERE id = $6`, state, next.UnixMicro(), msg, cleanText(kind), now.UnixMicro(), id)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("store: fail scan job %d: %w", id, err)
	}
	return state, nil
}

func (s *Store) finishScanJob(ctx context.Context, id int64, owner, set string, args ...any) error {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE scan_jobs SET `+set+` WHERE id = $1 AND state = 'running' AND lease_owner = $2`,
			append([]any{id, owner}, args...)...)
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("store: scan job %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: scan job %d: not leased by %s: %w", id, owner, ErrConflict)
	}
	return nil
}

// ScanQueueCounts returns how many jobs are in each state.
func (s *Store) ScanQueueCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT state, COUNT(*) FROM scan_jobs GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("store: scan queue counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("store: scan queue counts: %w", err)
		}
		out[st] = n
	}
	return out, rows.Err()
}
