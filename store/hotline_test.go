package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

func testReport(i int, urls ...string) NewReport {
	nr := NewReport{
		Ref: fmt.Sprintf("KS-TEST-%04d", i), StatusHash: "h", Received: time.Date(2026, 11, 20, 8, 0, i, 0, time.UTC),
		Channel: "web", Language: "vi", Harm: "VIO.BULLY", DescSealed: "sealed-desc", CaseRef: fmt.Sprintf("C-TEST-%04d", i),
		Priority: 2, SLADue: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC), Actor: "anonymous",
	}
	for _, u := range urls {
		nr.URLs = append(nr.URLs, ReportURL{Raw: u, Canonical: u, Host: "example.vn"})
	}
	return nr
}

func TestCreateReportDedup(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		a, err := s.CreateReport(ctx, testReport(1, "https://example.vn/a"))
		if err != nil {
			t.Fatal(err)
		}
		if a.Duplicate || a.CaseID == 0 || a.CaseRef != "C-TEST-0001" {
			t.Fatalf("first report: %+v", a)
		}
		// Same URL, more urgent: joins the case, raises its count and priority.
		nr := testReport(2, "https://example.vn/b", "https://example.vn/a")
		nr.Priority, nr.DangerNow = 0, true
		nr.SLADue = time.Date(2026, 11, 20, 8, 15, 0, 0, time.UTC)
		b, err := s.CreateReport(ctx, nr)
		if err != nil {
			t.Fatal(err)
		}
		if !b.Duplicate || b.CaseID != a.CaseID || b.CaseRef != a.CaseRef {
			t.Fatalf("duplicate: %+v, want case %d", b, a.CaseID)
		}
		c, err := s.CaseByID(ctx, a.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		if c.ReportCount != 2 || c.Priority != 0 || !c.DangerNow || !c.SLADue.Equal(nr.SLADue) {
			t.Errorf("case after duplicate: count %d, P%d, danger %v, due %v", c.ReportCount, c.Priority, c.DangerNow, c.SLADue)
		}
		rs, err := s.CaseReports(ctx, a.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 2 || rs[0].State != lifecycle.ReportAttached || rs[1].State != lifecycle.ReportDuplicate || len(rs[1].URLs) != 2 {
			t.Fatalf("reports: %+v", rs)
		}
		urls, err := s.CaseURLs(ctx, a.CaseID)
		if err != nil || len(urls) != 2 {
			t.Fatalf("case URLs: %v %v", urls, err)
		}
		// A closed case takes no duplicates: the same URL opens a new case.
		for _, to := range []string{lifecycle.CaseTriaged, lifecycle.CaseNotActionable, lifecycle.CaseClosed} {
			if _, err := s.ChangeCase(ctx, a.CaseID, CaseChange{To: to, Actor: "user:1:a"}); err != nil {
				t.Fatal(err)
			}
		}
		d, err := s.CreateReport(ctx, testReport(3, "https://example.vn/a"))
		if err != nil {
			t.Fatal(err)
		}
		if d.Duplicate || d.CaseID == a.CaseID {
			t.Errorf("report after close joined the closed case: %+v", d)
		}
		// No URL: never a duplicate.
		e, err := s.CreateReport(ctx, testReport(4))
		if err != nil || e.Duplicate {
			t.Errorf("report without URL: %+v %v", e, err)
		}
		if _, err := s.ReportByRef(ctx, "KS-TEST-0002"); err != nil {
			t.Error(err)
		}
		if _, err := s.ReportByRef(ctx, "KS-NOPE"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown ref: %v", err)
		}
	})
}

func TestCreateReportIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		nr := testReport(1, "https://example.vn/x")
		nr.TokenID, nr.IdemKey = 7, "key-1"
		a, err := s.CreateReport(ctx, nr)
		if err != nil {
			t.Fatal(err)
		}
		nr.Ref, nr.CaseRef = "KS-TEST-9999", "C-TEST-9999"
		b, err := s.CreateReport(ctx, nr)
		if err != nil {
			t.Fatal(err)
		}
		if !b.Replayed || b.ReportID != a.ReportID || b.ReportRef != a.ReportRef {
			t.Errorf("replay: %+v, first %+v", b, a)
		}
		// The same key from another token is another report.
		nr.TokenID = 8
		c, err := s.CreateReport(ctx, nr)
		if err != nil || c.Replayed {
			t.Errorf("other token: %+v %v", c, err)
		}
	})
}

