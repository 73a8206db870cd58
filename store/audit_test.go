package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kidshield/kidshield/audit"
)

func appendN(t *testing.T, s *Store, from, n int) {
	t.Helper()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := from; i < from+n; i++ {
		e := AuditEvent{
			Time:   t0.Add(time.Duration(i) * time.Minute),
			Actor:  fmt.Sprintf("user:%d", i%3+1),
			Action: []string{"case.view", "case.assign", "report.create"}[i%3],
			Object: fmt.Sprintf("case:2026-%06d", i%5),
			Detail: map[string]any{"i": i, "state": "triaged", "fields": []string{"harm", "priority"}, "ok": i%2 == 0},
		}
		if err := s.AppendAudit(t.Context(), e); err != nil {
			t.Fatalf("AppendAudit %d: %v", i, err)
		}
	}
}

func wantBreak(t *testing.T, s *Store, seq int64, anchor *audit.Anchor) {
	t.Helper()
	var err error
	if anchor != nil {
		_, err = audit.VerifyAnchor(t.Context(), s.AuditRecords(t.Context(), 7), *anchor)
	} else {
		_, err = s.VerifyAudit(t.Context())
	}
	var be *audit.BreakError
	if !errors.As(err, &be) {
		t.Fatalf("verify: want a break at seq %d, got %v", seq, err)
	}
	if be.Seq != seq {
		t.Fatalf("verify: break at seq %d, want %d: %v", be.Seq, seq, err)
	}
	t.Logf("detected: %v", err)
}

func TestAuditChain(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		if res, err := s.VerifyAudit(ctx); err != nil || res.Records != 0 {
			t.Fatalf("empty log: %+v %v", res, err)
		}
		appendN(t, s, 0, 40)
		res, err := s.VerifyAudit(ctx)
		if err != nil || res.Records != 40 || res.HeadSeq != 40 {
			t.Fatalf("verify: %+v %v", res, err)
		}
		seq, hash, err := s.AuditHead(ctx)
		if err != nil || seq != 40 || hash != res.HeadHash {
			t.Fatalf("head: %d %s %v; verify said %s", seq, hash, err, res.HeadHash)
		}
		recs, err := s.AuditRange(ctx, 10, 5)
		if err != nil || len(recs) != 5 || recs[0].Seq != 11 || recs[4].Seq != 15 {
			t.Fatalf("range: %+v %v", recs, err)
		}
		if recs[0].Detail != `{"fields":["harm","priority"],"i":10,"ok":true,"state":"triaged"}` {
			t.Fatalf("detail stored as %s", recs[0].Detail)
		}

		// Filtered listing, newest first.
		l, err := s.AuditList(ctx, AuditFilter{ObjectPrefix: "case:2026-000003", Action: "case."})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range l {
			if r.Object != "case:2026-000003" || !strings.HasPrefix(r.Action, "case.") || (i > 0 && r.Seq >= l[i-1].Seq) {
				t.Fatalf("list: %+v", l)
			}
		}
		if len(l) == 0 {
			t.Fatal("list: nothing")
		}
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		l, err = s.AuditList(ctx, AuditFilter{Actor: "user:1", Since: t0.Add(10 * time.Minute), Until: t0.Add(20 * time.Minute), Limit: 2})
		if err != nil || len(l) != 2 || l[0].Seq != 19 || l[1].Seq != 16 {
			t.Fatalf("list by actor and time: %+v %v", l, err)
		}
		l, err = s.AuditList(ctx, AuditFilter{Action: "report.create", BeforeSeq: 10})
		if err != nil || len(l) != 3 || l[0].Seq != 9 {
			t.Fatalf("list before seq: %+v %v", l, err)
		}
		if l, _ := s.AuditList(ctx, AuditFilter{ObjectPrefix: "CASE:"}); len(l) != 0 {
			t.Fatalf("object prefix is case-insensitive: %d", len(l))
		}

		anchor := res.Head()

		// The database refuses changes; an intruder with its credentials drops the triggers.
		if _, err := s.w.ExecContext(ctx, "UPDATE audit_log SET actor = 'x' WHERE seq = 1"); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("update allowed: %v", err)
		}
		if _, err := s.w.ExecContext(ctx, "DELETE FROM audit_log WHERE seq = 40"); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("delete allowed: %v", err)
		}
		dropAuditTriggers(t, s)

		// An edited detail.
		rawExec(t, s, "UPDATE audit_log SET detail = $1 WHERE seq = 12", `{"i":999}`)
		wantBreak(t, s, 12, nil)
		rawExec(t, s, "UPDATE audit_log SET detail = $1 WHERE seq = 12", recs[1].Detail)
		if _, err := s.VerifyAudit(ctx); err != nil {
			t.Fatalf("restored: %v", err)
		}

		// An edited record whose hash was recomputed: caught at the next record.
		forged := recs[1]
		forged.Actor = "user:99"
		rawExec(t, s, "UPDATE audit_log SET actor = $1, hash = $2 WHERE seq = 12", forged.Actor, audit.Hash(forged.PrevHash, forged))
		wantBreak(t, s, 13, nil)
		rawExec(t, s, "UPDATE audit_log SET actor = $1, hash = $2 WHERE seq = 12", recs[1].Actor, recs[1].Hash)

		// Two rows swapped.
		rawExec(t, s, "UPDATE audit_log SET seq = -21 WHERE seq = 21")
		rawExec(t, s, "UPDATE audit_log SET seq = 21 WHERE seq = 22")
		rawExec(t, s, "UPDATE audit_log SET seq = 22 WHERE seq = -21")
		wantBreak(t, s, 21, nil)
		rawExec(t, s, "UPDATE audit_log SET seq = -21 WHERE seq = 21")
		rawExec(t, s, "UPDATE audit_log SET seq = 21 WHERE seq = 22")
		rawExec(t, s, "UPDATE audit_log SET seq = 22 WHERE seq = -21")
		if _, err := audit.VerifyAnchor(ctx, s.AuditRecords(ctx, 7), anchor); err != nil {
			t.Fatalf("restored: %v", err)
		}

		// A middle row deleted.
		rawExec(t, s, "DELETE FROM audit_log WHERE seq = 30")
		wantBreak(t, s, 30, nil)
		// ... and the rest renumbered to close the gap.
		for i := 31; i <= 40; i++ {
			rawExec(t, s, "UPDATE audit_log SET seq = $1 WHERE seq = $2", i-1, i)
		}
		wantBreak(t, s, 30, nil)
		rawExec(t, s, "DELETE FROM audit_log WHERE seq >= 30")

		// The last rows deleted: an intact chain, caught only by the anchor.
		if res, err := s.VerifyAudit(ctx); err != nil || res.HeadSeq != 29 {
			t.Fatalf("truncated log without anchor: %+v %v", res, err)
		}
		wantBreak(t, s, 30, &anchor)

		// Appending continues the chain from the (now) head.
		appendN(t, s, 100, 11)
		if res, err := s.VerifyAudit(ctx); err != nil || res.HeadSeq != 40 {
			t.Fatalf("after append: %+v %v", res, err)
		}
		// The anchor's seq exists again, with another hash: rewritten history.
		wantBreak(t, s, 40, &anchor)
	})
}

