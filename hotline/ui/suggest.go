package ui

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/taxonomy"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// suggestRoutes: the analysts' queue of the scanner's suggestions from monitored sources
// (docs/scanner.md). A suggestion is only a suggestion: an analyst opens a case from it (a
// report on the crawler channel, through the hotline's Submit like every other channel) or
// dismisses it.
func (u *UI) suggestRoutes() []web.Route {
	analyst := web.Staff(web.RoleAnalyst, web.RoleSupervisor)
	h := func(f http.HandlerFunc) http.Handler { return f }
	return []web.Route{
		{Method: "GET", Pattern: "/desk/suggestions", Access: analyst, Handler: h(u.sugList)},
		{Method: "POST", Pattern: "/desk/suggestions/{id}/open", Access: analyst, Handler: h(u.sugOpen)},
		{Method: "POST", Pattern: "/desk/suggestions/{id}/dismiss", Access: analyst, Handler: h(u.sugDismiss)},
	}
}

// sugRow is one suggestion as the page shows it: times local, as on the case page (deskLocal),
// and each match's source worded for an analyst.
type sugRow struct {
	*store.SourceSuggestion
	Created  time.Time // local
	Matches  []deskMatch
	TopScore string
	Harm     string // the harm code preselected for "open a case"
}

// sugDone is a decided suggestion, with its decision's local time.
type sugDone struct {
	*store.SourceSuggestion
	Decided time.Time // local
}

type sugPage struct {
	Rows   []sugRow
	Harms  []string
	Done   []sugDone // the last decided ones
	Errors []string
}

// sugHarm is the harm code preselected for a suggestion: a known-hash match is CSAM until an
// analyst says otherwise; a text category maps to its nearest harm; else OTHER.
func sugHarm(g *store.SourceSuggestion) string {
	if len(g.Matches) > 0 {
		return "CSE.CSAM"
	}
	switch g.Suggestion.Top {
	case "sexual":
		return "HARM.ADULT"
	case "grooming":
		return "CSE.GROOM"
	case "self_harm":
		return "SH.SUICIDE"
	case "violence":
		return "HARM.GORE"
	case "gambling":
		return "HARM.GAMBLING"
	case "scam":
		return "FRAUD.SCAM"
	case "hate_bullying":
		return "HARM.HATE"
	}
	return "OTHER"
}

func (u *UI) sugList(w http.ResponseWriter, r *http.Request) { u.sugRender(w, r, http.StatusOK, nil) }

func (u *UI) sugRender(w http.ResponseWriter, r *http.Request, status int, errs []string) {
	st := u.svc.Store()
	open, err := st.SourceSuggestions(r.Context(), store.SuggestionOpen, 200)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	all, err := st.SourceSuggestions(r.Context(), "", 250)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p := sugPage{Errors: errs}
	cat := deskCat(r)
	for _, h := range taxonomy.Harms {
		p.Harms = append(p.Harms, h.Code)
	}
	for _, g := range open {
		row := sugRow{SourceSuggestion: g, Created: deskLocal(g.Created), Matches: deskMatches(cat, g.Matches), Harm: sugHarm(g)}
		if sc, ok := g.Suggestion.Scores[g.Suggestion.Top]; ok {
			row.TopScore = fmt.Sprintf("%.2f", sc)
		}
		p.Rows = append(p.Rows, row)
	}
	for _, g := range all {
		if g.State != store.SuggestionOpen && len(p.Done) < 20 {
			p.Done = append(p.Done, sugDone{SourceSuggestion: g, Decided: deskLocal(g.Decided)})
		}
	}
	u.render(w, r, status, "desk_suggest", p)
}

// sugOpen opens a case from a suggestion: a report on the crawler channel with the suggested
// URL and the analyst's harm code, through the hotline's Submit (dedup against open cases, the
// priority and SLA of the harm, the scan of the URL), then marks the suggestion opened.
func (u *UI) sugOpen(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		u.fail(w, r, store.ErrNotFound)
		return
	}
	ctx, st := r.Context(), u.svc.Store()
	g, err := st.SourceSuggestionByID(ctx, id)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if g.State != store.SuggestionOpen {
		u.fail(w, r, store.ErrConflict)
		return
	}
	harm := strings.TrimSpace(r.PostFormValue("harm"))
	if !slices.ContainsFunc(taxonomy.Harms, func(h taxonomy.Harm) bool { return h.Code == harm }) {
		u.sugRender(w, r, http.StatusUnprocessableEntity, []string{ntcCat(r).T("suggest.err.harm")})
		return
	}
	desc := fmt.Sprintf("Scanner suggestion %d from monitored source %s", g.ID, g.Source)
	if g.Title != "" {
		desc += ": " + g.Title
	}
	by := actor(r)
	rc, err := u.svc.Submit(ctx, hotline.Submission{Channel: "crawler", Language: "vi", Harm: harm, URLs: []string{g.URL}, Description: desc,
		LegalBasis: "public_task"}, by)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	rep, err := st.ReportByRef(ctx, rc.Ref)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if err := st.DecideSourceSuggestion(ctx, id, store.SuggestionOpened, rep.CaseID, by.Label, u.svc.Now()); err != nil {
		if errors.Is(err, store.ErrConflict) {
			// Decided by someone else meanwhile; the report stands (a duplicate links to the case).
			http.Redirect(w, r, fmt.Sprintf("/desk/cases/%d", rep.CaseID), http.StatusSeeOther)
			return
		}
		u.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/desk/cases/%d", rep.CaseID), http.StatusSeeOther)
}

func (u *UI) sugDismiss(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		u.fail(w, r, store.ErrNotFound)
		return
	}
	if err := u.svc.Store().DecideSourceSuggestion(r.Context(), id, store.SuggestionDismissed, 0, actor(r).Label, u.svc.Now()); err != nil {
		u.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/desk/suggestions", http.StatusSeeOther)
}
