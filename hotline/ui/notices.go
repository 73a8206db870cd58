package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/hotline/taxonomy"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
	"github.com/kidshield/kidshield/web/i18n"
)

// noticeRoutes: takedown notices and referrals (desk), the partner view, partner
// administration and the network list. A partner reaches only /partner: its notices, nothing of
// the case behind them.
func (u *UI) noticeRoutes() []web.Route {
	analyst := web.Staff(web.RoleAnalyst, web.RoleSupervisor)
	supervisor := web.Staff(web.RoleSupervisor)
	partner := web.Staff(web.RolePartner)
	admin := web.Staff(web.RoleAdmin)
	h := func(f http.HandlerFunc) http.Handler { return f }
	return []web.Route{
		{Method: "GET", Pattern: "/desk/cases/{id}/notices/new", Access: analyst, Handler: h(u.noticeNew)},
		{Method: "POST", Pattern: "/desk/cases/{id}/notices", Access: analyst, Handler: h(u.noticeCreate)},
		{Method: "GET", Pattern: "/desk/notices", Access: analyst, Handler: h(u.noticeList)},
		// {id} or {id}.json: ServeMux wildcards are whole segments.
		{Method: "GET", Pattern: "/desk/notices/{id}", Access: analyst, Handler: h(u.noticeShow)},
		{Method: "GET", Pattern: "/desk/notices/{id}/print", Access: analyst, Handler: h(u.noticePrint)},
		{Method: "POST", Pattern: "/desk/notices/{id}/approve", Access: supervisor, Handler: h(u.noticeAct("approve"))},
		{Method: "POST", Pattern: "/desk/notices/{id}/send", Access: analyst, Handler: h(u.noticeAct("send"))},
		{Method: "POST", Pattern: "/desk/notices/{id}/verify", Access: analyst, Handler: h(u.noticeAct("verify"))},
		{Method: "POST", Pattern: "/desk/notices/{id}/close", Access: analyst, Handler: h(u.noticeAct("close"))},
		{Method: "POST", Pattern: "/desk/notices/{id}/withdraw", Access: analyst, Handler: h(u.noticeAct("withdraw"))},
		{Method: "POST", Pattern: "/desk/notices/{id}/escalate", Access: analyst, Handler: h(u.noticeAct("escalate"))},
		// The partner's answer received by e-mail, phone or letter, recorded by staff.
		{Method: "POST", Pattern: "/desk/notices/{id}/record-ack", Access: analyst, Handler: h(u.noticeRecord(lifecycle.NoticeAcknowledged))},
		{Method: "POST", Pattern: "/desk/notices/{id}/record-actioned", Access: analyst, Handler: h(u.noticeRecord(lifecycle.NoticeActioned))},
		{Method: "POST", Pattern: "/desk/notices/{id}/record-dispute", Access: analyst, Handler: h(u.noticeRecord(lifecycle.NoticeDisputed))},
		{Method: "GET", Pattern: "/.well-known/kidshield-notice-key", Access: web.Public, Handler: h(u.noticeKey)},

		{Method: "GET", Pattern: "/partner", Access: partner, Handler: h(u.partnerHome)},
		{Method: "GET", Pattern: "/partner/notices/{id}", Access: partner, Handler: h(u.partnerNotice)},
		{Method: "POST", Pattern: "/partner/notices/{id}/ack", Access: partner, Handler: h(u.partnerAct("ack"))},
		{Method: "POST", Pattern: "/partner/notices/{id}/removed", Access: partner, Handler: h(u.partnerAct("removed"))},
		{Method: "POST", Pattern: "/partner/notices/{id}/dispute", Access: partner, Handler: h(u.partnerAct("dispute"))},

		{Method: "GET", Pattern: "/admin/partners", Access: admin, Handler: h(u.partnerAdminList)},
		{Method: "POST", Pattern: "/admin/partners", Access: admin, Handler: h(u.partnerAdminCreate)},
		{Method: "GET", Pattern: "/admin/partners/{id}", Access: admin, Handler: h(u.partnerAdminEdit)},
		{Method: "POST", Pattern: "/admin/partners/{id}", Access: admin, Handler: h(u.partnerAdminSave)},

		{Method: "GET", Pattern: "/desk/cases/{id}/list/new", Access: analyst, Handler: h(u.listNew)},
		{Method: "POST", Pattern: "/desk/cases/{id}/list", Access: analyst, Handler: h(u.listPropose)},
		{Method: "GET", Pattern: "/desk/list", Access: analyst, Handler: h(u.listIndex)},
		{Method: "POST", Pattern: "/desk/list/{id}/approve", Access: analyst, Handler: h(u.listAct(lifecycle.ListActive))},
		{Method: "POST", Pattern: "/desk/list/{id}/reject", Access: analyst, Handler: h(u.listAct(lifecycle.ListRejected))},
		{Method: "POST", Pattern: "/desk/list/{id}/delist", Access: analyst, Handler: h(u.listAct(lifecycle.ListDelisted))},
		{Method: "POST", Pattern: "/desk/list/{id}/disable", Access: analyst, Handler: h(u.listAct(lifecycle.ListDisabled))},
		{Method: "POST", Pattern: "/desk/list/{id}/appeal", Access: analyst, Handler: h(u.listAct(lifecycle.ListAppealed))},
		{Method: "POST", Pattern: "/desk/list/{id}/uphold", Access: analyst, Handler: h(u.listAct("uphold"))},
		{Method: "POST", Pattern: "/desk/list/{id}/verify", Access: analyst, Handler: h(u.listAct("verify"))},
	}
}

