package hotline

import (
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/seal"
	"github.com/kidshield/kidshield/store"
)

func testService(t *testing.T) (*Service, *store.Store) {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	spec, err := seal.Generate()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := seal.ParseKeys([]string{spec})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	svc := New(Options{Store: st, Sealer: keys, ClientKey: []byte("0123456789abcdef0123456789abcdef"),
		Config: func() *config.Hotline { return &cfg.Hotline }, Now: func() time.Time { return now }})
	return svc, st
}

func TestSubmitSealsAndDedups(t *testing.T) {
	svc, st := testService(t)
	ctx := t.Context()
	sub := Submission{Channel: "web", Language: "vi", Harm: "VIO.BULLY", URLs: []string{"HTTPS://Example.VN/bai-viet/?utm_source=fb"},
		Description: "Bạn ấy bị chửi trên nhóm lớp", Contact: "0912 345 678", Client: netip.MustParseAddr("203.0.113.7")}
	rc, err := svc.Submit(ctx, sub, Actor{Label: "anonymous"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rc.Ref, "KS-") || len(rc.StatusCode) != 14 || rc.Emergency {
		t.Errorf("receipt %+v", rc)
	}
	r, err := st.ReportByRef(ctx, rc.Ref)
	if err != nil {
		t.Fatal(err)
	}
	// Personal fields never reach the database in clear; the address only as a keyed hash.
	if strings.Contains(r.DescSealed, "chửi") || strings.Contains(r.ContactSealed, "0912") || r.DescSealed == "" || r.ContactSealed == "" {
		t.Errorf("fields not sealed: %q %q", r.DescSealed, r.ContactSealed)
	}
	// The same page with another tracking parameter and a danger flag joins the case as P0.
	sub2 := Submission{Channel: "web", Language: "vi", Harm: "VIO.BULLY", URLs: []string{"https://example.vn/bai-viet?fbclid=x"}, DangerNow: true}
	rc2, err := svc.Submit(ctx, sub2, Actor{Label: "anonymous"})
	if err != nil {
		t.Fatal(err)
	}
	if !rc2.Emergency {
		t.Error("danger now: receipt is not an emergency")
	}
	c, err := st.CaseByID(ctx, r.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	if c.ReportCount != 2 || c.Priority != 0 {
		t.Errorf("case: %d reports, P%d; want 2 reports, P0", c.ReportCount, c.Priority)
	}
	v, err := svc.CaseView(ctx, Actor{UserID: 1, Label: "user:1:lan"}, c.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if v.Reports[0].Description != sub.Description || v.Reports[0].Contact != "" || !v.Reports[0].HasContact {
		t.Errorf("view without contact: %+v", v.Reports[0])
	}
	v, err = svc.CaseView(ctx, Actor{UserID: 1, Label: "user:1:lan"}, c.ID, true)
	if err != nil || v.Reports[0].Contact != "0912 345 678" {
		t.Fatalf("view with contact: %v %+v", err, v.Reports[0])
	}
	recs, err := st.AuditRange(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action)
		if strings.Contains(r.Detail, "0912") || strings.Contains(r.Detail, "chửi") {
			t.Errorf("audit record %d holds personal data: %s", r.Seq, r.Detail)
		}
	}
	if got := strings.Join(actions, ","); got != "report.create,report.create,case.view,case.view_contact" {
		t.Errorf("audit actions %s", got)
	}
}

func TestSubmitRejectsBadURLAndHarm(t *testing.T) {
	svc, _ := testService(t)
	_, err := svc.Submit(t.Context(), Submission{Channel: "web", Harm: "NOPE", URLs: []string{"javascript:alert(1)"}}, Actor{Label: "anonymous"})
	var verr ValidationError
	if !errors.As(err, &verr) || len(verr) != 2 {
		t.Fatalf("%v, want two field errors", err)
	}
}

func TestStatusAndAddInfo(t *testing.T) {
	svc, st := testService(t)
	ctx := t.Context()
	rc, err := svc.Submit(ctx, Submission{Channel: "web", Language: "vi", Harm: "OTHER", Description: "có người lạ nhắn tin"}, Actor{Label: "anonymous"})
	if err != nil {
		t.Fatal(err)
	}
	// The code as a child might type it: lower case, spaces, O for 0.
	typed := strings.ToLower(strings.ReplaceAll(rc.StatusCode, "-", " "))
	typed = strings.ReplaceAll(typed, "0", "o")
	ps, _, err := svc.Status(ctx, strings.ToLower(rc.Ref), typed)
	if err != nil {
		t.Fatalf("status with %q: %v", typed, err)
	}
	if ps.Stage != lifecycle.StageReceive || ps.Closed {
		t.Errorf("status %+v", ps)
	}
	if _, _, err := svc.Status(ctx, rc.Ref, "AAAA-BBBB-CCCC"); !errors.Is(err, ErrBadStatusCode) {
		t.Errorf("wrong code: %v", err)
	}
	if _, _, err := svc.Status(ctx, "KS-NOPE-NOPE", rc.StatusCode); !errors.Is(err, ErrBadStatusCode) {
		t.Errorf("wrong ref: %v", err)
	}
	if err := svc.AddInfo(ctx, rc.Ref, rc.StatusCode, "Tài khoản đó tên là abc"); err != nil {
		t.Fatal(err)
	}
	if err := svc.AddInfo(ctx, rc.Ref, "AAAA-BBBB-CCCC", "x"); !errors.Is(err, ErrBadStatusCode) {
		t.Errorf("add info with a wrong code: %v", err)
	}
	r, _ := st.ReportByRef(ctx, rc.Ref)
	v, err := svc.CaseView(ctx, Actor{UserID: 1, Label: "user:1:a"}, r.CaseID, false)
	if err != nil {
		t.Fatal(err)
	}
	last := v.Events[len(v.Events)-1]
	if last.Kind != "reporter_info" || last.Note != "Tài khoản đó tên là abc" {
		t.Errorf("last event %+v", last)
	}
}

func TestReclassifyRaisesSLA(t *testing.T) {
	svc, st := testService(t)
	ctx := t.Context()
	rc, err := svc.Submit(ctx, Submission{Channel: "web", Language: "vi", Harm: "HARM.ADULT", Description: "trang web người lớn"}, Actor{Label: "anonymous"})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := st.ReportByRef(ctx, rc.Ref)
	before, _ := st.CaseByID(ctx, r.CaseID)
	if before.Priority != 3 {
		t.Fatalf("P%d", before.Priority)
	}
	c, err := svc.ChangeCase(ctx, Actor{UserID: 1, Label: "user:1:a"}, r.CaseID, Change{Classify: &store.Classification{Harm: "CSE.CSAM", Priority: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if want := before.Received.Add(svc.Config().SLA.P1); !c.SLADue.Equal(want) {
		t.Errorf("due %v after raising to P1, want %v", c.SLADue, want)
	}
	c, err = svc.ChangeCase(ctx, Actor{UserID: 1, Label: "user:1:a"}, r.CaseID, Change{Classify: &store.Classification{Harm: "OTHER", Priority: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if want := before.Received.Add(svc.Config().SLA.P1); !c.SLADue.Equal(want) {
		t.Errorf("due %v after lowering, want it kept at %v", c.SLADue, want)
	}
}

func TestNormRef(t *testing.T) {
	for in, want := range map[string]string{
		"KS-XP1B-4M0J":  "KS-XP1B-4M0J",
		"ks-xp1b-4m0j":  "KS-XP1B-4M0J",
		"KS-XP1B-4MOJ":  "KS-XP1B-4M0J", // O read as 0
		"KS-XPIB-4M0J":  "KS-XP1B-4M0J", // I read as 1
		"KSXP1B4M0J":    "KS-XP1B-4M0J",
		" xp1b 4m0j ":   "KS-XP1B-4M0J",
		"KS-XP1B-4M0J9": "KS-XP1B-4M0J9", // not a reference: left for the lookup to miss
	} {
		if got := normRef(in); got != want {
			t.Errorf("normRef(%q) = %q, want %q", in, got, want)
		}
	}
}
