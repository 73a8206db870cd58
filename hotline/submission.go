package hotline

import (
	"net/netip"
	"strings"
)

// Submission is one report as it reaches Service.Submit, already decoded and validated by
// DecodeForm, DecodeJSON or the operator form: every channel goes through the same checks.
type Submission struct {
	Channel  string // taxonomy.Channels
	Language string // "vi" or "en": the language the reporter used
	Harm     string // taxonomy code, e.g. "VIO.BULLY"
	Choice   string // the public form's choice id, "" for other channels

	URLs      []string // as given (trimmed); canonicalised by Submit
	Platform  string   // "facebook", "tiktok", "zalo", ... or free text
	Account   string   // handle or id of the reported account
	WhereKind string   // taxonomy.WhereKinds
	When      string   // when it happened, free text ("hôm qua", "2026-11-20")

	Description string

	DangerNow        bool
	SelfHarmRisk     bool
	ExtortionOngoing bool

	ReporterType  string // taxonomy.ReporterTypes, "" when not said
	AgeBand       string // taxonomy.AgeBands, "" when not said
	Province      string
	Contact       string // optional; sealed at rest, never logged
	WantsFeedback bool
	LegalBasis    string // "consent", "vital_interest" (danger now), "public_task" (operator)

	Screenshots []Image // re-encoded, metadata stripped

	// Abuse control and provenance; never shown to partners.
	Client         netip.Addr // hashed with a server secret before storage; never stored raw
	OperatorID     int64      // the 111 operator who entered a phone report
	TokenID        int64      // the API token of a partner app
	IdempotencyKey string     // with TokenID: a retried API call returns the first receipt
}

// Image is a screenshot after re-encoding: no metadata survives, only pixels.
type Image struct {
	ContentType   string // image/png or image/jpeg
	Width, Height int
	Data          []byte
}

// Receipt is what the reporter gets back.
type Receipt struct {
	// Ref identifies the report publicly ("KS-7F3K-9Q2M"); StatusCode is the secret that,
	// with Ref, opens the status page. Only a hash of StatusCode is stored: it is shown once.
	Ref        string `json:"ref"`
	StatusCode string `json:"status_code"`
	// Emergency is set when the reporter said a child is in danger now: the receipt shows 111
	// and 113 first.
	Emergency bool `json:"emergency"`
	// Replayed is set when an API call with an idempotency key already seen returned the first
	// receipt again (StatusCode is then empty: it was shown the first time).
	Replayed bool `json:"replayed,omitempty"`
}

// FieldError is one problem with one field, in words for the person who filled it in: Key is
// the i18n key of the message ("report.err.url"), Msg the English text for API clients.
type FieldError struct {
	Field string `json:"field"`
	Key   string `json:"-"`
	Msg   string `json:"message"`
	// Value is the offending value when the page's sentence names it (a translation with %s),
	// for fields where the value is not personal data (a partner's domain).
	Value string `json:"-"`
}

// ValidationError lists every problem of a submission at once, so a child fixes them in one go.
type ValidationError []FieldError

func (v ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid report: ")
	for i, e := range v {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Field + ": " + e.Msg)
	}
	return b.String()
}

// Limits bound what intake accepts (config.Hotline.Intake).
type Limits struct {
	MaxURLs             int
	MaxDescription      int // characters
	MaxField            int // characters of short fields (platform, account, contact...)
	MaxScreenshots      int
	MaxScreenshotBytes  int64
	MaxScreenshotPixels int64
}
