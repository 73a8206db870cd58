package store

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

var scanT0 = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)

func enqueue(t *testing.T, s *Store, host, payload string, now time.Time) int64 {
	t.Helper()
	id, created, err := s.EnqueueScanJob(t.Context(), NewScanJob{Kind: ScanJobReportURL, Payload: []byte(payload), Host: host, MaxAttempts: 3}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatalf("job %s was not created", payload)
	}
	return id
}

func leaseIDs(js []*ScanJob) []int64 {
	var ids []int64
	for _, j := range js {
		ids = append(ids, j.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestScanJobEnqueueDedup(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		a := enqueue(t, s, "a.vn", `{"url":"https://a.vn/1"}`, scanT0)
		// The same job while pending: the same id, nothing new.
		b, created, err := s.EnqueueScanJob(ctx, NewScanJob{Kind: ScanJobReportURL, Payload: []byte(`{"url":"https://a.vn/1"}`), Host: "a.vn"}, scanT0)
		if err != nil || created || b != a {
			t.Fatalf("duplicate enqueue: id %d (first %d), created %v, err %v", b, a, created, err)
		}
		// Another kind with the same payload is another job.
		if _, created, err := s.EnqueueScanJob(ctx, NewScanJob{Kind: "image", Payload: []byte(`{"url":"https://a.vn/1"}`)}, scanT0); err != nil || !created {
			t.Fatalf("other kind: created %v, err %v", created, err)
		}
		// Still deduplicated while running.
		js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "w1", Max: 1, Now: scanT0})
		if err != nil || len(js) != 1 || js[0].ID != a {
			t.Fatalf("lease: %v %v", js, err)
		}
		if b, created, _ := s.EnqueueScanJob(ctx, NewScanJob{Kind: ScanJobReportURL, Payload: []byte(`{"url":"https://a.vn/1"}`)}, scanT0); created || b != a {
			t.Fatalf("enqueue while running: id %d created %v", b, created)
		}
		// Once done, the same job may be queued again (a later report of the same URL).
		if err := s.CompleteScanJob(ctx, a, "w1", scanT0); err != nil {
			t.Fatal(err)
		}
		c, created, err := s.EnqueueScanJob(ctx, NewScanJob{Kind: ScanJobReportURL, Payload: []byte(`{"url":"https://a.vn/1"}`)}, scanT0)
		if err != nil || !created || c == a {
			t.Fatalf("enqueue after done: id %d created %v err %v", c, created, err)
		}
	})
}

func TestScanJobLeasePerHostAndDue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		var aJobs []int64
		for i := range 4 {
			aJobs = append(aJobs, enqueue(t, s, "a.vn", fmt.Sprintf(`{"n":%d}`, i), scanT0))
		}
		b := enqueue(t, s, "b.vn", `{"n":"b"}`, scanT0)
		later, _, err := s.EnqueueScanJob(ctx, NewScanJob{Kind: ScanJobReportURL, Payload: []byte(`{"n":"later"}`), Host: "c.vn",
			NotBefore: scanT0.Add(time.Hour)}, scanT0)
		if err != nil {
			t.Fatal(err)
		}
		js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "w1", Max: 10, PerHost: 2, Now: scanT0})
		if err != nil {
			t.Fatal(err)
		}
		want := []int64{aJobs[0], aJobs[1], b}
		if got := leaseIDs(js); !slices.Equal(got, want) {
			t.Fatalf("leased %v, want %v (two of a.vn, b.vn, not the future job %d)", got, want, later)
		}
		for _, j := range js {
			if j.State != ScanRunning || j.Attempts != 1 || j.LeaseOwner != "w1" || !j.LeaseUntil.After(scanT0) {
				t.Fatalf("leased job: %+v", j)
			}
		}
		// a.vn is full: another owner gets nothing of it.
		js2, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "w2", Max: 10, PerHost: 2, Now: scanT0})
		if err != nil || len(js2) != 0 {
			t.Fatalf("second lease: %v %v", leaseIDs(js2), err)
		}
		// One a.vn job done: one more a.vn job can run.
		if err := s.CompleteScanJob(ctx, aJobs[0], "w1", scanT0); err != nil {
			t.Fatal(err)
		}
		js2, err = s.LeaseScanJobs(ctx, ScanLease{Owner: "w2", Max: 10, PerHost: 2, Now: scanT0})
		if err != nil || !slices.Equal(leaseIDs(js2), []int64{aJobs[2]}) {
			t.Fatalf("after one done: %v %v", leaseIDs(js2), err)
		}
		// Only the owner can complete.
		if err := s.CompleteScanJob(ctx, aJobs[1], "w2", scanT0); !errors.Is(err, ErrConflict) {
			t.Fatalf("complete by another owner: %v", err)
		}
		// The future job runs when due.
		js3, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "w3", Max: 10, PerHost: 2, Now: scanT0.Add(time.Hour)})
		if err != nil || !slices.Contains(leaseIDs(js3), later) {
			t.Fatalf("due job: %v %v", leaseIDs(js3), err)
		}
	})
}

