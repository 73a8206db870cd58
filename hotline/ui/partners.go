package ui

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/hotline/taxonomy"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// Partner administration (admin) and the partner view (a partner organisation's users). A
// partner sees only the notices addressed to its organisation: any other id answers 404, the
// same as an id that does not exist, so a partner cannot learn that another's notice exists.

// ptnForm is the partner form's values.
type ptnForm struct {
	ID                                   int64
	Name, Kind, Country, Email, Language string
	Domains                              string
	DeadlineH                            int
	Active                               bool
}

func ptnFormOf(p *store.Partner) ptnForm {
	return ptnForm{ID: p.ID, Name: p.Name, Kind: p.Kind, Country: p.Country, Email: p.Email, Language: p.Language,
		Domains: strings.Join(p.Domains, ", "), DeadlineH: p.DeadlineH, Active: p.Active}
}

// ptnAdminPage is the partners page (list and new form) and the edit page.
type ptnAdminPage struct {
	Partners []*store.Partner
	Form     ptnForm
	Kinds    []string
	Errors   []string
	Default  int
}

func (u *UI) ptnAdminRender(w http.ResponseWriter, r *http.Request, name string, status int, form ptnForm, errs []string) {
	p := ptnAdminPage{Form: form, Kinds: taxonomy.PartnerKinds, Errors: errs, Default: int(u.svc.Config().NoticeDeadline / time.Hour)}
	if name == "admin_partners" {
		var err error
		if p.Partners, err = u.svc.Store().Partners(r.Context(), false); err != nil {
			u.fail(w, r, err)
			return
		}
	}
	u.render(w, r, status, name, p)
}

func (u *UI) partnerAdminList(w http.ResponseWriter, r *http.Request) {
	u.ptnAdminRender(w, r, "admin_partners", http.StatusOK, ptnForm{Country: "VN", Language: "vi", Kind: "platform", Active: true,
		DeadlineH: int(u.svc.Config().NoticeDeadline / time.Hour)}, nil)
}

func ptnInput(r *http.Request) (hotline.PartnerInput, ptnForm) {
	f := r.PostForm
	in := hotline.PartnerInput{Name: f.Get("name"), Kind: f.Get("kind"), Country: f.Get("country"), Email: f.Get("email"),
		Language: f.Get("language"), Domains: f.Get("domains"), DeadlineH: ntcInt(f.Get("deadline_h")), Active: f.Get("active") == "1"}
	return in, ptnForm{Name: in.Name, Kind: in.Kind, Country: in.Country, Email: in.Email, Language: in.Language, Domains: in.Domains,
		DeadlineH: in.DeadlineH, Active: in.Active}
}

func (u *UI) partnerAdminCreate(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		web.Error(w, r, u.log, http.StatusBadRequest, errors.New("unreadable form"))
		return
	}
	in, form := ptnInput(r)
	if _, err := u.svc.CreatePartner(r.Context(), actor(r), in); err != nil {
		if status, msg, ok := ntcProblem(ntcCat(r), err); ok {
			u.ptnAdminRender(w, r, "admin_partners", status, form, msg)
			return
		}
		u.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/partners", http.StatusSeeOther)
}

func (u *UI) partnerAdminEdit(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		u.fail(w, r, store.ErrNotFound)
		return
	}
	p, err := u.svc.Store().PartnerByID(r.Context(), id)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.ptnAdminRender(w, r, "admin_partners_edit", http.StatusOK, ptnFormOf(p), nil)
}

func (u *UI) partnerAdminSave(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		u.fail(w, r, store.ErrNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		web.Error(w, r, u.log, http.StatusBadRequest, errors.New("unreadable form"))
		return
	}
	in, form := ptnInput(r)
	form.ID = id
	if err := u.svc.UpdatePartner(r.Context(), actor(r), id, in); err != nil {
		if status, msg, ok := ntcProblem(ntcCat(r), err); ok && !errors.Is(err, store.ErrNotFound) {
			u.ptnAdminRender(w, r, "admin_partners_edit", status, form, msg)
			return
		}
		u.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/partners", http.StatusSeeOther)
}

// ptnPartnerID is the caller's organisation (0 for a partner account not linked to one, which
// then sees nothing).
func ptnPartnerID(r *http.Request) int64 {
	if p := web.PrincipalFrom(r.Context()); p != nil {
		return p.PartnerID
	}
	return 0
}

// ptnHomePage lists a partner's notices.
type ptnHomePage struct {
	Partner *store.Partner
	Open    []ntcRow
	Done    []ntcRow
}

func (u *UI) partnerHome(w http.ResponseWriter, r *http.Request) {
	pid := ptnPartnerID(r)
	var page ptnHomePage
	if pid != 0 {
		p, err := u.svc.Store().PartnerByID(r.Context(), pid)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			u.fail(w, r, err)
			return
		}
		page.Partner = p
	}
	list, err := u.svc.PartnerNotices(r.Context(), pid)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	now := u.svc.Now()
	for _, row := range ntcRows(ntcCat(r), list, now) {
		if lifecycle.NoticeOpen(row.State) || row.State == lifecycle.NoticeDisputed {
			page.Open = append(page.Open, row)
		} else {
			page.Done = append(page.Done, row)
		}
	}
	u.render(w, r, http.StatusOK, "partner_home", page)
}

