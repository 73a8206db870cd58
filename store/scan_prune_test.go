package store

import (
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

// finishJob queues, leases and finishes a job at `at`, done or failed for good.
func finishJob(t *testing.T, s *Store, payload string, at time.Time, done bool) int64 {
	t.Helper()
	ctx := t.Context()
	id := enqueue(t, s, "example.vn", payload, at)
	js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "w", Max: 1, Now: at})
	if err != nil || len(js) != 1 || js[0].ID != id {
		t.Fatalf("lease %s: %v %v", payload, js, err)
	}
	if done {
		err = s.CompleteScanJob(ctx, id, "w", at)
	} else {
		_, err = s.FailScanJob(ctx, id, "w", nil, true, DefaultScanBackoff, at)
	}
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestPruneScanJobs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		old, recent := scanT0.Add(-40*24*time.Hour), scanT0.Add(-time.Hour)
		cutoff := scanT0.Add(-30 * 24 * time.Hour)
		r, err := s.CreateReport(ctx, testReport(1, "https://example.vn/a"))
		if err != nil {
			t.Fatal(err)
		}
		oldDone := finishJob(t, s, `{"n":1}`, old, true)
		oldFailed := finishJob(t, s, `{"n":2}`, old, false)
		// A case shows this job's result: the job stays however old.
		shown := finishJob(t, s, `{"n":3}`, old, true)
		if _, err := s.AddScanResult(ctx, ScanResult{JobID: shown, CaseID: r.CaseID, URL: "https://example.vn/a", Fetched: old}); err != nil {
			t.Fatal(err)
		}
		recentDone := finishJob(t, s, `{"n":4}`, recent, true)
		// Pending jobs are never pruned, whatever their age.
		running := enqueue(t, s, "other.vn", `{"n":5}`, old)
		if js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "w", Max: 1, TTL: 100 * 24 * time.Hour, Now: old}); err != nil || len(js) != 1 || js[0].ID != running {
			t.Fatalf("lease running: %v %v", js, err)
		}
		queued := enqueue(t, s, "third.vn", `{"n":6}`, old)

		n, err := s.PruneScanJobs(ctx, cutoff)
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("pruned %d jobs, want 2", n)
		}
		for _, c := range []struct {
			id   int64
			kept bool
		}{{oldDone, false}, {oldFailed, false}, {shown, true}, {recentDone, true}, {running, true}, {queued, true}} {
			_, err := s.ScanJobByID(ctx, c.id)
			if kept := err == nil; kept != c.kept {
				t.Errorf("job %d kept %v, want %v (%v)", c.id, kept, c.kept, err)
			}
		}
		if rs, err := s.CaseScanResults(ctx, r.CaseID); err != nil || len(rs) != 1 || rs[0].JobID != shown {
			t.Errorf("the case's scan result after pruning: %+v %v", rs, err)
		}
		// Again: nothing left to prune.
		if n, err := s.PruneScanJobs(ctx, cutoff); err != nil || n != 0 {
			t.Errorf("second prune: %d %v", n, err)
		}
	})
}