func TestScanJobBackoffAndMaxAttempts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		id := enqueue(t, s, "a.vn", `{"n":1}`, scanT0)
		bo := ScanBackoff{Base: time.Minute, Max: time.Hour}
		now := scanT0
		for attempt := 1; attempt <= 3; attempt++ {
			js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "w", Now: now})
			if err != nil || len(js) != 1 || js[0].ID != id || js[0].Attempts != attempt {
				t.Fatalf("attempt %d: lease %+v %v", attempt, js, err)
			}
			st, err := s.FailScanJob(ctx, id, "w", errors.New("connection reset"), false, bo, now)
			if err != nil {
				t.Fatal(err)
			}
			j, err := s.ScanJobByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if attempt == 3 {
				if st != ScanFailed || j.State != ScanFailed {
					t.Fatalf("after the last attempt: %s / %+v", st, j)
				}
				break
			}
			wantNext := now.Add(time.Minute << (attempt - 1)) // 1m, 2m
			if st != ScanQueued || !j.NextRun.Equal(wantNext) || j.LastError != "connection reset" {
				t.Fatalf("attempt %d: state %s next %v (want %v) error %q", attempt, st, j.NextRun, wantNext, j.LastError)
			}
			// Not before its time.
			if js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "w", Now: wantNext.Add(-time.Second)}); err != nil || len(js) != 0 {
				t.Fatalf("leased before its backoff: %v %v", js, err)
			}
			now = wantNext
		}
		// A permanent failure ends at once.
		id2 := enqueue(t, s, "b.vn", `{"n":2}`, now)
		if _, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "w", Now: now}); err != nil {
			t.Fatal(err)
		}
		if st, err := s.FailScanJob(ctx, id2, "w", errors.New("destination refused"), true, bo, now); err != nil || st != ScanFailed {
			t.Fatalf("permanent failure: %s %v", st, err)
		}
	})
}

