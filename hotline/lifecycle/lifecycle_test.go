package lifecycle

import (
	"errors"
	"testing"
)

// Every machine: each state is reachable from the initial one, every edge points at a known
// state, and a sample of edges that must not exist are refused.
func TestMachinesWellFormed(t *testing.T) {
	for _, m := range []*Machine{Report, Case, Notice, List} {
		seen := map[string]bool{m.Initial(): true}
		queue := []string{m.Initial()}
		for len(queue) > 0 {
			s := queue[0]
			queue = queue[1:]
			for _, n := range m.Next(s) {
				if !m.Valid(n) {
					t.Errorf("%s: %s → %s: unknown target", m.Name(), s, n)
				}
				if !seen[n] {
					seen[n] = true
					queue = append(queue, n)
				}
			}
		}
		for _, s := range m.States() {
			if !seen[s] {
				t.Errorf("%s: state %s unreachable from %s", m.Name(), s, m.Initial())
			}
		}
	}
}

func TestTransitions(t *testing.T) {
	for _, c := range []struct {
		m        *Machine
		from, to string
		ok       bool
	}{
		{Case, CaseNew, CaseTriaged, true},
		{Case, CaseNew, CaseReferred, false}, // no referral before assessment
		{Case, CaseInAssessment, CaseActionable, true},
		{Case, CaseActionable, CaseSecondReview, true},
		{Case, CaseSecondReview, CaseReferred, true},
		{Case, CaseClosed, CaseReopened, true},
		{Case, CaseClosed, CaseTriaged, false}, // must reopen first
		{Case, CasePurged, CaseReopened, false},
		{Case, CaseNew, "bogus", false},
		{Report, ReportReceived, ReportScreened, true},
		{Report, ReportReceived, ReportAttached, false},
		{Notice, NoticeDraft, NoticeSent, false}, // approval first
		{Notice, NoticeSent, NoticeOverdue, true},
		{Notice, NoticeReminded, NoticeReminded, true},
		{Notice, NoticeClosed, NoticeSent, false},
		{List, ListProposed, ListActive, true},
		{List, ListDelisted, ListActive, false},
		{List, ListActive, ListDisabled, true},
	} {
		err := c.m.Check(c.from, c.to)
		if (err == nil) != c.ok {
			t.Errorf("%s %s→%s: err=%v, want ok=%v", c.m.Name(), c.from, c.to, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrTransition) {
			t.Errorf("%s %s→%s: %v does not wrap ErrTransition", c.m.Name(), c.from, c.to, err)
		}
	}
	if err := Report.CheckPath(ReportReceived, ReportScreened, ReportDuplicate); err != nil {
		t.Error(err)
	}
	if err := CheckApproval(7, 7); !errors.Is(err, ErrSamePerson) {
		t.Errorf("same person approved: %v", err)
	}
	if err := CheckApproval(7, 8); err != nil {
		t.Error(err)
	}
}

func TestStages(t *testing.T) {
	for _, s := range Case.States() {
		if Stage(s) == "" {
			t.Errorf("state %s has no stage", s)
		}
	}
	if Stage(CaseReferred) != StageCoordinate || Stage(CaseNew) != StageReceive {
		t.Error("stage mapping changed")
	}
}
