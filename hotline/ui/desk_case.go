package ui

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/canon"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/hotline/taxonomy"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
	"github.com/kidshield/kidshield/web/i18n"
)

// deskCaseOpts is what a case page shows beyond the default text-only view.
type deskCaseOpts struct {
	status  int
	contact bool  // reporters' contact details (audited by CaseView)
	reveal  int64 // the attachment whose image is put into the page
	flash   string
	errors  []string
	drafts  deskDrafts
}

// deskDrafts keeps what an analyst typed when an action failed (a conflict, a field error), so
// the fresh page does not lose it.
type deskDrafts struct {
	Note     string
	MoveNote string
	Evidence deskEvidenceForm
}

type deskEvidenceForm struct {
	URL, FinalURL, HTTPStatus, SHA256, PDQ, ContentType, Note string
}

type deskReport struct {
	hotline.ReportView
	N           int       // 1, 2, ... in the order received
	Received    time.Time // local
	Attachments []deskAttachment
}

type deskAttachment struct {
	ID       int64
	Revealed bool
}

// deskEntry is one line of the history: a case event, or evidence recorded on the case.
type deskEntry struct {
	Time     time.Time // local
	Actor    string
	Kind     string // label
	From, To string // state keys of a transition
	Detail   string
	Note     string
	// Record is a scanner's note, in English, kept folded away when Detail says the same in
	// the analyst's language with less (a reappearance: the note has the URL and the times).
	Record   string
	Evidence *deskEvidence
}

// deskEvidence is an evidence record as the case page shows it. The scanner's records are
// described from their own fields in the analyst's language (Desc); their stored note, in
// English, stays the record (exports carry it) and is shown folded away (Record).
type deskEvidence struct {
	store.Evidence
	Desc   string // the scanner's record described; "" for a person's evidence, whose note is shown
	Record string // the scanner's stored note, without server paths
}

type deskStaff struct {
	ID   int64
	Name string
}

type deskCaseData struct {
	Case      *store.Case
	Stage     string
	Next      []string
	SLA       deskSLA
	Target    string // the configured SLA of the case's priority
	Received  time.Time
	Reports   []deskReport
	URLs      []deskURL
	History   []deskEntry
	Evidence  []deskEvidence
	AnyMedia  bool
	Contacts  bool // some report has contact details
	Shown     bool // they are shown now
	Exposures int  // screenshots this analyst opened today
	Flash     string
	Errors    []string
	Drafts    deskDrafts
	Staff     []deskStaff
	Me        int64
	Harms     []taxonomy.Harm
	Flags     []string
	FlagSet   map[string]bool
	AgeBands  []string
	Severity  []int
	Prios     []int
	// Scans are the automatic scans of the case's URLs: suggestions, newest first.
	Scans []deskScan
	// Pending are the case's URLs still in the scanner's queue: without them a scan on its
	// way, or one retrying after a failure, looks like no scan at all.
	Pending []deskPending
}

// deskScan is one scan result as the case page shows it: labels translated, scores rounded.
// It never carries images; an analyst opens media only through the blurred attachment view.
type deskScan struct {
	store.ScanResult
	Fetched  time.Time // local
	Top      string    // the suggestion's category, translated ("" when the scan failed)
	TopKey   string
	TopScore string
	Reasons  []deskScanReason
	Fail     string // why the scan failed and what to do, translated ("" when it did not fail)
	Matches  []deskMatch
}

// deskPending is a URL waiting for its scan, with its next try in local time.
type deskPending struct {
	store.PendingScan
	Next time.Time
	Why  string // the last failure in a few words ("" before any)
}

// deskMatch is a known-hash match with its source and its rotation or flip worded for an
// analyst.
type deskMatch struct {
	store.ScanMatch
	SourceText    string
	TransformText string
}

func deskMatches(cat i18n.Catalog, ms []store.ScanMatch) []deskMatch {
	out := make([]deskMatch, len(ms))
	for i, m := range ms {
		out[i] = deskMatch{ScanMatch: m, SourceText: deskHashSource(cat, m.Source), TransformText: deskTransform(cat, m.Transform)}
	}
	return out
}

// deskTransform names the rotation or flip under which an image matched a known hash
// (pdq.Dihedral: orig, rot90 … flipm); an unknown code is shown as it is. The PDQ reference
// names flips by their axis: flipx turns the image upside down and flipy mirrors it left to
// right (its dih-bridge test images; TestDeskTransformWords checks the words against images).
func deskTransform(cat i18n.Catalog, code string) string {
	return deskT(cat, "scan.transform."+code, code)
}