func TestScanBackoffDelay(t *testing.T) {
	b := ScanBackoff{Base: 30 * time.Second, Max: 5 * time.Minute}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		if got := b.Delay(i + 1); got != w {
			t.Errorf("Delay(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := b.Delay(1000); got != 5*time.Minute {
		t.Errorf("Delay(1000) = %v", got)
	}
}

func TestScanJobExpiredLeaseRequeued(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		id := enqueue(t, s, "a.vn", `{"n":1}`, scanT0)
		if js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "dead", TTL: time.Minute, Now: scanT0}); err != nil || len(js) != 1 {
			t.Fatalf("lease: %v %v", js, err)
		}
		// Before expiry nobody else gets it.
		if js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "alive", Now: scanT0.Add(30 * time.Second)}); err != nil || len(js) != 0 {
			t.Fatalf("leased a live lease: %v %v", js, err)
		}
		// After expiry it goes to another worker, as its second attempt.
		js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "alive", Now: scanT0.Add(2 * time.Minute)})
		if err != nil || len(js) != 1 || js[0].ID != id || js[0].Attempts != 2 || js[0].LeaseOwner != "alive" {
			t.Fatalf("after expiry: %+v %v", js, err)
		}
		// The dead worker's late completion is refused.
		if err := s.CompleteScanJob(ctx, id, "dead", scanT0.Add(3*time.Minute)); !errors.Is(err, ErrConflict) {
			t.Fatalf("late completion: %v", err)
		}
		if err := s.CompleteScanJob(ctx, id, "alive", scanT0.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
		// A released job (a worker shutting down) is queued again at once, the attempt not counted.
		id3 := enqueue(t, s, "c.vn", `{"n":3}`, scanT0)
		if js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "stopping", Now: scanT0}); err != nil || len(js) != 1 || js[0].ID != id3 {
			t.Fatalf("lease: %v %v", js, err)
		}
		if err := s.ReleaseScanJob(ctx, id3, "other", scanT0); !errors.Is(err, ErrConflict) {
			t.Fatalf("release by another owner: %v", err)
		}
		if err := s.ReleaseScanJob(ctx, id3, "stopping", scanT0); err != nil {
			t.Fatal(err)
		}
		if j, err := s.ScanJobByID(ctx, id3); err != nil || j.State != ScanQueued || j.Attempts != 0 || j.LeaseOwner != "" {
			t.Fatalf("released job: %+v %v", j, err)
		}
		if js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "next", Now: scanT0}); err != nil || len(js) != 1 || js[0].ID != id3 || js[0].Attempts != 1 {
			t.Fatalf("after release: %+v %v", js, err)
		}
		if err := s.CompleteScanJob(ctx, id3, "next", scanT0); err != nil {
			t.Fatal(err)
		}
		// RequeueExpiredScanJobs on its own, and the attempts limit: a job whose attempts are
		// spent fails instead of running again.
		id2, _, err := s.EnqueueScanJob(ctx, NewScanJob{Kind: ScanJobReportURL, Payload: []byte(`{"n":2}`), MaxAttempts: 1}, scanT0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "dead", TTL: time.Minute, Now: scanT0}); err != nil {
			t.Fatal(err)
		}
		n, err := s.RequeueExpiredScanJobs(ctx, scanT0.Add(time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("requeue: %d %v", n, err)
		}
		j, err := s.ScanJobByID(ctx, id2)
		if err != nil || j.State != ScanFailed || j.LastError == "" {
			t.Fatalf("spent job after expiry: %+v %v", j, err)
		}
	})
}

// Two workers (on PostgreSQL, two connections: two nodes sharing the queue) leasing at the
// same time never get the same job, and every job is leased once.
func TestScanJobConcurrentLease(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		const jobs = 60
		for i := range jobs {
			enqueue(t, s, fmt.Sprintf("h%d.vn", i), fmt.Sprintf(`{"n":%d}`, i), scanT0)
		}
		var mu sync.Mutex
		seen := map[int64]string{}
		var wg sync.WaitGroup
		errc := make(chan error, 4)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("w%d", w)
				for {
					js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: owner, Max: 3, Now: scanT0})
					if err != nil {
						errc <- err
						return
					}
					if len(js) == 0 {
						return
					}
					mu.Lock()
					for _, j := range js {
						if prev, dup := seen[j.ID]; dup {
							mu.Unlock()
							errc <- fmt.Errorf("job %d leased by %s and %s", j.ID, prev, owner)
							return
						}
						seen[j.ID] = owner
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		if len(seen) != jobs {
			t.Fatalf("%d jobs leased, want %d", len(seen), jobs)
		}
	})
}

// The per-host limit holds across concurrent leasers: never more than PerHost jobs of one
// host running at once.
func TestScanJobConcurrentPerHost(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		for i := range 20 {
			enqueue(t, s, "same.vn", fmt.Sprintf(`{"n":%d}`, i), scanT0)
		}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.LeaseScanJobs(ctx, ScanLease{Owner: fmt.Sprintf("w%d", w), Max: 5, PerHost: 2, Now: scanT0}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		counts, err := s.ScanQueueCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts[ScanRunning] != 2 || counts[ScanQueued] != 18 {
			t.Fatalf("counts %v, want 2 running and 18 queued", counts)
		}
	})
}

