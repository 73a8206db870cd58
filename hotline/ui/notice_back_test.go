package ui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
)

// Content found again after the removal was recorded puts a warning above the notice's
// actions; a present check from before the removal does not.
func TestNoticeContentBackWarning(t *testing.T) {
	e := newNtcEnv(t)
	ctx := context.Background()
	urls := []string{"https://www.tube.example/v/back"}
	cid := e.actionableCase("CSE.CSAM", urls...)
	id := e.draftNotice(cid, e.pA, urls...)
	ntcWant(t, "approve", e.post("bob", fmt.Sprintf("/desk/notices/%d/approve", id), nil), 303)
	ntcWant(t, "send", e.post("alice", fmt.Sprintf("/desk/notices/%d/send", id), nil), 303)
	// The case history's entries for the notice, as the store writes them, read in Vietnamese
	// (deskStoredDetail): a change of the store's wording fails here.
	cw := e.get("alice", fmt.Sprintf("/desk/cases/%d?lang=vi", cid))
	ntcWant(t, "case page", cw, 200)
	if cb := cw.Body.String(); !strings.Contains(cb, "đã soạn yêu cầu ") || !strings.Contains(cb, "đã gửi yêu cầu ") || strings.Contains(cb, " drafted") {
		t.Error("case history: the notice's draft and sending are not worded in Vietnamese")
	}
	n, err := e.st.NoticeByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	check := func(at time.Time) {
		t.Helper()
		if err := e.st.RecordNoticeItemCheck(ctx, store.NoticeItemCheck{NoticeID: id, ItemID: n.Items[0].ID, Checked: at, Reason: "page_present", HTTPStatus: 200}); err != nil {
			t.Fatal(err)
		}
	}
	page := func() string {
		w := e.get("alice", fmt.Sprintf("/desk/notices/%d?lang=en", id))
		ntcWant(t, "notice page", w, 200)
		return w.Body.String()
	}
	const warning = "found the content there again"
	check(n.Sent.Add(time.Minute)) // present before any removal: the normal case
	if strings.Contains(page(), warning) {
		t.Fatal("warning shown before any removal was recorded")
	}
	actioned := n.Sent.Add(time.Hour)
	if _, err := e.st.ChangeNotice(ctx, id, store.NoticeChange{To: lifecycle.NoticeActioned, ActionTaken: "removed", Actor: "scanner", Time: actioned}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(page(), warning) {
		t.Fatal("warning shown for a check older than the removal")
	}
	check(actioned.Add(2 * time.Hour))
	b := page()
	if !strings.Contains(b, warning) {
		t.Fatal("content back after the removal: no warning on the notice page")
	}
	// The scanner marks the notice reappeared (as scanner.recordReappeared does): the list and
	// the page's status line flag it.
	if err := e.st.MarkNoticeReappeared(ctx, id, actioned.Add(2*time.Hour), "scanner", map[string]any{"item": n.Items[0].ID}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/desk/notices?lang=en", fmt.Sprintf("/desk/notices/%d?lang=en", id)} {
		w := e.get("alice", path)
		ntcWant(t, path, w, 200)
		if !strings.Contains(w.Body.String(), `<span class="ntc-overdue">content back</span>`) {
			t.Errorf("%s: the notice is not flagged as content back", path)
		}
	}
	// The partner is told too, instead of "no further response needed".
	pw := e.get("tube", fmt.Sprintf("/partner/notices/%d?lang=en", id))
	ntcWant(t, "partner view", pw, 200)
	if pb := pw.Body.String(); !strings.Contains(pb, "The content was found there again") || strings.Contains(pb, "needs no further response") {
		t.Error("partner view: content back not said")
	}
	// The history names people and the scanner in words, never an audit label.
	hist := b[strings.Index(b, `<ol class="ntc-history">`):]
	hist = hist[:strings.Index(hist, "</ol>")]
	if strings.Contains(hist, "user:") || !strings.Contains(hist, "automatic scan") {
		t.Errorf("notice history shows audit labels or lacks the scanner:\n%s", hist)
	}
}