// deskHashSource words where a known hash came from: the network list's entry, or the hash
// list's file by its base name. The scanner records "list:<entry id>" or "file:<path>:<line>"
// (scanner.Known.Source) and, in sentences, "network list entry 12" or "hash list known.pdq
// line 3" (scanner.SourceLabel); both are read here. A server path is never shown: it means
// nothing to an analyst.
func deskHashSource(cat i18n.Catalog, src string) string {
	src = strings.TrimSpace(src)
	list := func(id string) string { return fmt.Sprintf(cat.T("scan.source.list"), id) }
	file := func(path, line string) string {
		name := filepath.Base(strings.ReplaceAll(path, "\\", "/"))
		if line == "" {
			return fmt.Sprintf(cat.T("scan.source.file_name"), name)
		}
		return fmt.Sprintf(cat.T("scan.source.file"), name, line)
	}
	if id, ok := strings.CutPrefix(src, "list:"); ok {
		return list(id)
	}
	if id, ok := strings.CutPrefix(src, "network list entry "); ok {
		return list(id)
	}
	if rest, ok := strings.CutPrefix(src, "file:"); ok {
		if i := strings.LastIndexByte(rest, ':'); i > 0 && deskDigits(rest[i+1:]) {
			return file(rest[:i], rest[i+1:])
		}
		return file(rest, "")
	}
	if rest, ok := strings.CutPrefix(src, "hash list "); ok {
		if name, line, ok := deskCutLast(rest, " line "); ok && deskDigits(line) {
			return file(name, line)
		}
		return file(rest, "")
	}
	if src == "" {
		return ""
	}
	return file(src, "") // unknown form: at least no directories
}

func deskDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func deskCutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// The reasons of a scanner's raise, as scanner.HashReason, TextReason and RaiseDetail write
// them (scanner/scan.go; the desk tests build them with those functions). Before the raise
// said its priorities, the detail was the reason with a "scanner: " prefix.
var (
	deskRaiseRe     = regexp.MustCompile(`^P([0-4]) → P([0-4]): (.*)$`)
	deskRaiseOldRe  = regexp.MustCompile(`^scanner: ((?:known-hash match|text suggests) .*)$`)
	deskHashReason  = regexp.MustCompile(`^known-hash match at distance (\d+) \(([^,]*), (.*)\)$`)
	deskTextReason  = regexp.MustCompile(`^text suggests ([a-z_]+) \(score ([0-9.]+) ≥ ([0-9.]+)\)$`)
	deskPathInNotes = regexp.MustCompile(`file:[^\s,()]*/([^/\s,()]+:\d+)`)
)

// A notice's removed content found back, as scanner.ReappearedDetail writes it, and as the
// scanner wrote it before (one English sentence, with the URL, that is still the entry's note).
var (
	deskBackRe    = regexp.MustCompile(`^notice (\S+): content back \(([^;()]*); was gone: ([^;()]*)\)$`)
	deskBackOldRe = regexp.MustCompile(`^scanner: content of notice (\S+) is back at \S+ \(([^,()]*), HTTP \d+; it was gone: (\S+) since \S+\)$`)
)

// deskRaise words a scanner's raise in the analyst's language: "raised the priority P2 → P1:
// known-hash match at distance 7 (rotated 90°, network list, entry 12)". ok is false for the
// scanner's other entries (a notice's content back, …).
func deskRaise(cat i18n.Catalog, detail string) (text string, ok bool) {
	from, to, reason := "", "", ""
	if m := deskRaiseRe.FindStringSubmatch(detail); m != nil {
		from, to, reason = m[1], m[2], m[3]
	} else if m := deskRaiseOldRe.FindStringSubmatch(detail); m != nil {
		reason = m[1]
	} else {
		return "", false
	}
	if m := deskHashReason.FindStringSubmatch(reason); m != nil {
		reason = fmt.Sprintf(cat.T("scan.raise.hash"), m[1], deskTransform(cat, m[2]), deskHashSource(cat, m[3]))
	} else if m := deskTextReason.FindStringSubmatch(reason); m != nil {
		reason = fmt.Sprintf(cat.T("scan.raise.text"), scanCategory(cat, m[1]), deskDecimal(cat, m[2]), deskDecimal(cat, m[3]))
	} else {
		reason = deskNoPaths(reason)
	}
	if from == "" {
		return fmt.Sprintf(cat.T("scan.raise.unknown_from"), reason), true
	}
	return fmt.Sprintf(cat.T("scan.raise.detail"), from, to, reason), true
}

