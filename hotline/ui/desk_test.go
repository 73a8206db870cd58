package ui

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// deskSealer is a tiny AES-GCM sealer for tests (package seal is the real one).
type deskSealer struct{ aead cipher.AEAD }

func newDeskSealer(t *testing.T) deskSealer {
	b, err := aes.NewCipher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return deskSealer{g}
}

func (s deskSealer) Seal(plain []byte, aad string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	for i := range nonce {
		nonce[i] = byte(len(plain) + i) // tests only: uniqueness does not matter here
	}
	return base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(aad))), nil
}

func (s deskSealer) Open(sealed, aad string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize() {
		return nil, fmt.Errorf("bad sealed value")
	}
	n := s.aead.NonceSize()
	return s.aead.Open(nil, b[:n], b[n:], []byte(aad))
}

// deskAuth authenticates by a test header naming one of the env's principals.
type deskAuth struct{ users map[string]*web.Principal }

func (a deskAuth) Session(r *http.Request) (*web.Principal, error) {
	return a.users[r.Header.Get("X-Desk-As")], nil
}
func (a deskAuth) Token(*http.Request, string) (*web.Principal, error) { return nil, nil }

type deskEnv struct {
	t     *testing.T
	st    *store.Store
	svc   *hotline.Service
	srv   *web.Server
	users map[string]*web.Principal
	now   time.Time
}

