package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kidshield/kidshield/auth"
	"github.com/kidshield/kidshield/hotline/taxonomy"
)

// TestHotlineFlow follows the hotline's story through the real binary with a real browser, the
// way people use it:
//
//  1. a child reports bullying in Vietnamese in a browser with JavaScript off, keeps the
//     receipt and checks the status;
//  2. someone else reports the same link written differently: it joins the same case;
//  3. a 111 operator (second factor enrolled on first login) types a phone report with the
//     keyboard;
//  4. an analyst sorts the queue, assesses and classifies the case, notes it and makes it
//     actionable; an administrator adds the platform as a partner; the analyst drafts a
//     takedown notice, a supervisor (another person) approves it and it is sent; the analyst
//     proposes the domain for the network list and the supervisor approves it;
//  5. the DNS filter blocks the domain within seconds of the approval;
//  6. the platform's partner account sees only its notice, acknowledges it and reports the
//     removal; the analyst verifies it and resolves the case, and the child's status page
//     says the content was taken down;
//  7. the statistics show the three reports, the removal and the partner's removal rate.
//
// Each step is a subtest: a failure says which step broke, and the steps that depend on it
// are skipped rather than failing for the same reason. Screenshots of the key pages go to
// $KIDSHIELD_ARTIFACTS (default e2e/artifacts/), numbered in the story's order.
func TestHotlineFlow(t *testing.T) {
	requireTool(t, "dig")
	t.Parallel()
	b := newBrowser(t)
	up := startUpstream(t, 300)
	in := start(t, options{Upstream: up, Body: `
profiles:
  - id: kid
    block_categories: [hotline, adult]
default_profile: kid
hotline:
  auth:
    login_attempts: 1000
`})
	s := &flowStory{in: in, b: b, users: map[string]*flowUser{}}

	// Before anything happens the domain resolves: the later block is the hotline's doing.
	if r := s.ask(t, "bad.example.test"); r.Status != "NOERROR" || !slices.Contains(r.data("A"), upstreamA) {
		t.Fatalf("before any report, bad.example.test: %s; want NOERROR with %s from the upstream", r, upstreamA)
	}

	t.Run("1-child-reports-in-vietnamese-without-javascript", s.childReports)
	t.Run("2-second-report-same-canonical-url", s.secondReport)
	t.Run("3-operator-phone-intake-by-keyboard", s.operatorIntake)
	t.Run("4a-analyst-queue-and-case", s.analystQueue)
	t.Run("4b-analyst-assesses-classifies-notes", s.analystAssesses)
	t.Run("4c-admin-adds-partner", s.adminAddsPartner)
	t.Run("4d-notice-drafted-approved-by-supervisor-sent", s.notice)
	t.Run("4e-network-list-two-person-approval", s.networkList)
	t.Run("5-filter-blocks-the-domain", s.filterBlocks)
	t.Run("6-partner-acknowledges-and-removes", s.partnerRemoves)
	t.Run("6b-case-resolved-child-sees-removal", s.childSeesRemoval)
	t.Run("7-statistics", s.statistics)
}

// flowStory is what the steps share.
type flowStory struct {
	in    *instance
	b     *browser
	users map[string]*flowUser
	child *tab // the child's browser: JavaScript off

	ref1, code1, ref2, phoneRef string
	caseID                      int64
	caseRef                     string
	assessed                    bool // actionable
	partnerID                   int64
	partnerName                 string
	noticeID                    int64
	sent                        bool
	listApproved                time.Time
	removed                     bool
}

// flowUser is a staff or partner account and the browser tab its owner works in.
type flowUser struct {
	login, password, secret string
	tab                     *tab
}

// need skips a step whose precondition an earlier step did not establish (that step failed
// and said why).
func needStep(t *testing.T, ok bool, what string) {
	t.Helper()
	if !ok {
		t.Skipf("skipped: needs %s, which an earlier step did not achieve", what)
	}
}

// on is the same tab reporting to another (sub)test.
func (tb *tab) on(t *testing.T) *tab {
	c := *tb
	c.t = t
	return &c
}

const (
	childURL  = "http://bad.example.test/post/1?utm_source=zalo"
	secondURL = "http://BAD.example.test/post/1/"
	phoneURL  = "http://other.example.test/profile/42"
	childText = "Mấy bạn cùng lớp lập nhóm trên Zalo rồi đăng ảnh chế giễu em, còn dọa đánh em ở cổng trường. Em sợ không dám đi học."
)

var (
	reReceiptRef  = regexp.MustCompile(`aria-labelledby="ref-label"[^>]*>\s*(KS-[0-9A-Z]{4}-[0-9A-Z]{4})\s*<`)
	reReceiptCode = regexp.MustCompile(`aria-labelledby="code-label"[^>]*>\s*([0-9A-Z-]{6,40})\s*<`)
	reHTMLLang    = regexp.MustCompile(`^<html[^>]*\slang="([a-z-]+)"`)
)

