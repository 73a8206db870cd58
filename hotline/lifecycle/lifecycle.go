// Package lifecycle holds the four state machines of the hotline (HOTLINE.md): reports, cases,
// takedown notices and network-list entries. It is the one place where a transition is allowed
// or refused: the store checks every state change against it inside the transaction that makes
// the change, so no handler, command or job can move a record along an edge that is not here.
//
// The package imports nothing of the project, so the store, the web handlers and the tests all
// read the same tables.
package lifecycle

import (
	"errors"
	"fmt"
	"slices"
)

// ErrTransition is wrapped by every refused transition.
var ErrTransition = errors.New("invalid transition")

// ErrSamePerson is returned when the approver of a two-person step is the proposer.
var ErrSamePerson = errors.New("two-person rule: the approver must be someone other than the proposer")

// TransitionError names the machine and the refused edge.
type TransitionError struct {
	Machine, From, To string
	Allowed           []string
}

func (e *TransitionError) Error() string {
	if len(e.Allowed) == 0 {
		return fmt.Sprintf("%s: %q is final; it cannot become %q", e.Machine, e.From, e.To)
	}
	return fmt.Sprintf("%s: cannot go from %q to %q (allowed: %v)", e.Machine, e.From, e.To, e.Allowed)
}

func (e *TransitionError) Unwrap() error { return ErrTransition }

// Machine is one state machine.
type Machine struct {
	name    string
	initial string
	edges   map[string][]string
	order   []string
}

func newMachine(name, initial string, edges [][2]any) *Machine {
	m := &Machine{name: name, initial: initial, edges: map[string][]string{}}
	for _, e := range edges {
		from := e[0].(string)
		m.edges[from] = e[1].([]string)
		m.order = append(m.order, from)
	}
	return m
}

// Name is the machine's name ("case", "report", "notice", "list").
func (m *Machine) Name() string { return m.name }

// Initial is the state a new record starts in.
func (m *Machine) Initial() string { return m.initial }

// States lists every state, in lifecycle order.
func (m *Machine) States() []string { return slices.Clone(m.order) }

// Valid reports whether s is a state of the machine.
func (m *Machine) Valid(s string) bool {
	_, ok := m.edges[s]
	return ok
}

// Next lists the states reachable from s in one step.
func (m *Machine) Next(s string) []string { return slices.Clone(m.edges[s]) }

// Final reports whether no transition leaves s.
func (m *Machine) Final(s string) bool { return m.Valid(s) && len(m.edges[s]) == 0 }

// Check returns nil when from → to is an edge of the machine, else a *TransitionError.
func (m *Machine) Check(from, to string) error {
	if !m.Valid(from) {
		return fmt.Errorf("%s: unknown state %q: %w", m.name, from, ErrTransition)
	}
	if !m.Valid(to) {
		return fmt.Errorf("%s: unknown state %q: %w", m.name, to, ErrTransition)
	}
	if !slices.Contains(m.edges[from], to) {
		return &TransitionError{Machine: m.name, From: from, To: to, Allowed: m.Next(from)}
	}
	return nil
}

// CheckPath checks every step of a path of states, e.g. received → screened → attached.
func (m *Machine) CheckPath(states ...string) error {
	for i := 1; i < len(states); i++ {
		if err := m.Check(states[i-1], states[i]); err != nil {
			return err
		}
	}
	return nil
}

// CheckApproval enforces the two-person rule: proposer and approver are user ids.
func CheckApproval(proposer, approver int64) error {
	if approver == 0 || proposer == approver {
		return ErrSamePerson
	}
	return nil
}

// Report states. Intake takes a report received → screened → attached (a new case) or
// duplicate (linked to an open case with the same URL); screening may reject it instead.
const (
	ReportReceived  = "received"
	ReportScreened  = "screened"
	ReportAttached  = "attached"
	ReportDuplicate = "duplicate"
	ReportRejected  = "rejected"
)

// Report is the report machine.
var Report = newMachine("report", ReportReceived, [][2]any{
	{ReportReceived, []string{ReportScreened}},
	{ReportScreened, []string{ReportAttached, ReportDuplicate, ReportRejected}},
	{ReportAttached, []string{}},
	{ReportDuplicate, []string{ReportAttached}}, // split off into a case of its own
	{ReportRejected, []string{}},
})

// Case states.
const (
	CaseNew           = "new"
	CaseTriaged       = "triaged"
	CaseAssigned      = "assigned"
	CaseInAssessment  = "in_assessment"
	CaseNeedsInfo     = "needs_info"
	CaseNotActionable = "not_actionable"
	CaseActionable    = "actionable"
	CaseSecondReview  = "second_review"
	CaseReferred      = "referred"
	CaseMonitoring    = "monitoring"
	CaseResolved      = "resolved"
	CaseClosed        = "closed"
	CaseReopened      = "reopened"
	CasePurged        = "purged"
)

