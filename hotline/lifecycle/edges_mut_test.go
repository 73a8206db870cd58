package lifecycle

import (
	"slices"
	"testing"
)

// The four machines, edge for edge (HOTLINE.md "Lifecycle", with the departures the code
// documents: a duplicate split off into a case of its own, a second review sending a case
// back, monitoring back to referred, a re-sent notice, an appeal upheld). TestTransitions
// samples edges; this table is the whole machine, so an edge added or dropped by accident (a
// case skipping assessment, a disabled list entry coming back) fails here and must be made on
// purpose, in both places.
func TestMachinesExactEdges(t *testing.T) {
	want := map[*Machine]map[string][]string{
		Report: {
			ReportReceived:  {ReportScreened},
			ReportScreened:  {ReportAttached, ReportDuplicate, ReportRejected},
			ReportAttached:  {},
			ReportDuplicate: {ReportAttached},
			ReportRejected:  {},
		},
		Case: {
			CaseNew:           {CaseTriaged, CaseNotActionable},
			CaseTriaged:       {CaseAssigned, CaseInAssessment, CaseNotActionable},
			CaseAssigned:      {CaseInAssessment, CaseTriaged},
			CaseInAssessment:  {CaseNeedsInfo, CaseNotActionable, CaseActionable},
			CaseNeedsInfo:     {CaseInAssessment, CaseNotActionable},
			CaseActionable:    {CaseSecondReview, CaseReferred, CaseResolved},
			CaseSecondReview:  {CaseReferred, CaseInAssessment},
			CaseReferred:      {CaseMonitoring, CaseResolved},
			CaseMonitoring:    {CaseResolved, CaseReferred},
			CaseResolved:      {CaseClosed, CaseReopened},
			CaseNotActionable: {CaseClosed, CaseReopened},
			CaseClosed:        {CaseReopened, CasePurged},
			CaseReopened:      {CaseTriaged, CaseAssigned, CaseInAssessment},
			CasePurged:        {},
		},
		Notice: {
			NoticeDraft:        {NoticeApproved, NoticeWithdrawn},
			NoticeApproved:     {NoticeSent, NoticeWithdrawn},
			NoticeSent:         {NoticeAcknowledged, NoticeActioned, NoticeOverdue, NoticeDisputed},
			NoticeAcknowledged: {NoticeActioned, NoticeOverdue, NoticeDisputed},
			NoticeOverdue:      {NoticeReminded, NoticeEscalated, NoticeAcknowledged, NoticeActioned, NoticeDisputed},
			NoticeReminded:     {NoticeReminded, NoticeEscalated, NoticeAcknowledged, NoticeActioned, NoticeDisputed},
			NoticeEscalated:    {NoticeActioned, NoticeDisputed, NoticeWithdrawn},
			NoticeDisputed:     {NoticeEscalated, NoticeWithdrawn},
			NoticeActioned:     {NoticeVerified, NoticeSent},
			NoticeVerified:     {NoticeClosed},
			NoticeClosed:       {},
			NoticeWithdrawn:    {},
		},
		List: {
			ListProposed: {ListActive, ListRejected},
			ListActive:   {ListDelisted, ListAppealed, ListDisabled},
			ListAppealed: {ListActive, ListDelisted},
			ListDelisted: {},
			ListDisabled: {},
			ListRejected: {},
		},
	}
	for m, edges := range want {
		var states []string
		for s := range edges {
			states = append(states, s)
		}
		got := m.States()
		slices.Sort(states)
		slices.Sort(got)
		if !slices.Equal(got, states) {
			t.Errorf("%s: states %v, want %v", m.Name(), got, states)
		}
		for from, to := range edges {
			next := m.Next(from)
			slices.Sort(next)
			exp := slices.Clone(to)
			slices.Sort(exp)
			if !slices.Equal(next, exp) {
				t.Errorf("%s: %s → %v, want %v", m.Name(), from, next, exp)
			}
			for _, s := range states {
				if err := m.Check(from, s); (err == nil) != slices.Contains(to, s) {
					t.Errorf("%s: Check(%s, %s) = %v", m.Name(), from, s, err)
				}
			}
		}
	}
	if Case.Initial() != CaseNew || Report.Initial() != ReportReceived || Notice.Initial() != NoticeDraft || List.Initial() != ListProposed {
		t.Error("an initial state changed")
	}
}

// CaseOpen decides which cases take duplicates and which a reporter's status page calls closed;
// the store's dedup query and queue filter spell the same three states out in SQL ("closed",
// "purged", "not_actionable"). A case judged not actionable is over for the reporter.
func TestCaseOpenStates(t *testing.T) {
	ended := []string{CaseClosed, CasePurged, CaseNotActionable}
	for _, s := range Case.States() {
		if got, want := CaseOpen(s), !slices.Contains(ended, s); got != want {
			t.Errorf("CaseOpen(%s) = %v, want %v", s, got, want)
		}
	}
}
