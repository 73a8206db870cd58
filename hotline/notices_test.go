package hotline

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/seal"
	"github.com/kidshield/kidshield/store"
)

// ntcEnv is a Service on a fresh SQLite store with a clock the test moves.
type ntcEnv struct {
	svc      *Service
	st       *store.Store
	now      time.Time
	listHook int
}

func newNtcEnv(t *testing.T) *ntcEnv {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := seal.ParseKeys([]string{"t:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	e := &ntcEnv{st: st, now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	e.svc = New(Options{Store: st, Sealer: keys, Config: func() *config.Hotline { return &cfg.Hotline }, Now: func() time.Time { return e.now },
		OnListChange: func() { e.listHook++ }})
	k, err := LoadNoticeSigner(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	e.svc.SetNoticeSigner(k)
	return e
}

// caseAt submits a report with urls and moves its case to state.
func (e *ntcEnv) caseAt(t *testing.T, state, harm string, urls ...string) int64 {
	t.Helper()
	rc, err := e.svc.Submit(t.Context(), Submission{Channel: "web", Language: "vi", Harm: harm, URLs: urls, Description: "private words"}, Actor{Label: "anonymous"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.st.ReportByRef(t.Context(), rc.Ref)
	if err != nil {
		t.Fatal(err)
	}
	path := []string{lifecycle.CaseTriaged, lifecycle.CaseInAssessment, lifecycle.CaseActionable}
	if state == lifecycle.CaseInAssessment {
		path = path[:2]
	}
	for _, to := range path {
		if _, err := e.st.ChangeCase(t.Context(), r.CaseID, store.CaseChange{Actor: "t", To: to, Time: e.now}); err != nil {
			t.Fatal(err)
		}
	}
	return r.CaseID
}

var (
	ntcAlice = Actor{UserID: 1, Label: "user:1:alice"}
	ntcBob   = Actor{UserID: 2, Label: "user:2:bob"}
)

func (e *ntcEnv) partner(t *testing.T, name, domains string) int64 {
	t.Helper()
	id, err := e.svc.CreatePartner(t.Context(), Actor{Label: "user:9:admin"}, PartnerInput{Name: name, Kind: "platform", Country: "sg", Language: "en", Domains: domains, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestPartnerValidation(t *testing.T) {
	e := newNtcEnv(t)
	_, err := e.svc.CreatePartner(t.Context(), Actor{}, PartnerInput{Name: "", Kind: "alien", Country: "Viet Nam", Email: "nope", Language: "fr", Domains: "a..b"})
	var verr ValidationError
	if !errors.As(err, &verr) || len(verr) != 6 {
		t.Fatalf("want 6 field errors, got %v", err)
	}
	id := e.partner(t, "Tube", "tube.example, Tube-Video.example.")
	p, _ := e.st.PartnerByID(t.Context(), id)
	if p.DeadlineH != 24 || p.Country != "SG" || !slices.Equal(p.Domains, []string{"tube.example", "tube-video.example"}) {
		t.Fatalf("partner %+v", p)
	}
}

func TestNoticeFlowAndSignature(t *testing.T) {
	e := newNtcEnv(t)
	ctx := t.Context()
	pid := e.partner(t, "Tube", "tube.example")
	e.partner(t, "Other", "other.example")

	early := e.caseAt(t, lifecycle.CaseInAssessment, "CSE.CSAM", "https://www.tube.example/v/1")
	if _, err := e.svc.CreateNotice(ctx, ntcAlice, early, NoticeInput{PartnerID: pid, Kind: "takedown", Language: "en", Ground: "illegal_vn",
		Detection: "report", Action: "remove", Scope: "global", TLP: "AMBER", URLs: []string{"https://www.tube.example/v/1"}}); err == nil {
		t.Fatal("notice on a case in assessment")
	}

	cid := e.caseAt(t, lifecycle.CaseActionable, "CSE.CSAM", "https://www.tube.example/v/2", "https://elsewhere.example/x")
	d, err := e.svc.NewNoticeDraft(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	if d.Suggested != pid || !d.Ready || len(d.Items) != 2 || d.Items[0].FirstSeen.IsZero() || d.Input.TLP != "AMBER" || d.Input.DeadlineH != 24 {
		t.Fatalf("draft %+v", d)
	}
	in := d.Input
	in.URLs = in.URLs[:1]
	id, err := e.svc.CreateNotice(ctx, ntcAlice, cid, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ApproveNotice(ctx, ntcAlice, id); !errors.Is(err, lifecycle.ErrSamePerson) {
		t.Fatalf("self-approval: %v", err)
	}
	if _, err := e.svc.ApproveNotice(ctx, ntcBob, id); err != nil {
		t.Fatal(err)
	}
	sentAt := e.now
	n, err := e.svc.SendNotice(ctx, ntcAlice, id)
	if err != nil {
		t.Fatal(err)
	}
	if n.Signature == "" || !n.Deadline.Equal(sentAt.Add(24*time.Hour)) || len(n.Items) != 1 {
		t.Fatalf("sent %+v", n)
	}
	if c, _ := e.st.CaseByID(ctx, cid); c.State != lifecycle.CaseReferred {
		t.Fatalf("case %s after sending", c.State)
	}

	doc, err := e.svc.SignedNotice(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	pub := e.svc.NoticeSigner().PublicKey()
	if err := VerifyNotice(doc, pub); err != nil {
		t.Fatalf("verify: %v\n%s", err, doc)
	}
	if bytes.Contains(doc, []byte("private words")) || !bytes.Contains(doc, []byte(`"issued_at"`)) {
		t.Fatalf("document: %s", doc)
	}
	// The signature stored at sending is the one the document carries (Ed25519 is deterministic).
	if !bytes.Contains(doc, []byte(n.Signature)) {
		t.Fatal("stored signature differs from the document's")
	}

	// The partner: another partner sees nothing.
	other := int64(999)
	if _, err := e.svc.PartnerNotice(ctx, Actor{}, other, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other partner: %v", err)
	}
	if _, err := e.svc.PartnerRemoved(ctx, Actor{}, pid, id, "deleted", time.Time{}); err == nil {
		t.Fatal("unknown action accepted")
	}
	e.now = e.now.Add(5 * time.Hour)
	n, err = e.svc.PartnerRemoved(ctx, Actor{UserID: 7, Label: "user:7:tube"}, pid, id, "removed", sentAt.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.svc.NoticeView(ctx, id)
	if err != nil || v.TimeToRemoval != 2*time.Hour || v.KeyID == "" || len(v.History) < 4 {
		t.Fatalf("view %+v %v", v, err)
	}
	// Still there after all: back to the partner with a new deadline.
	n, err = e.svc.VerifyRemoval(ctx, ntcAlice, id, false)
	if err != nil || n.State != lifecycle.NoticeSent || !n.Deadline.Equal(e.now.Add(24*time.Hour)) || !n.Sent.Equal(sentAt) {
		t.Fatalf("resent: %+v %v", n, err)
	}
	if _, err := e.svc.PartnerRemoved(ctx, Actor{}, pid, id, "disabled", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.VerifyRemoval(ctx, ntcAlice, id, true); err != nil {
		t.Fatal(err)
	}
	if n, err = e.svc.CloseNotice(ctx, ntcAlice, id); err != nil || n.State != lifecycle.NoticeClosed {
		t.Fatalf("close: %v", err)
	}
}

func TestNoticeSweepClock(t *testing.T) {
	e := newNtcEnv(t)
	ctx := t.Context()
	pid := e.partner(t, "Tube", "tube.example")
	cid := e.caseAt(t, lifecycle.CaseActionable, "HARM.GAMBLING", "https://tube.example/a")
	d, _ := e.svc.NewNoticeDraft(ctx, cid)
	id, err := e.svc.CreateNotice(ctx, ntcAlice, cid, d.Input)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ApproveNotice(ctx, ntcBob, id); err != nil {
		t.Fatal(err)
	}
	sent := e.now
	if _, err := e.svc.SendNotice(ctx, ntcBob, id); err != nil {
		t.Fatal(err)
	}
	_ = pid
	steps := []struct {
		after             time.Duration
		overdue, reminded int
		state             string
	}{
		{23 * time.Hour, 0, 0, lifecycle.NoticeSent},
		{24*time.Hour + time.Second, 1, 0, lifecycle.NoticeOverdue},
		{30 * time.Hour, 0, 0, lifecycle.NoticeOverdue},
		{48 * time.Hour, 0, 1, lifecycle.NoticeReminded},
		{48*time.Hour + time.Minute, 0, 0, lifecycle.NoticeReminded},
		{71 * time.Hour, 0, 0, lifecycle.NoticeReminded},
		{72 * time.Hour, 0, 1, lifecycle.NoticeReminded},
	}
	for _, s := range steps {
		o, r, err := e.svc.NoticeSweep(ctx, sent.Add(s.after))
		if err != nil {
			t.Fatal(err)
		}
		n, _ := e.st.NoticeByID(ctx, id)
		if o != s.overdue || r != s.reminded || n.State != s.state {
			t.Errorf("after %v: overdue %d reminded %d state %s; want %d %d %s", s.after, o, r, n.State, s.overdue, s.reminded, s.state)
		}
	}
	if n, _ := e.st.NoticeByID(ctx, id); n.Reminders != 2 {
		t.Fatalf("reminders %d", n.Reminders)
	}
}

func TestNetworkListFromCase(t *testing.T) {
	e := newNtcEnv(t)
	ctx := t.Context()
	cid := e.caseAt(t, lifecycle.CaseActionable, "HARM.ADULT", "https://Video.Bad.example/x", "https://bücher.example/y")
	sg, err := e.svc.SuggestListEntries(ctx, cid)
	if err != nil || sg.Category != "adult" || len(sg.Hosts) != 2 {
		t.Fatalf("suggestion %+v %v", sg, err)
	}
	ids, err := e.svc.ProposeFromCase(ctx, ntcAlice, cid, ListProposalInput{Values: []string{"BAD.example.", "bücher.example"}, Reason: "confirmed"})
	if err != nil || len(ids) != 2 {
		t.Fatalf("propose: %v %v", ids, err)
	}
	if _, err := e.svc.ProposeFromCase(ctx, ntcBob, cid, ListProposalInput{Values: []string{"bad.example"}}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second live entry: %v", err)
	}
	if _, err := e.svc.ApproveListEntry(ctx, ntcAlice, ids[0]); !errors.Is(err, lifecycle.ErrSamePerson) {
		t.Fatalf("self-approval: %v", err)
	}
	if e.listHook != 0 {
		t.Fatal("hook called without a change")
	}
	for _, id := range ids {
		if _, err := e.svc.ApproveListEntry(ctx, ntcBob, id); err != nil {
			t.Fatal(err)
		}
	}
	doms, serial, err := e.svc.NetworkDomains(ctx)
	if err != nil || serial != 4 || e.listHook != 2 {
		t.Fatalf("serial %d hook %d %v", serial, e.listHook, err)
	}
	if got := doms["adult"]; !slices.Equal(got, []string{"bad.example", "xn--bcher-kva.example"}) {
		t.Fatalf("domains %v", doms)
	}
	if _, err := e.svc.DelistListEntry(ctx, ntcAlice, ids[0], "gone"); err != nil {
		t.Fatal(err)
	}
	doms, serial, _ = e.svc.NetworkDomains(ctx)
	if len(doms["adult"]) != 1 || serial != 5 || e.listHook != 3 {
		t.Fatalf("after delisting: %v %d %d", doms, serial, e.listHook)
	}
	if _, err := e.svc.ChangeListEntry(ctx, ntcAlice, ids[1], "bogus", ""); err == nil {
		t.Fatal("unknown state accepted")
	}
	_ = fmt.Sprint
}

// sentNotice drafts, approves and sends a notice on a new actionable case, at e.now.
func (e *ntcEnv) sentNotice(t *testing.T) int64 {
	t.Helper()
	ctx := t.Context()
	if ps, _ := e.st.Partners(ctx, false); len(ps) == 0 {
		e.partner(t, "Tube", "tube.example")
	}
	_, count, err := e.st.Notices(ctx, store.NoticeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	cid := e.caseAt(t, lifecycle.CaseActionable, "CSE.CSAM", fmt.Sprintf("https://www.tube.example/v/%d", 100+count))
	d, err := e.svc.NewNoticeDraft(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.svc.CreateNotice(ctx, ntcAlice, cid, d.Input)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ApproveNotice(ctx, ntcBob, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SendNotice(ctx, ntcAlice, id); err != nil {
		t.Fatal(err)
	}
	return id
}

func ntcFieldErr(t *testing.T, what string, err error, key string) {
	t.Helper()
	var verr ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("%s: %v, want a field error %s", what, err, key)
	}
	for _, fe := range verr {
		if fe.Key == key {
			return
		}
	}
	t.Fatalf("%s: %v, want %s", what, verr, key)
}

func TestRecordPartnerAnswer(t *testing.T) {
	e := newNtcEnv(t)
	ctx := t.Context()
	sent := e.now
	id := e.sentNotice(t)
	e.now = e.now.Add(8 * time.Hour)

	_, err := e.svc.RecordAcknowledged(ctx, ntcAlice, id, "pigeon", time.Time{})
	ntcFieldErr(t, "unknown source", err, "notice.err.source")
	ntcFieldErr(t, "no time", err, "notice.err.time_required")
	_, err = e.svc.RecordAcknowledged(ctx, ntcAlice, id, "email", sent.Add(-time.Hour))
	ntcFieldErr(t, "acknowledged before the sending", err, "notice.err.answer_time")
	_, err = e.svc.RecordActioned(ctx, ntcAlice, id, "phone", "removed", sent.Add(-time.Hour))
	ntcFieldErr(t, "actioned before the sending", err, "notice.err.answer_time")
	_, err = e.svc.RecordActioned(ctx, ntcAlice, id, "phone", "removed", e.now.Add(time.Minute))
	ntcFieldErr(t, "actioned in the future", err, "notice.err.future")
	_, err = e.svc.RecordActioned(ctx, ntcAlice, id, "phone", "deleted", sent.Add(time.Hour))
	ntcFieldErr(t, "unknown action", err, "notice.err.action")
	// The partner view refuses a time before the sending too (it used to move it silently).
	_, err = e.svc.PartnerRemoved(ctx, Actor{}, mustPartner(t, e, id), id, "removed", sent.Add(-time.Hour))
	ntcFieldErr(t, "partner: actioned before the sending", err, "notice.err.answer_time")

	n, err := e.svc.RecordAcknowledged(ctx, ntcAlice, id, "email", sent.Add(30*time.Minute))
	if err != nil || n.State != lifecycle.NoticeAcknowledged || !n.Acknowledged.Equal(sent.Add(30*time.Minute)) {
		t.Fatalf("acknowledged: %+v %v", n, err)
	}
	n, err = e.svc.RecordActioned(ctx, ntcAlice, id, "letter", "account_suspended", sent.Add(5*time.Hour))
	if err != nil || n.ActionTaken != "account_suspended" || n.TimeToRemoval() != 5*time.Hour {
		t.Fatalf("actioned: %+v %v", n, err)
	}
	// A second answer of the same kind is a refused step, as in the partner view.
	if _, err := e.svc.RecordActioned(ctx, ntcAlice, id, "phone", "removed", sent.Add(6*time.Hour)); !errors.Is(err, lifecycle.ErrTransition) {
		t.Fatalf("actioned twice: %v", err)
	}

	// A dispute: on another notice.
	e.now = sent
	other := e.sentNotice(t)
	_, err = e.svc.RecordDispute(ctx, ntcBob, other, "phone", "  ")
	ntcFieldErr(t, "no reason", err, "notice.err.reason")
	if n, err = e.svc.RecordDispute(ctx, ntcBob, other, "phone", "the video is news reporting"); err != nil || n.State != lifecycle.NoticeDisputed ||
		n.Response != "the video is news reporting" {
		t.Fatalf("disputed: %+v %v", n, err)
	}
	v, err := e.svc.NoticeView(ctx, other)
	if err != nil || !strings.Contains(v.History[len(v.History)-1].Detail, "recorded by staff: phone") {
		t.Fatalf("history: %+v %v", v.History, err)
	}
}

func mustPartner(t *testing.T, e *ntcEnv, id int64) int64 {
	t.Helper()
	n, err := e.st.NoticeByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n.PartnerID
}

func TestNoticeIssuerName(t *testing.T) {
	e := newNtcEnv(t)
	id := e.sentNotice(t)
	doc, err := e.svc.SignedNotice(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte(`"name": "kidshield hotline"`)) {
		t.Fatalf("default issuer name missing:\n%s", doc)
	}
	e.svc.o.Config().IssuerName = "Tổng đài quốc gia bảo vệ trẻ em 111"
	if doc, err = e.svc.SignedNotice(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	var d NoticeDocument
	if err := json.Unmarshal(doc, &d); err != nil || d.Issuer.Name != "Tổng đài quốc gia bảo vệ trẻ em 111" || d.Issuer.Role != "hotline" {
		t.Fatalf("issuer %+v %v", d.Issuer, err)
	}
	if err := VerifyNotice(doc, e.svc.NoticeSigner().PublicKey()); err != nil {
		t.Fatal(err)
	}
}