// Case is the case machine. P0 cases run an emergency escalation beside it; it never waits on
// a state.
var Case = newMachine("case", CaseNew, [][2]any{
	{CaseNew, []string{CaseTriaged, CaseNotActionable}},
	{CaseTriaged, []string{CaseAssigned, CaseInAssessment, CaseNotActionable}},
	{CaseAssigned, []string{CaseInAssessment, CaseTriaged}},
	{CaseInAssessment, []string{CaseNeedsInfo, CaseNotActionable, CaseActionable}},
	{CaseNeedsInfo, []string{CaseInAssessment, CaseNotActionable}},
	{CaseActionable, []string{CaseSecondReview, CaseReferred, CaseResolved}},
	// The second review (lists, police) is done by another person; sending back is allowed.
	{CaseSecondReview, []string{CaseReferred, CaseInAssessment}},
	{CaseReferred, []string{CaseMonitoring, CaseResolved}},
	{CaseMonitoring, []string{CaseResolved, CaseReferred}},
	{CaseResolved, []string{CaseClosed, CaseReopened}},
	{CaseNotActionable, []string{CaseClosed, CaseReopened}},
	{CaseClosed, []string{CaseReopened, CasePurged}},
	{CaseReopened, []string{CaseTriaged, CaseAssigned, CaseInAssessment}},
	{CasePurged, []string{}},
})

// CaseOpen reports whether a case still takes duplicates: new reports of the same URL are
// linked to an open case and raise its count; a closed case gets a fresh one.
func CaseOpen(state string) bool {
	return state != CaseClosed && state != CasePurged && state != CaseNotActionable
}

// The four handling stages VN-COP publishes, used in the UI (Tiếp nhận → Thu thập → Xác minh &
// đánh giá → Điều phối xử lý).
const (
	StageReceive    = "receive"
	StageCollect    = "collect"
	StageVerify     = "verify"
	StageCoordinate = "coordinate"
	StageDone       = "done"
)

// Stage maps a case state to its handling stage.
func Stage(caseState string) string {
	switch caseState {
	case CaseNew, CaseTriaged, CaseReopened:
		return StageReceive
	case CaseAssigned, CaseNeedsInfo:
		return StageCollect
	case CaseInAssessment, CaseActionable, CaseSecondReview:
		return StageVerify
	case CaseReferred, CaseMonitoring, CaseResolved:
		return StageCoordinate
	default:
		return StageDone
	}
}

// Notice states.
const (
	NoticeDraft        = "draft"
	NoticeApproved     = "approved"
	NoticeSent         = "sent"
	NoticeAcknowledged = "acknowledged"
	NoticeOverdue      = "overdue"
	NoticeReminded     = "reminded"
	NoticeEscalated    = "escalated"
	NoticeActioned     = "actioned"
	NoticeVerified     = "verified"
	NoticeClosed       = "closed"
	NoticeDisputed     = "disputed"
	NoticeWithdrawn    = "withdrawn"
)

// Notice is the takedown notice machine. "actioned" covers removed, disabled, geo-blocked and
// account suspended (the action is recorded beside the state); "disputed" covers refusals.
var Notice = newMachine("notice", NoticeDraft, [][2]any{
	{NoticeDraft, []string{NoticeApproved, NoticeWithdrawn}},
	{NoticeApproved, []string{NoticeSent, NoticeWithdrawn}},
	{NoticeSent, []string{NoticeAcknowledged, NoticeActioned, NoticeOverdue, NoticeDisputed}},
	{NoticeAcknowledged, []string{NoticeActioned, NoticeOverdue, NoticeDisputed}},
	{NoticeOverdue, []string{NoticeReminded, NoticeEscalated, NoticeAcknowledged, NoticeActioned, NoticeDisputed}},
	{NoticeReminded, []string{NoticeReminded, NoticeEscalated, NoticeAcknowledged, NoticeActioned, NoticeDisputed}},
	{NoticeEscalated, []string{NoticeActioned, NoticeDisputed, NoticeWithdrawn}},
	{NoticeDisputed, []string{NoticeEscalated, NoticeWithdrawn}},
	// Verification finds the content still there: the notice goes back to the partner.
	{NoticeActioned, []string{NoticeVerified, NoticeSent}},
	{NoticeVerified, []string{NoticeClosed}},
	{NoticeClosed, []string{}},
	{NoticeWithdrawn, []string{}},
})

// NoticeOpen reports whether a notice still waits on its recipient (it counts toward overdue).
func NoticeOpen(state string) bool {
	switch state {
	case NoticeSent, NoticeAcknowledged, NoticeOverdue, NoticeReminded, NoticeEscalated:
		return true
	}
	return false
}

// List entry states.
const (
	ListProposed = "proposed"
	ListActive   = "active"
	ListAppealed = "appealed"
	ListDelisted = "delisted"
	ListDisabled = "disabled"
	ListRejected = "rejected"
)

// List is the network-list entry machine. proposed → active needs a second person
// (CheckApproval). delisted, disabled and rejected entries stay as tombstones; listing the value
// again makes a new entry.
var List = newMachine("list", ListProposed, [][2]any{
	{ListProposed, []string{ListActive, ListRejected}},
	{ListActive, []string{ListDelisted, ListAppealed, ListDisabled}},
	{ListAppealed, []string{ListActive, ListDelisted}},
	{ListDelisted, []string{}},
	{ListDisabled, []string{}},
	{ListRejected, []string{}},
})

// ListLive reports whether an entry in state s holds its value (at most one live entry per
// value). Only active entries are published and blocked; an appealed entry keeps blocking until
// the appeal is decided.
func ListLive(s string) bool { return s == ListProposed || s == ListActive || s == ListAppealed }

// ListBlocks reports whether an entry in state s is published and blocked.
func ListBlocks(s string) bool { return s == ListActive || s == ListAppealed }