// 1. The child's report, in Vietnamese, with the browser's JavaScript off.
func (s *flowStory) childReports(t *testing.T) {
	s.child = s.b.newTab("child")
	tb := s.child.on(t)
	tb.disableScripts()
	// The switch works: a page's own script does not run in this tab.
	tb.open(`data:text/html,<title>before</title><script>document.title="ran"</script>`)
	if title := browserRun(tb, "read the title", chromedp.Title()); title != "before" {
		t.Fatalf("JavaScript is still on in the child's tab (a page script set the title to %q)", title)
	}
	tb.mustOpen(s.in.httpURL("/report"))
	page := tb.html()
	if n := tb.count("script"); n != 0 {
		t.Errorf("/report has %d <script> elements: the public form must not need JavaScript", n)
	}
	if m := reHTMLLang.FindStringSubmatch(page); m == nil || m[1] != "vi" {
		t.Errorf("/report: the page is not in Vietnamese by default (html lang %v)", m)
	}
	if !strings.Contains(tb.text("body"), "111") {
		t.Errorf("/report: the page does not show the 111 hotline")
	}
	if got := tb.text("h1"); got != "Kể cho chúng tôi điều đã xảy ra" {
		t.Errorf("/report: <h1> %q, want the Vietnamese title", got)
	}
	// What happened: "bị chửi, bêu xấu, đe dọa trên mạng" (bullying). The child taps the label.
	tb.do("choose bullying", chromedp.Click(chromedp.CSS(`label[for="choice-bullying"]`)))
	if !tb.has(`#choice-bullying:checked`) {
		t.Fatalf("tapping the label of the bullying choice did not select it")
	}
	tb.typeText("#f-urls", childURL)
	tb.do("choose the platform", chromedp.SendKeys(chromedp.CSS("#f-platform"), "Zalo"))
	tb.typeText("#f-description", childText)
	if v := browserRun(tb, "read the description", chromedp.Value(chromedp.CSS("#f-description"))); v != childText {
		t.Errorf("the description field holds %q after typing, want %q", v, childText)
	}
	tb.shot("01-report-form-vi.png")

	tb.click("form.report-form button[type=submit]", http.StatusOK)
	page = tb.html()
	if m := reHTMLLang.FindStringSubmatch(page); m == nil || m[1] != "vi" {
		t.Errorf("receipt: not in Vietnamese (html lang %v)", m)
	}
	if h := tb.text("h1"); h != "Chúng tôi đã nhận được" {
		t.Errorf("receipt: <h1> %q, want %q\n%s", h, "Chúng tôi đã nhận được", tb.bodyText())
	}
	s.ref1 = tb.find(reReceiptRef, "the reference on the receipt")
	s.code1 = tb.find(reReceiptCode, "the status code on the receipt")
	t.Logf("receipt: reference %s, status code %s", s.ref1, s.code1)
	tb.shot("02-receipt-vi.png")

	// The receipt's link to the status page carries the reference; the child types the code.
	tb.click(`main a[href^="/status"]`, http.StatusOK)
	if v := browserRun(tb, "read the reference field", chromedp.Value(chromedp.CSS("#s-ref"))); v != s.ref1 {
		t.Errorf("status form: reference field %q, want %q from the receipt's link", v, s.ref1)
	}
	tb.typeText("#s-code", s.code1)
	tb.click("form.report-form button[type=submit]", http.StatusOK)
	stage := tb.text(".stage-now")
	if stage != "Chúng tôi đã nhận được điều em kể và sắp đọc nó." {
		t.Errorf("status page: stage %q, want the 'received' stage in a child's words", stage)
	}
	if cur := tb.count(`ol.stages li[aria-current="step"]`); cur != 1 {
		t.Errorf("status page: %d current steps in the list of stages, want 1", cur)
	}
	if !strings.Contains(tb.text("body"), s.ref1) {
		t.Errorf("status page does not show the reference %s", s.ref1)
	}
	tb.shot("03-status-vi.png")
}

// postForm sends a urlencoded form the way a browser without a session would.
func postPublicForm(t *testing.T, u string, v url.Values) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	return resp.StatusCode, string(b)
}

// 2. A second reporter gives the same link with another spelling: it must join the case.
func (s *flowStory) secondReport(t *testing.T) {
	st, body := postPublicForm(t, s.in.httpURL("/report"), url.Values{
		"lang": {"vi"}, "choice": {"bullying"}, "urls": {secondURL},
		"description": {"Bài này đang bêu xấu một bạn lớp 6, nhiều người chia sẻ."},
	})
	m := reReceiptRef.FindStringSubmatch(body)
	if st != http.StatusOK || m == nil {
		t.Fatalf("POST /report (second report): HTTP %d without a receipt: %.800s", st, body)
	}
	s.ref2 = m[1]
	if s.ref2 == s.ref1 {
		t.Errorf("the second report got the first one's reference %s", s.ref2)
	}
}