// ntcZone is Viet Nam's time (one zone, no daylight saving).
var ntcZone = time.FixedZone("ICT", 7*3600)

// ntcTime formats a time for staff and partners ("" for "not yet").
func ntcTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(ntcZone).Format("02/01/2006 15:04")
}

func ntcCat(r *http.Request) i18n.Catalog { return i18n.Get(i18n.FromRequest(r)) }

// ntcT translates key, or returns fallback when no catalog has it.
func ntcT(cat i18n.Catalog, key, fallback string) string {
	if v := cat.T(key); v != key {
		return v
	}
	return fallback
}

// ntcDuration writes d in two units at most ("2 giờ 10 phút", "3 days 4 h").
func ntcDuration(cat i18n.Catalog, d time.Duration) string {
	if d < 0 {
		d = -d
	}
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf(cat.T("notice.dur.dh"), days, hours)
	case hours > 0:
		return fmt.Sprintf(cat.T("notice.dur.hm"), hours, mins)
	default:
		return fmt.Sprintf(cat.T("notice.dur.m"), max(mins, 0))
	}
}

// ntcProblem is a refused step or a field error in the reader's language.
func ntcProblem(cat i18n.Catalog, err error) (status int, msg []string, ok bool) {
	var verr hotline.ValidationError
	var te *lifecycle.TransitionError
	switch {
	case errors.Is(err, lifecycle.ErrSamePerson):
		return http.StatusConflict, []string{cat.T("notice.err.same_person")}, true
	case errors.As(err, &te):
		label := func(s string) string {
			return ntcT(cat, "notice_state."+s, ntcT(cat, "list_state."+s, s))
		}
		return http.StatusConflict, []string{fmt.Sprintf(cat.T("notice.err.transition"), label(te.From), label(te.To))}, true
	case errors.Is(err, lifecycle.ErrTransition):
		return http.StatusConflict, []string{cat.T("notice.err.transition_other")}, true
	case errors.Is(err, store.ErrListed):
		return http.StatusConflict, []string{cat.T("list.err.listed")}, true
	case errors.Is(err, store.ErrPartnerName):
		return http.StatusConflict, []string{cat.T("partner.err.name_taken")}, true
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, []string{cat.T("notice.err.conflict")}, true
	case errors.Is(err, hotline.ErrNoSigner):
		return http.StatusServiceUnavailable, []string{cat.T("notice.err.no_key")}, true
	case errors.As(err, &verr):
		for _, e := range verr {
			m := ntcT(cat, e.Key, e.Msg)
			if e.Value != "" && strings.Count(m, "%s") == 1 {
				m = fmt.Sprintf(m, e.Value)
			}
			msg = append(msg, m)
		}
		return http.StatusUnprocessableEntity, msg, true
	}
	return 0, nil, false
}

// ntcItem is a notice item for a page.
type ntcItem struct {
	URL, ContentType, FirstSeen string
	Hashes                      []string
	Checked                     bool
	// Check is the scanner's last re-check of the item (nil: never checked, or not shown).
	Check *ntcCheck
}

