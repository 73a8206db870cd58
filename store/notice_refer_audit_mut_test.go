package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

// Sending the first notice of an actionable case moves the case to referred. That is a change
// of the case like any other: it must leave a "case.change" audit record (HOTLINE.md: every
// change is in the audit log), not only a line in the case history.
func TestNoticeSendAuditsTheCaseReferral(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		alice, bob := ntcUser(t, s, "alice"), ntcUser(t, s, "bob")
		cid := ntcCase(t, s, lifecycle.CaseActionable, "https://a.example/x")
		pid := ntcPartner(t, s, "Vidu")
		sent := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		ntcSent(t, s, cid, pid, alice, bob, "N-REFER-1", sent)

		c, err := s.CaseByID(ctx, cid)
		if err != nil {
			t.Fatal(err)
		}
		if c.State != lifecycle.CaseReferred {
			t.Fatalf("after sending, the case is %s, want referred", c.State)
		}
		recs, err := s.AuditList(ctx, AuditFilter{Action: "case.change", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		obj := fmt.Sprintf("case:%d", cid)
		found := false
		for _, r := range recs {
			if r.Object == obj && strings.Contains(r.Detail, `"to":"referred"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("no case.change audit record for %s → referred after the notice was sent", obj)
		}
		// Every transition in the case history has its audit record.
		events, err := s.CaseEvents(ctx, cid)
		if err != nil {
			t.Fatal(err)
		}
		transitions, audited := 0, 0
		for _, e := range events {
			if e.Kind == "transition" {
				transitions++
			}
		}
		for _, r := range recs {
			if r.Object == obj && strings.Contains(r.Detail, `"to":`) {
				audited++
			}
		}
		if audited != transitions {
			t.Errorf("case %d: %d transitions in its history, %d audited", cid, transitions, audited)
		}
		if res, err := s.VerifyAudit(ctx); err != nil {
			t.Errorf("audit chain: %+v %v", res, err)
		}
	})
}
