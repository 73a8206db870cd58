package store

import (
	"fmt"
	"testing"
	"time"
)

var scanMutT0 = time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)

func scanMutEnqueue(t *testing.T, s *Store, host, payload string) int64 {
	t.Helper()
	id, created, err := s.EnqueueScanJob(t.Context(), NewScanJob{Kind: ScanJobReportURL, Payload: []byte(payload), Host: host, MaxAttempts: 3}, scanMutT0)
	if err != nil || !created {
		t.Fatalf("enqueue %s: created %v, %v", payload, created, err)
	}
	return id
}

// The zero ScanLease takes the documented defaults: two jobs of one host at once, and a
// lease of five minutes, after which (and not before) the job goes back to the queue.
func TestScanLeaseDefaults(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		for _, p := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
			scanMutEnqueue(t, s, "a.vn", p)
		}
		js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "w1", Max: 3, Now: scanMutT0})
		if err != nil {
			t.Fatal(err)
		}
		if len(js) != 2 {
			t.Fatalf("leased %d jobs of one host with the default per-host limit, want 2", len(js))
		}
		// Just before the default TTL: nothing comes back; just after: the leased jobs do
		// (the third is still queued, so Max 3 shows them all).
		before, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "w2", Max: 3, PerHost: 10, Now: scanMutT0.Add(5*time.Minute - time.Millisecond)})
		if err != nil {
			t.Fatal(err)
		}
		if len(before) != 1 {
			t.Fatalf("before the lease ran out: leased %d, want only the third job", len(before))
		}
		after, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "w3", Max: 3, PerHost: 10, Now: scanMutT0.Add(5*time.Minute + time.Millisecond)})
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != 2 {
			t.Fatalf("after the 5 min lease ran out: leased %d, want the 2 expired ones", len(after))
		}
	})
}

// A lease ends at its TTL exactly: a millisecond later the job is another worker's.
func TestScanLeaseExpiryBoundary(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		id := scanMutEnqueue(t, s, "b.vn", `{"n":1}`)
		if js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "w1", TTL: time.Minute, Now: scanMutT0}); err != nil || len(js) != 1 {
			t.Fatalf("lease: %v %v", js, err)
		}
		n, err := s.RequeueExpiredScanJobs(ctx, scanMutT0.Add(time.Minute+time.Millisecond))
		if err != nil || n != 1 {
			t.Fatalf("a millisecond after the lease: requeued %d (%v), want 1", n, err)
		}
		j, err := s.ScanJobByID(ctx, id)
		if err != nil || j.State != ScanQueued || j.LeaseOwner != "" {
			t.Fatalf("job after expiry: %+v %v", j, err)
		}
	})
}

// Host names are compared without case: "A.VN" and "a.vn" share the per-host limit.
func TestScanPerHostIgnoresCase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		scanMutEnqueue(t, s, "A.VN", `{"n":1}`)
		scanMutEnqueue(t, s, "a.vn", `{"n":2}`)
		js, err := s.LeaseScanJobs(t.Context(), ScanLease{Owner: "w1", Max: 2, PerHost: 1, Now: scanMutT0})
		if err != nil {
			t.Fatal(err)
		}
		if len(js) != 1 {
			t.Fatalf("leased %d jobs of one host (written in two cases) with a limit of 1", len(js))
		}
	})
}

// A host at its limit does not starve the others: its many older queued jobs are not what
// the lease looks at.
func TestScanFullHostDoesNotStarveOthers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		for i := range 12 {
			id, created, err := s.EnqueueScanJob(ctx, NewScanJob{Kind: ScanJobReportURL, Payload: []byte(fmt.Sprintf(`{"a":%d}`, i)),
				Host: "busy.vn"}, scanMutT0.Add(time.Duration(i)*time.Second))
			if err != nil || !created {
				t.Fatalf("enqueue %d: %v", id, err)
			}
		}
		id, created, err := s.EnqueueScanJob(ctx, NewScanJob{Kind: ScanJobReportURL, Payload: []byte(`{"b":1}`), Host: "quiet.vn"}, scanMutT0.Add(time.Minute))
		if err != nil || !created {
			t.Fatal(err)
		}
		now := scanMutT0.Add(2 * time.Minute)
		if js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "w1", Max: 2, PerHost: 2, Now: now}); err != nil || len(js) != 2 {
			t.Fatalf("first lease: %d jobs, %v", len(js), err)
		}
		js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "w2", Max: 1, PerHost: 2, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if len(js) != 1 || js[0].ID != id {
			t.Fatalf("busy.vn at its limit with 10 older jobs queued: leased %v, want quiet.vn's job %d", leaseIDsMut(js), id)
		}
	})
}

func leaseIDsMut(js []*ScanJob) []int64 {
	var ids []int64
	for _, j := range js {
		ids = append(ids, j.ID)
	}
	return ids
}