// ntcCheck is the scanner's last automatic re-check of a notice item, in words: when (Viet
// Nam time), whether the content is gone, still there or could not be told, why, and since
// when it is gone.
type ntcCheck struct {
	When, State, Reason, Since string
}

func ntcCheckOf(cat i18n.Catalog, k *store.NoticeItemCheck) *ntcCheck {
	c := &ntcCheck{When: ntcTime(k.Checked), Reason: scanCheckReason(cat, k.Reason)}
	switch {
	case k.Gone:
		c.State, c.Since = cat.T("notice.check.gone"), ntcTime(k.GoneSince)
	case k.Reason == "page_present" || k.Reason == "hash_present":
		c.State = cat.T("notice.check.present")
	default:
		// images_unfetched, images_partial, a 403 or 5xx: the check proved nothing.
		c.State = cat.T("notice.check.unknown")
	}
	return c
}

// ntcAddChecks puts the scanner's last re-check of each item of n beside it (items holds
// ntcItems(n.Items)): staff see the removal the scanner recorded, and a partner sees that its
// removal was seen. An item never checked shows nothing. back is when the scanner last found
// content present again after the removal was recorded (zero when it did not): the notice
// still says "actioned", and nobody should confirm the removal without looking again.
func (u *UI) ntcAddChecks(r *http.Request, n *store.Notice, items []ntcItem) (back time.Time, err error) {
	checks, err := u.svc.Store().NoticeItemChecks(r.Context(), n.ID)
	if err != nil {
		return time.Time{}, err
	}
	cat := ntcCat(r)
	for i, it := range n.Items {
		k := checks[it.ID]
		if k == nil || i >= len(items) {
			continue
		}
		items[i].Check = ntcCheckOf(cat, k)
		if present := !k.Gone && (k.Reason == "page_present" || k.Reason == "hash_present"); present && !n.Actioned.IsZero() &&
			k.Checked.After(n.Actioned) && k.Checked.After(back) {
			back = k.Checked
		}
	}
	return back, nil
}

func ntcItems(items []store.NoticeItem) []ntcItem {
	out := make([]ntcItem, 0, len(items))
	for _, it := range items {
		v := ntcItem{URL: it.URL, ContentType: it.ContentType, FirstSeen: ntcTime(it.FirstSeen), Checked: true}
		for h := range strings.SplitSeq(it.Hashes, ",") {
			if h != "" {
				v.Hashes = append(v.Hashes, h)
			}
		}
		out = append(out, v)
	}
	return out
}

// ntcRow is one line of a notice list.
type ntcRow struct {
	ID                                        int64
	Ref, CaseRef, Partner, State, Kind        string
	Created, Sent, Deadline, Actioned, Action string
	TTR                                       string
	Overdue                                   bool
	// Back: the scanner found the content again after the removal was recorded (the state
	// still says actioned; a supervisor working from the list must see it).
	Back bool
}

func ntcRows(cat i18n.Catalog, list []*store.Notice, now time.Time) []ntcRow {
	out := make([]ntcRow, 0, len(list))
	for _, n := range list {
		row := ntcRow{ID: n.ID, Ref: n.Ref, CaseRef: n.CaseRef, Partner: n.PartnerName, State: n.State, Kind: n.Kind,
			Created: ntcTime(n.Created), Sent: ntcTime(n.Sent), Deadline: ntcTime(n.Deadline), Actioned: ntcTime(n.Actioned),
			Action: n.ActionTaken, Overdue: n.Overdue(now), Back: ntcBack(n)}
		if d := n.TimeToRemoval(); d > 0 {
			row.TTR = ntcDuration(cat, d)
		}
		out = append(out, row)
	}
	return out
}

// ntcNewPage is the new-notice form.
type ntcNewPage struct {
	Case      *store.Case
	Ready     bool
	Partners  []*store.Partner
	Items     []ntcItem
	In        hotline.NoticeInput
	Kinds     []string
	Grounds   []string
	Requests  []string
	Scopes    []string
	TLPs      []string
	Detects   []string
	Suggested int64
	Errors    []string
}