// 3. A 111 operator takes a call and types it in with the keyboard only.
func (s *flowStory) operatorIntake(t *testing.T) {
	op := s.login(t, "operator.lan", "Nguyễn Thị Lan", "operator", 0)
	tb := op.tab.on(t)
	if loc := tb.where(); !strings.HasSuffix(loc, "/desk/intake") {
		t.Errorf("an operator lands on %s after login, want /desk/intake", loc)
		tb.mustOpen(s.in.httpURL("/desk/intake"))
	}
	// The caller type has the focus when the page opens.
	wantFocus(tb, "reporter")
	tb.keys(kb.ArrowDown) // the first caller type
	tb.keys(kb.Tab)
	wantFocus(tb, "age_band")
	tb.keys(strings.Repeat(kb.ArrowDown, 3))
	tb.keys(kb.Tab)
	wantFocus(tb, "harm")
	i := slices.IndexFunc(taxonomy.Harms, func(h taxonomy.Harm) bool { return h.Code == "VIO.THREAT" })
	tb.keys(strings.Repeat(kb.ArrowDown, i+1)) // past "choose…"
	if v := browserRun(tb, "read the harm", chromedp.Value(chromedp.CSS(`select[name=harm]`))); v != "VIO.THREAT" {
		t.Fatalf("after %d × ArrowDown the harm is %q, want VIO.THREAT", i+1, v)
	}
	tb.keys(kb.Tab) // the urgent boxes: none of them
	for _, name := range []string{"danger_now", "self_harm", "extortion"} {
		wantFocus(tb, name)
		tb.keys(kb.Tab)
	}
	wantFocus(tb, "urls")
	tb.typeKeys(phoneURL)
	tb.keys(kb.Tab)
	wantFocus(tb, "platform")
	tb.typeKeys("Facebook")
	tb.keys(kb.Tab)
	wantFocus(tb, "account")
	tb.keys(kb.Tab)
	wantFocus(tb, "description")
	tb.typeKeys("Mẹ của một em 12 tuổi gọi: một tài khoản lạ nhắn tin đe dọa con chị trên Facebook.")
	tb.keys(kb.Tab)
	wantFocus(tb, "province")
	tb.typeKeys("Hà Nội")
	for _, name := range []string{"contact", "feedback"} {
		tb.keys(kb.Tab)
		wantFocus(tb, name)
	}
	tb.keys(kb.Tab)
	if tag := browserEval[string](tb, "focused element", `document.activeElement.tagName + ':' + document.activeElement.type`); tag != "BUTTON:submit" {
		t.Fatalf("after the last field, Tab reaches %s, want the submit button", tag)
	}
	st := tb.navigation("press Enter on the submit button", chromedp.KeyEvent(kb.Enter))
	if st != http.StatusOK {
		t.Fatalf("phone intake: HTTP %d\n%s", st, tb.bodyText())
	}
	s.phoneRef = reReportRef.FindString(tb.text(".desk-receipt"))
	if s.phoneRef == "" {
		t.Fatalf("phone intake: no reference KS-XXXX-XXXX on the page\n%s", tb.bodyText())
	}
	t.Logf("phone report %s", s.phoneRef)
	tb.shot("04-operator-intake.png")
}

// wantFocus fails unless the focused element is the form field name.
func wantFocus(tb *tab, name string) {
	tb.t.Helper()
	if got := browserEval[string](tb, "focused field", `document.activeElement ? (document.activeElement.name || document.activeElement.tagName) : ''`); got != name {
		tb.t.Fatalf("%s: the keyboard focus is on %q, want field %q", tb.name, got, name)
	}
}

// keys presses keys (kb.Tab, kb.ArrowDown, ...) on whatever has the focus.
func (tb *tab) keys(k string) {
	tb.t.Helper()
	tb.do("press keys", chromedp.KeyEvent(k))
}

// typeKeys types text on whatever has the focus.
func (tb *tab) typeKeys(text string) {
	tb.t.Helper()
	checkTypable(tb.t, text)
	tb.do("type", chromedp.KeyEvent(text))
}

var reQueueRow = regexp.MustCompile(`(?s)<tr class="desk-row[^"]*">(.*?)</tr>`)
var reQueueCells = struct {
	prio, link, harm, count *regexp.Regexp
}{
	prio:  regexp.MustCompile(`>P([0-4])</span>`),
	link:  regexp.MustCompile(`href="/desk/cases/(\d+)">([^<]+)</a>`),
	harm:  regexp.MustCompile(`<td title="([A-Z._]+)">`),
	count: regexp.MustCompile(`<td class="desk-num">(\d+)</td>`),
}

