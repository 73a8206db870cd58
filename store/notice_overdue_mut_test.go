package store

import (
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

// A notice is overdue only while it still waits on its recipient (lifecycle.NoticeOpen) and only
// after its deadline: the staff list and the partner's page mark it in red. A notice the partner
// already acted on, or one closed or withdrawn, is never overdue, however old its deadline.
func TestNoticeOverdueOnlyWhileOpen(t *testing.T) {
	deadline := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	before, after := deadline.Add(-time.Minute), deadline.Add(time.Minute)
	for _, st := range lifecycle.Notice.States() {
		n := &Notice{State: st, DeadlineH: 24, Sent: deadline.Add(-24 * time.Hour), Deadline: deadline}
		open := lifecycle.NoticeOpen(st)
		if got := n.Overdue(after); got != open {
			t.Errorf("%s, a minute past the deadline: Overdue = %v, want %v", st, got, open)
		}
		if n.Overdue(before) {
			t.Errorf("%s, a minute before the deadline: overdue", st)
		}
		if (&Notice{State: st}).Overdue(after) {
			t.Errorf("%s without a deadline: overdue", st)
		}
	}
	for _, st := range []string{lifecycle.NoticeSent, lifecycle.NoticeAcknowledged, lifecycle.NoticeOverdue, lifecycle.NoticeReminded, lifecycle.NoticeEscalated} {
		if !lifecycle.NoticeOpen(st) {
			t.Errorf("%s does not count as waiting on the recipient", st)
		}
	}
	for _, st := range []string{lifecycle.NoticeDraft, lifecycle.NoticeApproved, lifecycle.NoticeActioned, lifecycle.NoticeVerified,
		lifecycle.NoticeClosed, lifecycle.NoticeDisputed, lifecycle.NoticeWithdrawn} {
		if lifecycle.NoticeOpen(st) {
			t.Errorf("%s counts as waiting on the recipient", st)
		}
	}
}