// deskReappeared words the scanner's entry for a notice's removed content found back, from
// scanner.ReappearedDetail's form or the English sentence the scanner wrote before it (which
// named the URL): "content of takedown notice N… is back: the page still opens, with no sign
// of removal (it was gone: the page answered 404 – not found)". ok is false for any other text.
func deskReappeared(cat i18n.Catalog, detail string) (text string, ok bool) {
	m := deskBackRe.FindStringSubmatch(detail)
	if m == nil {
		if m = deskBackOldRe.FindStringSubmatch(detail); m == nil {
			return "", false
		}
	}
	return fmt.Sprintf(cat.T("scan.back.detail"), m[1], scanCheckReason(cat, m[2]), scanCheckReason(cat, m[3])), true
}

// deskNoPaths shortens the hash-list paths older scanner notes quoted to the file's name.
func deskNoPaths(s string) string { return deskPathInNotes.ReplaceAllString(s, "file:$1") }

// deskScanEvidence describes one of the scanner's evidence records from its own fields: an
// image (a PDQ hash) with its match found in the case's scans, a notice re-check, or a page
// the scanner fetched with what its scan found.
func deskScanEvidence(cat i18n.Catalog, e *store.Evidence, scans []store.ScanResult) string {
	if e.PDQ != "" {
		for _, r := range scans {
			for _, m := range r.Matches {
				if strings.EqualFold(m.PDQ, e.PDQ) && (e.SHA256 == "" || strings.EqualFold(m.ImageSHA, e.SHA256)) {
					return fmt.Sprintf(cat.T("scan.ev.image_match"), m.Distance, deskHashSource(cat, m.Source))
				}
			}
		}
		return cat.T("scan.ev.image")
	}
	// The re-check's notes (scanner/recheck.go) are the one way to tell its captures apart.
	switch {
	case strings.HasPrefix(e.Note, "scanner: re-check of notice "):
		return cat.T("scan.ev.recheck_gone")
	case strings.HasPrefix(e.Note, "scanner: content of notice "):
		return cat.T("scan.ev.recheck_back")
	}
	for _, r := range scans {
		if r.Error == "" && e.SHA256 != "" && strings.EqualFold(r.SHA256, e.SHA256) {
			top := r.Suggestion.Top
			if top == "" {
				top = "clean"
			}
			return fmt.Sprintf(cat.T("scan.ev.page_found"), r.ImagesHashed, len(r.Matches), scanCategory(cat, top))
		}
	}
	return cat.T("scan.ev.page")
}

type deskScanReason struct {
	Category, Rule, Evidence string
}

// deskScans prepares a case's scan results for the page.
func deskScans(cat i18n.Catalog, rs []store.ScanResult) []deskScan {
	out := make([]deskScan, 0, len(rs))
	for _, r := range rs {
		ds := deskScan{ScanResult: r, Fetched: deskLocal(r.Fetched), Matches: deskMatches(cat, r.Matches)}
		if r.Error != "" {
			// A kind this page does not know (a newer scanner) or none (a result from before
			// kinds were stored) gets the general sentence; the raw error is shown below it.
			ds.Fail = deskT(cat, "scan.fail."+r.ErrorKind, cat.T("scan.fail.other"))
		}
		if top := r.Suggestion.Top; top != "" {
			ds.TopKey, ds.Top = top, scanCategory(cat, top)
			if sc, ok := r.Suggestion.Scores[top]; ok && top != "clean" {
				ds.TopScore = deskScore(cat, sc)
			}
		}
		for _, re := range r.Suggestion.Reasons {
			ds.Reasons = append(ds.Reasons, deskScanReason{Category: scanCategory(cat, re.Category), Rule: scanRule(cat, re.Rule), Evidence: scanEvidence(cat, re.Evidence)})
		}
		out = append(out, ds)
	}
	return out
}

func (u *UI) deskCase(w http.ResponseWriter, r *http.Request) {
	u.deskShowCase(w, r, deskCaseOpts{})
}

// deskCaseContact shows the page with reporters' contact details: a POST, so the step is
// deliberate and cannot be a prefetched link; CaseView records it in the audit log.
func (u *UI) deskCaseContact(w http.ResponseWriter, r *http.Request) {
	u.deskShowCase(w, r, deskCaseOpts{contact: true})
}

