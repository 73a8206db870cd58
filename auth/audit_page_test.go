package auth

import (
	"database/sql"
	"fmt"
	"html"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

var (
	auditRowRE   = regexp.MustCompile(`<tr>\s*<td>(\d+)</td>`)
	auditOlderRE = regexp.MustCompile(`<a href="([^"]*)" rel="next">`)
)

// seqs returns the record numbers a page lists, in page order.
func seqs(t *testing.T, body string) []int64 {
	t.Helper()
	var out []int64
	for _, m := range auditRowRE.FindAllStringSubmatch(body, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		out = append(out, n)
	}
	return out
}

func TestAdminAuditPage(t *testing.T) {
	e := newEnv(t, totpOff())
	e.addUser("root", web.RoleAdmin)
	lanID := e.addUser("lan", web.RoleAnalyst)
	ctx := t.Context()
	ict := time.FixedZone("ICT", 7*3600)
	add := func(tm time.Time, actor, action, object string) int64 {
		t.Helper()
		if err := e.st.AppendAudit(ctx, store.AuditEvent{Time: tm, Actor: actor, Action: action, Object: object, Detail: map[string]any{"n": 1}}); err != nil {
			t.Fatal(err)
		}
		seq, _, err := e.st.AuditHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	lan := fmt.Sprintf("user:%d:lan", lanID) // as web.Principal.Actor names people
	if _, _, err := CreateToken(ctx, e.st, NewToken{Name: "Zalo OA", Scopes: []string{"reports:submit"}}, "test"); err != nil {
		t.Fatal(err)
	}
	// Around a day's boundary in Vietnam (17:00 UTC).
	s12 := add(time.Date(2026, 3, 1, 23, 30, 0, 0, ict), lan, "case.view", "case:12")
	s120 := add(time.Date(2026, 3, 1, 9, 0, 0, 0, ict), "token:1:Zalo OA", "case.change", "case:120")
	s7 := add(time.Date(2026, 3, 2, 0, 30, 0, 0, ict), lan, "case.view", "case:7")
	sNotice := add(time.Date(2026, 2, 28, 12, 0, 0, 0, ict), "cli", "notice.send", "notice:3")

	a, l := e.browser(), e.browser()
	a.login("root")
	l.login("lan")

	want(t, "analyst", l.get("/admin/audit"), 403, "")
	want(t, "analyst verifies", l.post("/admin/audit/verify", "csrf", l.csrf("/account/password")), 403, "")
	want(t, "anonymous", e.browser().get("/admin/audit"), 303, "/login?next=%2Fadmin%2Faudit")

	r := a.get("/admin/audit")
	if r.code != 200 || !strings.Contains(r.body, "Nhật ký kiểm toán") || !strings.Contains(r.body, `href="/admin/audit"`) {
		t.Fatalf("audit page: %d\n%s", r.code, r.body)
	}
	all := seqs(t, r.body)
	if len(all) < 6 || !slices.IsSortedFunc(all, func(x, y int64) int { return int(y - x) }) {
		t.Fatalf("not newest first: %v", all)
	}
	// user:N objects are shown with their login; times in Vietnam time.
	if !strings.Contains(r.body, fmt.Sprintf(">user:%d</a> (lan)", lanID)) || !strings.Contains(r.body, ">"+lan+"</a>") || !strings.Contains(r.body, ">2026-03-01 23:30:00</time>") ||
		!strings.Contains(r.body, html.EscapeString(`{"n":1}`)) {
		t.Fatalf("rows:\n%s", r.body)
	}

	for _, tc := range []struct {
		query string
		want  []int64
	}{
		{"object=case:12", []int64{s120, s12}},
		{"object=case:", []int64{s7, s120, s12}},
		{"object=CASE:", nil},
		{"actor=" + lan + "&object=case:", []int64{s7, s12}},
		{"actor=LAN&object=case:", []int64{s7, s12}}, // a login means its account
		{fmt.Sprintf("actor=user:%d&object=case:", lanID), []int64{s7, s12}},
		{"actor=token:1", []int64{s120}},
		{"actor=token:1:Zalo+OA", []int64{s120}},
		{"actor=token:9", nil},
		{"actor=nobody", nil},
		{"actor=cli", []int64{sNotice}},
		{"action=case.view", []int64{s7, s12}},
		{"action=case.", []int64{s7, s120, s12}},
		{"action=notice.&object=notice:3", []int64{sNotice}},
		{"from=2026-03-01&to=2026-03-01&object=case:", []int64{s120, s12}},
		{"from=2026-03-02&object=case:", []int64{s7}},
		{"to=2026-02-28", []int64{sNotice}},
		{"object=case:&before=" + strconv.FormatInt(s7, 10), []int64{s120, s12}},
	} {
		r := a.get("/admin/audit?" + tc.query)
		if got := seqs(t, r.body); r.code != 200 || !slices.Equal(got, tc.want) {
			t.Errorf("?%s: %d %v, want %v", tc.query, r.code, got, tc.want)
		}
	}
	if r := a.get("/admin/audit?action=auth."); r.code != 200 || !strings.Contains(r.body, ">auth.login</a>") || strings.Contains(r.body, ">case.view</a>") {
		t.Errorf("action prefix auth.: %d\n%s", r.code, r.body)
	}
	for _, q := range []string{"from=2026-13-01", "from=yesterday", "from=2026-03-02&to=2026-03-01", "before=-3", "before=x"} {
		r := a.get("/admin/audit?" + q)
		if r.code != 400 || !strings.Contains(r.body, `role="alert"`) || len(seqs(t, r.body)) != 0 {
			t.Errorf("?%s: %d, want 400 with a message", q, r.code)
		}
	}
	if r := a.get("/admin/audit?from=2026-13-01&lang=en"); !strings.Contains(r.body, "Invalid date") {
		t.Errorf("English date error:\n%s", r.body)
	}

	// Paging: 100 a page, then older ones, keeping the filter.
	for i := range 230 {
		add(time.Time{}, "system:test", "bulk.add", fmt.Sprintf("item:%d", i))
	}
	var pages []int
	path := "/admin/audit?action=bulk.add"
	seen := map[int64]bool{}
	for path != "" && len(pages) < 5 {
		r := a.get(path)
		got := seqs(t, r.body)
		pages = append(pages, len(got))
		for _, s := range got {
			if seen[s] {
				t.Fatalf("record %d on two pages", s)
			}
			seen[s] = true
		}
		path = ""
		if m := auditOlderRE.FindStringSubmatch(r.body); m != nil {
			path = html.UnescapeString(m[1])
			if !strings.Contains(path, "action=bulk.add") {
				t.Fatalf("the next page loses the filter: %s", path)
			}
		}
		if len(pages) > 1 && !strings.Contains(r.body, `href="/admin/audit?action=bulk.add"`) {
			t.Fatalf("a later page has no link back to the newest")
		}
	}
	if !slices.Equal(pages, []int{100, 100, 30}) {
		t.Fatalf("pages of %v records", pages)
	}

	// Verification on demand: intact, then broken after tampering.
	tok := a.csrf("/admin/audit?lang=vi") // back to Vietnamese (the cookie)
	want(t, "verify without CSRF", a.post("/admin/audit/verify"), 403, "")
	r = a.post("/admin/audit/verify?object=case:12", "csrf", tok)
	if r.code != 200 || !strings.Contains(r.body, "Nhật ký toàn vẹn") || !slices.Equal(seqs(t, r.body), []int64{s120, s12}) {
		t.Fatalf("verify (intact): %d\n%s", r.code, r.body)
	}
	if !strings.Contains(r.body, `action="/admin/audit/verify?object=case%3A12"`) {
		t.Fatalf("the verify form loses the filter:\n%s", r.body)
	}
	// The language switch of that page leads back to the list.
	want(t, "GET verify", a.get("/admin/audit/verify?object=case%3A12&lang=en"), 303, "/admin/audit?object=case%3A12&lang=en")
	want(t, "analyst GET verify", l.get("/admin/audit/verify"), 403, "")

	db, err := sql.Open("sqlite", e.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit_log SET detail = '{"n":2}' WHERE seq = $1`, s120); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("update allowed: %v", err)
	}
	// An intruder with the file drops the trigger.
	for _, q := range []string{`DROP TRIGGER audit_log_no_update`, fmt.Sprintf(`UPDATE audit_log SET detail = '{"n":2}' WHERE seq = %d`, s120)} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	r = a.post("/admin/audit/verify", "csrf", tok)
	if r.code != 200 || !strings.Contains(r.body, fmt.Sprintf("chuỗi mã băm bị đứt tại bản ghi số %d", s120)) ||
		!strings.Contains(r.body, fmt.Sprintf("Các bản ghi từ số 1 đến số %d vẫn toàn vẹn", s120-1)) ||
		!strings.Contains(r.body, "hash does not match") || strings.Contains(r.body, "Nhật ký toàn vẹn") {
		t.Fatalf("verify (broken): %d\n%s", r.code, r.body)
	}
	a.get("/admin/audit?lang=en") // the language cookie
	if r := a.post("/admin/audit/verify", "csrf", tok); !strings.Contains(r.body, fmt.Sprintf("the hash chain breaks at record no. %d", s120)) {
		t.Fatalf("English verify:\n%s", r.body)
	}

	// Each verification is recorded, with its result.
	recs, err := e.st.AuditList(ctx, store.AuditFilter{Action: "audit.verify"})
	if err != nil || len(recs) != 3 || recs[2].Actor != "user:1:root" || !strings.Contains(recs[2].Detail, `"ok":true`) ||
		!strings.Contains(recs[0].Detail, fmt.Sprintf(`"broken_at":%d`, s120)) {
		t.Fatalf("audit.verify records: %+v %v", recs, err)
	}
}