func (u *UI) noticeNewPage(w http.ResponseWriter, r *http.Request, caseID int64, in *hotline.NoticeInput, status int, errs []string) {
	d, err := u.svc.NewNoticeDraft(r.Context(), caseID)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p := ntcNewPage{Case: d.Case, Ready: d.Ready, Partners: d.Partners, Items: ntcItems(d.Items), In: d.Input, Kinds: hotline.NoticeKinds,
		Grounds: taxonomy.Ground, Requests: hotline.NoticeRequests, Scopes: hotline.NoticeScopes, TLPs: hotline.NoticeTLPs,
		Detects: hotline.NoticeDetections, Suggested: d.Suggested, Errors: errs}
	if in != nil {
		p.In = *in
		for i := range p.Items {
			p.Items[i].Checked = slices.Contains(in.URLs, p.Items[i].URL)
		}
	}
	if !d.Ready && len(errs) == 0 {
		p.Errors = []string{fmt.Sprintf(ntcCat(r).T("notice.err.case_state_now"), ntcT(ntcCat(r), "state."+d.Case.State, d.Case.State))}
	}
	u.render(w, r, status, "notice_new", p)
}

func (u *UI) noticeNew(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		u.fail(w, r, store.ErrNotFound)
		return
	}
	u.noticeNewPage(w, r, id, nil, http.StatusOK, nil)
}