// deskCaseReveal puts one screenshot into the page (still blurred and grey until the analyst
// unblurs it). Its GET is what opens the sealed bytes, and is audited: the exposure count.
func (u *UI) deskCaseReveal(w http.ResponseWriter, r *http.Request) {
	att, err := strconv.ParseInt(r.FormValue("att"), 10, 64)
	if err != nil || att <= 0 {
		web.Error(w, r, u.log, http.StatusBadRequest, errors.New("which screenshot? (att)"))
		return
	}
	u.deskShowCase(w, r, deskCaseOpts{reveal: att})
}

func (u *UI) deskShowCase(w http.ResponseWriter, r *http.Request, o deskCaseOpts) {
	id, ok := pathID(r, "id")
	if !ok {
		u.fail(w, r, store.ErrNotFound)
		return
	}
	ctx := r.Context()
	p := web.PrincipalFrom(ctx)
	by := actor(r)
	v, err := u.svc.CaseView(ctx, by, id, o.contact)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	cat := deskCat(r)
	now := u.svc.Now()
	c := v.Case
	d := deskCaseData{Case: c, Stage: v.Stage, Next: v.Next, URLs: deskURLs(v.URLs), Received: deskLocal(c.Received),
		SLA:   deskSLAOf(cat, c.SLADue, now, c.Assessed, lifecycle.CaseOpen(c.State) && c.State != lifecycle.CaseResolved),
		Flash: o.flash, Errors: o.errors, Drafts: o.drafts, Me: p.UserID, Harms: taxonomy.Harms, Flags: taxonomy.Flags,
		FlagSet: map[string]bool{}, AgeBands: taxonomy.AgeBands, Severity: []int{0, 1, 2, 3, 4, 5}, Prios: []int{0, 1, 2, 3, 4}}
	if cfg := u.svc.Config(); cfg != nil {
		d.Target = deskDuration(cat, cfg.SLA.For(c.Priority))
	}
	for _, f := range c.Flags {
		d.FlagSet[f] = true
	}
	revealed := false
	for _, rv := range v.Reports {
		dr := deskReport{ReportView: rv, N: len(d.Reports) + 1, Received: deskLocal(rv.Received)}
		for _, a := range rv.AttachmentIDs {
			dr.Attachments = append(dr.Attachments, deskAttachment{ID: a, Revealed: a == o.reveal})
			revealed = revealed || a == o.reveal
			d.AnyMedia = true
		}
		d.Contacts = d.Contacts || rv.HasContact
		d.Shown = d.Shown || rv.ContactShown
		d.Reports = append(d.Reports, dr)
	}
	if o.reveal != 0 && !revealed {
		u.fail(w, r, fmt.Errorf("attachment %d is not in case %d: %w", o.reveal, id, store.ErrNotFound))
		return
	}
	st := u.svc.Store()
	users, err := st.Users(ctx)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	names := map[string]string{}
	for _, us := range users {
		names[fmt.Sprintf("user %d", us.ID)] = us.Name
		staff := slices.Contains(us.Roles, string(web.RoleAnalyst)) || slices.Contains(us.Roles, string(web.RoleSupervisor))
		if staff && !us.Disabled {
			name := us.Name
			if name == "" {
				name = us.Login
			}
			d.Staff = append(d.Staff, deskStaff{ID: us.ID, Name: name})
		}
	}
	scans, err := st.CaseScanResults(ctx, id)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	for i, e := range v.Events {
		en := deskEntry{Time: deskLocal(e.Time), Actor: e.ActorName, Kind: deskT(cat, "desk.event."+e.Kind, e.Kind), Detail: e.Detail, Note: e.Note}
		switch e.Kind {
		case "transition":
			en.From, en.To = e.From, e.To
		case "created":
			// The store writes "channel web": show the channel's name.
			if ch, ok := strings.CutPrefix(e.Detail, "channel "); ok {
				en.Detail = deskT(cat, "channel."+ch, ch)
			}
		case "report_linked":
			// "report linked" or "report linked; priority P2 → P1": the kind says the first part.
			_, rest, _ := strings.Cut(e.Detail, "; ")
			if p, ok := strings.CutPrefix(rest, "priority "); ok {
				rest = fmt.Sprintf(cat.T("desk.event.priority_raised"), p)
			}
			en.Detail = rest
		}
		if e.Kind == "scanner" {
			if text, ok := deskRaise(cat, e.Detail); ok {
				// Shown once, in the analyst's language; the note holds the same English
				// record.
				en.Detail, en.Note = text, ""
			} else if text, ok := deskReappeared(cat, e.Detail); ok {
				// The note names the URL and the times: kept, folded away like the scanner's
				// evidence notes. When the same change reopened the case, its transition just
				// above already says why: the reason is not repeated.
				en.Detail, en.Record, en.Note = text, e.Note, ""
				if i > 0 && v.Events[i-1].Kind == "transition" && v.Events[i-1].Detail == e.Detail && v.Events[i-1].Time.Equal(e.Time) {
					en.Detail = ""
				}
			} else if en.Note == en.Detail {
				en.Note = ""
			}
		}
		if e.Kind == "transition" || e.Kind == "notice" || e.Kind == "classify" {
			// The scanner's reopening carries the reason of its entry beside it; a notice's
			// draft and sending, and a classification, are stored in a fixed English form.
			if text, ok := deskReappeared(cat, e.Detail); ok {
				en.Detail = text
			} else if text, ok := deskStoredDetail(cat, e.Detail); ok {
				en.Detail = text
			}
		}
		if e.Kind == "assign" {
			if n, ok := names[e.Detail]; ok {
				en.Detail = n
			} else if e.Detail == "user 0" {
				en.Detail = cat.T("desk.assign.nobody")
			}
		}
		if en.Actor == "" {
			en.Actor = cat.T("desk.actor.system")
			if e.Kind == "reporter_info" {
				en.Actor = cat.T("desk.actor.reporter")
			}
		}
		d.History = append(d.History, en)
	}
	d.Evidence = make([]deskEvidence, len(v.Evidence))
	for i := range v.Evidence {
		e := &d.Evidence[i]
		e.Evidence = v.Evidence[i]
		e.Captured = deskLocal(e.Captured)
		if e.Source == "scanner" {
			e.Desc, e.Record = deskScanEvidence(cat, &e.Evidence, scans), deskNoPaths(e.Note)
		}
		d.History = append(d.History, deskEntry{Time: e.Captured, Kind: cat.T("desk.event.evidence"), Evidence: e})
	}
	sort.SliceStable(d.History, func(i, j int) bool { return d.History[i].Time.Before(d.History[j].Time) })
	d.Scans = deskScans(cat, scans)
	pending, err := st.PendingCaseScans(ctx, id)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	for _, p := range pending {
		dp := deskPending{PendingScan: p, Next: deskLocal(p.NextRun)}
		if p.Failed {
			dp.Why = deskT(cat, "scan.why."+p.LastErrorKind, cat.T("scan.why.other"))
		}
		d.Pending = append(d.Pending, dp)
	}
	if d.AnyMedia {
		// Welfare: how many screenshots this analyst opened today, shown beside the reveal
		// buttons so nobody drifts past their limit unnoticed.
		y, m, dd := deskLocal(now).Date()
		recs, err := st.AuditList(ctx, store.AuditFilter{Actor: by.Label, Action: "attachment.view", Since: time.Date(y, m, dd, 0, 0, 0, 0, deskZone), Limit: 1000})
		if err != nil {
			u.fail(w, r, err)
			return
		}
		d.Exposures = len(recs)
	}
	if o.status == 0 {
		o.status = http.StatusOK
	}
	w.Header().Set("Cache-Control", "no-store")
	u.render(w, r, o.status, "desk_case", d)
}

