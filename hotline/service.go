package hotline

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline/canon"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/hotline/taxonomy"
	"github.com/kidshield/kidshield/store"
)

// Sealer encrypts personal fields before they reach the store (package seal implements it).
// aad names the column, so a value cannot be moved to another column unnoticed.
type Sealer interface {
	Seal(plain []byte, aad string) (string, error)
	Open(sealed, aad string) ([]byte, error)
}

// Additional data of each sealed column (also the names package seal's rotation uses).
const (
	aadDescription = "reports.description_sealed"
	aadContact     = "reports.contact_sealed"
	aadNote        = "case_events.note_sealed"
	aadAttachment  = "attachments.data_sealed"
)

// Options configures a Service.
type Options struct {
	Store  *store.Store
	Sealer Sealer
	// Config returns the current hotline configuration (it may change on reload).
	Config func() *config.Hotline
	// ClientKey keys the hash of reporters' addresses (abuse control without storing them).
	ClientKey []byte
	Now       func() time.Time
	Logger    *slog.Logger
	// OnListChange is called after every commit that changes which network-list entries block
	// (approve, delist, disable...), so the filter can reload within seconds.
	OnListChange func()
	// NoticeSigner signs takedown notices (LoadNoticeSigner); without it notices cannot be sent.
	NoticeSigner *NoticeSigner
	// OnReport is called after a new report with URLs is committed (not for a replayed one),
	// so the scanner can queue its URLs. It must not block for long: it runs on the request.
	OnReport func(ctx context.Context, r ReportEvent)
}

// ReportEvent is what OnReport receives: the committed report's case and its URLs, as given
// and canonical (the canonical form is a dedup key, not always the address to fetch: it may
// have turned http into https).
type ReportEvent struct {
	CaseID    int64
	CaseRef   string
	ReportRef string
	URLs      []store.ReportURL
	Duplicate bool // the report joined an open case
}

// Service is the hotline's domain API: every page, the JSON API and the jobs go through it.
type Service struct {
	o Options
}

// New returns a Service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{o: o}
}

// Store returns the service's store (for pages that only read).
func (s *Service) Store() *store.Store { return s.o.Store }

// Config returns the current hotline configuration.
func (s *Service) Config() *config.Hotline { return s.o.Config() }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.o.Now() }

// Limits returns the intake limits of the current configuration.
func (s *Service) Limits() Limits {
	in := s.o.Config().Intake
	return Limits{MaxURLs: in.MaxURLs, MaxDescription: in.MaxDescription, MaxField: 200, MaxScreenshots: in.MaxScreenshots,
		MaxScreenshotBytes: in.MaxScreenshotBytes, MaxScreenshotPixels: in.MaxScreenshotPixels}
}

// Actor is who acts, for the case history and the audit log.
type Actor struct {
	UserID int64
	Label  string // "user:3:lan", "token:2:app", "anonymous", "system"
}

// System is the actor of jobs (reminders, purge).
var System = Actor{Label: "system"}