// 4a. The analyst's queue, sorted by priority, and the case with both reports.
func (s *flowStory) analystQueue(t *testing.T) {
	needStep(t, s.ref1 != "" && s.ref2 != "", "the two web reports")
	an := s.login(t, "analyst.minh", "Trần Văn Minh", "analyst", 0)
	tb := an.tab.on(t)
	if loc := tb.where(); !strings.HasSuffix(loc, "/desk") {
		t.Errorf("an analyst lands on %s after login, want /desk", loc)
	}
	tb.mustOpen(s.in.httpURL("/desk"))
	rows := reQueueRow.FindAllStringSubmatch(tb.html(), -1)
	if len(rows) == 0 {
		t.Fatalf("the queue lists no cases\n%s", tb.bodyText())
	}
	var prios []int
	for _, r := range rows {
		pm, lm, hm, cm := reQueueCells.prio.FindStringSubmatch(r[1]), reQueueCells.link.FindStringSubmatch(r[1]),
			reQueueCells.harm.FindStringSubmatch(r[1]), reQueueCells.count.FindStringSubmatch(r[1])
		if pm == nil || lm == nil || hm == nil || cm == nil {
			t.Fatalf("cannot read a queue row (priority %v, link %v, harm %v, count %v): %s", pm, lm, hm, cm, r[1])
		}
		p, _ := strconv.Atoi(pm[1])
		prios = append(prios, p)
		if hm[1] == "VIO.BULLY" && cm[1] == "2" {
			s.caseID, _ = strconv.ParseInt(lm[1], 10, 64)
			s.caseRef = lm[2]
			if p != 2 {
				t.Errorf("the bullying case is P%d in the queue, want P2 (VIO.BULLY, no self-harm risk)", p)
			}
		}
	}
	if !slices.IsSorted(prios) {
		t.Errorf("the queue is not sorted by priority: %v", prios)
	}
	wantCases := 1 // the bullying case with two reports
	if s.phoneRef != "" {
		wantCases++ // the phone call's
	}
	if len(rows) != wantCases {
		t.Errorf("the queue lists %d cases, want %d", len(rows), wantCases)
	}
	tb.shot("05-queue.png")
	if s.caseID == 0 {
		t.Fatalf("no VIO.BULLY case with 2 reports in the queue: the second report did not join the first one's case\n%s", tb.bodyText())
	}

	t.Logf("case %s (id %d)", s.caseRef, s.caseID)
	tb.click(fmt.Sprintf(`a[href="/desk/cases/%d"]`, s.caseID), http.StatusOK)
	if n := tb.count("article.desk-report"); n != 2 {
		t.Errorf("the case page shows %d reports, want 2", n)
	}
	page := tb.html()
	for _, want := range []string{s.ref1, s.ref2, childText, "bad.example.test"} {
		if !strings.Contains(page, want) {
			t.Errorf("the case page does not show %q", want)
		}
	}
	if meta := tb.text(".desk-meta"); !strings.Contains(meta, "2 báo cáo") {
		t.Errorf("the case header says %q, want it to count 2 reports", meta)
	}
}

// nextStates are the states the case page offers to move the case to (its transition buttons).
func nextStates(tb *tab) []string {
	tb.t.Helper()
	vals := browserEval[[]string](tb, "transition buttons",
		`Array.from(document.querySelectorAll('form[action$="/transition"] button[name=to]')).map(b => b.value)`)
	return vals
}

// move clicks the transition button to state to.
func moveCase(tb *tab, caseID int64, to string) {
	tb.t.Helper()
	if next := nextStates(tb); !slices.Contains(next, to) {
		tb.t.Fatalf("the case page offers %v, not %q", next, to)
	}
	tb.click(fmt.Sprintf(`form[action="/desk/cases/%d/transition"] button[value=%q]`, caseID, to), http.StatusOK)
	if loc := tb.where(); !strings.HasSuffix(loc, fmt.Sprintf("/desk/cases/%d", caseID)) {
		tb.t.Fatalf("after moving to %s the browser is on %s, want the case page\n%s", to, loc, tb.bodyText())
	}
	if errs := tb.count(".desk-flash, .desk-errors"); errs != 0 {
		tb.t.Fatalf("moving to %s was refused: %s", to, tb.text(".desk-flash, .desk-errors"))
	}
}

// 4b. Assessment: triage, take the case, assess, classify, note, actionable.
func (s *flowStory) analystAssesses(t *testing.T) {
	needStep(t, s.caseID != 0, "the case in the queue")
	tb := s.users["analyst.minh"].tab.on(t)
	casePath := fmt.Sprintf("/desk/cases/%d", s.caseID)
	tb.mustOpen(s.in.httpURL(casePath))

	moveCase(tb, s.caseID, "triaged")
	// Take the case: the assignee list starts with "me".
	tb.do("assign to me", chromedp.SetValue(chromedp.CSS(fmt.Sprintf(`form[action="%s/assign"] select[name=assignee]`, casePath)), "me"))
	tb.click(fmt.Sprintf(`form[action="%s/assign"] button[type=submit]`, casePath), http.StatusOK)
	if meta := tb.text(".desk-meta"); !strings.Contains(meta, "Trần Văn Minh") {
		t.Errorf("after 'assign to me' the case header says %q, want the analyst's name", meta)
	}
	if slices.Contains(nextStates(tb), "assigned") {
		moveCase(tb, s.caseID, "assigned")
	}
	moveCase(tb, s.caseID, "in_assessment")

	// Classify: bullying, severity 3, ongoing, with the legal basis.
	form := fmt.Sprintf(`form[action="%s/classify"]`, casePath)
	tb.do("classify",
		chromedp.SetValue(chromedp.CSS(form+` select[name=harm]`), "VIO.BULLY"),
		chromedp.SetValue(chromedp.CSS(form+` select[name=severity]`), "3"),
		chromedp.Click(chromedp.CSS(form+` input[name=flags][value=ongoing]`)),
	)
	tb.typeText(form+` textarea[name=legal]`, "Nghị định 147/2024/NĐ-CP; Luật Trẻ em 2016, Điều 6.")
	tb.click(form+` button[type=submit]`, http.StatusOK)
	if tb.count(form+` input[name=flags][value=ongoing]:checked`) != 1 {
		t.Errorf("after classifying, the flag 'ongoing' is not kept")
	}
	if v := browserRun(tb, "read severity", chromedp.Value(chromedp.CSS(form+` select[name=severity]`))); v != "3" {
		t.Errorf("after classifying, severity %q, want 3", v)
	}

	note := "Đã xem bài đăng: nội dung bắt nạt, còn hiển thị công khai."
	nform := fmt.Sprintf(`form[action="%s/note"]`, casePath)
	tb.typeText(nform+` textarea[name=note]`, note)
	tb.click(nform+` button[type=submit]`, http.StatusOK)
	if !strings.Contains(tb.text(".desk-history"), note) {
		t.Errorf("the note is not in the case history")
	}

	moveCase(tb, s.caseID, "actionable")
	s.assessed = true
	tb.shot("06-case.png")
}