// deskForm reads a case action's version and path id; a missing version is a form from before
// optimistic locking or a hand-made request: both are refused rather than applied blindly.
func deskForm(w http.ResponseWriter, r *http.Request, u *UI) (id, version int64, ok bool) {
	id, ok = pathID(r, "id")
	if !ok {
		u.fail(w, r, store.ErrNotFound)
		return 0, 0, false
	}
	version, err := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	if err != nil || version <= 0 {
		web.Error(w, r, u.log, http.StatusBadRequest, errors.New("the form lacks the case version: reload the page"))
		return 0, 0, false
	}
	return id, version, true
}

// deskChange applies a change and answers: back to the case page on success (so a reload does
// not repeat it); the fresh page with the reason on a conflict, a refused transition or a field
// error, keeping what was typed.
func (u *UI) deskChange(w http.ResponseWriter, r *http.Request, id int64, ch hotline.Change, drafts deskDrafts) {
	_, err := u.svc.ChangeCase(r.Context(), actor(r), id, ch)
	if err == nil {
		http.Redirect(w, r, fmt.Sprintf("/desk/cases/%d", id), http.StatusSeeOther)
		return
	}
	u.deskActionFailed(w, r, err, drafts)
}

func (u *UI) deskActionFailed(w http.ResponseWriter, r *http.Request, err error, drafts deskDrafts) {
	cat := deskCat(r)
	var verr hotline.ValidationError
	switch {
	case errors.Is(err, store.ErrConflict):
		u.deskShowCase(w, r, deskCaseOpts{status: http.StatusConflict, flash: cat.T("desk.conflict"), drafts: drafts})
	case isTransition(err):
		u.deskShowCase(w, r, deskCaseOpts{status: http.StatusConflict, flash: deskTransitionText(cat, err), drafts: drafts})
	case errors.As(err, &verr):
		u.deskShowCase(w, r, deskCaseOpts{status: http.StatusUnprocessableEntity, errors: deskFieldErrors(cat, verr), drafts: drafts})
	default:
		u.fail(w, r, err)
	}
}