// Submit stores a report from any channel: canonical URLs, dedup against open cases, priority
// and SLA from the taxonomy, personal fields sealed. It returns once the report is committed.
func (s *Service) Submit(ctx context.Context, sub Submission, by Actor) (Receipt, error) {
	now := s.o.Now()
	var urls []store.ReportURL
	var verr ValidationError
	seen := map[string]bool{}
	for i, raw := range sub.URLs {
		c, err := canon.URL(raw)
		if err != nil {
			verr = append(verr, FieldError{Field: fmt.Sprintf("urls[%d]", i), Key: "report.err.url", Msg: err.Error()})
			continue
		}
		if !seen[c.URL] {
			seen[c.URL] = true
			urls = append(urls, store.ReportURL{Raw: raw, Canonical: c.URL, Host: c.Host})
		}
	}
	if !taxonomy.Valid(sub.Harm) {
		verr = append(verr, FieldError{Field: "harm", Key: "report.err.harm", Msg: "unknown harm code " + fmt.Sprintf("%q", sub.Harm)})
	}
	if len(verr) > 0 {
		return Receipt{}, verr
	}
	prio := taxonomy.Priority(sub.Harm, taxonomy.Urgency{DangerNow: sub.DangerNow, SelfHarmRisk: sub.SelfHarmRisk, ExtortionOngoing: sub.ExtortionOngoing})
	code := randomCode(12)
	nr := store.NewReport{
		Ref: "KS-" + randomCode(8), StatusHash: hashCode(code), Received: now,
		Channel: sub.Channel, Language: sub.Language, Harm: sub.Harm, ReporterType: sub.ReporterType, AgeBand: sub.AgeBand,
		Province: sub.Province, Platform: sub.Platform, Account: sub.Account, WhereKind: sub.WhereKind, When: sub.When,
		DangerNow: sub.DangerNow, SelfHarmRisk: sub.SelfHarmRisk, Extortion: sub.ExtortionOngoing, WantsFeedback: sub.WantsFeedback,
		LegalBasis: sub.LegalBasis, OperatorID: sub.OperatorID, TokenID: sub.TokenID, IdemKey: sub.IdempotencyKey,
		URLs: urls, CaseRef: caseRef(now), Priority: prio,
		SLADue: now.Add(s.o.Config().SLA.For(prio)), Actor: by.Label,
	}
	if sub.LegalBasis == "" {
		nr.LegalBasis = "consent"
		if sub.DangerNow {
			nr.LegalBasis = "vital_interest"
		}
	}
	var err error
	if nr.DescSealed, err = s.sealString(sub.Description, aadDescription); err != nil {
		return Receipt{}, err
	}
	if nr.ContactSealed, err = s.sealString(sub.Contact, aadContact); err != nil {
		return Receipt{}, err
	}
	if sub.Client.IsValid() && len(s.o.ClientKey) > 0 {
		m := hmac.New(sha256.New, s.o.ClientKey)
		m.Write(sub.Client.Unmap().AsSlice())
		nr.IPHash = hex.EncodeToString(m.Sum(nil)[:16])
	}
	for _, im := range sub.Screenshots {
		sealed, err := s.o.Sealer.Seal(im.Data, aadAttachment)
		if err != nil {
			return Receipt{}, fmt.Errorf("hotline: seal screenshot: %w", err)
		}
		sum := sha256.Sum256(im.Data)
		nr.Attachments = append(nr.Attachments, store.Attachment{ContentType: im.ContentType, Width: im.Width, Height: im.Height,
			SHA256: hex.EncodeToString(sum[:]), DataSealed: []byte(sealed)})
	}
	res, err := s.o.Store.CreateReport(ctx, nr)
	for try := 0; errors.Is(err, store.ErrRefTaken) && try < 5; try++ {
		nr.Ref, nr.CaseRef = "KS-"+randomCode(8), caseRef(now)
		res, err = s.o.Store.CreateReport(ctx, nr)
	}
	if err != nil {
		return Receipt{}, fmt.Errorf("hotline: submit: %w", err)
	}
	rc := Receipt{Ref: res.ReportRef, StatusCode: formatCode(code), Emergency: sub.DangerNow, Replayed: res.Replayed}
	if s.o.OnReport != nil && !res.Replayed && len(urls) > 0 {
		ev := ReportEvent{CaseID: res.CaseID, CaseRef: res.CaseRef, ReportRef: res.ReportRef, URLs: urls, Duplicate: res.Duplicate}
		// The report is committed whatever happens to the hook, which must not be cut short by
		// a reporter who closes the page.
		s.o.OnReport(context.WithoutCancel(ctx), ev)
	}
	if res.Replayed {
		rc.StatusCode = ""
	}
	if prio == 0 && !res.Replayed {
		// P0 never waits on a queue: it is logged loudly for the on-call supervisor. No personal
		// data: the case reference only.
		s.o.Logger.Warn("P0 report: emergency escalation", "case", res.CaseRef, "duplicate", res.Duplicate, "channel", sub.Channel)
	}
	return rc, nil
}

func (s *Service) sealString(v, aad string) (string, error) {
	if v == "" {
		return "", nil
	}
	out, err := s.o.Sealer.Seal([]byte(v), aad)
	if err != nil {
		return "", fmt.Errorf("hotline: seal %s: %w", aad, err)
	}
	return out, nil
}

func (s *Service) openString(v, aad string) (string, error) {
	if v == "" {
		return "", nil
	}
	b, err := s.o.Sealer.Open(v, aad)
	if err != nil {
		return "", fmt.Errorf("hotline: open %s: %w", aad, err)
	}
	return string(b), nil
}

// caseRef is a staff-facing case reference: the day and 40 random bits, C261126-7F3K9Q2M.
func caseRef(now time.Time) string {
	return "C" + now.UTC().Format("060102") + "-" + strings.ReplaceAll(randomCode(8), "-", "")
}

// Crockford's base32 without I, L, O, U: readable aloud over the phone, no look-alikes.
const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