// More finished jobs than one batch are all pruned.
func TestPruneScanJobsBatches(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		old := scanT0.Add(-40 * 24 * time.Hour)
		want := pruneBatch + 3
		err := s.write(ctx, func(tx *sql.Tx) error {
			for i := range want {
				if _, err := tx.ExecContext(ctx, `INSERT INTO scan_jobs (kind, digest, payload, host, state, max_attempts, next_run_us, created_us, updated_us)
					VALUES ('report_url', $1, '{}', '', 'done', 5, $2, $2, $2)`, scanDigest("report_url", []byte{byte(i), byte(i >> 8)}), old.UnixMicro()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.PruneScanJobs(ctx, scanT0)
		if err != nil || n != want {
			t.Fatalf("pruned %d, want %d (%v)", n, want, err)
		}
		if c, err := s.ScanQueueCounts(ctx); err != nil || c[ScanDone] != 0 {
			t.Errorf("left: %v %v", c, err)
		}
	})
}

// Items seen within the retention stay seen; older ones are forgotten, queued again when a
// source still lists them, and do not make a second suggestion.
func TestPruneSourceSeen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		old, recent := scanT0.Add(-40*24*time.Hour), scanT0.Add(-24*time.Hour)
		if _, err := s.SourceSeenNew(ctx, "bao", []string{"https://a.vn/old"}, old); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SourceSeenNew(ctx, "bao", []string{"https://a.vn/recent"}, recent); err != nil {
			t.Fatal(err)
		}
		if _, created, err := s.AddSourceSuggestion(ctx, SourceSuggestion{Source: "bao", URL: "https://a.vn/old", Canonical: "https://a.vn/old", Created: old}); err != nil || !created {
			t.Fatalf("suggestion: %v %v", created, err)
		}
		n, err := s.PruneSourceSeen(ctx, scanT0.Add(-30*24*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("pruned %d (%v), want 1", n, err)
		}
		got, err := s.SourceSeenNew(ctx, "bao", []string{"https://a.vn/old", "https://a.vn/recent"}, scanT0)
		if err != nil || !slices.Equal(got, []string{"https://a.vn/old"}) {
			t.Fatalf("new after pruning: %v %v, want only the old item", got, err)
		}
		if _, created, err := s.AddSourceSuggestion(ctx, SourceSuggestion{Source: "bao", URL: "https://a.vn/old", Canonical: "https://a.vn/old", Created: scanT0}); err != nil || created {
			t.Errorf("a forgotten item suggested again: created %v, err %v", created, err)
		}
	})
}

func TestUnscannedReportURLsAndEnqueueOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		since := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC) // testReport's reports are received on the 20th
		lost, err := s.CreateReport(ctx, testReport(1, "https://example.vn/lost"))
		if err != nil {
			t.Fatal(err)
		}
		scanned, err := s.CreateReport(ctx, testReport(2, "https://example.vn/scanned"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddScanResult(ctx, ScanResult{CaseID: scanned.CaseID, URL: "https://example.vn/scanned", Fetched: scanT0}); err != nil {
			t.Fatal(err)
		}
		nr := testReport(3, "https://example.vn/old")
		nr.Received = since.Add(-time.Second)
		if _, err := s.CreateReport(ctx, nr); err != nil {
			t.Fatal(err)
		}
		closed, err := s.CreateReport(ctx, testReport(4, "https://example.vn/closed"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ChangeCase(ctx, closed.CaseID, CaseChange{Actor: "user:1:lan", To: lifecycle.CaseNotActionable, Time: scanT0}); err != nil {
			t.Fatal(err)
		}
		got, err := s.UnscannedReportURLs(ctx, since, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].CaseID != lost.CaseID || got[0].ReportID != lost.ReportID || got[0].Raw != "https://example.vn/lost" {
			t.Fatalf("unscanned: %+v, want only the lost report's URL", got)
		}

		j := NewScanJob{Kind: ScanJobReportURL, Payload: []byte(`{"case_id":1,"url":"https://example.vn/lost"}`), Host: "example.vn"}
		a, created, err := s.EnqueueScanJobOnce(ctx, j, scanT0)
		if err != nil || !created {
			t.Fatalf("first: %d %v %v", a, created, err)
		}
		if b, created, err := s.EnqueueScanJobOnce(ctx, j, scanT0); err != nil || created || b != a {
			t.Fatalf("second while queued: %d %v %v (first %d)", b, created, err, a)
		}
		js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "w", Now: scanT0})
		if err != nil || len(js) != 1 {
			t.Fatalf("lease: %v %v", js, err)
		}
		if err := s.CompleteScanJob(ctx, a, "w", scanT0); err != nil {
			t.Fatal(err)
		}
		// Done: the ordinary enqueue would queue it again (a new report of the URL), Once does not.
		if b, created, err := s.EnqueueScanJobOnce(ctx, j, scanT0); err != nil || created || b != a {
			t.Fatalf("once after done: %d %v %v (first %d)", b, created, err, a)
		}
		if c, err := s.ScanQueueCounts(ctx); err != nil || c[ScanQueued] != 0 || c[ScanDone] != 1 {
			t.Errorf("queue: %v %v", c, err)
		}
	})
}
