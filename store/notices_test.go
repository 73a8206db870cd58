package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

func ntcPartner(t *testing.T, s *Store, name string) int64 {
	t.Helper()
	id, err := s.CreatePartner(t.Context(), Partner{Name: name, Kind: "platform", Domains: []string{strings.ToLower(name) + ".example"}, DeadlineH: 24, Active: true}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func ntcNotice(t *testing.T, s *Store, caseID, partnerID, by int64, ref string, at time.Time) int64 {
	t.Helper()
	id, err := s.CreateNotice(t.Context(), NewNotice{Ref: ref, CaseID: caseID, PartnerID: partnerID, Kind: "takedown", Language: "vi",
		Ground: "illegal_vn", Category: "CSE.CSAM", Detection: "report", Action: "remove", Scope: "global", Preserve: true, TLP: "AMBER",
		DeadlineH: 24, Items: []NoticeItem{{URL: "https://a.example/x", FirstSeen: at, Hashes: "sha256:00"}}, ActorID: by, Actor: "user", Time: at})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestNoticeLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		alice, bob := ntcUser(t, s, "alice"), ntcUser(t, s, "bob")
		pid := ntcPartner(t, s, "Tube")
		t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

		// Not on a case that is still being assessed.
		early := ntcCase(t, s, lifecycle.CaseInAssessment, "https://a.example/early")
		if _, err := s.CreateNotice(ctx, NewNotice{Ref: "N-0", CaseID: early, PartnerID: pid, Kind: "takedown", Ground: "illegal_vn", Category: "CSE.CSAM",
			Action: "remove", Scope: "global", TLP: "AMBER", ActorID: alice, Actor: "a", Time: t0}); !errors.Is(err, ErrCaseNotReady) {
			t.Fatalf("notice on a case in assessment: %v", err)
		}

		cid := ntcCase(t, s, lifecycle.CaseActionable, "https://a.example/x")
		id := ntcNotice(t, s, cid, pid, alice, "N-1", t0)
		n, err := s.NoticeByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if n.State != lifecycle.NoticeDraft || len(n.Items) != 1 || n.PartnerName != "Tube" || n.CreatedByName != "Name alice" || !n.Preserve {
			t.Fatalf("draft %+v", n)
		}
		// A draft cannot be sent, and its author cannot approve it.
		if _, err := s.ChangeNotice(ctx, id, NoticeChange{To: lifecycle.NoticeSent, ActorID: alice, Time: t0}); !errors.Is(err, lifecycle.ErrTransition) {
			t.Fatalf("draft → sent: %v", err)
		}
		if _, err := s.ChangeNotice(ctx, id, NoticeChange{To: lifecycle.NoticeApproved, ActorID: alice, Time: t0}); !errors.Is(err, lifecycle.ErrSamePerson) {
			t.Fatalf("self-approval: %v", err)
		}
		if _, err := s.ChangeNotice(ctx, id, NoticeChange{To: lifecycle.NoticeApproved, ActorID: bob, Actor: "user:bob", Time: t0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		sent := t0.Add(time.Hour)
		var signed *Notice
		n, err = s.ChangeNotice(ctx, id, NoticeChange{To: lifecycle.NoticeSent, ActorID: alice, Actor: "user:alice", Time: sent,
			Sign: func(n *Notice) (string, error) { signed = n; return "SIG", nil }})
		if err != nil {
			t.Fatal(err)
		}
		if signed == nil || !signed.Sent.Equal(sent) || n.Signature != "SIG" || !n.Deadline.Equal(sent.Add(24*time.Hour)) || n.ApprovedBy != bob {
			t.Fatalf("sent %+v", n)
		}
		c, _ := s.CaseByID(ctx, cid)
		if c.State != lifecycle.CaseReferred || !c.Referred.Equal(sent) {
			t.Fatalf("case after sending: %s referred %v", c.State, c.Referred)
		}
		// Another partner cannot touch it: not found.
		other := ntcPartner(t, s, "Other")
		if _, err := s.ChangeNotice(ctx, id, NoticeChange{To: lifecycle.NoticeAcknowledged, PartnerID: other, Time: sent}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("other partner: %v", err)
		}
		if _, err := s.ChangeNotice(ctx, id, NoticeChange{To: lifecycle.NoticeAcknowledged, PartnerID: pid, Time: sent.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		removed := sent.Add(3 * time.Hour)
		n, err = s.ChangeNotice(ctx, id, NoticeChange{To: lifecycle.NoticeActioned, PartnerID: pid, ActionTaken: "removed", AnswerAt: removed, Time: removed.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if n.TimeToRemoval() != 3*time.Hour || n.ActionTaken != "removed" {
			t.Fatalf("time to removal %v", n.TimeToRemoval())
		}
		if _, err := s.ChangeNotice(ctx, id, NoticeChange{To: lifecycle.NoticeWithdrawn, Time: removed}); !errors.Is(err, lifecycle.ErrTransition) {
			t.Fatalf("actioned → withdrawn: %v", err)
		}
		for _, to := range []string{lifecycle.NoticeVerified, lifecycle.NoticeClosed} {
			if _, err := s.ChangeNotice(ctx, id, NoticeChange{To: to, ActorID: alice, Time: removed.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.ChangeNotice(ctx, id, NoticeChange{To: lifecycle.NoticeSent, Time: removed}); !errors.Is(err, lifecycle.ErrTransition) {
			t.Fatalf("closed → sent: %v", err)
		}
		h, err := s.NoticeHistory(ctx, id)
		if err != nil || len(h) != 7 || h[0].Action != "notice.create" || h[6].Action != "notice.closed" {
			t.Fatalf("history %v %+v", err, h)
		}
		list, total, err := s.Notices(ctx, NoticeFilter{PartnerID: pid})
		if err != nil || total != 1 || len(list) != 1 {
			t.Fatalf("notices of partner: %d %v", total, err)
		}
		if _, total, _ := s.Notices(ctx, NoticeFilter{PartnerID: other}); total != 0 {
			t.Fatal("other partner sees notices")
		}
		if v, err := s.VerifyAudit(ctx); err != nil || v.Records == 0 {
			t.Fatalf("audit chain: %+v %v", v, err)
		}
	})
}

func TestNoticeSweep(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		alice, bob := ntcUser(t, s, "alice"), ntcUser(t, s, "bob")
		pid := ntcPartner(t, s, "Tube")
		cid := ntcCase(t, s, lifecycle.CaseReferred, "https://a.example/x")
		t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		id := ntcNotice(t, s, cid, pid, alice, "N-1", t0)
		done := ntcNotice(t, s, cid, pid, alice, "N-2", t0)
		for _, nid := range []int64{id, done} {
			if _, err := s.ChangeNotice(ctx, nid, NoticeChange{To: lifecycle.NoticeApproved, ActorID: bob, Time: t0}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ChangeNotice(ctx, nid, NoticeChange{To: lifecycle.NoticeSent, ActorID: alice, Time: t0}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.ChangeNotice(ctx, done, NoticeChange{To: lifecycle.NoticeActioned, ActionTaken: "removed", Time: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		day := 24 * time.Hour
		sweep := func(at time.Duration) (int, int) {
			o, r, err := s.SweepNotices(ctx, t0.Add(at), day, "system")
			if err != nil {
				t.Fatal(err)
			}
			return o, r
		}
		if o, r := sweep(23 * time.Hour); o != 0 || r != 0 {
			t.Fatalf("before the deadline: %d %d", o, r)
		}
		if o, r := sweep(day + time.Minute); o != 1 || r != 0 {
			t.Fatalf("after the deadline: %d overdue %d reminded", o, r)
		}
		if list, _, _ := s.Notices(ctx, NoticeFilter{OverdueAt: t0.Add(day + time.Minute)}); len(list) != 1 || list[0].ID != id {
			t.Fatalf("overdue filter %v", list)
		}
		if o, r := sweep(day + 23*time.Hour); o != 0 || r != 0 {
			t.Fatalf("too early for a reminder: %d %d", o, r)
		}
		if o, r := sweep(2 * day); o != 0 || r != 1 {
			t.Fatalf("first reminder: %d %d", o, r)
		}
		if o, r := sweep(2*day + time.Hour); o != 0 || r != 0 {
			t.Fatalf("reminded again within a day: %d %d", o, r)
		}
		if o, r := sweep(3 * day); o != 0 || r != 1 {
			t.Fatalf("second reminder: %d %d", o, r)
		}
		n, _ := s.NoticeByID(ctx, id)
		if n.State != lifecycle.NoticeReminded || n.Reminders != 2 || !n.LastReminder.Equal(t0.Add(3*day)) {
			t.Fatalf("after reminders: %s %d %v", n.State, n.Reminders, n.LastReminder)
		}
		if n, _ := s.NoticeByID(ctx, done); n.State != lifecycle.NoticeActioned {
			t.Fatalf("actioned notice swept: %s", n.State)
		}
	})
}

// ntcSent creates a notice on caseID, approved by bob and sent by alice at sent.
func ntcSent(t *testing.T, s *Store, caseID, partnerID, alice, bob int64, ref string, sent time.Time) int64 {
	t.Helper()
	id := ntcNotice(t, s, caseID, partnerID, alice, ref, sent.Add(-time.Hour))
	if _, err := s.ChangeNotice(t.Context(), id, NoticeChange{To: lifecycle.NoticeApproved, ActorID: bob, Time: sent.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChangeNotice(t.Context(), id, NoticeChange{To: lifecycle.NoticeSent, ActorID: alice, Time: sent}); err != nil {
		t.Fatal(err)
	}
	return id
}

// An answer staff record from an e-mail or a call carries the partner's time, not the typist's:
// the takedown clock in the statistics is actioned − sent with that time. A time before the
// sending or after now is refused.
func TestNoticeRecordedAnswer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		alice, bob := ntcUser(t, s, "alice"), ntcUser(t, s, "bob")
		pid := ntcPartner(t, s, "Tube")
		cid := ntcCase(t, s, lifecycle.CaseActionable, "https://a.example/x")
		sent := time.Date(2026, 3, 1, 8, 0, 30, 0, time.UTC)
		id := ntcSent(t, s, cid, pid, alice, bob, "N-1", sent)
		typed := sent.Add(6 * time.Hour) // when the analyst types the answer in

		for _, at := range []time.Time{sent.Add(-time.Hour), sent.Add(-61 * time.Second), typed.Add(time.Second)} {
			_, err := s.ChangeNotice(ctx, id, NoticeChange{To: lifecycle.NoticeAcknowledged, ActorID: alice, Actor: "user:alice", Time: typed,
				AnswerAt: at, Source: "phone"})
			if !errors.Is(err, ErrAnswerTime) {
				t.Fatalf("acknowledged at %v (sent %v): %v", at, sent, err)
			}
		}
		// Forms give minutes: the minute the notice was sent counts as the sending.
		n, err := s.ChangeNotice(ctx, id, NoticeChange{To: lifecycle.NoticeAcknowledged, ActorID: alice, Actor: "user:alice", Time: typed,
			AnswerAt: sent.Truncate(time.Minute), Source: "email"})
		if err != nil {
			t.Fatal(err)
		}
		if !n.Acknowledged.Equal(sent) {
			t.Fatalf("acknowledged %v, want the sending %v", n.Acknowledged, sent)
		}
		if _, err := s.ChangeNotice(ctx, id, NoticeChange{To: lifecycle.NoticeActioned, ActorID: alice, Time: typed, ActionTaken: "removed",
			AnswerAt: sent.Add(-2 * time.Hour), Source: "phone"}); !errors.Is(err, ErrAnswerTime) {
			t.Fatalf("actioned before the sending: %v", err)
		}
		removed := sent.Add(2*time.Hour + 15*time.Minute)
		n, err = s.ChangeNotice(ctx, id, NoticeChange{To: lifecycle.NoticeActioned, ActorID: alice, Actor: "user:alice", Time: typed,
			ActionTaken: "removed", AnswerAt: removed, Source: "phone"})
		if err != nil {
			t.Fatal(err)
		}
		if !n.Actioned.Equal(removed) || n.TimeToRemoval() != 2*time.Hour+15*time.Minute || !n.Updated.Equal(typed) {
			t.Fatalf("actioned %v updated %v", n.Actioned, n.Updated)
		}
		h, err := s.NoticeHistory(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		last := h[len(h)-1]
		if last.Action != "notice.actioned" || !last.Time.Equal(typed) || !strings.Contains(last.Detail, `"recorded by staff: phone"`) ||
			!strings.Contains(last.Detail, `"source":"phone"`) || !strings.Contains(last.Detail, removed.Format(time.RFC3339)) {
			t.Fatalf("history of the recorded answer: %+v", last)
		}
		st, err := s.HotlineStats(ctx, sent.Add(-24*time.Hour), sent.Add(24*time.Hour), nil)
		if err != nil {
			t.Fatal(err)
		}
		if st.Removal.Count != 1 || st.Removal.Median != removed.Sub(sent) || len(st.Partners) != 1 || st.Partners[0].Removal.Median != removed.Sub(sent) {
			t.Fatalf("statistics' removal clock %+v %+v, want %v", st.Removal, st.Partners, removed.Sub(sent))
		}
		if v, err := s.VerifyAudit(ctx); err != nil || v.Records == 0 {
			t.Fatalf("audit chain: %+v %v", v, err)
		}
	})
}

// The sweep leaves alone the notices of a case that is closed, purged or not actionable: no
// overdue marking, no reminders.
func TestNoticeSweepSkipsEndedCases(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		alice, bob := ntcUser(t, s, "alice"), ntcUser(t, s, "bob")
		pid := ntcPartner(t, s, "Tube")
		t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		day := 24 * time.Hour
		move := func(cid int64, path ...string) {
			t.Helper()
			for _, to := range path {
				if _, err := s.ChangeCase(ctx, cid, CaseChange{Actor: "test", To: to}); err != nil {
					t.Fatalf("case → %s: %v", to, err)
				}
			}
		}
		closed := []string{lifecycle.CaseResolved, lifecycle.CaseClosed}
		notices := map[string]int64{}
		cases := map[string]int64{}
		for i, name := range []string{"open", "closed_early", "closed", "not_actionable", "purged"} {
			cases[name] = ntcCase(t, s, lifecycle.CaseActionable, fmt.Sprintf("https://a.example/%d", i))
			notices[name] = ntcSent(t, s, cases[name], pid, alice, bob, fmt.Sprintf("N-%d", i), t0)
		}
		// Closed before its deadline: it never becomes overdue.
		move(cases["closed_early"], closed...)
		o, r, err := s.SweepNotices(ctx, t0.Add(day+time.Minute), day, "system")
		if err != nil || o != 4 || r != 0 {
			t.Fatalf("first sweep: %d overdue %d reminded %v", o, r, err)
		}
		// Overdue, then the case ends: no reminder.
		move(cases["closed"], closed...)
		move(cases["not_actionable"], lifecycle.CaseResolved, lifecycle.CaseReopened, lifecycle.CaseInAssessment, lifecycle.CaseNotActionable)
		move(cases["purged"], append(closed, lifecycle.CasePurged)...)
		for _, at := range []time.Duration{2 * day, 3 * day} {
			if o, r, err := s.SweepNotices(ctx, t0.Add(at), day, "system"); err != nil || o != 0 || r != 1 {
				t.Fatalf("sweep at +%v: %d overdue %d reminded %v", at, o, r, err)
			}
		}
		for name, want := range map[string]struct {
			state     string
			reminders int
		}{
			"open": {lifecycle.NoticeReminded, 2}, "closed_early": {lifecycle.NoticeSent, 0}, "closed": {lifecycle.NoticeOverdue, 0},
			"not_actionable": {lifecycle.NoticeOverdue, 0}, "purged": {lifecycle.NoticeOverdue, 0},
		} {
			n, err := s.NoticeByID(ctx, notices[name])
			if err != nil || n.State != want.state || n.Reminders != want.reminders {
				t.Errorf("%s: %s, %d reminders (%v); want %s, %d", name, n.State, n.Reminders, err, want.state, want.reminders)
			}
		}
		// Reopened, the case's notice is reminded again.
		move(cases["closed"], lifecycle.CaseReopened)
		if _, r, err := s.SweepNotices(ctx, t0.Add(3*day+time.Hour), day, "system"); err != nil || r != 1 {
			t.Fatalf("after reopening: %d reminded %v", r, err)
		}
	})
}