// ptnNoticePage is what a partner sees of one notice: the notice's fields and items; never
// reporter data or case notes.
type ptnNoticePage struct {
	N                              *store.Notice
	Items                          []ntcItem
	Sent, Deadline, Ack, Actioned  string
	TTR                            string
	Overdue                        bool
	CanAck, CanRemove, CanDispute  bool
	Actions                        []string
	Now                            string
	Flash                          []string
	FormAction, FormAt, FormReason string
	Issuer                         string // the hotline's name (config hotline.issuer_name)
	// Back: when the hotline's re-check found the content there again after the removal.
	Back string
}

func (u *UI) ptnNoticeRender(w http.ResponseWriter, r *http.Request, id int64, status int, flash []string, keep ptnNoticePage) {
	n, err := u.svc.PartnerNotice(r.Context(), actor(r), ptnPartnerID(r), id)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	now := u.svc.Now()
	p := ptnNoticePage{N: n, Items: ntcItems(n.Items), Sent: ntcTime(n.Sent), Deadline: ntcTime(n.Deadline), Ack: ntcTime(n.Acknowledged),
		Actioned: ntcTime(n.Actioned), Overdue: n.Overdue(now), Actions: taxonomy.NoticeActions, Now: now.In(ntcZone).Format(ntcFormTime),
		Flash: flash, FormAction: keep.FormAction, FormAt: keep.FormAt, FormReason: keep.FormReason, Issuer: u.svc.IssuerName()}
	if d := n.TimeToRemoval(); d > 0 {
		p.TTR = ntcDuration(ntcCat(r), d)
	}
	back, err := u.ntcAddChecks(r, n, p.Items)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p.Back = ntcTime(back)
	next := lifecycle.Notice.Next(n.State)
	p.CanAck = slices.Contains(next, lifecycle.NoticeAcknowledged) && n.Acknowledged.IsZero()
	p.CanRemove = slices.Contains(next, lifecycle.NoticeActioned)
	p.CanDispute = slices.Contains(next, lifecycle.NoticeDisputed)
	u.render(w, r, status, "partner_notice", p)
}

func (u *UI) partnerNotice(w http.ResponseWriter, r *http.Request) {
	id, asJSON, ok := ntcPathID(r)
	if !ok {
		u.fail(w, r, store.ErrNotFound)
		return
	}
	if asJSON {
		doc, err := u.svc.SignedPartnerNotice(r.Context(), actor(r), ptnPartnerID(r), id)
		u.ntcWriteDoc(w, r, doc, err)
		return
	}
	u.ptnNoticeRender(w, r, id, http.StatusOK, nil, ptnNoticePage{})
}

func (u *UI) partnerAct(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(r, "id")
		if !ok {
			u.fail(w, r, store.ErrNotFound)
			return
		}
		ctx, by, pid := r.Context(), actor(r), ptnPartnerID(r)
		keep := ptnNoticePage{FormAction: r.PostFormValue("action"), FormAt: r.PostFormValue("at"), FormReason: r.PostFormValue("reason")}
		var err error
		switch action {
		case "ack":
			_, err = u.svc.PartnerAcknowledge(ctx, by, pid, id)
		case "removed":
			var at time.Time
			if at, err = ntcParseFormTime(keep.FormAt); err == nil {
				_, err = u.svc.PartnerRemoved(ctx, by, pid, id, keep.FormAction, at)
			}
		case "dispute":
			_, err = u.svc.PartnerDispute(ctx, by, pid, id, keep.FormReason)
		}
		if err != nil {
			if status, msg, ok := ntcProblem(ntcCat(r), err); ok && !errors.Is(err, store.ErrNotFound) {
				u.ptnNoticeRender(w, r, id, status, msg, keep)
				return
			}
			u.fail(w, r, err)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/partner/notices/%d", id), http.StatusSeeOther)
	}
}
