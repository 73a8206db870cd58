package store

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// A case's report URLs waiting in the queue are listed with their tries; other cases' jobs,
// other kinds and finished jobs are not.
func TestPendingCaseScans(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		now := time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)
		enqueue := func(kind string, caseID int64, url string) int64 {
			t.Helper()
			id, _, err := s.EnqueueScanJob(ctx, NewScanJob{Kind: kind, Payload: []byte(fmt.Sprintf(`{"case_id":%d,"url":%q}`, caseID, url)), Host: "h.example", MaxAttempts: 5}, now)
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		a := enqueue(ScanJobReportURL, 7, "http://h.example/a")
		b := enqueue(ScanJobReportURL, 7, "http://h.example/b")
		done := enqueue(ScanJobReportURL, 7, "http://h.example/done")
		enqueue(ScanJobReportURL, 71, "http://h.example/case71") // "case_id":71 starts like 7
		enqueue(ScanJobNoticeRecheck, 7, "http://h.example/other-kind")
		// b fails once and waits for its retry; done completes.
		jobs, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "w", Max: 10, PerHost: 10, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			switch j.ID {
			case b:
				if _, err := s.FailScanJob(ctx, j.ID, "w", kindedErr{errors.New("lookup h.example: no such host")}, false, ScanBackoff{Base: time.Minute, Max: time.Hour}, now); err != nil {
					t.Fatal(err)
				}
			case done:
				if err := s.CompleteScanJob(ctx, j.ID, "w", now); err != nil {
					t.Fatal(err)
				}
			}
		}
		ps, err := s.PendingCaseScans(ctx, 7)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]PendingScan{}
		for _, p := range ps {
			got[p.JobID] = p
		}
		if len(ps) != 2 || got[a].URL != "http://h.example/a" || got[a].State != ScanRunning || got[a].Failed {
			t.Fatalf("pending %+v: want a (running) and b", ps)
		}
		if p := got[b]; p.URL != "http://h.example/b" || p.State != ScanQueued || !p.Failed || p.LastErrorKind != "dns" || p.Attempts != 1 || p.MaxAttempts != 5 || !p.NextRun.After(now) {
			t.Errorf("b after a failure: %+v", p)
		}
		if ps, err := s.PendingCaseScans(ctx, 8); err != nil || len(ps) != 0 {
			t.Errorf("a case with no jobs: %+v %v", ps, err)
		}
	})
}

// kindedErr names its failure's kind, as the scanner's errors do.
type kindedErr struct{ error }

func (kindedErr) ScanFailureKind() string { return "dns" }