func ntcInt(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

func (u *UI) noticeCreate(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		u.fail(w, r, store.ErrNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		web.Error(w, r, u.log, http.StatusBadRequest, errors.New("unreadable form"))
		return
	}
	f := r.PostForm
	pid, _ := strconv.ParseInt(f.Get("partner"), 10, 64)
	in := hotline.NoticeInput{PartnerID: pid, Kind: f.Get("kind"), Language: f.Get("language"), Ground: f.Get("ground"),
		LegalText: f.Get("legal_text"), Explanation: f.Get("explanation"), Detection: f.Get("detection"), Automated: f.Get("automated") == "1",
		Action: f.Get("action"), Scope: f.Get("scope"), Preserve: f.Get("preserve") == "1", TLP: f.Get("tlp"),
		DeadlineH: ntcInt(f.Get("deadline_h")), URLs: f["url"]}
	nid, err := u.svc.CreateNotice(r.Context(), actor(r), id, in)
	if err != nil {
		if status, msg, ok := ntcProblem(ntcCat(r), err); ok {
			u.noticeNewPage(w, r, id, &in, status, msg)
			return
		}
		u.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/desk/notices/%d", nid), http.StatusSeeOther)
}

// ntcListPage is the notice list.
type ntcListPage struct {
	Rows     []ntcRow
	Total    int
	States   []string
	Partners []*store.Partner
	State    string
	Partner  int64
	Overdue  bool
}

func (u *UI) noticeList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.NoticeFilter{Limit: 300}
	p := ntcListPage{States: lifecycle.Notice.States(), State: q.Get("state"), Overdue: q.Get("overdue") == "1"}
	if lifecycle.Notice.Valid(p.State) {
		f.States = []string{p.State}
	} else {
		p.State = ""
	}
	p.Partner, _ = strconv.ParseInt(q.Get("partner"), 10, 64)
	f.PartnerID = p.Partner
	now := u.svc.Now()
	if p.Overdue {
		f.OverdueAt = now
	}
	list, total, err := u.svc.Store().Notices(r.Context(), f)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if p.Partners, err = u.svc.Store().Partners(r.Context(), false); err != nil {
		u.fail(w, r, err)
		return
	}
	p.Rows, p.Total = ntcRows(ntcCat(r), list, now), total
	u.render(w, r, http.StatusOK, "notice_list", p)
}

// ntcHist is one line of a notice's history. Note says, for an answer staff recorded, how it
// came and when the partner gave it.
type ntcHist struct{ Time, Actor, What, Note string }

// ntcRecForm is the values of a "record the partner's answer" form, kept when it is refused.
type ntcRecForm struct {
	Form                       string // the state the refused form aimed at ("" when none was)
	Source, At, Action, Reason string
}

// ntcShowPage is the staff notice page.
type ntcShowPage struct {
	N                                        *store.Notice
	Items                                    []ntcItem
	Created, Approved, Sent, Deadline, Ack   string
	Actioned, Verified, Closed, LastReminder string
	TTR                                      string
	// Back: when the scanner found the content there again after the recorded removal.
	Back                                           string
	Overdue                                        bool
	KeyID                                          string
	History                                        []ntcHist
	CanApprove, CanSend, CanVerify, CanClose       bool
	CanWithdraw, CanEscalate, IsSupervisor, Author bool
	Flash                                          []string
	// The "record the partner's answer" forms: which apply, their choices, the bounds of the
	// time (the sending, now; Viet Nam time, datetime-local form) and the refused input.
	CanRecordAck, CanRecordAction, CanRecordDispute bool
	Sources, Actions                                []string
	MinAt, MaxAt                                    string
	Rec                                             ntcRecForm
}

// ntcFormTime is the datetime-local form of a time, in Viet Nam time.
const ntcFormTime = "2006-01-02T15:04"

func (u *UI) noticeShowPage(w http.ResponseWriter, r *http.Request, id int64, status int, flash []string, rec ntcRecForm) {
	v, err := u.svc.NoticeView(r.Context(), id)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	cat := ntcCat(r)
	n := v.Notice
	p := ntcShowPage{N: n, Items: ntcItems(n.Items), Created: ntcTime(n.Created), Approved: ntcTime(n.Approved), Sent: ntcTime(n.Sent),
		Deadline: ntcTime(n.Deadline), Ack: ntcTime(n.Acknowledged), Actioned: ntcTime(n.Actioned), Verified: ntcTime(n.Verified),
		Closed: ntcTime(n.Closed), LastReminder: ntcTime(n.LastReminder), Overdue: v.Overdue, KeyID: v.KeyID, Flash: flash,
		Sources: hotline.NoticeAnswerSources, Actions: taxonomy.NoticeActions, MaxAt: u.svc.Now().In(ntcZone).Format(ntcFormTime), Rec: rec}
	if !n.Sent.IsZero() {
		p.MinAt = n.Sent.In(ntcZone).Format(ntcFormTime)
	}
	back, err := u.ntcAddChecks(r, n, p.Items)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p.Back = ntcTime(back)
	if v.TimeToRemoval > 0 {
		p.TTR = ntcDuration(cat, v.TimeToRemoval)
	}
	pr := web.PrincipalFrom(r.Context())
	p.IsSupervisor = pr.Has(web.RoleSupervisor)
	p.Author = pr != nil && pr.UserID == n.CreatedBy
	next := func(s string) bool { return slices.Contains(v.Next, s) }
	p.CanApprove = next(lifecycle.NoticeApproved) && p.IsSupervisor
	p.CanSend = n.State == lifecycle.NoticeApproved
	p.CanVerify = n.State == lifecycle.NoticeActioned
	p.CanClose = next(lifecycle.NoticeClosed)
	p.CanWithdraw = next(lifecycle.NoticeWithdrawn)
	p.CanEscalate = next(lifecycle.NoticeEscalated)
	// The same steps the partner view offers (partners.go).
	p.CanRecordAck = next(lifecycle.NoticeAcknowledged) && n.Acknowledged.IsZero()
	p.CanRecordAction = next(lifecycle.NoticeActioned)
	p.CanRecordDispute = next(lifecycle.NoticeDisputed)
	names := map[string]string{}
	for _, e := range v.History {
		what := strings.TrimPrefix(e.Action, "notice.")
		label := ntcT(cat, "notice.hist."+what, ntcT(cat, "notice_state."+what, e.Action))
		p.History = append(p.History, ntcHist{Time: ntcTime(e.Time), Actor: u.actorName(r, cat, e.Actor, names), What: label, Note: ntcHistNote(cat, e.Detail)})
	}
	u.render(w, r, status, "notice_show", p)
}

// ntcHistNote describes an answer staff recorded ("recorded by staff: phone · the partner
// answered 02/03/2026 10:30"), from the audit record's detail; "" for any other step.
func ntcHistNote(cat i18n.Catalog, detail string) string {
	var d struct {
		Source   string `json:"source"`
		Answered string `json:"answered"`
	}
	if detail == "" || json.Unmarshal([]byte(detail), &d) != nil || d.Source == "" {
		return ""
	}
	note := fmt.Sprintf(cat.T("notice.hist.recorded"), ntcT(cat, "notice.source."+d.Source, d.Source))
	if t, err := time.Parse(time.RFC3339, d.Answered); err == nil {
		note += " · " + fmt.Sprintf(cat.T("notice.hist.answered"), ntcTime(t))
	}
	return note
}

// ntcPathID reads {id}, or {id}.json (json true).
func ntcPathID(r *http.Request) (id int64, json bool, ok bool) {
	s := r.PathValue("id")
	s, json = strings.CutSuffix(s, ".json")
	id, err := strconv.ParseInt(s, 10, 64)
	return id, json, err == nil && id > 0
}

func (u *UI) noticeShow(w http.ResponseWriter, r *http.Request) {
	id, asJSON, ok := ntcPathID(r)
	if !ok {
		u.fail(w, r, store.ErrNotFound)
		return
	}
	if asJSON {
		doc, err := u.svc.SignedNotice(r.Context(), id)
		u.ntcWriteDoc(w, r, doc, err)
		return
	}
	u.noticeShowPage(w, r, id, http.StatusOK, nil, ntcRecForm{})
}

func (u *UI) ntcWriteDoc(w http.ResponseWriter, r *http.Request, doc []byte, err error) {
	if err != nil {
		if errors.Is(err, hotline.ErrNoSigner) {
			web.Error(w, r, u.log, http.StatusServiceUnavailable, err)
			return
		}
		u.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(doc)
}

// noticeAct applies one staff step to a notice, then shows the notice again (a refused step
// with its reason, in the analyst's language).
func (u *UI) noticeAct(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(r, "id")
		if !ok {
			u.fail(w, r, store.ErrNotFound)
			return
		}
		ctx, by := r.Context(), actor(r)
		var err error
		switch action {
		case "approve":
			_, err = u.svc.ApproveNotice(ctx, by, id)
		case "send":
			_, err = u.svc.SendNotice(ctx, by, id)
		case "verify":
			_, err = u.svc.VerifyRemoval(ctx, by, id, r.PostFormValue("gone") != "0")
		case "close":
			_, err = u.svc.CloseNotice(ctx, by, id)
		case "withdraw":
			_, err = u.svc.WithdrawNotice(ctx, by, id)
		case "escalate":
			_, err = u.svc.EscalateNotice(ctx, by, id)
		}
		if err != nil {
			if status, msg, ok := ntcProblem(ntcCat(r), err); ok && !errors.Is(err, store.ErrNotFound) {
				u.noticeShowPage(w, r, id, status, msg, ntcRecForm{})
				return
			}
			u.fail(w, r, err)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/desk/notices/%d", id), http.StatusSeeOther)
	}
}

// noticeRecord records an answer the partner gave outside the system (e-mail, phone, letter):
// the step the partner view would have made, at the time the partner answered, with the source
// in the history. A refused answer shows the notice again with the reason and the input kept.
func (u *UI) noticeRecord(to string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(r, "id")
		if !ok {
			u.fail(w, r, store.ErrNotFound)
			return
		}
		if err := r.ParseForm(); err != nil {
			web.Error(w, r, u.log, http.StatusBadRequest, errors.New("unreadable form"))
			return
		}
		f := r.PostForm
		rec := ntcRecForm{Form: to, Source: f.Get("source"), At: f.Get("at"), Action: f.Get("action"), Reason: f.Get("reason")}
		ctx, by := r.Context(), actor(r)
		var err error
		if to == lifecycle.NoticeDisputed {
			_, err = u.svc.RecordDispute(ctx, by, id, rec.Source, rec.Reason)
		} else {
			var at time.Time
			if at, err = ntcParseFormTime(rec.At); err == nil && to == lifecycle.NoticeAcknowledged {
				_, err = u.svc.RecordAcknowledged(ctx, by, id, rec.Source, at)
			} else if err == nil {
				_, err = u.svc.RecordActioned(ctx, by, id, rec.Source, rec.Action, at)
			}
		}
		if err != nil {
			if status, msg, ok := ntcProblem(ntcCat(r), err); ok && !errors.Is(err, store.ErrNotFound) {
				u.noticeShowPage(w, r, id, status, msg, rec)
				return
			}
			u.fail(w, r, err)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/desk/notices/%d", id), http.StatusSeeOther)
	}
}

// ntcParseFormTime reads a datetime-local value in Viet Nam time (zero for an empty one).
func ntcParseFormTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(ntcFormTime, s, ntcZone)
	if err != nil {
		return time.Time{}, hotline.ValidationError{{Field: "at", Key: "notice.err.time", Msg: "the time is not a date and time"}}
	}
	return t, nil
}

// ntcBi is a text in both languages, for the printed notice.
type ntcBi struct{ VI, EN string }

func ntcBoth(key, fallback string) ntcBi {
	return ntcBi{VI: ntcT(i18n.Get("vi"), key, fallback), EN: ntcT(i18n.Get("en"), key, fallback)}
}

// ntcPrintPage is the printable notice: every label in Vietnamese and English.
type ntcPrintPage struct {
	N                          *store.Notice
	Items                      []ntcItem
	Title                      ntcBi
	L                          map[string]ntcBi
	Kind, Ground, Cat, Request ntcBi
	Scope, Detection, Preserve ntcBi
	Issued, Deadline, KeyID    string
	DSA                        string
	Draft                      bool
	Issuer                     string // the hotline's name (config hotline.issuer_name)
}

func (u *UI) noticePrint(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		u.fail(w, r, store.ErrNotFound)
		return
	}
	v, err := u.svc.NoticeView(r.Context(), id)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	n := v.Notice
	p := ntcPrintPage{N: n, Items: ntcItems(n.Items), Title: ntcBoth("notice.print.title."+n.Kind, n.Kind), L: map[string]ntcBi{},
		Kind: ntcBoth("notice.kind."+n.Kind, n.Kind), Ground: ntcBoth("notice.ground."+n.Ground, n.Ground), Cat: ntcBoth("harm."+n.Category, n.Category),
		Request: ntcBoth("notice.req."+n.Action, n.Action), Scope: ntcBoth("notice.scope."+n.Scope, n.Scope),
		Detection: ntcBoth("notice.detect."+n.Detection, n.Detection), Issued: ntcTime(n.Sent), Deadline: ntcTime(n.Deadline), KeyID: v.KeyID,
		Draft: n.Sent.IsZero(), Issuer: u.svc.IssuerName()}
	if n.Preserve {
		p.Preserve = ntcBoth("notice.yes", "yes")
	} else {
		p.Preserve = ntcBoth("notice.no", "no")
	}
	if h, ok := taxonomy.Lookup(n.Category); ok {
		p.DSA = h.DSA
	}
	for _, k := range []string{"ref", "issued", "case", "issuer", "issuer_role", "recipient", "ground", "legal", "explanation", "category",
		"items", "url", "first_seen", "hashes", "request", "scope", "deadline", "preserve", "tlp", "detection", "signature", "draft", "kind",
		"verify", "content_type"} {
		p.L[k] = ntcBoth("notice.print."+k, k)
	}
	u.render(w, r, http.StatusOK, "notice_print", p)
}

