package hotline

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/kidshield/kidshield/hotline/canon"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/hotline/taxonomy"
	"github.com/kidshield/kidshield/store"
)

// The closed lists of a notice's fields (labels: "notice.<field>.<value>" in the catalogs).
var (
	NoticeKinds      = []string{"takedown", "referral"}
	NoticeTLPs       = []string{"CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"}
	NoticeRequests   = []string{"remove", "disable", "geo_block", "suspend_account", "preserve", "investigate"}
	NoticeScopes     = []string{"global", "vn"}
	NoticeDetections = []string{"report", "flagger", "crawler"}
	// NoticeAnswerSources are how a partner's answer that staff record arrived (labels
	// "notice.source.<value>"): many partners (police, ministries, small hosts) never log in.
	NoticeAnswerSources = []string{"email", "phone", "letter", "other"}
)

// ErrNoSigner is returned when a notice must be signed and no key was set (SetNoticeSigner).
var ErrNoSigner = errors.New("hotline: no notice signing key is configured")

// PartnerInput is what an administrator enters for a partner.
type PartnerInput struct {
	Name, Kind, Country, Email, Language string
	Domains                              string // comma- or space-separated
	DeadlineH                            int    // 0: the configured default
	Active                               bool
}

func (s *Service) partnerFromInput(in PartnerInput) (store.Partner, error) {
	var verr ValidationError
	p := store.Partner{Name: strings.TrimSpace(in.Name), Kind: in.Kind, Country: strings.ToUpper(strings.TrimSpace(in.Country)),
		Email: strings.TrimSpace(in.Email), Language: in.Language, DeadlineH: in.DeadlineH, Active: in.Active}
	if p.Name == "" || len([]rune(p.Name)) > 200 {
		verr = append(verr, FieldError{Field: "name", Key: "partner.err.name", Msg: "a name of 1 to 200 characters is required"})
	}
	if !slices.Contains(taxonomy.PartnerKinds, p.Kind) {
		verr = append(verr, FieldError{Field: "kind", Key: "partner.err.kind", Msg: fmt.Sprintf("unknown kind %q", p.Kind)})
	}
	if p.Country == "" {
		p.Country = "VN"
	}
	if len(p.Country) != 2 || strings.Trim(p.Country, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		verr = append(verr, FieldError{Field: "country", Key: "partner.err.country", Msg: "a two-letter country code (VN, SG, US...)"})
	}
	if p.Email != "" {
		if a, err := mail.ParseAddress(p.Email); err != nil || a.Address != p.Email {
			verr = append(verr, FieldError{Field: "email", Key: "partner.err.email", Msg: "not an e-mail address"})
		}
	}
	if p.Language != "vi" && p.Language != "en" {
		verr = append(verr, FieldError{Field: "language", Key: "partner.err.language", Msg: "vi or en"})
	}
	if p.DeadlineH == 0 {
		p.DeadlineH = int(s.o.Config().NoticeDeadline / time.Hour)
	}
	if p.DeadlineH < 1 || p.DeadlineH > 24*90 {
		verr = append(verr, FieldError{Field: "deadline_h", Key: "partner.err.deadline", Msg: "between 1 hour and 90 days"})
	}
	for d := range strings.FieldsFuncSeq(in.Domains, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		n, err := store.NormalizeListValue(store.ListDomain, d)
		if err != nil {
			verr = append(verr, FieldError{Field: "domains", Key: "partner.err.domain", Msg: err.Error(), Value: d})
			continue
		}
		p.Domains = append(p.Domains, n)
	}
	if len(verr) > 0 {
		return p, verr
	}
	return p, nil
}

// CreatePartner validates and stores a partner.
func (s *Service) CreatePartner(ctx context.Context, by Actor, in PartnerInput) (int64, error) {
	p, err := s.partnerFromInput(in)
	if err != nil {
		return 0, err
	}
	p.Created = s.o.Now()
	return s.o.Store.CreatePartner(ctx, p, by.Label)
}