func randomCode(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%32] // 256 is a multiple of 32: no bias
	}
	if n == 8 {
		return string(b[:4]) + "-" + string(b[4:])
	}
	return string(b)
}

func formatCode(c string) string {
	var parts []string
	for len(c) > 4 {
		parts = append(parts, c[:4])
		c = c[4:]
	}
	return strings.Join(append(parts, c), "-")
}

// normCode accepts a code as a child might type it: any case, spaces or dashes, O for 0, I/L
// for 1.
func normCode(c string) string {
	c = strings.ToUpper(c)
	c = strings.NewReplacer("-", "", " ", "", "O", "0", "I", "1", "L", "1").Replace(c)
	return c
}

// normRef accepts a reference as typed or read aloud: any case, with or without the dashes and
// the KS prefix, O for 0 and I or L for 1 (the alphabet has none of those letters).
func normRef(ref string) string {
	c := strings.ToUpper(strings.TrimSpace(ref))
	c = strings.TrimPrefix(strings.TrimPrefix(c, "KS"), "-")
	c = normCode(c)
	if len(c) != 8 {
		return strings.ToUpper(strings.TrimSpace(ref))
	}
	return "KS-" + c[:4] + "-" + c[4:]
}

func hashCode(code string) string {
	h := sha256.Sum256([]byte("kidshield-status:" + normCode(code)))
	return hex.EncodeToString(h[:])
}

// ErrBadStatusCode is returned when a reference and status code do not match. It does not say
// which of the two was wrong.
var ErrBadStatusCode = errors.New("reference or status code not recognised")

// PublicStatus is what a reporter sees with the reference and status code: the handling stage,
// never details of other reports or of the people handling it.
type PublicStatus struct {
	Ref      string
	Received time.Time
	Stage    string // lifecycle.Stage values
	Closed   bool
	// Removed: a partner acted on at least one notice of the case (content removed, disabled,
	// geo-blocked or the account suspended), as soon as it says so.
	Removed bool
}

// Status returns the public status of a report.
func (s *Service) Status(ctx context.Context, ref, code string) (*PublicStatus, *store.Report, error) {
	r, err := s.o.Store.ReportByRef(ctx, normRef(ref))
	if errors.Is(err, store.ErrNotFound) {
		hashCode(code) // same work either way
		return nil, nil, ErrBadStatusCode
	}
	if err != nil {
		return nil, nil, err
	}
	if subtle.ConstantTimeCompare([]byte(hashCode(code)), []byte(r.StatusHash)) != 1 {
		return nil, nil, ErrBadStatusCode
	}
	st := &PublicStatus{Ref: r.Ref, Received: r.Received, Stage: lifecycle.StageReceive}
	if r.CaseID != 0 {
		c, err := s.o.Store.CaseByID(ctx, r.CaseID)
		if err != nil {
			return nil, nil, err
		}
		st.Stage = lifecycle.Stage(c.State)
		st.Closed = !lifecycle.CaseOpen(c.State)
		if st.Removed, err = s.o.Store.CaseRemoved(ctx, c.ID); err != nil {
			return nil, nil, err
		}
	}
	return st, r, nil
}

// AddInfo lets a reporter add to their report with its reference and status code. The text is
// sealed and joins the case history.
func (s *Service) AddInfo(ctx context.Context, ref, code, text string) error {
	text = strings.TrimSpace(text)
	if text == "" {
		return ValidationError{{Field: "info", Key: "status.err.empty", Msg: "write what you want to add"}}
	}
	if n := len([]rune(text)); n > s.o.Config().Intake.MaxDescription {
		return ValidationError{{Field: "info", Key: "report.err.too_long", Msg: fmt.Sprintf("at most %d characters", s.o.Config().Intake.MaxDescription)}}
	}
	_, r, err := s.Status(ctx, ref, code)
	if err != nil {
		return err
	}
	// A purged case has given up its personal data for good: the purge does not come back for
	// what would be added after it, so nothing is added.
	if c, err := s.o.Store.CaseByID(ctx, r.CaseID); err != nil {
		return err
	} else if c.State == lifecycle.CasePurged {
		return ValidationError{{Field: "info", Key: "status.closed", Msg: "this report is closed and its details were deleted: send a new report"}}
	}
	sealed, err := s.sealString(text, aadNote)
	if err != nil {
		return err
	}
	_, err = s.o.Store.ChangeCase(ctx, r.CaseID, store.CaseChange{Actor: "reporter:" + r.Ref, NoteSealed: sealed, Kind: "reporter_info",
		Detail: "reporter added information", Time: s.o.Now()})
	return err
}