// Concurrent first reports of one URL end up in one case with the right count, on both backends.
func TestCreateReportConcurrentDedup(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		var wg sync.WaitGroup
		errs := make(chan error, 21)
		for i := 0; i <= 20; i++ {
			wg.Go(func() {
				_, err := s.CreateReport(ctx, testReport(i, "https://example.vn/same"))
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		cs, total, err := s.Cases(ctx, CaseFilter{Priority: AnyPriority})
		if err != nil {
			t.Fatal(err)
		}
		if total != 1 || cs[0].ReportCount != 21 {
			t.Errorf("cases %d, count %d; want 1 case of 21 reports", total, cs[0].ReportCount)
		}
	})
}

func TestChangeCase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		r, err := s.CreateReport(ctx, testReport(1, "https://example.vn/a"))
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
		c, err := s.ChangeCase(ctx, r.CaseID, CaseChange{ActorID: 0, Actor: "user:1:lan", To: lifecycle.CaseTriaged, Time: at})
		if err != nil {
			t.Fatal(err)
		}
		if c.State != lifecycle.CaseTriaged || !c.Triaged.Equal(at) || c.Version != 2 {
			t.Errorf("after triage: %s %v v%d", c.State, c.Triaged, c.Version)
		}
		// Refused transitions change nothing and say why.
		_, err = s.ChangeCase(ctx, r.CaseID, CaseChange{Actor: "user:1:lan", To: lifecycle.CaseReferred, NoteSealed: "x"})
		var te *lifecycle.TransitionError
		if !errors.As(err, &te) {
			t.Fatalf("triaged → referred: %v, want a TransitionError", err)
		}
		// A stale version is a conflict.
		if _, err := s.ChangeCase(ctx, r.CaseID, CaseChange{Actor: "user:1:lan", Version: 1, To: lifecycle.CaseInAssessment}); !errors.Is(err, ErrConflict) {
			t.Errorf("stale version: %v", err)
		}
		c, err = s.ChangeCase(ctx, r.CaseID, CaseChange{Actor: "user:1:lan", Version: 2, To: lifecycle.CaseInAssessment,
			Classify: &Classification{Harm: "CSE.GROOM", Severity: 4, Priority: 1, Flags: []string{"ai_generated"}}, NoteSealed: "sealed-note"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Harm != "CSE.GROOM" || c.Priority != 1 || len(c.Flags) != 1 || c.Flags[0] != "ai_generated" {
			t.Errorf("classified: %+v", c)
		}
		if _, err := s.ChangeCase(ctx, r.CaseID, CaseChange{Actor: "x", Classify: &Classification{Harm: "X", Priority: 9}}); err == nil {
			t.Error("priority 9 accepted")
		}
		ev, err := s.CaseEvents(ctx, r.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		kinds := ""
		for _, e := range ev {
			kinds += e.Kind + ","
		}
		if kinds != "created,transition,transition,classify,note," {
			t.Errorf("history: %s", kinds)
		}
		if _, err := s.ChangeCase(ctx, 999999, CaseChange{Actor: "x", To: lifecycle.CaseTriaged}); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown case: %v", err)
		}
		// Every change is in the audit log.
		recs, err := s.AuditRange(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, rec := range recs {
			if rec.Action == "case.change" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d case.change audit records, want 2 (refused changes leave none)", n)
		}
	})
}

func TestCasesFilterOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		base := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
		mk := func(i, prio int, due time.Duration, harm, channel string) int64 {
			nr := testReport(i, fmt.Sprintf("https://example.vn/%d", i))
			nr.Priority, nr.SLADue, nr.Harm, nr.Channel = prio, base.Add(due), harm, channel
			r, err := s.CreateReport(ctx, nr)
			if err != nil {
				t.Fatal(err)
			}
			return r.CaseID
		}
		p2late := mk(1, 2, 48*time.Hour, "VIO.BULLY", "web")
		p0 := mk(2, 0, 15*time.Minute, "CSE.LIVE", "phone")
		p2soon := mk(3, 2, time.Hour, "VIO.BULLY", "web")
		p3 := mk(4, 3, time.Hour, "HARM.ADULT", "app")
		cs, total, err := s.Cases(ctx, CaseFilter{Priority: AnyPriority})
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, c := range cs {
			got = append(got, c.ID)
		}
		want := []int64{p0, p2soon, p2late, p3}
		if total != 4 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("order %v (total %d), want %v", got, total, want)
		}
		for _, c := range []struct {
			f    CaseFilter
			want int
		}{
			{CaseFilter{Priority: 2}, 2},
			{CaseFilter{Priority: AnyPriority, Harm: "CSE."}, 1},
			{CaseFilter{Priority: AnyPriority, Harm: "VIO.BULLY"}, 2},
			{CaseFilter{Priority: AnyPriority, Harm: "%"}, 0},
			{CaseFilter{Priority: AnyPriority, Channel: "phone"}, 1},
			{CaseFilter{Priority: AnyPriority, Assignee: -1}, 4},
			{CaseFilter{Priority: AnyPriority, States: []string{"new"}, OpenOnly: true}, 4},
			{CaseFilter{Priority: AnyPriority, Limit: 2}, 4},
		} {
			cs, total, err := s.Cases(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if total != c.want {
				t.Errorf("%+v: total %d, want %d", c.f, total, c.want)
			}
			if c.f.Limit == 2 && len(cs) != 2 {
				t.Errorf("limit 2: %d rows", len(cs))
			}
		}
	})
}