func (u *UI) noticeKey(w http.ResponseWriter, r *http.Request) {
	k, err := u.svc.NoticeKey()
	if err != nil {
		web.Error(w, r, u.log, http.StatusServiceUnavailable, err)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	web.JSON(w, http.StatusOK, k)
}

// actorName names who did a step, from its audit label: a person by the account's name
// ("user:3:lan", "cli:user:3:lan"), the scanner and the system in words, anything else (a
// partner, an API token) as it is. names caches the lookups of one page.
func (u *UI) actorName(r *http.Request, cat i18n.Catalog, label string, names map[string]string) string {
	if n, ok := names[label]; ok {
		return n
	}
	n := label
	rest, _ := strings.CutPrefix(label, "cli:")
	switch {
	case label == "scanner":
		n = cat.T("desk.actor.scanner")
	case label == "system" || label == "":
		n = cat.T("desk.actor.system")
	case strings.HasPrefix(rest, "user:"):
		parts := strings.SplitN(rest, ":", 3)
		if id, err := strconv.ParseInt(parts[1], 10, 64); err == nil {
			if us, err := u.svc.Store().UserByID(r.Context(), id); err == nil && us.Name != "" {
				n = us.Name
			} else if len(parts) == 3 {
				n = parts[2]
			}
		}
	}
	names[label] = n
	return n
}

// ntcBack says whether the scanner found the content of an actioned notice again after its
// removal was recorded (store.MarkNoticeReappeared).
func ntcBack(n *store.Notice) bool {
	return !n.Reappeared.IsZero() && !n.Actioned.IsZero() && n.Reappeared.After(n.Actioned)
}
