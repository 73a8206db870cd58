package store

import (
	"slices"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

// The items to re-check are those of notices awaiting a removal and, for a while, of notices
// whose removal was recorded; never drafts, withdrawn notices or purged cases. Each carries its
// last check.
func TestNoticeItemsToRecheck(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		alice, bob := ntcUser(t, s, "alice"), ntcUser(t, s, "bob")
		pid := ntcPartner(t, s, "Tube")
		t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		sent := ntcSent(t, s, ntcCase(t, s, lifecycle.CaseActionable, "https://a.example/1"), pid, alice, bob, "N-sent", t0)
		draft := ntcNotice(t, s, ntcCase(t, s, lifecycle.CaseActionable, "https://a.example/2"), pid, alice, "N-draft", t0)
		oldRemoved := ntcSent(t, s, ntcCase(t, s, lifecycle.CaseActionable, "https://a.example/3"), pid, alice, bob, "N-old", t0)
		newRemoved := ntcSent(t, s, ntcCase(t, s, lifecycle.CaseActionable, "https://a.example/4"), pid, alice, bob, "N-new", t0)
		purgedCase := ntcCase(t, s, lifecycle.CaseActionable, "https://a.example/5")
		purged := ntcSent(t, s, purgedCase, pid, alice, bob, "N-purged", t0)
		for id, at := range map[int64]time.Time{oldRemoved: t0.Add(time.Hour), newRemoved: t0.Add(48 * time.Hour)} {
			if _, err := s.ChangeNotice(ctx, id, NoticeChange{To: lifecycle.NoticeActioned, ActionTaken: "removed", Actor: "p", Time: at}); err != nil {
				t.Fatal(err)
			}
		}
		for _, to := range []string{lifecycle.CaseResolved, lifecycle.CaseClosed, lifecycle.CasePurged} {
			if _, err := s.ChangeCase(ctx, purgedCase, CaseChange{Actor: "test", To: to}); err != nil {
				t.Fatal(err)
			}
		}
		items, err := s.NoticeItemsToRecheck(ctx, t0.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, it := range items {
			got = append(got, it.NoticeID)
			if it.URL != "https://a.example/x" || it.Hashes != "sha256:00" || it.Last != nil || it.CaseID == 0 || it.NoticeRef == "" {
				t.Errorf("item %+v", it)
			}
		}
		if want := []int64{sent, newRemoved}; !slices.Equal(got, want) {
			t.Fatalf("notices to re-check %v, want %v (draft %d, old removal %d, purged %d left out)", got, want, draft, oldRemoved, purged)
		}

		// A check is stored, replaced by the next, and read back with the list.
		it := items[0]
		c := NoticeItemCheck{ItemID: it.ItemID, NoticeID: it.NoticeID, Checked: t0.Add(2 * time.Hour), HTTPStatus: 404, FinalURL: "https://a.example/x",
			Gone: true, Reason: "http_404", GoneSince: t0.Add(2 * time.Hour)}
		if err := s.RecordNoticeItemCheck(ctx, c); err != nil {
			t.Fatal(err)
		}
		c2 := c
		c2.Checked, c2.HTTPStatus, c2.Reason = t0.Add(3*time.Hour), 410, "http_410"
		if err := s.RecordNoticeItemCheck(ctx, c2); err != nil {
			t.Fatal(err)
		}
		checks, err := s.NoticeItemChecks(ctx, sent)
		if err != nil || len(checks) != 1 {
			t.Fatalf("checks %v %v", checks, err)
		}
		if k := checks[it.ItemID]; k == nil || !k.Gone || k.HTTPStatus != 410 || k.Reason != "http_410" || !k.GoneSince.Equal(c.GoneSince) || !k.Checked.Equal(c2.Checked) {
			t.Fatalf("check %+v", checks[it.ItemID])
		}
		items, err = s.NoticeItemsToRecheck(ctx, t0.Add(24*time.Hour))
		if err != nil || items[0].Last == nil || items[0].Last.Reason != "http_410" || !items[0].Last.Gone {
			t.Fatalf("last check with the list: %+v %v", items[0].Last, err)
		}

		// Content back after a removal: the notice's reappeared time and its history.
		at := t0.Add(72 * time.Hour)
		if err := s.MarkNoticeReappeared(ctx, newRemoved, at, "scanner", map[string]any{"reason": "http_200"}); err != nil {
			t.Fatal(err)
		}
		n, err := s.NoticeByID(ctx, newRemoved)
		if err != nil || !n.Reappeared.Equal(at) || n.State != lifecycle.NoticeActioned {
			t.Fatalf("notice after reappearance: %+v %v", n, err)
		}
		h, err := s.NoticeHistory(ctx, newRemoved)
		if err != nil || h[len(h)-1].Action != "notice.reappeared" || h[len(h)-1].Actor != "scanner" {
			t.Fatalf("history %+v %v", h, err)
		}
		if err := s.MarkNoticeReappeared(ctx, 99999, at, "scanner", nil); err == nil {
			t.Fatal("reappearance of a notice that does not exist")
		}
	})
}