func newDeskEnv(t *testing.T) *deskEnv {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "ks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &deskEnv{t: t, st: st, users: map[string]*web.Principal{}, now: time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)}
	cfg := config.Default().Hotline
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.svc = hotline.New(hotline.Options{Store: st, Sealer: newDeskSealer(t), Config: func() *config.Hotline { return &cfg },
		Now: func() time.Time { return e.now }, Logger: log})
	views, err := web.LoadViews()
	if err != nil {
		t.Fatal(err)
	}
	e.srv = web.New(web.Options{Auth: deskAuth{e.users}, LoginPath: "/login", Logger: log})
	e.srv.Handle(New(e.svc, views, log).deskRoutes()...)
	for _, u := range []struct {
		login string
		roles []web.Role
	}{
		{"op", []web.Role{web.RoleOperator}},
		{"lan", []web.Role{web.RoleAnalyst}},
		{"minh", []web.Role{web.RoleAnalyst}},
		{"sup", []web.Role{web.RoleSupervisor}},
		{"partner", []web.Role{web.RolePartner}},
		{"admin", []web.Role{web.RoleAdmin}},
	} {
		roles := make([]string, len(u.roles))
		for i, r := range u.roles {
			roles[i] = string(r)
		}
		name := "Cán bộ " + u.login
		id, err := st.CreateUser(ctx, store.User{Login: u.login, Name: name, Roles: roles, PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		e.users[u.login] = &web.Principal{UserID: id, Login: u.login, Name: name, Roles: u.roles, CSRF: "csrf-" + u.login}
	}
	return e
}

// do sends a request as who ("" anonymous); a POST gets who's CSRF token unless form has one.
func (e *deskEnv) do(method, path, who string, form url.Values) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		if p := e.users[who]; p != nil && !form.Has("csrf") {
			form.Set("csrf", p.CSRF)
		}
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, path, body)
	r.Header.Set("Accept", "text/html")
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if who != "" {
		r.Header.Set("X-Desk-As", who)
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	return w
}

// submit stores a report at the env's clock and returns its case.
func (e *deskEnv) submit(sub hotline.Submission) *store.Case {
	e.t.Helper()
	if sub.Channel == "" {
		sub.Channel = "web"
	}
	if sub.Description == "" {
		sub.Description = "mô tả " + sub.Harm
	}
	rc, err := e.svc.Submit(e.t.Context(), sub, hotline.Actor{Label: "anonymous"})
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := e.st.ReportByRef(e.t.Context(), rc.Ref)
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := e.st.CaseByID(e.t.Context(), r.CaseID)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *deskEnv) caseNow(id int64) *store.Case {
	e.t.Helper()
	c, err := e.st.CaseByID(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func deskPNG(t *testing.T) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDeskAccess(t *testing.T) {
	e := newDeskEnv(t)
	c := e.submit(hotline.Submission{Harm: "VIO.BULLY", URLs: []string{"https://example.com/a"},
		Screenshots: []hotline.Image{{ContentType: "image/png", Width: 4, Height: 4, Data: deskPNG(t)}}})
	reports, err := e.st.CaseReports(t.Context(), c.ID)
	if err != nil || len(reports) != 1 || len(reports[0].AttachmentIDs) != 1 {
		t.Fatalf("reports %v, %v", reports, err)
	}
	casePath := fmt.Sprintf("/desk/cases/%d", c.ID)
	attPath := fmt.Sprintf("/desk/attachments/%d", reports[0].AttachmentIDs[0])
	post := func(who string) url.Values {
		return url.Values{"version": {strconv.FormatInt(e.caseNow(c.ID).Version, 10)}}
	}
	type req struct{ method, path string }
	get := func(p string) req { return req{"GET", p} }
	pst := func(p string) req { return req{"POST", p} }
	all := []req{get("/desk"), get("/desk/intake"), get(casePath), get(attPath), pst(casePath + "/note"), pst(casePath + "/contact"),
		pst(casePath + "/transition"), pst(casePath + "/assign"), pst(casePath + "/classify"), pst(casePath + "/evidence"),
		pst(casePath + "/reveal"), pst("/desk/intake")}
	allowed := map[string][]req{
		"op":  {get("/desk"), get("/desk/intake"), pst("/desk/intake")},
		"lan": all,
		"sup": all,
	}
	for _, who := range []string{"", "op", "lan", "sup", "partner", "admin"} {
		for _, rq := range all {
			var form url.Values
			if rq.method == "POST" {
				form = post(who)
			}
			w := e.do(rq.method, rq.path, who, form)
			ok := false
			for _, a := range allowed[who] {
				ok = ok || a == rq
			}
			switch {
			case who == "" && rq.method == "GET":
				if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login?next=") {
					t.Errorf("anonymous %s %s: %d %q, want a redirect to the login page", rq.method, rq.path, w.Code, w.Header().Get("Location"))
				}
			case who == "":
				if w.Code != http.StatusUnauthorized {
					t.Errorf("anonymous %s %s: %d, want 401", rq.method, rq.path, w.Code)
				}
			case ok:
				if w.Code == http.StatusForbidden || w.Code == http.StatusUnauthorized || w.Code >= 500 {
					t.Errorf("%s %s %s: %d, want access: %s", who, rq.method, rq.path, w.Code, w.Body)
				}
			default:
				if w.Code != http.StatusForbidden {
					t.Errorf("%s %s %s: %d, want 403", who, rq.method, rq.path, w.Code)
				}
			}
		}
	}
	// No CSRF token, no change.
	w := e.do("POST", casePath+"/note", "lan", url.Values{"csrf": {"wrong"}, "note": {"x"}, "version": {"1"}})
	if w.Code != http.StatusForbidden {
		t.Errorf("POST without the CSRF token: %d, want 403", w.Code)
	}
	// Operators see the queue but no link into a case.
	if body := e.do("GET", "/desk", "op", nil).Body.String(); strings.Contains(body, casePath) || !strings.Contains(body, c.Ref) {
		t.Errorf("operator's queue: case link shown or case missing")
	}
	if body := e.do("GET", "/desk", "lan", nil).Body.String(); !strings.Contains(body, casePath) {
		t.Errorf("analyst's queue lacks the case link")
	}
}

// deskRowOrder returns the case refs of the queue table in order.
var deskRowRef = regexp.MustCompile(`<a href="/desk/cases/\d+">([^<]+)</a>`)

func deskRefs(body string) []string {
	var out []string
	for _, m := range deskRowRef.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestDeskQueueOrderAndFilters(t *testing.T) {
	e := newDeskEnv(t)
	start := e.now
	bully := e.submit(hotline.Submission{Harm: "VIO.BULLY", URLs: []string{"https://example.com/bully"}, Province: "Huế"}) // P2
	groomEarly := e.submit(hotline.Submission{Harm: "CSE.GROOM", URLs: []string{"https://example.com/g1"}})                // P1, due +4h
	e.now = start.Add(time.Hour)
	groomLate := e.submit(hotline.Submission{Harm: "CSE.GROOM", URLs: []string{"https://example.com/g2"}, Channel: "phone"}) // P1, due +5h
	e.now = start.Add(2 * time.Hour)
	danger := e.submit(hotline.Submission{Harm: "SH.SUICIDE", DangerNow: true, URLs: []string{"https://example.com/d"}}) // P0
	closed := e.submit(hotline.Submission{Harm: "HARM.ADULT", URLs: []string{"https://example.com/adult"}})              // P3
	if _, err := e.svc.ChangeCase(t.Context(), hotline.Actor{UserID: e.users["lan"].UserID, Label: "user"}, closed.ID,
		hotline.Change{To: lifecycle.CaseNotActionable}); err != nil {
		t.Fatal(err)
	}
	if danger.Priority != 0 || groomEarly.Priority != 1 || bully.Priority != 2 {
		t.Fatalf("priorities %d %d %d", danger.Priority, groomEarly.Priority, bully.Priority)
	}

	check := func(query string, want ...*store.Case) string {
		t.Helper()
		w := e.do("GET", "/desk"+query, "lan", nil)
		if w.Code != 200 {
			t.Fatalf("GET /desk%s: %d %s", query, w.Code, w.Body)
		}
		var refs []string
		for _, c := range want {
			refs = append(refs, c.Ref)
		}
		if got := deskRefs(w.Body.String()); strings.Join(got, " ") != strings.Join(refs, " ") {
			t.Errorf("GET /desk%s: got %v, want %v", query, got, refs)
		}
		return w.Body.String()
	}
	// P0 first, then P1 by least time left, then P2; the not-actionable case is not open.
	body := check("", danger, groomEarly, groomLate, bully)
	if !strings.Contains(body, "desk-p0") {
		t.Error("no P0 badge")
	}
	check("?harm=CSE.", groomEarly, groomLate)
	check("?harm=CSE.GROOM&channel=phone", groomLate)
	check("?priority=0", danger)
	check("?priority=P2&province=Hu%E1%BA%BF", bully)
	check("?open=0&harm=HARM.", closed)
	check("?f=1&harm=HARM.", closed) // the form submitted with the box unticked
	check("?state=not_actionable", closed)
	check("?assignee=unassigned&harm=SH.", danger)
	check("?assignee=me")
	lan := e.users["lan"].UserID
	if _, err := e.svc.ChangeCase(t.Context(), hotline.Actor{UserID: lan, Label: "user"}, bully.ID, hotline.Change{Assign: &lan}); err != nil {
		t.Fatal(err)
	}
	check("?assignee=me", bully)
	check("?assignee="+strconv.FormatInt(lan, 10), bully)
	check("?assignee=unassigned", danger, groomEarly, groomLate)

	// 4 h 25 min after the first grooming report: it is 25 minutes overdue, the second one has
	// 35 minutes left, the P0 (15 min) is overdue too.
	e.now = start.Add(4*time.Hour + 25*time.Minute)
	body = check("?harm=CSE.", groomEarly, groomLate)
	if !strings.Contains(body, "quá hạn 25 phút") || !strings.Contains(body, "còn 35 phút") || !strings.Contains(body, "desk-over") {
		t.Errorf("SLA texts or overdue mark missing:\n%s", body)
	}
	e.now = start
	body = e.do("GET", "/desk?harm=CSE.GROOM&lang=en", "lan", nil).Body.String()
	if !strings.Contains(body, "4 h 0 min left") {
		t.Errorf("English SLA text missing")
	}
}

func TestDeskDuration(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	cat := deskCat(r)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		due  time.Duration
		want string
	}{
		{2*time.Hour + 10*time.Minute, "còn 2 giờ 10 phút"},
		{-35 * time.Minute, "quá hạn 35 phút"},
		{3*24*time.Hour + 4*time.Hour, "còn 3 ngày 4 giờ"},
		{20 * time.Second, "còn 0 phút"},
	} {
		if got := deskSLAOf(cat, now.Add(c.due), now, time.Time{}, true).Text; got != c.want {
			t.Errorf("%v: %q, want %q", c.due, got, c.want)
		}
	}
	if s := deskSLAOf(cat, now, now.Add(time.Hour), now, true); !s.None || s.Over {
		t.Errorf("assessed case has an SLA clock: %+v", s)
	}
}

func TestDeskTransitions(t *testing.T) {
	e := newDeskEnv(t)
	c := e.submit(hotline.Submission{Harm: "VIO.THREAT", URLs: []string{"https://example.com/t"}})
	path := fmt.Sprintf("/desk/cases/%d", c.ID)
	page := e.do("GET", path, "lan", nil).Body.String()
	for _, s := range lifecycle.Case.Next(c.State) {
		if !strings.Contains(page, `name="to" value="`+s+`"`) {
			t.Errorf("no button for %s", s)
		}
	}
	v := strconv.FormatInt(c.Version, 10)
	w := e.do("POST", path+"/transition", "lan", url.Values{"version": {v}, "to": {"triaged"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != path {
		t.Fatalf("transition: %d %s", w.Code, w.Body)
	}
	now := e.caseNow(c.ID)
	if now.State != lifecycle.CaseTriaged {
		t.Fatalf("state %s", now.State)
	}
	// A step the machine does not have: 409, the reason and the fresh page.
	w = e.do("POST", path+"/transition", "lan", url.Values{"version": {strconv.FormatInt(now.Version, 10)}, "to": {"closed"}})
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "Không thể chuyển vụ việc từ") || !strings.Contains(w.Body.String(), now.Ref) {
		t.Errorf("invalid transition: %d %s", w.Code, w.Body)
	}
	// The form of a page loaded before the first change: 409, "someone changed it", and the
	// note typed is kept.
	w = e.do("POST", path+"/transition", "lan", url.Values{"version": {v}, "to": {"in_assessment"}, "note": {"ghi chú của tôi"}})
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "Người khác vừa thay đổi") || !strings.Contains(w.Body.String(), "ghi chú của tôi") {
		t.Errorf("stale version: %d %s", w.Code, w.Body)
	}
	w = e.do("POST", path+"/note", "lan", url.Values{"version": {v}, "note": {"x"}})
	if w.Code != http.StatusConflict {
		t.Errorf("stale note: %d", w.Code)
	}
	if e.caseNow(c.ID).State != lifecycle.CaseTriaged {
		t.Error("a refused change changed the case")
	}
	// English reason.
	r := httptest.NewRequest("POST", path+"/transition?lang=en", strings.NewReader(url.Values{"version": {strconv.FormatInt(now.Version, 10)}, "to": {"closed"}, "csrf": {"csrf-lan"}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", "text/html")
	r.Header.Set("X-Desk-As", "lan")
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, r)
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "The case cannot move from") {
		t.Errorf("English invalid transition: %d", rec.Code)
	}
	// No version at all is refused.
	if w := e.do("POST", path+"/transition", "lan", url.Values{"to": {"assigned"}}); w.Code != http.StatusBadRequest {
		t.Errorf("no version: %d", w.Code)
	}
	if w := e.do("GET", "/desk/cases/999999", "lan", nil); w.Code != http.StatusNotFound {
		t.Errorf("unknown case: %d", w.Code)
	}
}

func TestDeskActionsInHistory(t *testing.T) {
	e := newDeskEnv(t)
	c := e.submit(hotline.Submission{Harm: "VIO.BULLY", URLs: []string{"https://example.com/h"}})
	path := fmt.Sprintf("/desk/cases/%d", c.ID)
	ver := func() string { return strconv.FormatInt(e.caseNow(c.ID).Version, 10) }
	expect303 := func(w *httptest.ResponseRecorder, what string) {
		t.Helper()
		if w.Code != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", what, w.Code, w.Body)
		}
	}
	expect303(e.do("POST", path+"/classify", "lan", url.Values{"version": {ver()}, "harm": {"VIO.THREAT"}, "severity": {"4"},
		"priority": {"1"}, "age_band": {"12-15"}, "flags": {"ongoing", "repeat"}, "legal": {"Điều 146 BLHS"}}), "classify")
	expect303(e.do("POST", path+"/assign", "lan", url.Values{"version": {ver()}, "assignee": {strconv.FormatInt(e.users["minh"].UserID, 10)}}), "assign")
	expect303(e.do("POST", path+"/note", "lan", url.Values{"version": {ver()}, "note": {"Đã gọi lại cho phụ huynh"}}), "note")
	expect303(e.do("POST", path+"/evidence", "lan", url.Values{"url": {"https://example.com/h"}, "http_status": {"200"},
		"sha256": {strings.Repeat("ab", 32)}, "content_type": {"text/html"}, "note": {"trang còn hoạt động"}}), "evidence")

	got := e.caseNow(c.ID)
	if got.Harm != "VIO.THREAT" || got.Severity != 4 || got.Priority != 1 || got.AssigneeID != e.users["minh"].UserID ||
		strings.Join(got.Flags, ",") != "ongoing,repeat" || got.Legal != "Điều 146 BLHS" || got.AgeBand != "12-15" {
		t.Errorf("case after actions: %+v", got)
	}
	page := e.do("GET", path, "lan", nil).Body.String()
	hist := page[strings.Index(page, `id="desk-history"`):]
	hist = hist[:strings.Index(hist, "</section>")]
	for _, want := range []string{"Phân loại", "Đe dọa, kích động bạo lực đối với trẻ em, mức độ nghiêm trọng 4, P1", "Phân công", "Cán bộ minh", "Đã gọi lại cho phụ huynh",
		"Bằng chứng", "https://example.com/h", "trang còn hoạt động", "Cán bộ lan"} {
		if !strings.Contains(hist, want) {
			t.Errorf("history lacks %q:\n%s", want, hist)
		}
	}
	if !strings.Contains(page, strings.Repeat("ab", 32)) {
		t.Error("evidence list lacks the hash")
	}
	// Bad values are refused with the reason and nothing changes.
	v := ver()
	for _, f := range []url.Values{
		{"version": {v}, "harm": {"NOPE"}, "severity": {"1"}, "priority": {"1"}},
		{"version": {v}, "harm": {"VIO.BULLY"}, "severity": {"9"}, "priority": {"1"}},
		{"version": {v}, "harm": {"VIO.BULLY"}, "severity": {"1"}, "priority": {"1"}, "flags": {"nope"}},
	} {
		if w := e.do("POST", path+"/classify", "lan", f); w.Code != http.StatusUnprocessableEntity {
			t.Errorf("classify %v: %d", f, w.Code)
		}
	}
	if w := e.do("POST", path+"/assign", "lan", url.Values{"version": {v}, "assignee": {"99999"}}); w.Code != http.StatusUnprocessableEntity ||
		!strings.Contains(w.Body.String(), "Không có tài khoản này") {
		t.Errorf("assign to nobody: %d", w.Code)
	}
	w := e.do("POST", path+"/evidence", "lan", url.Values{"url": {"javascript:alert(1)"}, "sha256": {"xyz"}, "http_status": {"42"}})
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "64 chữ số") || !strings.Contains(w.Body.String(), "Mã HTTP") {
		t.Errorf("bad evidence: %d %s", w.Code, w.Body)
	}
	if e.caseNow(c.ID).Version != got.Version {
		t.Error("a refused action changed the case")
	}
	// Assign to me, then unassign.
	expect303(e.do("POST", path+"/assign", "lan", url.Values{"version": {ver()}, "assignee": {"me"}}), "assign me")
	if e.caseNow(c.ID).AssigneeID != e.users["lan"].UserID {
		t.Error("assign to me")
	}
	expect303(e.do("POST", path+"/assign", "lan", url.Values{"version": {ver()}, "assignee": {"0"}}), "unassign")
	if e.caseNow(c.ID).AssigneeID != 0 {
		t.Error("unassign")
	}
	recs, err := e.st.AuditList(t.Context(), store.AuditFilter{Action: "evidence.add", Actor: "user:" + strconv.FormatInt(e.users["lan"].UserID, 10) + ":lan"})
	if err != nil || len(recs) != 1 {
		t.Errorf("evidence audit: %v %v", recs, err)
	}
}

func TestDeskContactAndMedia(t *testing.T) {
	e := newDeskEnv(t)
	c := e.submit(hotline.Submission{Harm: "VIO.BULLY", Contact: "0912 345 678", URLs: []string{"https://example.com/m"},
		Screenshots: []hotline.Image{{ContentType: "image/png", Width: 4, Height: 4, Data: deskPNG(t)}}})
	path := fmt.Sprintf("/desk/cases/%d", c.ID)
	lanActor := "user:" + strconv.FormatInt(e.users["lan"].UserID, 10) + ":lan"
	audits := func(action string) int {
		t.Helper()
		recs, err := e.st.AuditList(t.Context(), store.AuditFilter{Action: action, Actor: lanActor})
		if err != nil {
			t.Fatal(err)
		}
		return len(recs)
	}

	page := e.do("GET", path, "lan", nil).Body.String()
	if strings.Contains(page, "0912 345 678") || !strings.Contains(page, "Xem thông tin liên hệ") {
		t.Error("contact shown without the deliberate step, or no button")
	}
	if strings.Contains(page, "<img") || strings.Contains(page, "/desk/attachments/") {
		t.Error("the case page shows media by default")
	}
	if !strings.Contains(page, "mô tả VIO.BULLY") || !strings.Contains(page, `rel="noopener noreferrer" target="_blank"`) {
		t.Error("text-first view lacks the description or a safe outside link")
	}
	if audits("case.view_contact") != 0 || audits("case.view") != 1 {
		t.Errorf("audits before reveal: %d %d", audits("case.view_contact"), audits("case.view"))
	}
	w := e.do("POST", path+"/contact", "lan", url.Values{})
	if w.Code != 200 || !strings.Contains(w.Body.String(), "0912 345 678") {
		t.Fatalf("contact: %d", w.Code)
	}
	if audits("case.view_contact") != 1 {
		t.Error("contact view not audited")
	}

	reports, _ := e.st.CaseReports(t.Context(), c.ID)
	att := reports[0].AttachmentIDs[0]
	w = e.do("POST", path+"/reveal", "lan", url.Values{"att": {strconv.FormatInt(att, 10)}})
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, fmt.Sprintf(`<img class="desk-img" src="/desk/attachments/%d"`, att)) {
		t.Fatalf("reveal: %d", w.Code)
	}
	if !strings.Contains(body, "Hôm nay bạn đã mở 0 ảnh") {
		t.Error("exposure count missing")
	}
	other := e.submit(hotline.Submission{Harm: "VIO.BULLY", URLs: []string{"https://example.com/other"}})
	if w := e.do("POST", fmt.Sprintf("/desk/cases/%d/reveal", other.ID), "lan", url.Values{"att": {strconv.FormatInt(att, 10)}}); w.Code != http.StatusNotFound {
		t.Errorf("reveal of another case's screenshot: %d", w.Code)
	}

	w = e.do("GET", fmt.Sprintf("/desk/attachments/%d", att), "lan", nil)
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), deskPNG(t)) {
		t.Fatalf("attachment: %d", w.Code)
	}
	h := w.Header()
	if h.Get("Cache-Control") != "no-store" || h.Get("Content-Type") != "image/png" || !strings.HasPrefix(h.Get("Content-Disposition"), "inline") ||
		h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("attachment headers: %v", h)
	}
	if audits("attachment.view") != 1 {
		t.Error("attachment view not audited")
	}
	if body := e.do("GET", path, "lan", nil).Body.String(); !strings.Contains(body, "Hôm nay bạn đã mở 1 ảnh") {
		t.Error("exposure not counted")
	}
	if w := e.do("GET", "/desk/attachments/424242", "lan", nil); w.Code != http.StatusNotFound {
		t.Errorf("unknown attachment: %d", w.Code)
	}
}