// dropAuditTriggers removes the append-only triggers, as an intruder with the database's
// credentials could, so a test can tamper with the log.
func dropAuditTriggers(t *testing.T, s *Store) {
	t.Helper()
	if s.dialect == DialectPostgres {
		rawExec(t, s, "DROP TRIGGER audit_log_no_change ON audit_log")
		return
	}
	rawExec(t, s, "DROP TRIGGER audit_log_no_update")
	rawExec(t, s, "DROP TRIGGER audit_log_no_delete")
}

func rawExec(t *testing.T, s *Store, q string, args ...any) {
	t.Helper()
	if _, err := s.w.ExecContext(t.Context(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestAuditDetailRejected(t *testing.T) {
	t.Parallel()
	for _, d := range []map[string]any{
		{"contact": map[string]any{"phone": "x"}},
		{"data": []byte("x")},
		{"ids": []int{1, 2}},
		{"t": time.Now()},
		{"n": nil},
	} {
		if _, err := auditDetail(d); err == nil {
			t.Errorf("detail %v accepted", d)
		}
	}
	got, err := auditDetail(map[string]any{"b": "x\x00y", "a": uint8(3), "c": 1.5})
	if err != nil || got != "{\"a\":3,\"b\":\"x\uFFFDy\",\"c\":1.5}" {
		t.Fatalf("detail: %s %v", got, err)
	}
}

// Appends from many goroutines (and, on PostgreSQL, many connections) get seq 1..N without
// gaps or duplicates, and the chain verifies.
func TestAuditConcurrent(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *Store) {
		const workers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					errs <- s.AppendAudit(context.Background(), AuditEvent{Actor: fmt.Sprintf("user:%d", w), Action: "case.view", Object: fmt.Sprintf("case:%d", i)})
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		res, err := s.VerifyAudit(t.Context())
		if err != nil || res.Records != workers*each {
			t.Fatalf("verify: %+v %v", res, err)
		}
	})
}

// An audit record written inside another write commits or rolls back with it.
func TestAuditInTransaction(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		boom := errors.New("boom")
		err := s.write(ctx, func(tx *sql.Tx) error {
			if err := s.appendAudit(ctx, tx, AuditEvent{Actor: "cli", Action: "x.y"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if seq, _, _ := s.AuditHead(ctx); seq != 0 {
			t.Fatalf("rolled-back record kept: head %d", seq)
		}
		if err := s.AppendAudit(ctx, AuditEvent{Actor: "cli", Action: "x.y", Detail: map[string]any{"bad": struct{}{}}}); err == nil {
			t.Fatal("bad detail accepted")
		}
		if seq, _, _ := s.AuditHead(ctx); seq != 0 {
			t.Fatalf("refused record kept: head %d", seq)
		}
	})
}
