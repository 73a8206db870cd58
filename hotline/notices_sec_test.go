package hotline

import (
	"bytes"
	"errors"
	"testing"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

// A notice carries the hotline's signature only once it was sent, after a second person's
// approval: a signed draft would be a notice one analyst could send to a platform alone.
func TestUnsentNoticeIsNotSigned(t *testing.T) {
	e := newNtcEnv(t)
	ctx := t.Context()
	pid := e.partner(t, "Tube", "tube.example")
	cid := e.caseAt(t, lifecycle.CaseActionable, "CSE.CSAM", "https://www.tube.example/v/2")
	d, err := e.svc.NewNoticeDraft(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	d.Input.PartnerID = pid
	id, err := e.svc.CreateNotice(ctx, ntcAlice, cid, d.Input)
	if err != nil {
		t.Fatal(err)
	}
	pub := e.svc.NoticeSigner().PublicKey()
	unsigned := func(what string) {
		t.Helper()
		doc, err := e.svc.SignedNotice(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if err := VerifyNotice(doc, pub); !errors.Is(err, ErrBadSignature) || bytes.Contains(doc, []byte(`"signature"`)) {
			t.Fatalf("%s: the document is signed (%v)\n%s", what, err, doc)
		}
		if !bytes.Contains(doc, []byte("tube.example")) {
			t.Fatalf("%s: the document lacks its items\n%s", what, doc)
		}
	}
	unsigned("draft")
	if _, err := e.svc.ApproveNotice(ctx, ntcBob, id); err != nil {
		t.Fatal(err)
	}
	unsigned("approved")
	if _, err := e.svc.SendNotice(ctx, ntcAlice, id); err != nil {
		t.Fatal(err)
	}
	doc, err := e.svc.SignedNotice(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyNotice(doc, pub); err != nil {
		t.Fatalf("sent notice: %v", err)
	}
}