func TestDeskIntake(t *testing.T) {
	e := newDeskEnv(t)
	page := e.do("GET", "/desk/intake", "op", nil).Body.String()
	if !strings.Contains(page, "autofocus") || !strings.Contains(page, "chỉ khi người gọi đồng ý") && !strings.Contains(page, "Chỉ ghi khi người gọi đồng ý") {
		t.Error("intake form lacks autofocus or the consent hint")
	}
	if strings.Contains(page, "<img") || strings.Contains(page, "/desk/attachments/") {
		t.Error("the operator's page shows media")
	}
	form := url.Values{"reporter": {"parent"}, "age_band": {"12-15"}, "harm": {"CSE.SEXTORT"},
		"danger_now": {"yes"}, "extortion": {"yes"}, "urls": {"https://example.com/x\nhttps://example.com/y"},
		"platform": {"facebook"}, "account": {"kẻ.xấu"}, "description": {"Con tôi bị dọa tung ảnh nếu không chuyển tiền"},
		"province": {"Hà Nội"}, "contact": {"0987 000 111"}, "feedback": {"yes"}}
	w := e.do("POST", "/desk/intake", "op", form)
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, "P0: gọi Công an 113 ngay") {
		t.Fatalf("intake: %d %s", w.Code, body)
	}
	ref := regexp.MustCompile(`<output class="desk-code">(KS-[^<]+)</output>`).FindStringSubmatch(body)
	code := regexp.MustCompile(`<output class="desk-code">([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</output>`).FindStringSubmatch(body)
	if ref == nil || code == nil {
		t.Fatalf("no reference or status code in\n%s", body)
	}
	if strings.Contains(body, "Con tôi bị dọa") {
		t.Error("the form is not empty for the next call")
	}
	r, err := e.st.ReportByRef(t.Context(), ref[1])
	if err != nil {
		t.Fatal(err)
	}
	if r.Channel != "phone" || r.OperatorID != e.users["op"].UserID || !r.DangerNow || r.Harm != "CSE.SEXTORT" || r.LegalBasis == "consent" {
		t.Errorf("stored report: %+v", r)
	}
	if st, _, err := e.svc.Status(t.Context(), ref[1], code[1]); err != nil || st.Ref != ref[1] {
		t.Errorf("status with the code read to the caller: %v", err)
	}
	c, _ := e.st.CaseByID(t.Context(), r.CaseID)
	if c.Priority != 0 || len(r.ContactSealed) == 0 || strings.Contains(r.ContactSealed, "0987") {
		t.Errorf("case priority %d, contact %q", c.Priority, r.ContactSealed)
	}
	// A missing description: 422, what was typed is kept.
	w = e.do("POST", "/desk/intake", "sup", url.Values{"harm": {"VIO.BULLY"}, "platform": {"tiktok"}})
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), `value="tiktok"`) {
		t.Errorf("intake without description: %d %s", w.Code, w.Body)
	}
}