// deskTransitionText is a refused transition in the analyst's language, with the steps that
// are allowed from where the case is.
func deskTransitionText(cat i18n.Catalog, err error) string {
	var te *lifecycle.TransitionError
	if !errors.As(err, &te) {
		return fmt.Sprintf(cat.T("desk.err.transition_other"), transitionReason(err).Error())
	}
	label := func(s string) string { return deskT(cat, "state."+s, s) }
	if len(te.Allowed) == 0 {
		return fmt.Sprintf(cat.T("desk.err.transition_final"), label(te.From), label(te.To))
	}
	allowed := make([]string, len(te.Allowed))
	for i, s := range te.Allowed {
		allowed[i] = label(s)
	}
	return fmt.Sprintf(cat.T("desk.err.transition"), label(te.From), label(te.To), strings.Join(allowed, ", "))
}

// deskFieldErrors words field errors for the page: "Field: problem", the field named as the
// form labels it ("urls[2]" is the links field).
func deskFieldErrors(cat i18n.Catalog, verr hotline.ValidationError) []string {
	out := make([]string, 0, len(verr))
	for _, e := range verr {
		msg := deskT(cat, e.Key, e.Msg)
		field, _, _ := strings.Cut(e.Field, "[")
		if label := deskT(cat, "desk.field."+field, ""); label != "" {
			msg = label + ": " + msg
		}
		out = append(out, msg)
	}
	return out
}

func (u *UI) deskCaseTransition(w http.ResponseWriter, r *http.Request) {
	id, version, ok := deskForm(w, r, u)
	if !ok {
		return
	}
	to := r.PostFormValue("to")
	note := r.PostFormValue("note")
	u.deskChange(w, r, id, hotline.Change{Version: version, To: to, Note: note}, deskDrafts{MoveNote: note})
}

func (u *UI) deskCaseAssign(w http.ResponseWriter, r *http.Request) {
	id, version, ok := deskForm(w, r, u)
	if !ok {
		return
	}
	var who int64
	switch a := strings.TrimSpace(r.PostFormValue("assignee")); a {
	case "me":
		who = web.PrincipalFrom(r.Context()).UserID
	case "", "0":
	default:
		// Only an analyst or a supervisor whose account is active can hold a case: assigning
		// it to an operator or a partner would list it as theirs though they cannot open it.
		n, err := strconv.ParseInt(a, 10, 64)
		if err == nil && n > 0 {
			var us store.User
			if us, err = u.svc.Store().UserByID(r.Context(), n); err == nil && (us.Disabled ||
				!slices.Contains(us.Roles, string(web.RoleAnalyst)) && !slices.Contains(us.Roles, string(web.RoleSupervisor))) {
				err = store.ErrNotFound
			}
		}
		if err != nil || n <= 0 {
			u.deskActionFailed(w, r, hotline.ValidationError{{Field: "assignee", Key: "desk.err.assignee", Msg: "no such user"}}, deskDrafts{})
			return
		}
		who = n
	}
	u.deskChange(w, r, id, hotline.Change{Version: version, Assign: &who}, deskDrafts{})
}

func (u *UI) deskCaseClassify(w http.ResponseWriter, r *http.Request) {
	id, version, ok := deskForm(w, r, u)
	if !ok {
		return
	}
	num := func(name string, def int) int {
		n, err := strconv.Atoi(strings.TrimPrefix(r.PostFormValue(name), "P"))
		if err != nil {
			return def
		}
		return n
	}
	k := &store.Classification{Harm: r.PostFormValue("harm"), Severity: num("severity", -1), Legal: strings.TrimSpace(r.PostFormValue("legal")),
		AgeBand: r.PostFormValue("age_band"), Priority: num("priority", -1)}
	for _, f := range r.PostForm["flags"] {
		if !slices.Contains(k.Flags, f) {
			k.Flags = append(k.Flags, f)
		}
	}
	u.deskChange(w, r, id, hotline.Change{Version: version, Classify: k}, deskDrafts{})
}