// A group commit: a report that fails (here a reference already taken) is rolled back alone;
// the others of its group are committed, and each caller gets its own outcome.
func TestReportGroupCommitIsolatesFailures(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		if _, err := s.CreateReport(ctx, testReport(1, "https://example.vn/g")); err != nil {
			t.Fatal(err)
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		var batch []*reportJob
		for i := 2; i <= 6; i++ {
			nr := testReport(i, "https://example.vn/g")
			jctx := ctx
			switch i {
			case 4:
				nr.Ref = "KS-TEST-0001" // taken: UNIQUE violation inside the group
			case 5:
				jctx = cancelled // the caller left before its turn
			}
			batch = append(batch, &reportJob{ctx: jctx, nr: nr, done: make(chan struct{})})
		}
		s.commitReports(batch)
		for i, j := range batch {
			<-j.done
			bad := i == 2 || i == 3
			if (j.err != nil) != bad {
				t.Errorf("job %d: err %v", i, j.err)
			}
		}
		c, err := s.CaseByRef(ctx, "C-TEST-0001")
		if err != nil {
			t.Fatal(err)
		}
		if c.ReportCount != 4 {
			t.Errorf("case has %d reports, want 4 (1 + 3 of the group)", c.ReportCount)
		}
		if _, err := s.ReportByRef(ctx, "KS-TEST-0005"); !errors.Is(err, ErrNotFound) {
			t.Errorf("the cancelled caller's report was stored: %v", err)
		}
		if res, err := s.VerifyAudit(ctx); err != nil || res.Records != 4 {
			t.Errorf("audit after the group: %+v %v (want 4 records, a chain that verifies)", res, err)
		}
	})
}

func TestCreateReportRefTaken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		if _, err := s.CreateReport(ctx, testReport(1, "https://example.vn/r")); err != nil {
			t.Fatal(err)
		}
		nr := testReport(2)
		nr.CaseRef = "C-TEST-0001"
		if _, err := s.CreateReport(ctx, nr); !errors.Is(err, ErrRefTaken) {
			t.Errorf("case ref taken: %v, want ErrRefTaken", err)
		}
		nr = testReport(3)
		nr.Ref = "KS-TEST-0001"
		if _, err := s.CreateReport(ctx, nr); !errors.Is(err, ErrRefTaken) {
			t.Errorf("report ref taken: %v, want ErrRefTaken", err)
		}
		// A duplicate joins the case: the new report's unused case ref does not matter.
		nr = testReport(4, "https://example.vn/r")
		nr.CaseRef = "C-TEST-0001"
		if r, err := s.CreateReport(ctx, nr); err != nil || !r.Duplicate {
			t.Errorf("duplicate with a taken case ref: %+v %v", r, err)
		}
	})
}

// The second review is done by a second person.
func TestSecondReviewTwoPerson(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		r, err := s.CreateReport(ctx, testReport(1, "https://example.vn/s"))
		if err != nil {
			t.Fatal(err)
		}
		for _, to := range []string{lifecycle.CaseTriaged, lifecycle.CaseInAssessment, lifecycle.CaseActionable, lifecycle.CaseSecondReview} {
			if _, err := s.ChangeCase(ctx, r.CaseID, CaseChange{ActorID: 7, Actor: "user:7:a", To: to}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.ChangeCase(ctx, r.CaseID, CaseChange{ActorID: 7, Actor: "user:7:a", To: lifecycle.CaseReferred}); !errors.Is(err, lifecycle.ErrSamePerson) {
			t.Errorf("same person passed the second review: %v", err)
		}
		if c, err := s.ChangeCase(ctx, r.CaseID, CaseChange{ActorID: 8, Actor: "user:8:b", To: lifecycle.CaseReferred}); err != nil || c.State != lifecycle.CaseReferred {
			t.Errorf("second person: %v", err)
		}
	})
}