// TestDeskPagesTranslated renders every desk page in both languages and fails on a key shown raw.
func TestDeskPagesTranslated(t *testing.T) {
	e := newDeskEnv(t)
	c := e.submit(hotline.Submission{Harm: "CSE.GROOM", DangerNow: true, SelfHarmRisk: true, ExtortionOngoing: true, Contact: "x@example.com",
		ReporterType: "parent", AgeBand: "12-15", WhereKind: "chat", Platform: "zalo", Account: "acc", When: "hôm qua",
		URLs: []string{"https://example.com/p?utm_source=x"}, Screenshots: []hotline.Image{{ContentType: "image/png", Data: deskPNG(t)}}})
	lan := e.users["lan"].UserID
	if _, err := e.svc.ChangeCase(t.Context(), hotline.Actor{UserID: lan, Label: "u"}, c.ID, hotline.Change{To: "triaged", Assign: &lan, Note: "n",
		Classify: &store.Classification{Harm: "CSE.GROOM", Severity: 3, Flags: []string{"ongoing"}, Priority: 0}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddEvidence(t.Context(), hotline.Actor{UserID: lan, Label: "u"}, store.Evidence{CaseID: c.ID, URL: "https://example.com/p"}); err != nil {
		t.Fatal(err)
	}
	reports, _ := e.st.CaseReports(t.Context(), c.ID)
	path := fmt.Sprintf("/desk/cases/%d", c.ID)
	raw := regexp.MustCompile(`\b(desk|harm|state|stage|priority|channel|age|flag|reporter|where|report)\.[A-Za-z0-9_.-]*[A-Za-z0-9_]`)
	for _, lang := range []string{"vi", "en"} {
		pages := map[string]*httptest.ResponseRecorder{
			"queue":        e.do("GET", "/desk?open=0&lang="+lang, "sup", nil),
			"queue empty":  e.do("GET", "/desk?harm=OTHER&lang="+lang, "sup", nil),
			"case":         e.do("GET", path+"?lang="+lang, "sup", nil),
			"case contact": e.do("POST", path+"/contact?lang="+lang, "sup", url.Values{}),
			"case reveal":  e.do("POST", path+"/reveal?lang="+lang, "sup", url.Values{"att": {strconv.FormatInt(reports[0].AttachmentIDs[0], 10)}}),
			"case errors":  e.do("POST", path+"/evidence?lang="+lang, "sup", url.Values{"url": {"ftp://x"}}),
			"intake":       e.do("GET", "/desk/intake?lang="+lang, "op", nil),
			"intake done":  e.do("POST", "/desk/intake?lang="+lang, "op", url.Values{"harm": {"OTHER"}, "description": {"người gọi kể lại sự việc"}, "danger_now": {"yes"}}),
			"intake error": e.do("POST", "/desk/intake?lang="+lang, "op", url.Values{"harm": {"NOPE"}}),
			"admin nav":    nil,
		}
		e.users["sup"].Roles = append(e.users["sup"].Roles, web.RoleAdmin)
		pages["admin nav"] = e.do("GET", "/desk?lang="+lang, "sup", nil)
		e.users["sup"].Roles = e.users["sup"].Roles[:1]
		for name, w := range pages {
			body := strings.ReplaceAll(w.Body.String(), "/static/desk.css", "")
			if w.Code >= 500 || w.Code == 403 || w.Code == 404 {
				t.Errorf("%s %s: %d %s", lang, name, w.Code, body)
				continue
			}
			if !strings.Contains(body, `<html lang="`+lang+`">`) {
				t.Errorf("%s %s: not in %s", lang, name, lang)
			}
			if m := raw.FindAllString(body, -1); len(m) > 0 {
				t.Errorf("%s %s: raw keys %v", lang, name, m)
			}
			if !strings.Contains(body, `action="/logout"`) || !strings.Contains(body, `name="csrf"`) {
				t.Errorf("%s %s: no staff navigation with logout", lang, name)
			}
		}
		nav := pages["admin nav"].Body.String()
		if !strings.Contains(nav, `href="/admin/users"`) || !strings.Contains(nav, `href="/desk/stats"`) {
			t.Errorf("%s: admin links missing for an admin", lang)
		}
		if op := pages["intake"].Body.String(); strings.Contains(op, `href="/admin/users"`) || strings.Contains(op, `href="/desk/notices"`) ||
			!strings.Contains(op, `href="/desk/intake"`) {
			t.Errorf("%s: operator's navigation shows the wrong links", lang)
		}
	}
}