func TestScanResults(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		res, err := s.CreateReport(ctx, testReport(1, "https://example.vn/a"))
		if err != nil {
			t.Fatal(err)
		}
		r := ScanResult{JobID: 7, CaseID: res.CaseID, URL: "https://example.vn/a", FinalURL: "https://example.vn/b", RemoteAddr: "203.0.113.9:443",
			HTTPStatus: 200, Fetched: scanT0, SHA256: "ab12", Bytes: 1234, ImagesHashed: 2, Raised: true,
			Suggestion: ScanSuggestion{Top: "sexual", Scores: map[string]float64{"sexual": 0.9}, Reasons: []ScanReason{{Category: "sexual", Rule: "lexicon", Evidence: "x"}}},
			Matches:    []ScanMatch{{ImageURL: "https://example.vn/i.png", PDQ: "00", Known: "01", HashID: 3, Distance: 4, Transform: "rot90", Source: "list:3"}}}
		id, err := s.AddScanResult(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.CaseScanResults(ctx, res.CaseID)
		if err != nil || len(got) != 1 {
			t.Fatalf("results: %v %v", got, err)
		}
		g := got[0]
		if g.ID != id || g.FinalURL != r.FinalURL || g.RemoteAddr != r.RemoteAddr || !g.Fetched.Equal(scanT0) || g.Bytes != 1234 || !g.Raised ||
			g.Suggestion.Top != "sexual" || g.Suggestion.Scores["sexual"] != 0.9 || len(g.Suggestion.Reasons) != 1 ||
			len(g.Matches) != 1 || g.Matches[0] != r.Matches[0] {
			t.Fatalf("round trip: %+v", g)
		}
		if other, err := s.CaseScanResults(ctx, res.CaseID+1); err != nil || len(other) != 0 {
			t.Fatalf("another case: %v %v", other, err)
		}
	})
}

// The queue is in the database: a job queued before a restart (the store closed and opened
// again) is leased after it, and a job running when the process died is requeued when its
// lease expires.
func TestScanJobSurvivesRestart(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		a := enqueue(t, s, "a.vn", `{"n":1}`, scanT0)
		b := enqueue(t, s, "b.vn", `{"n":2}`, scanT0)
		if js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "before", Max: 1, TTL: time.Minute, Now: scanT0}); err != nil || len(js) != 1 || js[0].ID != a {
			t.Fatalf("lease before restart: %v %v", js, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "after", Max: 10, Now: scanT0.Add(2 * time.Minute)})
		if err != nil || !slices.Equal(leaseIDs(js), []int64{a, b}) {
			t.Fatalf("after restart: %v %v", leaseIDs(js), err)
		}
	})
}

// On PostgreSQL a node leasing a host's jobs holds that host's advisory lock, and another node
// leaves the host alone meanwhile rather than count its running jobs before they commit.
func TestScanJobHostLockPostgres(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		if s.Dialect() != DialectPostgres {
			t.Skip("advisory locks are PostgreSQL's")
		}
		ctx := t.Context()
		busy := enqueue(t, s, "busy.vn", `{"n":1}`, scanT0)
		free := enqueue(t, s, "free.vn", `{"n":2}`, scanT0)
		conn, err := s.w.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('kidshield.scan_host:' || $1))`, "busy.vn"); err != nil {
			t.Fatal(err)
		}
		js, err := s.LeaseScanJobs(ctx, ScanLease{Owner: "other-node", Max: 10, Now: scanT0})
		if err != nil || !slices.Equal(leaseIDs(js), []int64{free}) {
			t.Fatalf("with busy.vn locked elsewhere: leased %v (%v), want only %d", leaseIDs(js), err, free)
		}
		tx.Rollback()
		js, err = s.LeaseScanJobs(ctx, ScanLease{Owner: "other-node", Max: 10, Now: scanT0})
		if err != nil || !slices.Equal(leaseIDs(js), []int64{busy}) {
			t.Fatalf("after the lock is released: %v %v", leaseIDs(js), err)
		}
	})
}