// 4c. An administrator adds the platform as a partner; its staff get a partner account.
func (s *flowStory) adminAddsPartner(t *testing.T) {
	ad := s.login(t, "admin.hoa", "Phạm Thu Hoa", "admin", 0)
	tb := ad.tab.on(t)
	tb.mustOpen(s.in.httpURL("/admin/partners"))
	s.partnerName = "Mạng xã hội Ví Dụ"
	form := `form[action="/admin/partners"]`
	tb.typeText(form+` input[name=name]`, s.partnerName)
	tb.do("partner kind", chromedp.SetValue(chromedp.CSS(form+` select[name=kind]`), "platform"))
	tb.typeText(form+` input[name=email]`, "abuse@vidu.example")
	tb.typeText(form+` input[name=domains]`, "bad.example.test")
	tb.click(form+` button[type=submit]`, http.StatusOK)
	id := tb.find(regexp.MustCompile(`href="/admin/partners/(\d+)">`+regexp.QuoteMeta(s.partnerName)+`<`), "the new partner in the list")
	s.partnerID, _ = strconv.ParseInt(id, 10, 64)
	tb.shot("07-admin-partners.png")
	// The partner's user: created the administrator's way, with the command line.
	s.users["partner.vidu"] = &flowUser{login: "partner.vidu", password: s.in.cliUser(t, "partner.vidu", "Đội an toàn Ví Dụ", "partner", s.partnerID)}
}

var reNoticeID = regexp.MustCompile(`/desk/notices/(\d+)$`)

// 4d. The takedown notice: drafted by the analyst, approved by a supervisor, sent.
func (s *flowStory) notice(t *testing.T) {
	needStep(t, s.assessed, "an actionable case")
	needStep(t, s.partnerID != 0, "the partner")
	an := s.users["analyst.minh"].tab.on(t)
	an.mustOpen(s.in.httpURL(fmt.Sprintf("/desk/cases/%d", s.caseID)))
	an.click(fmt.Sprintf(`a[href="/desk/cases/%d/notices/new"]`, s.caseID), http.StatusOK)
	form := fmt.Sprintf(`form[action="/desk/cases/%d/notices"]`, s.caseID)
	if !an.has(form) {
		t.Fatalf("the new-notice page has no form (the case is not ready?)\n%s", an.bodyText())
	}
	an.do("choose the partner", chromedp.SetValue(chromedp.CSS(form+` select[name=partner]`), strconv.FormatInt(s.partnerID, 10)))
	if n := an.count(form + ` input[name=url]:checked`); n == 0 {
		t.Errorf("the notice form has no item ticked")
	}
	an.typeText(form+` textarea[name=explanation]`, "Bài đăng bắt nạt một học sinh lớp 6, kèm lời đe dọa; đề nghị gỡ trong 24 giờ.")
	an.click(form+` button[type=submit]`, http.StatusOK)
	m := reNoticeID.FindStringSubmatch(an.where())
	if m == nil {
		t.Fatalf("after saving the notice the browser is on %s, want /desk/notices/{id}\n%s", an.where(), an.bodyText())
	}
	s.noticeID, _ = strconv.ParseInt(m[1], 10, 64)
	noticePath := fmt.Sprintf("/desk/notices/%d", s.noticeID)
	if an.has(fmt.Sprintf(`form[action="%s/approve"]`, noticePath)) {
		t.Errorf("the analyst who drafted the notice is offered to approve it")
	}

	// Two-person rule: a supervisor, another person, approves.
	sup := s.login(t, "supervisor.thao", "Lê Thu Thảo", "supervisor", 0)
	st := sup.tab.on(t)
	st.mustOpen(s.in.httpURL(noticePath))
	st.click(fmt.Sprintf(`form[action="%s/approve"] button`, noticePath), http.StatusOK)
	if st.count(".desk-errors") != 0 {
		t.Fatalf("approving the notice was refused: %s", st.text(".desk-errors"))
	}

	// Sent by the analyst.
	an.mustOpen(s.in.httpURL(noticePath))
	sendBtn := fmt.Sprintf(`form[action="%s/send"] button`, noticePath)
	if !an.has(sendBtn) {
		t.Fatalf("the approved notice offers no 'send' button\n%s", an.bodyText())
	}
	an.click(sendBtn, 0)
	if errs := an.count(".desk-errors"); errs != 0 || !strings.HasSuffix(an.where(), noticePath) {
		t.Fatalf("sending the notice failed (page %s): %s", an.where(), an.bodyText())
	}
	s.sent = true
	an.shot("08-notice-sent.png")
	an.mustOpen(s.in.httpURL(noticePath + "/print"))
	if page := an.html(); !strings.Contains(page, s.partnerName) || !strings.Contains(page, "bad.example.test/post/1") {
		t.Errorf("the printed notice lacks the partner's name or the item's URL")
	}
	an.shot("09-notice-print.png")
}

