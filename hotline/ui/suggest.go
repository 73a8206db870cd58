package ui

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/taxonomy"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
	"github.com/kidshield/kidshield/web/i18n"
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
// each match's source and each reason worded for an analyst.
type sugRow struct {
	*store.SourceSuggestion
	Created  time.Time // local
	Matches  []deskMatch
	TopScore string
	Reasons  []sugReason
	Harm     string // the harm code preselected for "open a case", or the one the analyst chose
	// NeedReason: dismissing it takes a reason (a known-hash match, store.ErrReasonRequired).
	NeedReason bool
	Reason     string // what the analyst typed, when the form comes back with an error
	// ErrField is the field of this row's form that came back with an error ("harm", "reason"):
	// it is marked invalid and focused.
	ErrField string
}

// sugReason is a classifier reason in the analyst's language.
type sugReason struct {
	Category, Rule, Evidence string
}

// sugDone is a decided suggestion, with its decision's local time and who decided it by name.
type sugDone struct {
	*store.SourceSuggestion
	Decided time.Time // local
	By      string
}

type sugPage struct {
	Rows      []sugRow
	Harms     []string
	Done      []sugDone // the last decided ones
	Errors    []string
	ReasonMax int
}

// sugDraft is what an analyst submitted for one suggestion, shown again with the error.
type sugDraft struct {
	ID     int64
	Field  string // the field in error
	Harm   string
	Reason string
}

// sugReasonMax caps a dismissal's reason: a short sentence, not a report.
const sugReasonMax = 500

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

func (u *UI) sugList(w http.ResponseWriter, r *http.Request) {
	u.sugRender(w, r, http.StatusOK, nil, sugDraft{})
}

// sugDecider names who decided: the account's name, else the login or token name of the audit
// label ("user:1:lan" → "lan": an account since deleted, an API token), never the raw label.
func sugDecider(g *store.SourceSuggestion) string {
	if g.DecidedByName != "" {
		return g.DecidedByName
	}
	if f := strings.SplitN(g.DecidedBy, ":", 3); len(f) == 3 && f[2] != "" {
		return f[2]
	}
	return g.DecidedBy
}

func (u *UI) sugRender(w http.ResponseWriter, r *http.Request, status int, errs []string, draft sugDraft) {
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
	p := sugPage{Errors: errs, ReasonMax: sugReasonMax}
	cat := deskCat(r)
	for _, h := range taxonomy.Harms {
		p.Harms = append(p.Harms, h.Code)
	}
	for _, g := range open {
		row := sugRow{SourceSuggestion: g, Created: deskLocal(g.Created), Matches: deskMatches(cat, g.Matches), Harm: sugHarm(g),
			NeedReason: len(g.Matches) > 0}
		if sc, ok := g.Suggestion.Scores[g.Suggestion.Top]; ok {
			row.TopScore = deskScore(cat, sc)
		}
		for _, re := range g.Suggestion.Reasons {
			row.Reasons = append(row.Reasons, sugReason{Category: scanCategory(cat, re.Category), Rule: scanRule(cat, re.Rule), Evidence: scanEvidence(cat, re.Evidence)})
		}
		if draft.ID == g.ID {
			row.ErrField, row.Reason = draft.Field, draft.Reason
			if sugKnownHarm(draft.Harm) {
				row.Harm = draft.Harm
			}
		}
		p.Rows = append(p.Rows, row)
	}
	for _, g := range all {
		if g.State != store.SuggestionOpen && len(p.Done) < 20 {
			p.Done = append(p.Done, sugDone{SourceSuggestion: g, Decided: deskLocal(g.Decided), By: sugDecider(g)})
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
	if !sugKnownHarm(harm) {
		u.sugRender(w, r, http.StatusUnprocessableEntity, []string{deskCat(r).T("suggest.err.harm")}, sugDraft{ID: id, Field: "harm", Harm: harm})
		return
	}
	// The report is written in the language of the analyst who opened it, as a report from a
	// phone call is in the operator's: it is read on the case page and in exports as the
	// report's own text (Language says which).
	lang := i18n.FromRequest(r)
	cat := i18n.Get(lang)
	desc := fmt.Sprintf(cat.T("suggest.report.desc"), g.ID, g.Source)
	if g.Title != "" {
		desc = fmt.Sprintf(cat.T("suggest.report.desc_title"), g.ID, g.Source, g.Title)
	}
	by := actor(r)
	rc, err := u.svc.Submit(ctx, hotline.Submission{Channel: "crawler", Language: lang, Harm: harm, URLs: []string{g.URL}, Description: desc,
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
	if err := st.DecideSourceSuggestion(ctx, id, store.SuggestionDecision{To: store.SuggestionOpened, CaseID: rep.CaseID, ActorID: by.UserID,
		Actor: by.Label, Time: u.svc.Now()}); err != nil {
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

// sugKnownHarm says whether code is a harm of the taxonomy.
func sugKnownHarm(code string) bool {
	return slices.ContainsFunc(taxonomy.Harms, func(h taxonomy.Harm) bool { return h.Code == code })
}

// sugDismiss closes a suggestion. One click for a text suggestion; a known-hash match, the
// strongest signal there is, is set aside only with a reason (checked again by the store). A
// refused form comes back with what was typed.
func (u *UI) sugDismiss(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		u.fail(w, r, store.ErrNotFound)
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if utf8.RuneCountInString(reason) > sugReasonMax {
		u.sugRender(w, r, http.StatusUnprocessableEntity, []string{fmt.Sprintf(deskCat(r).T("suggest.err.reason_long"), sugReasonMax)},
			sugDraft{ID: id, Field: "reason", Reason: reason})
		return
	}
	by := actor(r)
	err := u.svc.Store().DecideSourceSuggestion(r.Context(), id, store.SuggestionDecision{To: store.SuggestionDismissed, ActorID: by.UserID,
		Actor: by.Label, Reason: reason, Time: u.svc.Now()})
	if errors.Is(err, store.ErrReasonRequired) {
		u.sugRender(w, r, http.StatusUnprocessableEntity, []string{deskCat(r).T("suggest.err.reason")}, sugDraft{ID: id, Field: "reason", Reason: reason})
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/desk/suggestions", http.StatusSeeOther)
}