// UpdatePartner validates and saves a partner.
func (s *Service) UpdatePartner(ctx context.Context, by Actor, id int64, in PartnerInput) error {
	p, err := s.partnerFromInput(in)
	if err != nil {
		return err
	}
	return s.o.Store.UpdatePartner(ctx, id, p, by.Label)
}

// NoticeInput is a draft notice from the form.
type NoticeInput struct {
	PartnerID   int64
	Kind        string
	Language    string
	Ground      string
	LegalText   string
	Explanation string
	Detection   string
	Automated   bool
	Action      string
	Scope       string
	Preserve    bool
	TLP         string
	DeadlineH   int // 0: the partner's
	URLs        []string
}

// NoticeDraft is what the new-notice form starts from.
type NoticeDraft struct {
	Case      *store.Case
	Partners  []*store.Partner
	Suggested int64 // the partner whose domains cover a URL of the case, 0 when none
	Items     []store.NoticeItem
	Input     NoticeInput
	// Ready: the case is in a state a notice can be drafted in.
	Ready bool
}

// NewNoticeDraft prepares the form: the case's URLs (with first seen and hashes from the
// evidence), the partner suggested by the URLs' hosts and the defaults (TLP AMBER, removal,
// evidence preservation, the partner's deadline).
func (s *Service) NewNoticeDraft(ctx context.Context, caseID int64) (*NoticeDraft, error) {
	c, err := s.o.Store.CaseByID(ctx, caseID)
	if err != nil {
		return nil, err
	}
	d := &NoticeDraft{Case: c, Ready: slices.Contains(store.NoticeCaseStates, c.State)}
	if d.Partners, err = s.o.Store.Partners(ctx, true); err != nil {
		return nil, err
	}
	urls, err := s.o.Store.CaseURLs(ctx, caseID)
	if err != nil {
		return nil, err
	}
	if d.Items, err = s.caseItems(ctx, caseID, nil); err != nil {
		return nil, err
	}
	for _, u := range urls {
		p, err := s.o.Store.PartnerForHost(ctx, u.Host)
		if err != nil {
			return nil, err
		}
		if p != nil {
			d.Suggested = p.ID
			break
		}
	}
	d.Input = NoticeInput{PartnerID: d.Suggested, Kind: "takedown", Language: "vi", Ground: "illegal_vn", Detection: "report",
		Action: "remove", Scope: "global", Preserve: true, TLP: "AMBER"}
	for _, p := range d.Partners {
		if p.ID == d.Suggested {
			d.Input.Language = p.Language
			d.Input.DeadlineH = p.DeadlineH
			d.Input.Kind = noticeKindFor(p.Kind)
		}
	}
	if c.Channel == "crawler" {
		d.Input.Detection, d.Input.Automated = "crawler", true
	}
	for _, it := range d.Items {
		d.Input.URLs = append(d.Input.URLs, it.URL)
	}
	return d, nil
}

// noticeKindFor: police, ministries and other hotlines get a referral, the rest a takedown
// notice.
func noticeKindFor(partnerKind string) string {
	switch partnerKind {
	case "police", "ministry", "hotline":
		return "referral"
	}
	return "takedown"
}