// 4e. The network list: proposed by the analyst, approved by the supervisor.
func (s *flowStory) networkList(t *testing.T) {
	needStep(t, s.assessed, "an actionable case")
	an := s.users["analyst.minh"].tab.on(t)
	an.mustOpen(s.in.httpURL(fmt.Sprintf("/desk/cases/%d", s.caseID)))
	an.click(fmt.Sprintf(`a[href="/desk/cases/%d/list/new"]`, s.caseID), http.StatusOK)
	form := fmt.Sprintf(`form[action="/desk/cases/%d/list"]`, s.caseID)
	if an.count(form+` input[name=host][value="bad.example.test"]:checked`) != 1 {
		t.Fatalf("the proposal form does not offer bad.example.test, ticked\n%s", an.bodyText())
	}
	if v := browserRun(an, "read the category", chromedp.Value(chromedp.CSS(form+` select[name=category]`))); v != "hotline" {
		t.Errorf("the proposal's category is %q, want hotline (VIO.BULLY's category)", v)
	}
	an.typeText(form+` textarea[name=reason]`, "Bài đăng bắt nạt trẻ em, chặn trong lúc chờ gỡ bỏ.")
	an.click(form+` button[type=submit]`, http.StatusOK)
	if !strings.Contains(an.where(), "/desk/list") {
		t.Fatalf("after proposing, the browser is on %s, want /desk/list\n%s", an.where(), an.bodyText())
	}
	if an.count(`form[action$="/approve"]`) != 0 {
		t.Errorf("the list page offers the proposer an approve button for their own proposal")
	}

	sup := s.users["supervisor.thao"]
	if sup == nil {
		sup = s.login(t, "supervisor.thao", "Lê Thu Thảo", "supervisor", 0)
	}
	st := sup.tab.on(t)
	st.mustOpen(s.in.httpURL("/desk/list"))
	id := st.find(regexp.MustCompile(`(?s)<td id="e(\d+)"><code>bad\.example\.test</code>`), "the proposal on the list page")
	btn := fmt.Sprintf(`form[action="/desk/list/%s/approve"] button`, id)
	if !st.has(btn) {
		t.Fatalf("the supervisor is not offered to approve entry %s\n%s", id, st.bodyText())
	}
	st.click(btn, http.StatusOK)
	s.listApproved = time.Now()
	if st.count(".desk-errors") != 0 {
		t.Fatalf("approving the list entry was refused: %s", st.text(".desk-errors"))
	}
	st.shot("10-list.png")
}

// ask asks the instance for name's A record with dig.
func (s *flowStory) ask(t *testing.T, name string) reply {
	t.Helper()
	return dig(t, append(server(s.in.dnsAddr), name, "A")...)
}

