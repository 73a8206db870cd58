package ui

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// The network list pages: propose a case's domains or URLs, approve or reject a proposal (any
// second person but its proposer), delist, disable, appeal, and re-check entries whose expiry
// passed (they keep blocking meanwhile).

// lstRow is one entry on a page.
type lstRow struct {
	E                  *store.ListEntry
	Proposed, Activate string
	Ended              string
	Verified, Expires  string
	Due                bool // blocks and its expiry passed: someone must look again
	Mine               bool // proposed by the viewer: someone else must approve
}

func lstRows(list []*store.ListEntry, me int64, now time.Time) []lstRow {
	out := make([]lstRow, 0, len(list))
	for _, e := range list {
		out = append(out, lstRow{E: e, Proposed: ntcTime(e.Proposed), Activate: ntcTime(e.Activated), Ended: ntcTime(e.Ended),
			Verified: ntcTime(e.LastVerified), Expires: ntcTime(e.Expires), Due: e.RecheckDue(now), Mine: me != 0 && e.ProposedBy == me})
	}
	return out
}

// lstNewPage is the proposal form.
type lstNewPage struct {
	Case        *store.Case
	Hosts       []string
	Checked     []string
	URLs        []string // the case's URLs, for the URL form
	CheckedURLs []string
	DNSHost     bool
	Category    string
	Categories  []string
	Kind        string
	Reason      string
	Live        []lstRow
	Errors      []string
}

func (u *UI) lstNewRender(w http.ResponseWriter, r *http.Request, caseID int64, status int, keep *lstNewPage, errs []string) {
	sg, err := u.svc.SuggestListEntries(r.Context(), caseID)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p := lstNewPage{Case: sg.Case, Hosts: sg.Hosts, Checked: sg.Hosts, URLs: sg.URLs, CheckedURLs: sg.URLs, Category: sg.Category, Kind: store.ListDomain,
		Live: lstRows(sg.Live, 0, u.svc.Now()), Errors: errs}
	p.Categories = slices.Clone(config.BuiltinCategories)
	if !slices.Contains(p.Categories, p.Category) {
		p.Categories = append(p.Categories, p.Category)
	}
	if keep != nil {
		p.Checked, p.Category, p.Kind, p.Reason = keep.Checked, keep.Category, keep.Kind, keep.Reason
		p.CheckedURLs, p.DNSHost = keep.CheckedURLs, keep.DNSHost
	}
	u.render(w, r, status, "list_new", p)
}

func (u *UI) listNew(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		u.fail(w, r, store.ErrNotFound)
		return
	}
	u.lstNewRender(w, r, id, http.StatusOK, nil, nil)
}

func (u *UI) listPropose(w http.ResponseWriter, r *http.Request) {
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
	keep := &lstNewPage{Checked: f["host"], CheckedURLs: f["url"], DNSHost: f.Get("dns_host") != "", Category: f.Get("category"), Kind: f.Get("kind"), Reason: f.Get("reason")}
	// The URL form and the names form post here with their own boxes: a URL may hold commas,
	// so its extra values are one per line (or space), names also by comma.
	values := slices.Clone(f["host"])
	sep := func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' }
	if keep.Kind == store.ListURL {
		values = slices.Clone(f["url"])
		sep = func(r rune) bool { return r == ' ' || r == '\n' || r == '\r' || r == '\t' }
	}
	for v := range strings.FieldsFuncSeq(f.Get("extra"), sep) {
		values = append(values, v)
	}
	if len(values) == 0 {
		u.lstNewRender(w, r, id, http.StatusUnprocessableEntity, keep, []string{ntcCat(r).T("list.err.values")})
		return
	}
	_, err := u.svc.ProposeFromCase(r.Context(), actor(r), id, hotline.ListProposalInput{Values: values, Kind: keep.Kind, DNSHost: keep.DNSHost,
		Category: keep.Category, Reason: keep.Reason})
	if err != nil {
		if status, msg, ok := ntcProblem(ntcCat(r), err); ok {
			u.lstNewRender(w, r, id, status, keep, msg)
			return
		}
		u.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/desk/list", http.StatusSeeOther)
}

// lstIndexPage is the list page: proposals waiting for a second person, the entries that
// block, and the recent tombstones.
type lstIndexPage struct {
	Waiting []lstRow
	Active  []lstRow
	Ended   []lstRow
	Serial  int64
	Flash   []string
	// DueCount is how many blocking entries are due a re-check; DueOnly shows only them
	// (Due), the longest overdue first.
	DueCount int
	DueOnly  bool
	Due      []lstRow
}

func (u *UI) lstIndexRender(w http.ResponseWriter, r *http.Request, status int, flash []string) {
	ctx := r.Context()
	var me int64
	if p := web.PrincipalFrom(ctx); p != nil {
		me = p.UserID
	}
	st := u.svc.Store()
	now := u.svc.Now()
	dueCount, err := st.CountListRecheckDue(ctx, now)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	serial, err := st.ListSerial(ctx)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if r.URL.Query().Get("due") != "" {
		due, err := st.ListEntries(ctx, store.ListFilter{DueBy: now, Limit: 5000})
		if err != nil {
			u.fail(w, r, err)
			return
		}
		u.render(w, r, status, "list_index", lstIndexPage{Due: lstRows(due, me, now), DueOnly: true, DueCount: dueCount, Serial: serial, Flash: flash})
		return
	}
	waiting, err := st.ListEntries(ctx, store.ListFilter{States: []string{lifecycle.ListProposed}})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	active, err := st.ListEntries(ctx, store.ListFilter{States: []string{lifecycle.ListActive, lifecycle.ListAppealed}, Limit: 5000})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	ended, err := st.ListEntries(ctx, store.ListFilter{States: []string{lifecycle.ListDelisted, lifecycle.ListDisabled, lifecycle.ListRejected}, Limit: 100})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, status, "list_index", lstIndexPage{Waiting: lstRows(waiting, me, now), Active: lstRows(active, me, now), Ended: lstRows(ended, me, now),
		Serial: serial, Flash: flash, DueCount: dueCount})
}

func (u *UI) listIndex(w http.ResponseWriter, r *http.Request) {
	u.lstIndexRender(w, r, http.StatusOK, nil)
}

func (u *UI) listAct(to string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(r, "id")
		if !ok {
			u.fail(w, r, store.ErrNotFound)
			return
		}
		ctx, by, reason := r.Context(), actor(r), r.PostFormValue("reason")
		var err error
		switch to {
		case "verify":
			_, err = u.svc.VerifyListEntry(ctx, by, id)
			if errors.Is(err, store.ErrNotBlocking) {
				// Re-checking a proposal or a tombstone: say why rather than "conflict".
				u.lstIndexRender(w, r, http.StatusConflict, []string{ntcCat(r).T("list.err.verify_state")})
				return
			}
			if err == nil && r.PostFormValue("due") != "" {
				http.Redirect(w, r, "/desk/list?due=1", http.StatusSeeOther)
				return
			}
		case "uphold":
			_, err = u.svc.UpholdListEntry(ctx, by, id)
		case lifecycle.ListActive:
			_, err = u.svc.ApproveListEntry(ctx, by, id)
		default:
			_, err = u.svc.ChangeListEntry(ctx, by, id, to, reason)
		}
		if err != nil {
			if status, msg, ok := ntcProblem(ntcCat(r), err); ok {
				u.lstIndexRender(w, r, status, msg)
				return
			}
			u.fail(w, r, err)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/desk/list#e%d", id), http.StatusSeeOther)
	}
}
