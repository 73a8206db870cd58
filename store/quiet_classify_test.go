package store

import (
	"testing"
)

// A classification change that carries its own history entry (the scanner's raise) leaves
// out the "classify" entry, keeps the audit record, and is refused without a note.
func TestQuietClassify(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		r, err := s.CreateReport(ctx, testReport(1, "https://example.vn/q"))
		if err != nil {
			t.Fatal(err)
		}
		kinds := func() map[string]int {
			evs, err := s.CaseEvents(ctx, r.CaseID)
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]int{}
			for _, e := range evs {
				m[e.Kind]++
			}
			return m
		}
		k := &Classification{Harm: "CSE.CSAM", Severity: 3, Priority: 1}
		if _, err := s.ChangeCase(ctx, r.CaseID, CaseChange{Actor: "scanner", Classify: k, QuietClassify: true}); err == nil {
			t.Fatal("a quiet classification without a note was accepted")
		}
		before := kinds()
		c, err := s.ChangeCase(ctx, r.CaseID, CaseChange{Actor: "scanner", Classify: k, QuietClassify: true, Kind: "scanner",
			NoteSealed: "sealed", Detail: "P2 → P1: test"})
		if err != nil {
			t.Fatal(err)
		}
		after := kinds()
		if c.Priority != 1 || after["classify"] != before["classify"] || after["scanner"] != before["scanner"]+1 {
			t.Errorf("quiet: priority P%d, events %v → %v; want P1, one scanner entry and no classify entry", c.Priority, before, after)
		}
		recs, err := s.AuditList(ctx, AuditFilter{Action: "case.change"})
		if err != nil || len(recs) == 0 {
			t.Fatalf("no audit record of the change: %v", err)
		}
		// The same change without QuietClassify writes its classify entry.
		k.Priority = 0
		if _, err := s.ChangeCase(ctx, r.CaseID, CaseChange{Actor: "user:1:a", Classify: k, Kind: "scanner", NoteSealed: "sealed"}); err != nil {
			t.Fatal(err)
		}
		if got := kinds(); got["classify"] != before["classify"]+1 {
			t.Errorf("loud: events %v, want one classify entry more than %v", got, before)
		}
	})
}