// caseItems returns the case's URLs as notice items, with when a report first named each and
// the hashes the evidence recorded; only keeps the listed URLs unless keep is nil.
func (s *Service) caseItems(ctx context.Context, caseID int64, keep []string) ([]store.NoticeItem, error) {
	urls, err := s.o.Store.CaseURLs(ctx, caseID)
	if err != nil {
		return nil, err
	}
	first, err := s.o.Store.CaseURLFirstSeen(ctx, caseID)
	if err != nil {
		return nil, err
	}
	ev, err := s.o.Store.CaseEvidence(ctx, caseID)
	if err != nil {
		return nil, err
	}
	var out []store.NoticeItem
	for _, u := range urls {
		// The item names the page in its canonical form with the reporter's scheme
		// (store.ReportURL.Fetchable): the canonical form alone says https also for a page
		// served only over http, a link the partner could not open. keep may hold either form.
		if keep != nil && !slices.Contains(keep, u.Canonical) && !slices.Contains(keep, u.Fetchable()) {
			continue
		}
		it := store.NoticeItem{URL: u.Fetchable(), FirstSeen: first[u.Canonical]}
		var hashes []string
		for _, e := range ev {
			// Evidence records URLs as fetched; they match a link by its canonical form.
			if canonical(e.URL) != u.Canonical && canonical(e.FinalURL) != u.Canonical {
				continue
			}
			if e.SHA256 != "" && !slices.Contains(hashes, "sha256:"+e.SHA256) {
				hashes = append(hashes, "sha256:"+e.SHA256)
			}
			if e.PDQ != "" && !slices.Contains(hashes, "pdq:"+e.PDQ) {
				hashes = append(hashes, "pdq:"+e.PDQ)
			}
			if it.ContentType == "" {
				it.ContentType = e.ContentType
			}
			if !e.Captured.IsZero() && (it.FirstSeen.IsZero() || e.Captured.Before(it.FirstSeen)) {
				it.FirstSeen = e.Captured
			}
		}
		it.Hashes = strings.Join(hashes, ",")
		out = append(out, it)
	}
	return out, nil
}

// CreateNotice validates a draft and stores it (state draft). The case must be actionable, in
// second review, referred or monitored.
func (s *Service) CreateNotice(ctx context.Context, by Actor, caseID int64, in NoticeInput) (int64, error) {
	c, err := s.o.Store.CaseByID(ctx, caseID)
	if err != nil {
		return 0, err
	}
	var verr ValidationError
	if !slices.Contains(store.NoticeCaseStates, c.State) {
		verr = append(verr, FieldError{Field: "case", Key: "notice.err.case_state", Msg: store.ErrCaseNotReady.Error()})
	}
	var partner *store.Partner
	if in.PartnerID == 0 {
		verr = append(verr, FieldError{Field: "partner", Key: "notice.err.partner", Msg: "choose a recipient"})
	} else if partner, err = s.o.Store.PartnerByID(ctx, in.PartnerID); errors.Is(err, store.ErrNotFound) || (err == nil && !partner.Active) {
		verr = append(verr, FieldError{Field: "partner", Key: "notice.err.partner", Msg: "choose an active recipient"})
	} else if err != nil {
		return 0, err
	}
	check := func(field, v string, list []string) {
		if !slices.Contains(list, v) {
			verr = append(verr, FieldError{Field: field, Key: "notice.err.choice", Msg: fmt.Sprintf("%s: %q is not one of %v", field, v, list)})
		}
	}
	check("kind", in.Kind, NoticeKinds)
	check("ground", in.Ground, taxonomy.Ground)
	check("action", in.Action, NoticeRequests)
	check("scope", in.Scope, NoticeScopes)
	check("tlp", in.TLP, NoticeTLPs)
	check("detection", in.Detection, NoticeDetections)
	check("language", in.Language, []string{"vi", "en"})
	in.LegalText, in.Explanation = strings.TrimSpace(in.LegalText), strings.TrimSpace(in.Explanation)
	if len([]rune(in.LegalText)) > 5000 || len([]rune(in.Explanation)) > 5000 {
		verr = append(verr, FieldError{Field: "explanation", Key: "report.err.too_long", Msg: "at most 5000 characters"})
	}
	if in.DeadlineH == 0 && partner != nil {
		in.DeadlineH = partner.DeadlineH
	}
	if in.DeadlineH == 0 {
		in.DeadlineH = int(s.o.Config().NoticeDeadline / time.Hour)
	}
	if in.DeadlineH < 1 || in.DeadlineH > 24*90 {
		verr = append(verr, FieldError{Field: "deadline_h", Key: "partner.err.deadline", Msg: "between 1 hour and 90 days"})
	}
	keep := in.URLs
	if keep == nil {
		keep = []string{} // nothing checked means nothing, not everything
	}
	items, err := s.caseItems(ctx, caseID, keep)
	if err != nil {
		return 0, err
	}
	if len(items) == 0 {
		verr = append(verr, FieldError{Field: "urls", Key: "notice.err.items", Msg: "check at least one URL of the case"})
	}
	if len(verr) > 0 {
		return 0, verr
	}
	now := s.o.Now()
	return s.o.Store.CreateNotice(ctx, store.NewNotice{Ref: fmt.Sprintf("N%s-%s", now.UTC().Format("060102"), randomCode(6)), CaseID: caseID,
		PartnerID: in.PartnerID, Kind: in.Kind, Language: in.Language, Ground: in.Ground, LegalText: in.LegalText, Explanation: in.Explanation,
		Category: c.Harm, Detection: in.Detection, Automated: in.Automated, Action: in.Action, Scope: in.Scope, Preserve: in.Preserve,
		TLP: in.TLP, DeadlineH: in.DeadlineH, Items: items, ActorID: by.UserID, Actor: by.Label, Time: now})
}

