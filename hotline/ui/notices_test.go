package ui

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/seal"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// ntcAuth is a fake authenticator: the session is whoever the X-Test-User header names.
type ntcAuth map[string]*web.Principal

func (a ntcAuth) Session(r *http.Request) (*web.Principal, error) {
	return a[r.Header.Get("X-Test-User")], nil
}
func (ntcAuth) Token(*http.Request, string) (*web.Principal, error) { return nil, nil }

type ntcEnv struct {
	t       *testing.T
	srv     *web.Server
	st      *store.Store
	svc     *hotline.Service
	auth    ntcAuth
	now     time.Time
	pA, pB  int64
	changes int
}

const ntcCSRF = "csrf-token-for-tests"

func newNtcEnv(t *testing.T) *ntcEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "hotline.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := seal.ParseKeys([]string{"test:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default().Hotline
	cfg.IssuerName = "Tổng đài quốc gia bảo vệ trẻ em 111"
	e := &ntcEnv{t: t, st: st, now: time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.svc = hotline.New(hotline.Options{Store: st, Sealer: keys, Config: func() *config.Hotline { return &cfg }, Logger: log,
		Now: func() time.Time { return e.now }, OnListChange: func() { e.changes++ }})
	k, err := hotline.LoadNoticeSigner(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	e.svc.SetNoticeSigner(k)
	views, err := web.LoadViews()
	if err != nil {
		t.Fatal(err)
	}
	if e.pA, err = st.CreatePartner(ctx, store.Partner{Name: "Tube", Kind: "platform", Country: "SG", Language: "en", Domains: []string{"tube.example"}, DeadlineH: 24, Active: true}, "t"); err != nil {
		t.Fatal(err)
	}
	if e.pB, err = st.CreatePartner(ctx, store.Partner{Name: "Chat", Kind: "platform", Domains: []string{"chat.example"}, DeadlineH: 12, Active: true}, "t"); err != nil {
		t.Fatal(err)
	}
	e.auth = ntcAuth{}
	for _, u := range []struct {
		login   string
		role    web.Role
		partner int64
	}{
		{"op", web.RoleOperator, 0}, {"alice", web.RoleAnalyst, 0}, {"bob", web.RoleSupervisor, 0}, {"carol", web.RoleSupervisor, 0},
		{"admin", web.RoleAdmin, 0}, {"tube", web.RolePartner, e.pA}, {"chat", web.RolePartner, e.pB},
	} {
		id, err := st.CreateUser(ctx, store.User{Login: u.login, Name: strings.ToUpper(u.login), Roles: []string{string(u.role)}, PartnerID: u.partner, PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		e.auth[u.login] = &web.Principal{UserID: id, Login: u.login, Name: strings.ToUpper(u.login), Roles: []web.Role{u.role}, PartnerID: u.partner, CSRF: ntcCSRF}
	}
	e.srv = web.New(web.Options{Logger: log, Auth: e.auth})
	e.srv.Handle(New(e.svc, views, log).Routes()...)
	return e
}

func (e *ntcEnv) get(who, path string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	r.Header.Set("Accept", "text/html")
	if who != "" {
		r.Header.Set("X-Test-User", who)
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	return w
}

func (e *ntcEnv) post(who, path string, v url.Values) *httptest.ResponseRecorder {
	if v == nil {
		v = url.Values{}
	}
	if v.Get("csrf") == "" {
		v.Set("csrf", ntcCSRF)
	}
	r := httptest.NewRequest("POST", path, strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", "text/html")
	if who != "" {
		r.Header.Set("X-Test-User", who)
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	return w
}

// actionableCase submits a report naming urls and moves its case to actionable.
func (e *ntcEnv) actionableCase(harm string, urls ...string) int64 {
	e.t.Helper()
	ctx := context.Background()
	rc, err := e.svc.Submit(ctx, hotline.Submission{Channel: "web", Language: "vi", Harm: harm, URLs: urls, Description: "reporter's secret words",
		Contact: "0912 345 678"}, hotline.Actor{Label: "anonymous"})
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := e.st.ReportByRef(ctx, rc.Ref)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, to := range []string{lifecycle.CaseTriaged, lifecycle.CaseInAssessment, lifecycle.CaseActionable} {
		if _, err := e.st.ChangeCase(ctx, r.CaseID, store.CaseChange{Actor: "t", To: to}); err != nil {
			e.t.Fatal(err)
		}
	}
	return r.CaseID
}

func ntcWant(t *testing.T, what string, w *httptest.ResponseRecorder, code int) {
	t.Helper()
	if w.Code != code {
		t.Fatalf("%s: %d, want %d\n%s", what, w.Code, code, w.Body.String())
	}
}

// draftNotice creates a draft by alice through the form and returns its id.
func (e *ntcEnv) draftNotice(caseID int64, partner int64, urls ...string) int64 {
	e.t.Helper()
	v := url.Values{"partner": {fmt.Sprint(partner)}, "kind": {"takedown"}, "language": {"en"}, "ground": {"illegal_vn"},
		"legal_text": {"Điều 5, Luật Trẻ em 2016"}, "explanation": {"Child sexual abuse material."}, "detection": {"report"},
		"action": {"remove"}, "scope": {"global"}, "preserve": {"1"}, "tlp": {"AMBER"}, "url": urls}
	w := e.post("alice", fmt.Sprintf("/desk/cases/%d/notices", caseID), v)
	ntcWant(e.t, "create notice", w, http.StatusSeeOther)
	var id int64
	fmt.Sscanf(w.Header().Get("Location"), "/desk/notices/%d", &id)
	if id == 0 {
		e.t.Fatalf("redirect to %q", w.Header().Get("Location"))
	}
	return id
}

func TestNoticeFlowThroughPages(t *testing.T) {
	e := newNtcEnv(t)
	cid := e.actionableCase("CSE.CSAM", "https://www.tube.example/v/1", "https://cdn.other.example/x.jpg")

	form := e.get("alice", fmt.Sprintf("/desk/cases/%d/notices/new", cid))
	ntcWant(t, "new notice form", form, 200)
	if !strings.Contains(form.Body.String(), fmt.Sprintf(`<option value="%d" selected>`, e.pA)) || !strings.Contains(form.Body.String(), "https://www.tube.example/v/1") {
		t.Fatalf("form lacks the suggested partner or the URLs:\n%s", form.Body.String())
	}
	// Nothing checked: the form comes back with the reason, keeping the input.
	w := e.post("alice", fmt.Sprintf("/desk/cases/%d/notices", cid), url.Values{"partner": {fmt.Sprint(e.pA)}, "kind": {"takedown"}, "language": {"en"},
		"ground": {"illegal_vn"}, "detection": {"report"}, "action": {"remove"}, "scope": {"global"}, "tlp": {"AMBER"}, "explanation": {"kept text"}})
	ntcWant(t, "no items", w, http.StatusUnprocessableEntity)
	if !strings.Contains(w.Body.String(), "kept text") || !strings.Contains(w.Body.String(), "ít nhất một đường dẫn") {
		t.Fatalf("error page: %s", w.Body.String())
	}

	id := e.draftNotice(cid, e.pA, "https://www.tube.example/v/1")
	// Sending a draft is refused, in words.
	w = e.post("alice", fmt.Sprintf("/desk/notices/%d/send", id), nil)
	ntcWant(t, "send a draft", w, http.StatusConflict)
	// Alice is an analyst: approval is a supervisor's.
	ntcWant(t, "analyst approves", e.post("alice", fmt.Sprintf("/desk/notices/%d/approve", id), nil), http.StatusForbidden)

	// A supervisor who drafted cannot approve their own draft.
	id2 := e.draftNotice(cid, e.pA, "https://www.tube.example/v/1")
	if _, err := e.st.ChangeNotice(context.Background(), id2, store.NoticeChange{To: lifecycle.NoticeWithdrawn}); err != nil {
		t.Fatal(err)
	}
	v := url.Values{"partner": {fmt.Sprint(e.pB)}, "kind": {"takedown"}, "language": {"vi"}, "ground": {"illegal_vn"}, "detection": {"report"},
		"action": {"remove"}, "scope": {"global"}, "tlp": {"AMBER"}, "url": {"https://cdn.other.example/x.jpg"}}
	w = e.post("bob", fmt.Sprintf("/desk/cases/%d/notices", cid), v)
	ntcWant(t, "bob drafts", w, http.StatusSeeOther)
	var bobs int64
	fmt.Sscanf(w.Header().Get("Location"), "/desk/notices/%d", &bobs)
	w = e.post("bob", fmt.Sprintf("/desk/notices/%d/approve", bobs), nil)
	ntcWant(t, "self-approval", w, http.StatusConflict)
	if !strings.Contains(w.Body.String(), "Quy tắc hai người") {
		t.Fatalf("two-person refusal not shown plainly: %s", w.Body.String())
	}

	ntcWant(t, "approve", e.post("bob", fmt.Sprintf("/desk/notices/%d/approve", id), nil), http.StatusSeeOther)
	ntcWant(t, "send", e.post("alice", fmt.Sprintf("/desk/notices/%d/send", id), nil), http.StatusSeeOther)
	if c, _ := e.st.CaseByID(context.Background(), cid); c.State != lifecycle.CaseReferred {
		t.Fatalf("case %s after sending", c.State)
	}

	// The signed JSON verifies against the published key.
	jw := e.get("alice", fmt.Sprintf("/desk/notices/%d.json", id))
	ntcWant(t, "json", jw, 200)
	kw := e.get("", "/.well-known/kidshield-notice-key")
	ntcWant(t, "public key", kw, 200)
	var pk hotline.NoticePublicKey
	if err := json.Unmarshal(kw.Body.Bytes(), &pk); err != nil {
		t.Fatal(err)
	}
	pub, _ := base64.StdEncoding.DecodeString(pk.PublicKey)
	if err := hotline.VerifyNotice(jw.Body.Bytes(), pub); err != nil {
		t.Fatalf("signed notice does not verify: %v\n%s", err, jw.Body.String())
	}
	if strings.Contains(jw.Body.String(), "secret words") || strings.Contains(jw.Body.String(), "0912") {
		t.Fatal("reporter data in the notice")
	}

	// Partner isolation: Chat cannot see or act on Tube's notice (404, as for a missing one).
	for _, path := range []string{fmt.Sprintf("/partner/notices/%d", id), fmt.Sprintf("/partner/notices/%d.json", id), "/partner/notices/99999"} {
		ntcWant(t, "chat GET "+path, e.get("chat", path), http.StatusNotFound)
	}
	for _, a := range []string{"ack", "removed", "dispute"} {
		ntcWant(t, "chat "+a, e.post("chat", fmt.Sprintf("/partner/notices/%d/%s", id, a), url.Values{"action": {"removed"}, "reason": {"no"}}), http.StatusNotFound)
	}
	if home := e.get("chat", "/partner"); strings.Contains(home.Body.String(), "/partner/notices/") {
		t.Fatal("chat's home lists a notice")
	}
	// Tube sees it (not the draft bob wrote for Chat, nor the withdrawn draft), acknowledges and removes.
	home := e.get("tube", "/partner?lang=en")
	ntcWant(t, "tube home", home, 200)
	if strings.Count(home.Body.String(), `href="/partner/notices/`) != 1 {
		t.Fatalf("tube's home:\n%s", home.Body.String())
	}
	pn := e.get("tube", fmt.Sprintf("/partner/notices/%d?lang=en", id))
	ntcWant(t, "tube notice", pn, 200)
	for _, leak := range []string{"secret words", "0912", "/desk/cases/"} {
		if strings.Contains(pn.Body.String(), leak) {
			t.Fatalf("partner page shows %q", leak)
		}
	}
	ntcWant(t, "tube notice json", e.get("tube", fmt.Sprintf("/partner/notices/%d.json", id)), 200)
	ntcWant(t, "partner of bob's draft", e.get("chat", fmt.Sprintf("/partner/notices/%d", bobs)), http.StatusNotFound)
	ntcWant(t, "ack", e.post("tube", fmt.Sprintf("/partner/notices/%d/ack", id), nil), http.StatusSeeOther)
	e.now = e.now.Add(3 * time.Hour)
	w = e.post("tube", fmt.Sprintf("/partner/notices/%d/removed", id), url.Values{"action": {"removed"}, "at": {"2026-03-02T11:30"}})
	ntcWant(t, "removed", w, http.StatusSeeOther)
	show := e.get("alice", fmt.Sprintf("/desk/notices/%d", id))
	ntcWant(t, "show", show, 200)
	if !strings.Contains(show.Body.String(), "2 giờ 30 phút") {
		t.Fatalf("time to removal not shown:\n%s", show.Body.String())
	}
	ntcWant(t, "verify", e.post("alice", fmt.Sprintf("/desk/notices/%d/verify", id), url.Values{"gone": {"1"}}), http.StatusSeeOther)
	ntcWant(t, "close", e.post("alice", fmt.Sprintf("/desk/notices/%d/close", id), nil), http.StatusSeeOther)
	ntcWant(t, "withdraw closed", e.post("alice", fmt.Sprintf("/desk/notices/%d/withdraw", id), nil), http.StatusConflict)

	pr := e.get("alice", fmt.Sprintf("/desk/notices/%d/print", id))
	ntcWant(t, "print", pr, 200)
	if !strings.Contains(pr.Body.String(), "YÊU CẦU GỠ BỎ NỘI DUNG") || !strings.Contains(pr.Body.String(), "TAKEDOWN NOTICE") || strings.Contains(pr.Body.String(), "desk-nav") {
		t.Fatalf("print view:\n%s", pr.Body.String())
	}
	list := e.get("bob", "/desk/notices?state=closed")
	if !strings.Contains(list.Body.String(), fmt.Sprintf("/desk/notices/%d", id)) {
		t.Fatal("closed notice not listed")
	}
}

func TestNoticeOverdueFlag(t *testing.T) {
	e := newNtcEnv(t)
	cid := e.actionableCase("HARM.GAMBLING", "https://chat.example/room")
	id := e.draftNotice(cid, e.pB, "https://chat.example/room")
	ntcWant(t, "approve", e.post("bob", fmt.Sprintf("/desk/notices/%d/approve", id), nil), http.StatusSeeOther)
	ntcWant(t, "send", e.post("alice", fmt.Sprintf("/desk/notices/%d/send", id), nil), http.StatusSeeOther)
	e.now = e.now.Add(13 * time.Hour) // Chat has 12 hours
	w := e.get("alice", "/desk/notices?overdue=1")
	if !strings.Contains(w.Body.String(), fmt.Sprintf("/desk/notices/%d", id)) || !strings.Contains(w.Body.String(), "ntc-overdue") {
		t.Fatalf("overdue list:\n%s", w.Body.String())
	}
	if o, _, err := e.svc.NoticeSweep(context.Background(), e.now); err != nil || o != 1 {
		t.Fatalf("sweep %d %v", o, err)
	}
}

func TestNetworkListPages(t *testing.T) {
	e := newNtcEnv(t)
	cid := e.actionableCase("HARM.ADULT", "https://Bad.example/a", "https://www.bad.example/b")
	form := e.get("alice", fmt.Sprintf("/desk/cases/%d/list/new", cid))
	ntcWant(t, "list form", form, 200)
	if !strings.Contains(form.Body.String(), `value="adult" selected`) {
		t.Fatalf("default category not adult:\n%s", form.Body.String())
	}
	w := e.post("alice", fmt.Sprintf("/desk/cases/%d/list", cid), url.Values{"host": {"bad.example"}, "kind": {"domain"}, "category": {"adult"}, "reason": {"adult site"}})
	ntcWant(t, "propose", w, http.StatusSeeOther)
	w = e.post("bob", fmt.Sprintf("/desk/cases/%d/list", cid), url.Values{"host": {"BAD.example."}, "kind": {"domain"}, "category": {"adult"}})
	ntcWant(t, "propose twice", w, http.StatusConflict)
	entries, _ := e.st.ListEntries(context.Background(), store.ListFilter{})
	if len(entries) != 1 {
		t.Fatalf("entries %d", len(entries))
	}
	eid := entries[0].ID
	w = e.post("alice", fmt.Sprintf("/desk/list/%d/approve", eid), nil)
	ntcWant(t, "self-approval", w, http.StatusConflict)
	if !strings.Contains(w.Body.String(), "Quy tắc hai người") {
		t.Fatal("two-person refusal not shown")
	}
	if e.changes != 0 {
		t.Fatal("hook ran on a proposal")
	}
	ntcWant(t, "approve", e.post("bob", fmt.Sprintf("/desk/list/%d/approve", eid), nil), http.StatusSeeOther)
	doms, serial, _ := e.svc.NetworkDomains(context.Background())
	if e.changes != 1 || len(doms["adult"]) != 1 || serial != 2 {
		t.Fatalf("after approval: hook %d, %v, serial %d", e.changes, doms, serial)
	}
	idx := e.get("alice", "/desk/list")
	if !strings.Contains(idx.Body.String(), "bad.example") || !strings.Contains(idx.Body.String(), "BOB") {
		t.Fatalf("list page lacks the entry or its approver:\n%s", idx.Body.String())
	}
	ntcWant(t, "disable", e.post("alice", fmt.Sprintf("/desk/list/%d/disable", eid), url.Values{"reason": {"false positive"}}), http.StatusSeeOther)
	ntcWant(t, "approve disabled", e.post("carol", fmt.Sprintf("/desk/list/%d/approve", eid), nil), http.StatusConflict)
	if e.changes != 2 {
		t.Fatalf("hook %d", e.changes)
	}
}

func TestPartnerAdminPages(t *testing.T) {
	e := newNtcEnv(t)
	ntcWant(t, "list", e.get("admin", "/admin/partners"), 200)
	w := e.post("admin", "/admin/partners", url.Values{"name": {"Cục An ninh mạng A05"}, "kind": {"police"}, "country": {"vn"}, "language": {"vi"},
		"domains": {""}, "deadline_h": {""}, "active": {"1"}})
	ntcWant(t, "create", w, http.StatusSeeOther)
	w = e.post("admin", "/admin/partners", url.Values{"name": {"Tube"}, "kind": {"platform"}, "language": {"en"}})
	ntcWant(t, "duplicate name", w, http.StatusConflict)
	w = e.post("admin", "/admin/partners", url.Values{"name": {"X"}, "kind": {"bank"}, "language": {"en"}, "domains": {"a..b"}})
	ntcWant(t, "bad input", w, http.StatusUnprocessableEntity)
	// The refused domain is named, in the admin's language.
	w = e.post("admin", "/admin/partners?lang=vi", url.Values{"name": {"Y"}, "kind": {"platform"}, "language": {"vi"}, "domains": {"good.example, -bad-.example"}})
	ntcWant(t, "bad domain", w, http.StatusUnprocessableEntity)
	if b := w.Body.String(); !strings.Contains(b, "Tên miền không hợp lệ: -bad-.example") || strings.Contains(b, "good.example</li>") {
		t.Errorf("bad domain: the page does not name it")
	}
	ps, _ := e.st.Partners(context.Background(), false)
	var a05 *store.Partner
	for _, p := range ps {
		if p.Kind == "police" {
			a05 = p
		}
	}
	if a05 == nil || a05.DeadlineH != 24 || a05.Country != "VN" {
		t.Fatalf("created %+v", a05)
	}
	ntcWant(t, "edit", e.get("admin", fmt.Sprintf("/admin/partners/%d", a05.ID)), 200)
	w = e.post("admin", fmt.Sprintf("/admin/partners/%d", a05.ID), url.Values{"name": {"A05"}, "kind": {"police"}, "country": {"VN"}, "language": {"vi"},
		"deadline_h": {"48"}})
	ntcWant(t, "save", w, http.StatusSeeOther)
	if p, _ := e.st.PartnerByID(context.Background(), a05.ID); p.Name != "A05" || p.Active || p.DeadlineH != 48 {
		t.Fatalf("saved %+v", p)
	}
	ntcWant(t, "missing", e.get("admin", "/admin/partners/9999"), http.StatusNotFound)
}

// TestNoticeRoutesAccess checks every route of this file for every role: who gets through the
// guard, who is refused, and that a form without the CSRF token is refused.
func TestNoticeRoutesAccess(t *testing.T) {
	e := newNtcEnv(t)
	cid := e.actionableCase("CSE.CSAM", "https://www.tube.example/v/1")
	nid := e.draftNotice(cid, e.pA, "https://www.tube.example/v/1")
	staff := []string{"alice", "bob"}
	routes := []struct {
		method, path string
		allowed      []string
	}{
		{"GET", fmt.Sprintf("/desk/cases/%d/notices/new", cid), staff},
		{"POST", fmt.Sprintf("/desk/cases/%d/notices", cid), staff},
		{"GET", "/desk/notices", staff},
		{"GET", fmt.Sprintf("/desk/notices/%d", nid), staff},
		{"GET", fmt.Sprintf("/desk/notices/%d.json", nid), staff},
		{"GET", fmt.Sprintf("/desk/notices/%d/print", nid), staff},
		{"POST", fmt.Sprintf("/desk/notices/%d/approve", nid), []string{"bob"}},
		{"POST", fmt.Sprintf("/desk/notices/%d/send", nid), staff},
		{"POST", fmt.Sprintf("/desk/notices/%d/verify", nid), staff},
		{"POST", fmt.Sprintf("/desk/notices/%d/close", nid), staff},
		{"POST", fmt.Sprintf("/desk/notices/%d/withdraw", nid), staff},
		{"POST", fmt.Sprintf("/desk/notices/%d/escalate", nid), staff},
		{"POST", fmt.Sprintf("/desk/notices/%d/record-ack", nid), staff},
		{"POST", fmt.Sprintf("/desk/notices/%d/record-actioned", nid), staff},
		{"POST", fmt.Sprintf("/desk/notices/%d/record-dispute", nid), staff},
		{"GET", "/partner", []string{"tube"}},
		{"GET", fmt.Sprintf("/partner/notices/%d", nid), []string{"tube"}},
		{"POST", fmt.Sprintf("/partner/notices/%d/ack", nid), []string{"tube"}},
		{"POST", fmt.Sprintf("/partner/notices/%d/removed", nid), []string{"tube"}},
		{"POST", fmt.Sprintf("/partner/notices/%d/dispute", nid), []string{"tube"}},
		{"GET", "/admin/partners", []string{"admin"}},
		{"POST", "/admin/partners", []string{"admin"}},
		{"GET", fmt.Sprintf("/admin/partners/%d", e.pA), []string{"admin"}},
		{"POST", fmt.Sprintf("/admin/partners/%d", e.pA), []string{"admin"}},
		{"GET", fmt.Sprintf("/desk/cases/%d/list/new", cid), staff},
		{"POST", fmt.Sprintf("/desk/cases/%d/list", cid), staff},
		{"GET", "/desk/list", staff},
		{"POST", "/desk/list/1/approve", staff},
		{"POST", "/desk/list/1/reject", staff},
		{"POST", "/desk/list/1/delist", staff},
		{"POST", "/desk/list/1/disable", staff},
		{"POST", "/desk/list/1/appeal", staff},
		{"POST", "/desk/list/1/uphold", staff},
		{"GET", "/.well-known/kidshield-notice-key", []string{"", "op", "alice", "bob", "admin", "tube"}},
	}
	for _, rt := range routes {
		for _, who := range []string{"", "op", "alice", "bob", "admin", "tube"} {
			var w *httptest.ResponseRecorder
			if rt.method == "GET" {
				w = e.get(who, rt.path)
			} else {
				w = e.post(who, rt.path, nil)
			}
			allowed := false
			for _, a := range rt.allowed {
				allowed = allowed || a == who
			}
			refused := w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden || w.Code == http.StatusSeeOther && strings.HasPrefix(w.Header().Get("Location"), "/login")
			if allowed == refused {
				t.Errorf("%s %s as %q: %d (allowed %v)", rt.method, rt.path, who, w.Code, allowed)
			}
			if rt.method == "POST" && allowed && who != "" {
				r := httptest.NewRequest("POST", rt.path, strings.NewReader("csrf=wrong"))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("X-Test-User", who)
				cw := httptest.NewRecorder()
				e.srv.ServeHTTP(cw, r)
				if cw.Code != http.StatusForbidden {
					t.Errorf("%s %s as %q without the CSRF token: %d", rt.method, rt.path, who, cw.Code)
				}
			}
		}
	}
}

var ntcRawKey = regexp.MustCompile(`\b(?:notice|partner|list|notice_state|list_state|harm|state|category)\.[a-z][a-z0-9_.]*[a-z0-9_]\b`)

// TestNoticePagesTranslated renders every page of this part in both languages and fails on a
// key that reached the page untranslated.
func TestNoticePagesTranslated(t *testing.T) {
	e := newNtcEnv(t)
	cid := e.actionableCase("CSE.CSAM", "https://www.tube.example/v/1")
	nid := e.draftNotice(cid, e.pA, "https://www.tube.example/v/1")
	e.post("bob", fmt.Sprintf("/desk/notices/%d/approve", nid), nil)
	e.post("alice", fmt.Sprintf("/desk/notices/%d/send", nid), nil)
	e.post("tube", fmt.Sprintf("/partner/notices/%d/removed", nid), url.Values{"action": {"geo_blocked"}})
	// A notice waiting on its partner (the record forms) whose receipt staff recorded (a note in
	// the history).
	waiting := e.draftNotice(cid, e.pB, "https://www.tube.example/v/1")
	e.post("bob", fmt.Sprintf("/desk/notices/%d/approve", waiting), nil)
	e.post("alice", fmt.Sprintf("/desk/notices/%d/send", waiting), nil)
	e.now = e.now.Add(time.Hour)
	ntcWant(t, "record ack", e.post("alice", fmt.Sprintf("/desk/notices/%d/record-ack", waiting), url.Values{"source": {"letter"},
		"at": {e.now.In(ntcZone).Format(ntcFormTime)}}), http.StatusSeeOther)
	e.post("alice", fmt.Sprintf("/desk/cases/%d/list", cid), url.Values{"host": {"www.tube.example"}, "kind": {"host"}, "category": {"hotline"}})
	pages := []struct{ who, path string }{
		{"alice", fmt.Sprintf("/desk/cases/%d/notices/new", cid)},
		{"alice", "/desk/notices"},
		{"alice", fmt.Sprintf("/desk/notices/%d", nid)},
		{"alice", fmt.Sprintf("/desk/notices/%d", waiting)},
		{"alice", fmt.Sprintf("/desk/notices/%d/print", nid)},
		{"tube", "/partner"},
		{"tube", fmt.Sprintf("/partner/notices/%d", nid)},
		{"admin", "/admin/partners"},
		{"admin", fmt.Sprintf("/admin/partners/%d", e.pA)},
		{"alice", fmt.Sprintf("/desk/cases/%d/list/new", cid)},
		{"bob", "/desk/list"},
	}
	for _, p := range pages {
		for _, lang := range []string{"vi", "en"} {
			w := e.get(p.who, p.path+"?lang="+lang)
			if w.Code != 200 {
				t.Errorf("%s (%s): %d\n%s", p.path, lang, w.Code, w.Body.String())
				continue
			}
			body := w.Body.String()
			if !strings.Contains(body, `<html lang="`+lang+`">`) {
				t.Errorf("%s: not in %s", p.path, lang)
			}
			// Hosts in the page (tube.example) are not keys.
			for _, k := range ntcRawKey.FindAllString(body, -1) {
				if !strings.HasSuffix(k, ".example") && !strings.Contains(k, "tube") && k != "notice.css" {
					t.Errorf("%s (%s): raw key %q", p.path, lang, k)
				}
			}
		}
	}
}

// sentNotice drafts a notice to Tube on a new case, approved by bob and sent by alice at e.now.
func (e *ntcEnv) sentNotice(path string) int64 {
	e.t.Helper()
	u := "https://www.tube.example/" + path
	cid := e.actionableCase("CSE.CSAM", u)
	id := e.draftNotice(cid, e.pA, u)
	ntcWant(e.t, "approve", e.post("bob", fmt.Sprintf("/desk/notices/%d/approve", id), nil), http.StatusSeeOther)
	ntcWant(e.t, "send", e.post("alice", fmt.Sprintf("/desk/notices/%d/send", id), nil), http.StatusSeeOther)
	return id
}

// A partner that answered by e-mail, phone or letter: staff record the answer with the partner's
// time, which the statistics then use; a time before the sending or in the future is refused.
func TestNoticeRecordAnswerPages(t *testing.T) {
	e := newNtcEnv(t)
	ctx := context.Background()
	sent := e.now // 2026-03-02 09:00 in Viet Nam
	id := e.sentNotice("v/1")
	page := e.get("alice", fmt.Sprintf("/desk/notices/%d", id))
	ntcWant(t, "show", page, 200)
	for _, want := range []string{"/record-ack", "/record-actioned", "/record-dispute", "Ghi nhận phản hồi của đơn vị nhận", `min="2026-03-02T09:00"`} {
		if !strings.Contains(page.Body.String(), want) {
			t.Fatalf("notice page lacks %q:\n%s", want, page.Body.String())
		}
	}
	e.now = e.now.Add(6 * time.Hour) // the analyst types at 15:00
	path := fmt.Sprintf("/desk/notices/%d/record-actioned", id)
	for _, c := range []struct{ what, at, says string }{
		{"before the sending", "2026-03-02T08:00", "từ lúc gửi yêu cầu"},
		{"in the future", "2026-03-02T15:30", "tương lai"},
		{"no time", "", "Hãy nhập thời điểm"},
		{"not a time", "yesterday", "không đúng định dạng"},
	} {
		w := e.post("alice", path, url.Values{"source": {"phone"}, "action": {"removed"}, "at": {c.at}})
		ntcWant(t, c.what, w, http.StatusUnprocessableEntity)
		if !strings.Contains(w.Body.String(), c.says) || (c.at != "" && !strings.Contains(w.Body.String(), `value="`+c.at+`"`)) {
			t.Fatalf("%s: reason or input not shown:\n%s", c.what, w.Body.String())
		}
	}
	w := e.post("alice", fmt.Sprintf("/desk/notices/%d/record-ack", id), url.Values{"source": {"email"}, "at": {"2026-03-02T08:59"}})
	ntcWant(t, "acknowledged before the sending", w, http.StatusUnprocessableEntity)
	ntcWant(t, "operator records", e.post("op", path, url.Values{"source": {"phone"}, "action": {"removed"}, "at": {"2026-03-02T11:45"}}), http.StatusForbidden)
	ntcWant(t, "partner records", e.post("tube", path, url.Values{"source": {"phone"}, "action": {"removed"}, "at": {"2026-03-02T11:45"}}), http.StatusForbidden)

	ntcWant(t, "record ack", e.post("alice", fmt.Sprintf("/desk/notices/%d/record-ack", id), url.Values{"source": {"email"}, "at": {"2026-03-02T09:20"}}), http.StatusSeeOther)
	ntcWant(t, "record action", e.post("bob", path, url.Values{"source": {"phone"}, "action": {"removed"}, "at": {"2026-03-02T11:45"}}), http.StatusSeeOther)
	n, err := e.st.NoticeByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if n.State != lifecycle.NoticeActioned || !n.Acknowledged.Equal(sent.Add(20*time.Minute)) || !n.Actioned.Equal(sent.Add(2*time.Hour+45*time.Minute)) ||
		n.ActionTaken != "removed" {
		t.Fatalf("after recording: %s ack %v actioned %v %s", n.State, n.Acknowledged, n.Actioned, n.ActionTaken)
	}
	// The takedown clock of the statistics is the partner's: actioned − sent, not the typing time.
	st, err := e.st.HotlineStats(ctx, sent.Add(-time.Hour), sent.Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Removal.Count != 1 || st.Removal.Median != n.Actioned.Sub(n.Sent) || st.Removal.Median != 2*time.Hour+45*time.Minute {
		t.Fatalf("removal clock %+v, want %v", st.Removal, n.Actioned.Sub(n.Sent))
	}
	page = e.get("alice", fmt.Sprintf("/desk/notices/%d", id))
	for _, want := range []string{"2 giờ 45 phút", "cán bộ ghi nhận thay; nguồn: Điện thoại", "đơn vị nhận trả lời lúc 02/03/2026 11:45", "nguồn: Thư điện tử"} {
		if !strings.Contains(page.Body.String(), want) {
			t.Fatalf("notice page lacks %q:\n%s", want, page.Body.String())
		}
	}
	if strings.Contains(page.Body.String(), "/record-") {
		t.Fatal("record forms offered on an actioned notice")
	}
	if en := e.get("alice", fmt.Sprintf("/desk/notices/%d?lang=en", id)); !strings.Contains(en.Body.String(), "recorded by staff: Phone") {
		t.Fatalf("English history:\n%s", en.Body.String())
	}

	// A refusal by letter, on another notice.
	e.now = sent
	other := e.sentNotice("v/2")
	dpath := fmt.Sprintf("/desk/notices/%d/record-dispute", other)
	ntcWant(t, "dispute without a reason", e.post("alice", dpath, url.Values{"source": {"letter"}}), http.StatusUnprocessableEntity)
	ntcWant(t, "dispute from nowhere", e.post("alice", dpath, url.Values{"source": {"fax"}, "reason": {"x"}}), http.StatusUnprocessableEntity)
	ntcWant(t, "dispute", e.post("alice", dpath, url.Values{"source": {"letter"}, "reason": {"Nội dung là tin tức thời sự."}}), http.StatusSeeOther)
	if n, _ := e.st.NoticeByID(ctx, other); n.State != lifecycle.NoticeDisputed || n.Response != "Nội dung là tin tức thời sự." {
		t.Fatalf("disputed: %s %q", n.State, n.Response)
	}
	ntcWant(t, "dispute twice", e.post("alice", dpath, url.Values{"source": {"letter"}, "reason": {"again"}}), http.StatusConflict)
	ntcWant(t, "unknown notice", e.post("alice", "/desk/notices/99999/record-ack", url.Values{"source": {"email"}, "at": {"2026-03-02T09:20"}}), http.StatusNotFound)
}

// The hotline's name (hotline.issuer_name) is the issuer in the JSON, the printed notice and the
// partner view.
func TestNoticeIssuerName(t *testing.T) {
	e := newNtcEnv(t)
	id := e.sentNotice("v/1")
	const name = "Tổng đài quốc gia bảo vệ trẻ em 111"
	var doc hotline.NoticeDocument
	jw := e.get("alice", fmt.Sprintf("/desk/notices/%d.json", id))
	ntcWant(t, "json", jw, 200)
	if err := json.Unmarshal(jw.Body.Bytes(), &doc); err != nil || doc.Issuer.Name != name {
		t.Fatalf("issuer %+v %v", doc.Issuer, err)
	}
	for _, p := range []struct{ who, path string }{{"alice", fmt.Sprintf("/desk/notices/%d/print", id)}, {"tube", fmt.Sprintf("/partner/notices/%d", id)}} {
		w := e.get(p.who, p.path)
		ntcWant(t, p.path, w, 200)
		if !strings.Contains(w.Body.String(), name) {
			t.Fatalf("%s lacks the issuer name:\n%s", p.path, w.Body.String())
		}
	}
}

// The scanner's last re-check of each URL of a notice shows under it, on the staff page and in
// the partner view, in each language and Viet Nam time: gone (why, since when), still there,
// or could not tell; a URL never checked shows nothing.
func TestNoticeItemChecksShown(t *testing.T) {
	e := newNtcEnv(t)
	ctx := context.Background()
	urls := []string{"https://www.tube.example/v/gone", "https://www.tube.example/v/there", "https://www.tube.example/v/partial",
		"https://www.tube.example/v/never"}
	cid := e.actionableCase("CSE.CSAM", urls...)
	id := e.draftNotice(cid, e.pA, urls...)
	ntcWant(t, "approve", e.post("bob", fmt.Sprintf("/desk/notices/%d/approve", id), nil), http.StatusSeeOther)
	ntcWant(t, "send", e.post("alice", fmt.Sprintf("/desk/notices/%d/send", id), nil), http.StatusSeeOther)
	n, err := e.st.NoticeByID(ctx, id)
	if err != nil || len(n.Items) != 4 {
		t.Fatalf("notice items %+v %v", n, err)
	}
	item := map[string]int64{}
	for _, it := range n.Items {
		item[it.URL] = it.ID
	}
	checked := time.Date(2026, 3, 2, 5, 30, 0, 0, time.UTC) // 12:30 in Viet Nam
	since := time.Date(2026, 3, 2, 4, 0, 0, 0, time.UTC)
	for _, k := range []store.NoticeItemCheck{
		{ItemID: item[urls[0]], Gone: true, Reason: "http_404", HTTPStatus: 404, GoneSince: since},
		{ItemID: item[urls[1]], Reason: "page_present", HTTPStatus: 200},
		{ItemID: item[urls[2]], Reason: "images_partial", HTTPStatus: 200},
	} {
		k.NoticeID, k.Checked = id, checked
		if err := e.st.RecordNoticeItemCheck(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	lines := map[string][]string{
		"vi": {"Lần kiểm tra tự động gần nhất: 02/03/2026 12:30 · <strong>nội dung không còn</strong>: trang báo lỗi 404 – không tìm thấy · không còn từ 02/03/2026 11:00</small>",
			"Lần kiểm tra tự động gần nhất: 02/03/2026 12:30 · <strong>nội dung vẫn còn</strong>: trang vẫn mở được, không có dấu hiệu đã gỡ</small>",
			"Lần kiểm tra tự động gần nhất: 02/03/2026 12:30 · <strong>chưa xác định được</strong>: trang quá lớn hoặc có quá nhiều ảnh nên chưa so sánh hết</small>"},
		"en": {"Last automatic check: 02/03/2026 12:30 · <strong>content gone</strong>: the page answered 404 – not found · gone since 02/03/2026 11:00</small>",
			"Last automatic check: 02/03/2026 12:30 · <strong>content still there</strong>: the page still opens, with no sign of removal</small>",
			"Last automatic check: 02/03/2026 12:30 · <strong>could not tell</strong>: the page is too large or has too many images to compare them all</small>"},
	}
	for _, p := range []struct{ who, path string }{{"alice", fmt.Sprintf("/desk/notices/%d", id)}, {"tube", fmt.Sprintf("/partner/notices/%d", id)}} {
		for lang, want := range lines {
			w := e.get(p.who, p.path+"?lang="+lang)
			ntcWant(t, p.path, w, 200)
			body := w.Body.String()
			items := body[strings.Index(body, `<ul class="ntc-items">`):]
			items = items[:strings.Index(items, "</ul>")]
			lis := strings.Split(items, "<li>")[1:]
			if len(lis) != 4 {
				t.Fatalf("%s (%s): %d items listed:\n%s", p.path, lang, len(lis), items)
			}
			// Each line under its own URL, in the order of the notice; none under the URL never
			// checked.
			for i, li := range lis {
				if !strings.Contains(li, urls[i]) {
					t.Fatalf("%s (%s): item %d is not %s: %s", p.path, lang, i, urls[i], li)
				}
				if i < len(want) && !strings.Contains(li, want[i]) {
					t.Errorf("%s (%s): %s lacks %q:\n%s", p.path, lang, urls[i], want[i], li)
				}
				if i == len(want) && strings.Contains(li, "ntc-check") {
					t.Errorf("%s (%s): a URL never checked shows a check:\n%s", p.path, lang, li)
				}
			}
		}
	}
	// Another partner still learns nothing of the notice.
	ntcWant(t, "other partner", e.get("chat", fmt.Sprintf("/partner/notices/%d", id)), http.StatusNotFound)
}