func (u *UI) deskCaseNote(w http.ResponseWriter, r *http.Request) {
	id, version, ok := deskForm(w, r, u)
	if !ok {
		return
	}
	note := r.PostFormValue("note")
	if strings.TrimSpace(note) == "" {
		u.deskActionFailed(w, r, hotline.ValidationError{{Field: "note", Key: "desk.err.note_empty", Msg: "the note is empty"}}, deskDrafts{})
		return
	}
	u.deskChange(w, r, id, hotline.Change{Version: version, Note: note, Kind: "note"}, deskDrafts{Note: note})
}

func (u *UI) deskCaseEvidence(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		u.fail(w, r, store.ErrNotFound)
		return
	}
	f := deskEvidenceForm{URL: r.PostFormValue("url"), FinalURL: r.PostFormValue("final_url"), HTTPStatus: r.PostFormValue("http_status"),
		SHA256: r.PostFormValue("sha256"), PDQ: r.PostFormValue("pdq"), ContentType: r.PostFormValue("content_type"), Note: r.PostFormValue("note")}
	e, verr := deskParseEvidence(f)
	if len(verr) > 0 {
		u.deskActionFailed(w, r, verr, deskDrafts{Evidence: f})
		return
	}
	e.CaseID = id
	if _, err := u.svc.Store().CaseByID(r.Context(), id); err != nil {
		u.fail(w, r, err)
		return
	}
	if _, err := u.svc.AddEvidence(r.Context(), actor(r), e); err != nil {
		u.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/desk/cases/%d#evidence", id), http.StatusSeeOther)
}

// deskParseEvidence checks an evidence form: a link that canon can read, an HTTP status, and
// hashes in their hex form (PDQ: 256 bits). Nothing here is a file: media never enters.
func deskParseEvidence(f deskEvidenceForm) (store.Evidence, hotline.ValidationError) {
	var verr hotline.ValidationError
	e := store.Evidence{URL: strings.TrimSpace(f.URL), FinalURL: strings.TrimSpace(f.FinalURL), SHA256: strings.ToLower(strings.TrimSpace(f.SHA256)),
		PDQ: strings.ToLower(strings.TrimSpace(f.PDQ)), ContentType: strings.TrimSpace(f.ContentType), Note: strings.TrimSpace(f.Note), Source: "analyst"}
	for _, u := range []struct{ field, v string }{{"url", e.URL}, {"final_url", e.FinalURL}} {
		if u.v == "" && u.field == "final_url" {
			continue
		}
		if _, err := canon.URL(u.v); err != nil {
			verr = append(verr, hotline.FieldError{Field: u.field, Key: "desk.err.evidence_url", Msg: err.Error()})
		}
	}
	if s := strings.TrimSpace(f.HTTPStatus); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 || n > 599 {
			verr = append(verr, hotline.FieldError{Field: "http_status", Key: "desk.err.http_status", Msg: "an HTTP status is 100 to 599"})
		}
		e.HTTPStatus = n
	}
	hexOf := func(field, v string) {
		if v == "" {
			return
		}
		if b, err := hex.DecodeString(v); err != nil || len(b) != 32 {
			verr = append(verr, hotline.FieldError{Field: field, Key: "desk.err.hash", Msg: "64 hexadecimal digits"})
		}
	}
	hexOf("sha256", e.SHA256)
	hexOf("pdq", e.PDQ)
	if len(e.ContentType) > 200 || len([]rune(e.Note)) > 2000 {
		verr = append(verr, hotline.FieldError{Field: "note", Key: "desk.err.too_long", Msg: "too long"})
	}
	return e, verr
}