// 5. The filter blocks the listed domain within seconds.
func (s *flowStory) filterBlocks(t *testing.T) {
	needStep(t, !s.listApproved.IsZero(), "the approved list entry")
	const within = 10 * time.Second
	var r reply
	for {
		var err error
		r, err = runTool("dig", "+tries=1", "+time=2", "@127.0.0.1", "-p", port(s.in.dnsAddr), "bad.example.test", "A")
		if err == nil && r.Status == "NXDOMAIN" {
			break
		}
		if time.Since(s.listApproved) > within {
			if err != nil {
				t.Fatalf("dig bad.example.test: %v", err)
			}
			t.Fatalf("%s after the approval bad.example.test still answers %s; want NXDOMAIN (profile kid blocks category hotline)", within, r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("blocked %s after the approval: %s", time.Since(s.listApproved).Round(10*time.Millisecond), r)
	if r.EDE != 15 {
		t.Errorf("the block carries EDE %d %q, want 15 (Blocked: the hotline's network list is the operator's policy)", r.EDE, r.EDEText)
	}
	if w := s.ask(t, "www.bad.example.test"); w.Status != "NXDOMAIN" {
		t.Errorf("a subdomain of the listed domain answers %s, want NXDOMAIN (the entry is a domain)", w)
	}
	if o := s.ask(t, "other.example.test"); o.Status != "NOERROR" {
		t.Errorf("an unlisted name answers %s, want NOERROR", o)
	}
}

// 6. The partner: only its notice; acknowledged, then removed.
func (s *flowStory) partnerRemoves(t *testing.T) {
	needStep(t, s.sent, "the sent notice")
	p := s.users["partner.vidu"]
	needStep(t, p != nil, "the partner account")
	s.loginAs(t, p, "partner")
	tb := p.tab.on(t)
	if loc := tb.where(); !strings.HasSuffix(loc, "/partner") {
		t.Errorf("a partner lands on %s after login, want /partner", loc)
		tb.mustOpen(s.in.httpURL("/partner"))
	}
	links := browserEval[[]string](tb, "notice links", `Array.from(document.querySelectorAll('a[href^="/partner/notices/"]')).map(a => a.getAttribute('href'))`)
	want := fmt.Sprintf("/partner/notices/%d", s.noticeID)
	if len(links) != 1 || links[0] != want {
		t.Errorf("the partner sees notices %v, want only %s", links, want)
	}
	if strings.Contains(tb.html(), childText) {
		t.Errorf("the partner's page shows the reporter's words")
	}
	tb.shot("11-partner-view.png")
	tb.click(fmt.Sprintf(`a[href="%s"]`, want), http.StatusOK)
	page := tb.html()
	for _, secret := range []string{childText, s.ref1, s.ref2, "Đã xem bài đăng"} {
		if strings.Contains(page, secret) {
			t.Errorf("the partner's notice page shows case material %q", secret)
		}
	}
	tb.click(fmt.Sprintf(`form[action="%s/ack"] button`, want), http.StatusOK)
	form := fmt.Sprintf(`form[action="%s/removed"]`, want)
	if !tb.has(form) {
		t.Fatalf("after acknowledging, no 'removed' form\n%s", tb.bodyText())
	}
	tb.do("what was done", chromedp.SetValue(chromedp.CSS(form+` select[name=action]`), "removed"))
	// The time field starts at this minute, which may be before the notice was sent within the
	// same minute; the partner empties it: "now".
	tb.do("clear the time", chromedp.SetValue(chromedp.CSS(form+` input[name=at]`), ""))
	tb.click(form+` button[type=submit]`, http.StatusOK)
	if tb.count(".desk-errors") != 0 {
		t.Fatalf("reporting the removal was refused: %s", tb.text(".desk-errors"))
	}
	if !strings.Contains(tb.text("body"), "Thời gian gỡ bỏ") {
		t.Errorf("the partner's notice page shows no time to removal after the removal")
	}
	s.removed = true
	tb.shot("12-partner-notice-removed.png")
}

// 6b. The analyst checks that the content is gone and resolves the case (docs/hotline.md: a
// notice being actioned does not move the case); then the child, with the reference and the
// code from the receipt, reads on the status page that the content was taken down.
func (s *flowStory) childSeesRemoval(t *testing.T) {
	needStep(t, s.removed, "the partner's removal")
	an := s.users["analyst.minh"].tab.on(t)
	noticePath := fmt.Sprintf("/desk/notices/%d", s.noticeID)
	an.mustOpen(s.in.httpURL(noticePath))
	verify := fmt.Sprintf(`form[action="%s/verify"]:has(input[name=gone][value="1"]) button`, noticePath)
	if !an.has(verify) {
		t.Fatalf("the actioned notice offers no 'verified gone' button\n%s", an.bodyText())
	}
	an.click(verify, http.StatusOK)
	if an.count(".desk-errors") != 0 {
		t.Fatalf("verifying the removal was refused: %s", an.text(".desk-errors"))
	}
	an.mustOpen(s.in.httpURL(fmt.Sprintf("/desk/cases/%d", s.caseID)))
	moveCase(an, s.caseID, "resolved")

	needStep(t, s.child != nil && s.code1 != "", "the child's receipt")
	ct := s.child.on(t)
	ct.mustOpen(s.in.httpURL("/status?ref=" + url.QueryEscape(s.ref1)))
	ct.typeText("#s-code", s.code1)
	ct.click("form.report-form button[type=submit]", http.StatusOK)
	if body := ct.text("body"); !strings.Contains(body, "Nội dung em báo đã được gỡ xuống hoặc bị chặn.") {
		t.Errorf("the child's status page does not say the content was removed:\n%s", ct.bodyText())
	}
	ct.shot("13-status-removed-vi.png")
}

var (
	reStatsFigure = regexp.MustCompile(`(?s)<dt>([^<]+)</dt><dd>(\d+)`)
	reRatesRow    = regexp.MustCompile(`(?s)<tr><th scope="row">([^<]+)</th><td class="stats-num">(\d+)</td><td class="stats-num">(\d+)</td><td class="stats-num">(\d+)%</td><td class="stats-num">(.*?)</td></tr>`)
)

// 7. The statistics: three reports, two cases, one removal at 100 % for the partner.
func (s *flowStory) statistics(t *testing.T) {
	sup := s.users["supervisor.thao"]
	if sup == nil {
		sup = s.login(t, "supervisor.thao", "Lê Thu Thảo", "supervisor", 0)
	}
	tb := sup.tab.on(t)
	tb.mustOpen(s.in.httpURL("/desk/stats"))
	page := tb.html()
	figures := map[string]string{}
	for _, m := range reStatsFigure.FindAllStringSubmatch(tb.html(), -1) {
		figures[strings.TrimSpace(m[1])] = m[2]
	}
	// Three reports (two on the web, one by phone) in two cases: the second web report is a
	// duplicate of the first. (Counted from the steps that worked, so that a failed step does
	// not fail this one too.)
	var reports, cases, dups int
	for _, ref := range []string{s.ref1, s.ref2, s.phoneRef} {
		if ref != "" {
			reports++
		}
	}
	if s.ref1 != "" || s.ref2 != "" {
		cases++
	}
	if s.phoneRef != "" {
		cases++
	}
	if s.ref1 != "" && s.ref2 != "" {
		dups++
	}
	for _, f := range []struct {
		label string
		want  int
	}{
		{"Báo cáo tiếp nhận", reports}, {"Vụ việc mới", cases}, {"Báo cáo trùng lặp", dups},
	} {
		if got := figures[f.label]; got != strconv.Itoa(f.want) {
			t.Errorf("statistics: %q = %q, want %d (figures %v)", f.label, got, f.want, figures)
		}
	}
	if !strings.Contains(page, `class="stats-svg"`) {
		t.Errorf("statistics: no SVG chart on the page")
	}
	tb.shot("14-statistics.png")
	needStep(t, s.removed, "the partner's removal")
	clocks := tb.text(".stats-clocks")
	if !strings.Contains(clocks, "Gửi yêu cầu gỡ bỏ → nội dung được gỡ") || !strings.Contains(clocks, "Tính trên 1 yêu cầu gỡ bỏ") {
		t.Errorf("statistics: the time to removal is missing: %q", clocks)
	}
	var found bool
	for _, m := range reRatesRow.FindAllStringSubmatch(page, -1) {
		if strings.TrimSpace(m[1]) != s.partnerName {
			continue
		}
		found = true
		if m[2] != "1" || m[3] != "1" || m[4] != "100" {
			t.Errorf("statistics: %s sent %s, actioned %s, rate %s%%; want 1, 1, 100%%", m[1], m[2], m[3], m[4])
		}
		if strings.TrimSpace(m[5]) == "–" || strings.TrimSpace(m[5]) == "" {
			t.Errorf("statistics: no median time to removal for %s", m[1])
		}
	}
	if !found {
		t.Errorf("statistics: no removal-rate row for %q", s.partnerName)
	}
}

// --- accounts ---

// cliUser creates an account with `kidshield user add` (the password on stdin), against the
// running instance's configuration, and returns the password.
func (in *instance) cliUser(t *testing.T, login, name, roles string, partner int64) string {
	t.Helper()
	pw := "e2e browser " + strconv.FormatInt(time.Now().UnixNano(), 36) + " " + login
	args := []string{"user", "add", "--config", in.cfgPath, "--login", login, "--name", name, "--roles", roles}
	if partner != 0 {
		args = append(args, "--partner", strconv.FormatInt(partner, 10))
	}
	cmd := exec.Command(kidshieldBin, args...)
	cmd.Env = cleanEnv()
	cmd.Stdin = strings.NewReader(pw + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kidshield %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return pw
}

// login creates an account (once) and logs it in, in a tab of its own.
func (s *flowStory) login(t *testing.T, login, name, roles string, partner int64) *flowUser {
	t.Helper()
	p := s.users[login]
	if p == nil {
		p = &flowUser{login: login, password: s.in.cliUser(t, login, name, roles, partner)}
		s.users[login] = p
	}
	s.loginAs(t, p, roles)
	return p
}

var reEnrolSecret = regexp.MustCompile(`<code class="secret">([A-Z2-7 ]+)</code>`)

// loginAs logs p in through the login page in its own tab: password, then the second factor —
// enrolled on the first login by reading the secret off the page, as an authenticator app
// would, and typing the code it gives.
func (s *flowStory) loginAs(t *testing.T, p *flowUser, roles string) {
	t.Helper()
	if p.tab == nil {
		p.tab = s.b.newTab(p.login)
	}
	tb := p.tab.on(t)
	tb.mustOpen(s.in.httpURL("/login"))
	tb.typeText("#login", p.login)
	tb.typeText("#password", p.password)
	tb.click(`form[action="/login"] button[type=submit]`, http.StatusOK)
	loc := tb.where()
	switch {
	case strings.Contains(loc, "/account/totp"):
		p.secret = strings.ReplaceAll(tb.find(reEnrolSecret, "the TOTP secret on the enrolment page"), " ", "")
		tb.typeText("#code", totpNow(t, p.secret))
		tb.click(`form[action="/account/totp"] button[type=submit]`, http.StatusOK)
	case strings.Contains(loc, "/login/totp"):
		if p.secret == "" {
			t.Fatalf("%s: asked for a code, but never enrolled a second factor", p.login)
		}
		tb.typeText("#code", totpNow(t, p.secret))
		tb.click(`form[action="/login/totp"] button[type=submit]`, http.StatusOK)
	default:
		t.Errorf("%s (%s): the login went to %s without asking for a second factor (require_totp is on by default)", p.login, roles, loc)
	}
	if loc := tb.where(); strings.Contains(loc, "/login") || strings.Contains(loc, "/account/totp") {
		t.Fatalf("%s: still on %s after the second factor\n%s", p.login, loc, tb.bodyText())
	}
}

// totpNow is the current code of secret. Near the end of a 30 s step it waits for the next
// one, so the code is still fresh when the server checks it.
func totpNow(t *testing.T, secret string) string {
	t.Helper()
	if left := 30 - time.Now().Unix()%30; left < 3 {
		time.Sleep(time.Duration(left)*time.Second + 100*time.Millisecond)
	}
	code, err := auth.TOTPCode(secret, time.Now())
	if err != nil {
		t.Fatalf("TOTP code: %v", err)
	}
	return code
}

// checkTypable fails on combining marks: chromedp's key table uses U+0300..U+036F for special
// keys (ArrowDown is U+0301), so text must be in composed form (NFC), as typed on a keyboard.
func checkTypable(t *testing.T, text string) {
	t.Helper()
	for _, r := range text {
		if r >= 0x300 && r <= 0x36f {
			t.Fatalf("text %q holds the combining mark %U: write it composed (NFC)", text, r)
		}
	}
}