func (s *Service) changeNotice(ctx context.Context, by Actor, id int64, ch store.NoticeChange) (*store.Notice, error) {
	ch.ActorID, ch.Actor, ch.Time = by.UserID, by.Label, s.o.Now()
	return s.o.Store.ChangeNotice(ctx, id, ch)
}

// ApproveNotice is the second person's approval of a draft (never its author's).
func (s *Service) ApproveNotice(ctx context.Context, by Actor, id int64) (*store.Notice, error) {
	return s.changeNotice(ctx, by, id, store.NoticeChange{To: lifecycle.NoticeApproved})
}

// SendNotice sends an approved notice: the takedown clock starts, the deadline is set from the
// notice's hours, the notice is signed, and an actionable case or one in second review becomes
// referred. Sending an actioned notice again (verification found the content still there)
// sets a new deadline.
func (s *Service) SendNotice(ctx context.Context, by Actor, id int64) (*store.Notice, error) {
	k := s.NoticeSigner()
	if k == nil {
		return nil, ErrNoSigner
	}
	return s.changeNotice(ctx, by, id, store.NoticeChange{To: lifecycle.NoticeSent, Sign: func(n *store.Notice) (string, error) {
		b, err := k.Sign(s.noticeDocument(n, k.KeyID()))
		if err != nil {
			return "", err
		}
		var d struct {
			Signature string `json:"signature"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			return "", err
		}
		return d.Signature, nil
	}})
}

// VerifyRemoval records the analyst's check: gone is true when the content is no longer there
// (actioned → verified), false when it still is (actioned → sent again, with a new deadline).
func (s *Service) VerifyRemoval(ctx context.Context, by Actor, id int64, gone bool) (*store.Notice, error) {
	if !gone {
		return s.SendNotice(ctx, by, id)
	}
	return s.changeNotice(ctx, by, id, store.NoticeChange{To: lifecycle.NoticeVerified})
}

// CloseNotice closes a verified notice.
func (s *Service) CloseNotice(ctx context.Context, by Actor, id int64) (*store.Notice, error) {
	return s.changeNotice(ctx, by, id, store.NoticeChange{To: lifecycle.NoticeClosed})
}

// WithdrawNotice withdraws a notice (a draft, an approved one, or a disputed or escalated one).
func (s *Service) WithdrawNotice(ctx context.Context, by Actor, id int64) (*store.Notice, error) {
	return s.changeNotice(ctx, by, id, store.NoticeChange{To: lifecycle.NoticeWithdrawn})
}

// EscalateNotice escalates an overdue, reminded or disputed notice (to the ministry or police,
// outside the system).
func (s *Service) EscalateNotice(ctx context.Context, by Actor, id int64) (*store.Notice, error) {
	return s.changeNotice(ctx, by, id, store.NoticeChange{To: lifecycle.NoticeEscalated})
}

// PartnerAcknowledge records that the partner received the notice. partnerID is the caller's
// organisation: a notice to another partner is ErrNotFound.
func (s *Service) PartnerAcknowledge(ctx context.Context, by Actor, partnerID, id int64) (*store.Notice, error) {
	if partnerID == 0 {
		return nil, store.ErrNotFound
	}
	return s.changeNotice(ctx, by, id, store.NoticeChange{To: lifecycle.NoticeAcknowledged, PartnerID: partnerID})
}

// PartnerRemoved records what the partner did (taxonomy.NoticeActions) and when (zero: now).
func (s *Service) PartnerRemoved(ctx context.Context, by Actor, partnerID, id int64, action string, at time.Time) (*store.Notice, error) {
	if partnerID == 0 {
		return nil, store.ErrNotFound
	}
	var verr ValidationError
	checkAction(&verr, action)
	s.checkAnswerTime(&verr, at, false)
	if len(verr) > 0 {
		return nil, verr
	}
	return answerErr(s.changeNotice(ctx, by, id, store.NoticeChange{To: lifecycle.NoticeActioned, PartnerID: partnerID, ActionTaken: action, AnswerAt: at}))
}

// PartnerDispute records the partner's refusal with its reason.
func (s *Service) PartnerDispute(ctx context.Context, by Actor, partnerID, id int64, reason string) (*store.Notice, error) {
	if partnerID == 0 {
		return nil, store.ErrNotFound
	}
	var verr ValidationError
	reason = strings.TrimSpace(reason)
	if checkReason(&verr, reason); len(verr) > 0 {
		return nil, verr
	}
	return s.changeNotice(ctx, by, id, store.NoticeChange{To: lifecycle.NoticeDisputed, PartnerID: partnerID, Response: reason})
}

// Answers a partner gave outside the system (by e-mail, phone or letter) are recorded by staff
// through the same transitions as the partner view's, with the time the partner answered (so
// the takedown clock is the partner's, not the typist's) and the source in the history.

// RecordAcknowledged records that the partner confirmed receipt at the time given, by source
// (NoticeAnswerSources).
func (s *Service) RecordAcknowledged(ctx context.Context, by Actor, id int64, source string, at time.Time) (*store.Notice, error) {
	var verr ValidationError
	checkSource(&verr, source)
	s.checkAnswerTime(&verr, at, true)
	if len(verr) > 0 {
		return nil, verr
	}
	return answerErr(s.changeNotice(ctx, by, id, store.NoticeChange{To: lifecycle.NoticeAcknowledged, AnswerAt: at, Source: source}))
}

// RecordActioned records what the partner said it did (taxonomy.NoticeActions) and when.
func (s *Service) RecordActioned(ctx context.Context, by Actor, id int64, source, action string, at time.Time) (*store.Notice, error) {
	var verr ValidationError
	checkSource(&verr, source)
	checkAction(&verr, action)
	s.checkAnswerTime(&verr, at, true)
	if len(verr) > 0 {
		return nil, verr
	}
	return answerErr(s.changeNotice(ctx, by, id, store.NoticeChange{To: lifecycle.NoticeActioned, ActionTaken: action, AnswerAt: at, Source: source}))
}

// RecordDispute records the partner's dispute or refusal with its reason.
func (s *Service) RecordDispute(ctx context.Context, by Actor, id int64, source, reason string) (*store.Notice, error) {
	var verr ValidationError
	checkSource(&verr, source)
	reason = strings.TrimSpace(reason)
	checkReason(&verr, reason)
	if len(verr) > 0 {
		return nil, verr
	}
	return s.changeNotice(ctx, by, id, store.NoticeChange{To: lifecycle.NoticeDisputed, Response: reason, Source: source})
}

func checkSource(verr *ValidationError, source string) {
	if !slices.Contains(NoticeAnswerSources, source) {
		*verr = append(*verr, FieldError{Field: "source", Key: "notice.err.source", Msg: fmt.Sprintf("%q is not one of %v", source, NoticeAnswerSources)})
	}
}

func checkAction(verr *ValidationError, action string) {
	if !slices.Contains(taxonomy.NoticeActions, action) {
		*verr = append(*verr, FieldError{Field: "action", Key: "notice.err.action", Msg: fmt.Sprintf("%q is not one of %v", action, taxonomy.NoticeActions)})
	}
}

// checkAnswerTime refuses an answer time in the future (and a missing one when required). That
// it is not before the sending is the store's check, made on the notice as it is in the
// transaction (answerErr).
func (s *Service) checkAnswerTime(verr *ValidationError, at time.Time, required bool) {
	switch {
	case at.IsZero() && required:
		*verr = append(*verr, FieldError{Field: "at", Key: "notice.err.time_required", Msg: "give the time the partner answered"})
	case at.After(s.o.Now()):
		*verr = append(*verr, FieldError{Field: "at", Key: "notice.err.future", Msg: "the time of the answer cannot be in the future"})
	}
}

func checkReason(verr *ValidationError, reason string) {
	if reason == "" || len([]rune(reason)) > 5000 {
		*verr = append(*verr, FieldError{Field: "reason", Key: "notice.err.reason", Msg: "give a reason (at most 5000 characters)"})
	}
}

// answerErr turns the store's refusal of an answer time into a field error.
func answerErr(n *store.Notice, err error) (*store.Notice, error) {
	if errors.Is(err, store.ErrAnswerTime) {
		return nil, ValidationError{{Field: "at", Key: "notice.err.answer_time", Msg: store.ErrAnswerTime.Error()}}
	}
	return n, err
}

// PartnerNotice returns a notice addressed to partnerID; any other is ErrNotFound (a partner
// must not learn that another partner's notice exists).
func (s *Service) PartnerNotice(ctx context.Context, by Actor, partnerID, id int64) (*store.Notice, error) {
	n, err := s.o.Store.NoticeByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if partnerID == 0 || n.PartnerID != partnerID || n.State == lifecycle.NoticeDraft || n.State == lifecycle.NoticeApproved ||
		(n.State == lifecycle.NoticeWithdrawn && n.Sent.IsZero()) {
		return nil, fmt.Errorf("notice %d: %w", id, store.ErrNotFound)
	}
	if err := s.o.Store.AppendAudit(ctx, store.AuditEvent{Time: s.o.Now(), Actor: by.Label, Action: "notice.partner_view", Object: fmt.Sprintf("notice:%d", id)}); err != nil {
		return nil, err
	}
	return n, nil
}

// PartnerNotices lists the notices sent to a partner (never drafts), newest first.
func (s *Service) PartnerNotices(ctx context.Context, partnerID int64) ([]*store.Notice, error) {
	if partnerID == 0 {
		return nil, nil
	}
	var states []string
	for _, st := range lifecycle.Notice.States() {
		if st != lifecycle.NoticeDraft && st != lifecycle.NoticeApproved {
			states = append(states, st)
		}
	}
	list, _, err := s.o.Store.Notices(ctx, store.NoticeFilter{PartnerID: partnerID, States: states, Limit: 1000})
	if err != nil {
		return nil, err
	}
	out := list[:0]
	for _, n := range list {
		if n.State != lifecycle.NoticeWithdrawn || !n.Sent.IsZero() {
			out = append(out, n)
		}
	}
	return out, nil
}

// NoticeView is what the staff notice page shows.
type NoticeView struct {
	Notice  *store.Notice
	History []store.AuditEntry
	Next    []string
	Overdue bool
	// TimeToRemoval is sent → actioned (0 until actioned).
	TimeToRemoval time.Duration
	KeyID         string
}

// NoticeView opens a notice for staff.
func (s *Service) NoticeView(ctx context.Context, id int64) (*NoticeView, error) {
	n, err := s.o.Store.NoticeByID(ctx, id)
	if err != nil {
		return nil, err
	}
	h, err := s.o.Store.NoticeHistory(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &NoticeView{Notice: n, History: h, Next: lifecycle.Notice.Next(n.State), Overdue: n.Overdue(s.o.Now()), TimeToRemoval: n.TimeToRemoval()}
	if k := s.NoticeSigner(); k != nil {
		v.KeyID = k.KeyID()
	}
	return v, nil
}

// NoticeSweep is the deadline job (run every minute): sent and acknowledged notices past their
// deadline become overdue; overdue and reminded ones get a reminder every ReminderEvery. Notices
// of a case that is closed, purged or not actionable are skipped (store.SweepNotices): the
// hotline no longer asks anything of the partner there.
func (s *Service) NoticeSweep(ctx context.Context, now time.Time) (overdue, reminded int, err error) {
	every := s.o.Config().ReminderEvery
	if every <= 0 {
		every = 24 * time.Hour
	}
	overdue, reminded, err = s.o.Store.SweepNotices(ctx, now, every, System.Label)
	if err == nil && (overdue > 0 || reminded > 0) {
		s.o.Logger.Info("notice deadlines", "overdue", overdue, "reminded", reminded)
	}
	return overdue, reminded, err
}

// IssuerName is the hotline's name as the issuer of notices (config hotline.issuer_name).
func (s *Service) IssuerName() string {
	if n := strings.TrimSpace(s.o.Config().IssuerName); n != "" {
		return n
	}
	return "kidshield hotline"
}

// NoticeDocument is a notice as it leaves the hotline (JSON, signed): after the EU DSA statement
// of reasons and XARF. It holds no reporter data and no case notes.
type NoticeDocument struct {
	Format      string        `json:"format"`
	NoticeID    string        `json:"notice_id"`
	Kind        string        `json:"kind"`
	IssuedAt    string        `json:"issued_at,omitempty"`
	CaseRef     string        `json:"case_reference"`
	Language    string        `json:"language"`
	Issuer      NoticeParty   `json:"issuer"`
	Recipient   NoticeParty   `json:"recipient"`
	Ground      string        `json:"ground"`
	LegalText   string        `json:"legal_text,omitempty"`
	Explanation string        `json:"explanation,omitempty"`
	Category    string        `json:"category"`
	DSACategory string        `json:"dsa_category,omitempty"`
	Items       []NoticeEntry `json:"items"`
	Detection   string        `json:"detection"`
	Automated   bool          `json:"automated_detection"`
	Action      string        `json:"requested_action"`
	Scope       string        `json:"scope"`
	Deadline    string        `json:"deadline,omitempty"`
	DeadlineH   int           `json:"deadline_hours"`
	Preserve    bool          `json:"preserve_evidence"`
	TLP         string        `json:"tlp"`
	KeyID       string        `json:"key_id"`
	Signature   string        `json:"signature,omitempty"`
}

// NoticeParty is the issuer or the recipient of a notice.
type NoticeParty struct {
	Name    string `json:"name,omitempty"`
	Role    string `json:"role"`
	Country string `json:"country,omitempty"`
	URL     string `json:"url,omitempty"`
}

// NoticeEntry is one item of a notice document.
type NoticeEntry struct {
	URL         string   `json:"url"`
	PlatformID  string   `json:"platform_id,omitempty"`
	ContentType string   `json:"content_type,omitempty"`
	FirstSeen   string   `json:"first_seen,omitempty"`
	Hashes      []string `json:"hashes,omitempty"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// noticeDocument builds the document of n: only what is fixed once the notice is sent (state
// is left out, so a signature made at sending stays valid).
func (s *Service) noticeDocument(n *store.Notice, keyID string) NoticeDocument {
	d := NoticeDocument{Format: "kidshield-notice/1", NoticeID: n.Ref, Kind: n.Kind, IssuedAt: rfc3339(n.Sent), CaseRef: n.CaseRef,
		Language: n.Language, Issuer: NoticeParty{Name: s.IssuerName(), Role: "hotline", Country: "VN", URL: s.o.Config().PublicURL},
		Recipient: NoticeParty{Name: n.PartnerName, Role: n.PartnerKind, Country: n.PartnerCountry}, Ground: n.Ground,
		LegalText: n.LegalText, Explanation: n.Explanation, Category: n.Category, Detection: n.Detection, Automated: n.Automated,
		Action: n.Action, Scope: n.Scope, Deadline: rfc3339(n.Deadline), DeadlineH: n.DeadlineH, Preserve: n.Preserve, TLP: n.TLP,
		KeyID: keyID, Items: []NoticeEntry{}}
	if h, ok := taxonomy.Lookup(n.Category); ok {
		d.DSACategory = h.DSA
	}
	for _, it := range n.Items {
		e := NoticeEntry{URL: it.URL, PlatformID: it.PlatformID, ContentType: it.ContentType, FirstSeen: rfc3339(it.FirstSeen)}
		for h := range strings.SplitSeq(it.Hashes, ",") {
			if h = strings.TrimSpace(h); h != "" {
				e.Hashes = append(e.Hashes, h)
			}
		}
		d.Items = append(d.Items, e)
	}
	return d
}

// SignedNotice returns the notice as signed JSON (VerifyNotice checks it with the key published
// at /.well-known/kidshield-notice-key). A notice not yet sent (a draft, or approved and not
// sent) is returned unsigned (no issued_at, an empty key_id): the hotline's signature is what a
// platform trusts, and a signed draft would let one analyst send a notice around without the
// second person's approval.
func (s *Service) SignedNotice(ctx context.Context, id int64) ([]byte, error) {
	n, err := s.o.Store.NoticeByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if n.Sent.IsZero() {
		b, err := json.MarshalIndent(s.noticeDocument(n, ""), "", "  ")
		if err != nil {
			return nil, fmt.Errorf("hotline: notice document: %w", err)
		}
		return append(b, '\n'), nil
	}
	k := s.NoticeSigner()
	if k == nil {
		return nil, ErrNoSigner
	}
	return k.Sign(s.noticeDocument(n, k.KeyID()))
}

// SignedPartnerNotice is SignedNotice for a partner: only its own notices, once sent.
func (s *Service) SignedPartnerNotice(ctx context.Context, by Actor, partnerID, id int64) ([]byte, error) {
	if _, err := s.PartnerNotice(ctx, by, partnerID, id); err != nil {
		return nil, err
	}
	return s.SignedNotice(ctx, id)
}

// NoticePublicKey is what /.well-known/kidshield-notice-key publishes.
type NoticePublicKey struct {
	Algorithm string `json:"algorithm"`
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"` // base64 of the 32-byte key
	PEM       string `json:"pem"`
}

// NoticeKey returns the public key notices are signed with.
func (s *Service) NoticeKey() (NoticePublicKey, error) {
	k := s.NoticeSigner()
	if k == nil {
		return NoticePublicKey{}, ErrNoSigner
	}
	return NoticePublicKey{Algorithm: "Ed25519", KeyID: k.KeyID(), PublicKey: base64.StdEncoding.EncodeToString(k.PublicKey()), PEM: k.PublicPEM()}, nil
}

// canonical is raw's canonical form, or raw itself when it has none (it then matches no link).
func canonical(raw string) string {
	if c, err := canon.URL(raw); err == nil {
		return c.URL
	}
	return raw
}
