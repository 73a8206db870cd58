package hotline

import (
	"errors"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
)

// Once a case is purged its reporter's words are gone for good: the status page cannot put new
// personal data into it, which no later purge would remove.
func TestAddInfoRefusedOnPurgedCase(t *testing.T) {
	e := newNtcEnv(t)
	ctx := t.Context()
	rc, err := e.svc.Submit(ctx, Submission{Channel: "web", Language: "vi", Harm: "VIO.BULLY", URLs: []string{"https://example.com/a"},
		Description: "private words"}, Actor{Label: "anonymous"})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := e.st.ReportByRef(ctx, rc.Ref)
	if err := e.svc.AddInfo(ctx, rc.Ref, rc.StatusCode, "more while open"); err != nil {
		t.Fatalf("add info to an open case: %v", err)
	}
	for _, to := range []string{lifecycle.CaseNotActionable, lifecycle.CaseClosed} {
		if _, err := e.st.ChangeCase(ctx, r.CaseID, store.CaseChange{Actor: "t", To: to, Time: e.now}); err != nil {
			t.Fatal(err)
		}
	}
	e.now = e.now.Add(400 * 24 * time.Hour)
	if _, err := e.st.PurgeHotline(ctx, e.now, config.Retention{Contact: time.Hour, Reports: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.st.CaseByID(ctx, r.CaseID); c.State != lifecycle.CasePurged {
		t.Fatalf("case %s after the purge", c.State)
	}
	err = e.svc.AddInfo(ctx, rc.Ref, rc.StatusCode, "my phone is 0912 345 678")
	var verr ValidationError
	if !errors.As(err, &verr) || verr[0].Key != "status.closed" {
		t.Fatalf("add info to a purged case: %v", err)
	}
	evs, _ := e.st.CaseEvents(ctx, r.CaseID)
	for _, ev := range evs {
		if ev.NoteSealed != "" {
			t.Fatalf("a sealed note in a purged case: %+v", ev)
		}
	}
}