// deskAttachment serves one screenshot to an analyst: opened and audited by the service, never
// cached, only as an image type the intake produced.
func (u *UI) deskAttachment(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		u.fail(w, r, store.ErrNotFound)
		return
	}
	a, data, err := u.svc.Attachment(r.Context(), actor(r), id)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	ct := a.ContentType
	disp := "inline"
	if ct != "image/png" && ct != "image/jpeg" {
		// Intake stores only re-encoded PNG and JPEG; anything else is not rendered here.
		ct, disp = "application/octet-stream", "attachment"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", fmt.Sprintf("%s; filename=\"attachment-%d\"", disp, a.ID))
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// scanCheckReason words a notice re-check's reason code (scanner.Check.Reason, as stored in
// notice_item_checks and in scanner.ReappearedDetail): why the content counts as gone, as
// still there, or why the check could not tell. An unknown code is shown as it is.
func scanCheckReason(cat i18n.Catalog, code string) string {
	if p, ok := strings.CutPrefix(code, "marker:"); ok {
		return fmt.Sprintf(cat.T("scan.checkf.marker"), scanPlatform(p))
	}
	if v := deskT(cat, "scan.check."+code, ""); v != "" {
		return v
	}
	if st, ok := strings.CutPrefix(code, "http_"); ok && deskDigits(st) {
		return fmt.Sprintf(cat.T("scan.checkf.http"), st)
	}
	return code
}

// scanPlatforms are the platforms of scanner.DefaultRemovalMarkers as their owners write them.
var scanPlatforms = map[string]string{"tiktok": "TikTok", "facebook": "Facebook", "instagram": "Instagram", "youtube": "YouTube", "x": "X"}

func scanPlatform(p string) string {
	if v, ok := scanPlatforms[p]; ok {
		return v
	}
	return p
}

// scanCategory names a suggestion's category: the classifier's own (scan.cat.*), else a
// filter category as the network list names it (a host listed as "hotline" or "drugs"), else
// the code itself.
func scanCategory(cat i18n.Catalog, c string) string {
	return deskT(cat, "scan.cat."+c, deskT(cat, "category."+c, c))
}

// The fixed forms the store writes in case histories (store/notices.go, store/hotline.go).
var (
	deskNoticeDrafted = regexp.MustCompile(`^notice (\S+) drafted$`)
	deskNoticeSent    = regexp.MustCompile(`^notice (\S+) sent to (.+)$`)
	deskClassified    = regexp.MustCompile(`^([A-Z]+\.[A-Z_]+), severity (\d), P(\d)((?:, [a-z_]+)*)$`)
)

// deskStoredDetail words a history detail the store wrote in English; ok is false for any
// other text, which is shown as it is.
func deskStoredDetail(cat i18n.Catalog, d string) (string, bool) {
	if m := deskNoticeDrafted.FindStringSubmatch(d); m != nil {
		return fmt.Sprintf(cat.T("desk.detail.notice_drafted"), m[1]), true
	}
	if m := deskNoticeSent.FindStringSubmatch(d); m != nil {
		return fmt.Sprintf(cat.T("desk.detail.notice_sent"), m[1], m[2]), true
	}
	if m := deskClassified.FindStringSubmatch(d); m != nil {
		out := fmt.Sprintf(cat.T("desk.detail.classified"), deskT(cat, "harm."+m[1], m[1]), m[2], m[3])
		for f := range strings.SplitSeq(strings.TrimPrefix(m[4], ", "), ", ") {
			if f != "" {
				out += ", " + deskT(cat, "flag."+f, f)
			}
		}
		return out, true
	}
	return "", false
}

// deskScore writes a classifier score with two decimals in the page's language (0,68 in
// Vietnamese, 0.68 in English).
func deskScore(cat i18n.Catalog, v float64) string {
	return deskDecimal(cat, strconv.FormatFloat(v, 'f', 2, 64))
}

// deskDecimal puts the language's decimal mark (desk.decimal) in a number written with a point.
func deskDecimal(cat i18n.Catalog, num string) string {
	return strings.Replace(num, ".", cat.T("desk.decimal"), 1)
}

// deskURL is a reported link with whether the page offers to open it.
type deskURL struct {
	store.ReportURL
	// Openable is false for a link to an address that is not on the public internet
	// (loopback, private, link-local…: "localhost", 10.0.0.1): opened from the office, it
	// reaches the hotline's own network, not the content. The scanner refuses them too.
	Openable bool
}

func deskURLs(us []store.ReportURL) []deskURL {
	out := make([]deskURL, len(us))
	for i, u := range us {
		out[i] = deskURL{ReportURL: u, Openable: deskPublicHost(u.Host)}
	}
	return out
}

// deskPublicHost says whether host can be a page on the public internet: a name (what it
// resolves to is the scanner's guard's business) other than localhost, or a global unicast
// address outside the private ranges.
func deskPublicHost(host string) bool {
	h := strings.TrimSpace(host)
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
	if h == "" || h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return false
	}
	a, err := netip.ParseAddr(h)
	if err != nil {
		return true
	}
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate()
}
