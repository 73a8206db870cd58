package hotline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/hotline/taxonomy"
	"github.com/kidshield/kidshield/store"
)

// ReportView is a report with its sealed fields opened for a staff member.
type ReportView struct {
	*store.Report
	Description string
	// Contact is opened only by CaseView's withContact (an audited, deliberate step).
	Contact      string
	ContactShown bool
	HasContact   bool
}

// EventView is a history line with its note opened.
type EventView struct {
	store.CaseEvent
	Note string
}

// CaseView is everything the case page shows.
type CaseView struct {
	Case     *store.Case
	Stage    string
	Next     []string // states the case may move to
	Reports  []ReportView
	URLs     []store.ReportURL
	Events   []EventView
	Evidence []store.Evidence
}

// CaseView opens a case for a staff member and records the view in the audit log (it shows
// descriptions, notes and, with withContact, reporters' contact details).
func (s *Service) CaseView(ctx context.Context, by Actor, id int64, withContact bool) (*CaseView, error) {
	c, err := s.o.Store.CaseByID(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &CaseView{Case: c, Stage: lifecycle.Stage(c.State), Next: lifecycle.Case.Next(c.State)}
	reports, err := s.o.Store.CaseReports(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, r := range reports {
		rv := ReportView{Report: r, HasContact: r.ContactSealed != ""}
		if rv.Description, err = s.openString(r.DescSealed, aadDescription); err != nil {
			return nil, err
		}
		if withContact && rv.HasContact {
			if rv.Contact, err = s.openString(r.ContactSealed, aadContact); err != nil {
				return nil, err
			}
			rv.ContactShown = true
		}
		v.Reports = append(v.Reports, rv)
	}
	if v.URLs, err = s.o.Store.CaseURLs(ctx, id); err != nil {
		return nil, err
	}
	events, err := s.o.Store.CaseEvents(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		ev := EventView{CaseEvent: e}
		if ev.Note, err = s.openString(e.NoteSealed, aadNote); err != nil {
			return nil, err
		}
		v.Events = append(v.Events, ev)
	}
	if v.Evidence, err = s.o.Store.CaseEvidence(ctx, id); err != nil {
		return nil, err
	}
	action := "case.view"
	if withContact {
		action = "case.view_contact"
	}
	if err := s.o.Store.AppendAudit(ctx, store.AuditEvent{Time: s.o.Now(), Actor: by.Label, Action: action, Object: fmt.Sprintf("case:%d", id)}); err != nil {
		return nil, err
	}
	return v, nil
}

// Attachment opens a screenshot for a staff member (audited). Operators never get here: the
// route admits analysts and supervisors only.
func (s *Service) Attachment(ctx context.Context, by Actor, id int64) (*store.Attachment, []byte, error) {
	a, err := s.o.Store.Attachment(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	data, err := s.o.Sealer.Open(string(a.DataSealed), aadAttachment)
	if err != nil {
		return nil, nil, fmt.Errorf("hotline: open attachment %d: %w", id, err)
	}
	if err := s.o.Store.AppendAudit(ctx, store.AuditEvent{Time: s.o.Now(), Actor: by.Label, Action: "attachment.view", Object: fmt.Sprintf("attachment:%d", id)}); err != nil {
		return nil, nil, err
	}
	return a, data, nil
}

// Change is one staff action on a case, from a form.
type Change struct {
	Version  int64
	To       string
	Assign   *int64
	Classify *store.Classification
	Note     string
	Kind     string
	Detail   string
	// QuietClassify: the change's own entry (Kind, Detail, Note) says what the classification
	// change was, so the history has no separate "classify" entry (store.CaseChange).
	QuietClassify bool
}

// ChangeCase validates and applies a staff action: the transition is checked by the store
// against lifecycle.Case; classification values against the taxonomy; the note is sealed.
func (s *Service) ChangeCase(ctx context.Context, by Actor, id int64, ch Change) (*store.Case, error) {
	var verr ValidationError
	if ch.To != "" && !lifecycle.Case.Valid(ch.To) {
		verr = append(verr, FieldError{Field: "to", Key: "desk.err.state", Msg: fmt.Sprintf("unknown state %q", ch.To)})
	}
	if k := ch.Classify; k != nil {
		if !taxonomy.Valid(k.Harm) {
			verr = append(verr, FieldError{Field: "harm", Key: "report.err.harm", Msg: fmt.Sprintf("unknown harm code %q", k.Harm)})
		}
		if k.Severity < 0 || k.Severity > 5 {
			verr = append(verr, FieldError{Field: "severity", Key: "desk.err.severity", Msg: "severity is 0 (unknown) to 5"})
		}
		if k.Priority < 0 || k.Priority > 4 {
			verr = append(verr, FieldError{Field: "priority", Key: "desk.err.priority", Msg: "priority is P0 to P4"})
		}
		if k.AgeBand != "" && !slices.Contains(taxonomy.AgeBands, k.AgeBand) {
			verr = append(verr, FieldError{Field: "age_band", Key: "report.err.age_band", Msg: fmt.Sprintf("unknown age band %q", k.AgeBand)})
		}
		for _, f := range k.Flags {
			if !slices.Contains(taxonomy.Flags, f) {
				verr = append(verr, FieldError{Field: "flags", Key: "desk.err.flag", Msg: fmt.Sprintf("unknown flag %q", f)})
			}
		}
	}
	note := strings.TrimSpace(ch.Note)
	if n := len([]rune(note)); n > 20000 {
		verr = append(verr, FieldError{Field: "note", Key: "report.err.too_long", Msg: "a note is at most 20000 characters"})
	}
	if len(verr) > 0 {
		return nil, verr
	}
	sealed, err := s.sealString(note, aadNote)
	if err != nil {
		return nil, err
	}
	var due time.Time
	if ch.Classify != nil {
		// A raised priority brings the SLA due time forward (received + the new target); a
		// lowered one keeps the earlier due time: nobody gets more time by reclassifying.
		c, err := s.o.Store.CaseByID(ctx, id)
		if err != nil {
			return nil, err
		}
		if ch.Classify.Priority < c.Priority {
			if d := c.Received.Add(s.o.Config().SLA.For(ch.Classify.Priority)); d.Before(c.SLADue) {
				due = d
			}
		}
	}
	return s.o.Store.ChangeCase(ctx, id, store.CaseChange{ActorID: by.UserID, Actor: by.Label, Version: ch.Version, To: ch.To,
		Assign: ch.Assign, Classify: ch.Classify, NoteSealed: sealed, Kind: ch.Kind, Detail: ch.Detail, Time: s.o.Now(), SLADue: due,
		QuietClassify: ch.QuietClassify})
}

// AddEvidence records what an analyst saw at a URL (hashes and metadata only).
func (s *Service) AddEvidence(ctx context.Context, by Actor, e store.Evidence) (int64, error) {
	if e.Captured.IsZero() {
		e.Captured = s.o.Now()
	}
	// Evidence records what was fetched or seen, exactly: the URL as requested (not its
	// canonical form, which may say https for an http page, or drop parameters), and FinalURL
	// where the fetch ended. Matching by canonical URL canonicalises at the time it compares.
	e.URL = strings.TrimSpace(e.URL)
	e.AddedBy = by.UserID
	return s.o.Store.AddEvidence(ctx, e, by.Label)
}
