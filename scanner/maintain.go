package scanner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kidshield/kidshield/store"
)

// Maintenance for a scanner that runs for months: finished jobs and the sources' seen items
// are pruned after KeepJobs, and report URLs that were never queued are queued (the catch-up).
// It runs when the scanner starts and then every MaintainEvery, on every node: each step is
// idempotent, so two nodes doing it at once do no harm.

// DefaultCatchUpWindow is how far back the catch-up looks for report URLs never queued. It
// must stay under the shortest KeepJobs (config: 7 days), so that a finished job it would
// otherwise queue again is still there to be seen.
const DefaultCatchUpWindow = 72 * time.Hour

// maxCatchUp bounds the URLs one catch-up queues; the next run takes the rest.
const maxCatchUp = 5000

// CatchUp queues a scan of every URL of a report received within CatchUpWindow whose case is
// open and has no scan result for it, unless a job for it exists in any state. The hotline
// queues a report's URLs after the report commits (OnReport); a process that dies between
// the two would otherwise leave them unscanned for good. The job is the very one OnReport
// would have queued (same payload), so CatchUp run twice, on two nodes, or racing OnReport
// queues it once. It returns how many jobs it queued.
func (s *Service) CatchUp(ctx context.Context) (int, error) {
	now := s.o.Now()
	us, err := s.o.Store.UnscannedReportURLs(ctx, now.Add(-s.o.CatchUpWindow), maxCatchUp)
	if err != nil {
		return 0, fmt.Errorf("scanner: catch-up: %w", err)
	}
	n := 0
	var errs []error
	for _, u := range us {
		raw := store.ReportURL{Raw: u.Raw, Canonical: u.Canonical}.Fetchable()
		payload, err := json.Marshal(reportJob{CaseID: u.CaseID, URL: raw})
		if err != nil {
			return n, fmt.Errorf("scanner: catch-up: %w", err)
		}
		_, created, err := s.o.Store.EnqueueScanJobOnce(ctx, store.NewScanJob{Kind: store.ScanJobReportURL, Payload: payload, Host: jobHost(raw),
			MaxAttempts: s.o.MaxAttempts}, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if created {
			n++
			// The case reference only: the URL may carry personal data in its path or query.
			s.o.Logger.Info("scanner: report URL queued by the catch-up (its report's hook did not queue it)", "case", u.CaseRef)
		}
	}
	s.wakeWorkers(n)
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("scanner: catch-up: %w", err)
	}
	return n, nil
}

// MaintainResult says what one maintenance did.
type MaintainResult struct {
	JobsPruned, SeenPruned, CaughtUp int
}

// Maintain prunes the jobs finished and the items first seen more than KeepJobs ago (a job
// whose result a case shows is kept), then runs the catch-up. A failed step does not stop
// the others; their errors are joined.
func (s *Service) Maintain(ctx context.Context) (MaintainResult, error) {
	var r MaintainResult
	var errs []error
	before := s.o.Now().Add(-s.o.KeepJobs)
	var err error
	if r.JobsPruned, err = s.o.Store.PruneScanJobs(ctx, before); err != nil {
		errs = append(errs, err)
	}
	if r.SeenPruned, err = s.o.Store.PruneSourceSeen(ctx, before); err != nil {
		errs = append(errs, err)
	}
	if r.CaughtUp, err = s.CatchUp(ctx); err != nil {
		errs = append(errs, err)
	}
	return r, errors.Join(errs...)
}

// maintainLoop runs Maintain at once and then every MaintainEvery until ctx ends.
func (s *Service) maintainLoop(ctx context.Context) {
	every(ctx, s.o.MaintainEvery, func() {
		r, err := s.Maintain(ctx)
		if err != nil && ctx.Err() == nil {
			s.o.Logger.Warn("scanner: maintenance incomplete; retried at the next run", "err", err)
		}
		s.o.Logger.Info("scanner: maintenance", "jobs_pruned", r.JobsPruned, "seen_pruned", r.SeenPruned, "caught_up", r.CaughtUp)
	})
}

// every runs fn at once and then d after each run ends (not on a fixed beat: a slow run
// does not pile up the next ones) until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
		t.Reset(d)
	}
}
