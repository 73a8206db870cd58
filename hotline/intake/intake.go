// Package intake turns what arrives from outside — the public form, the partner API, the 111
// operator's phone form — into a hotline.Submission, and refuses what it cannot trust. Every
// channel ends in one validation function (validate), so a rule holds for all of them.
//
// Everything here is pure: no store, no network. Problems a reporter can fix come back together
// as one hotline.ValidationError (field, i18n key "report.err.*", English message), so a child
// fixes them in one go; problems with the request itself are ErrRequest or ErrTooLarge; a
// filled honeypot is ErrBot.
package intake

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/canon"
	"github.com/kidshield/kidshield/hotline/taxonomy"
)

var (
	// ErrBot: the public form's honeypot field was filled. The handler answers as if the report
	// was stored (a bot learns nothing) and stores nothing.
	ErrBot = errors.New("intake: honeypot filled")
	// ErrRequest: the request is not a form or JSON object intake can read (content type,
	// broken framing, JSON syntax, trailing data). HTTP 400 or 415.
	ErrRequest = errors.New("intake: unreadable request")
	// ErrTooLarge: the body is larger than any valid report under the limits. HTTP 413.
	ErrTooLarge = errors.New("intake: request too large")
)

// Defaults used for a zero field of hotline.Limits (the same as config.Hotline.Intake's).
const (
	DefaultMaxURLs             = 10
	DefaultMaxDescription      = 5000
	DefaultMaxField            = 200
	DefaultMaxScreenshots      = 3
	DefaultMaxScreenshotBytes  = 5 << 20
	DefaultMaxScreenshotPixels = 25_000_000
)

func withDefaults(l hotline.Limits) hotline.Limits {
	if l.MaxURLs <= 0 {
		l.MaxURLs = DefaultMaxURLs
	}
	if l.MaxDescription <= 0 {
		l.MaxDescription = DefaultMaxDescription
	}
	if l.MaxField <= 0 {
		l.MaxField = DefaultMaxField
	}
	if l.MaxScreenshots <= 0 {
		l.MaxScreenshots = DefaultMaxScreenshots
	}
	if l.MaxScreenshotBytes <= 0 {
		l.MaxScreenshotBytes = DefaultMaxScreenshotBytes
	}
	if l.MaxScreenshotPixels <= 0 {
		l.MaxScreenshotPixels = DefaultMaxScreenshotPixels
	}
	return l
}

// ErrorKeys are the i18n keys of every field error intake returns (hotline.FieldError.Key), for
// the catalogs' completeness test.
var ErrorKeys = []string{
	"report.err.base64", "report.err.choice", "report.err.consent", "report.err.control",
	"report.err.duplicate", "report.err.flag", "report.err.harm", "report.err.harm_choice",
	"report.err.json_duplicate", "report.err.json_unknown_field", "report.err.more",
	"report.err.nothing", "report.err.one_line", "report.err.option", "report.err.required",
	"report.err.screenshot_corrupt", "report.err.screenshot_count",
	"report.err.screenshot_not_allowed", "report.err.screenshot_operator",
	"report.err.screenshot_pixels", "report.err.screenshot_size", "report.err.screenshot_type",
	"report.err.too_long", "report.err.type", "report.err.url", "report.err.url_scheme",
	"report.err.url_too_long", "report.err.urls_too_many", "report.err.utf8",
}

// MinDescription is the length (in characters) from which a description alone is a report.
const MinDescription = 10

// APIChannels are the channels a partner API call may name.
var APIChannels = []string{"app", "zalo", "partner_api", "platform_api", "transfer_111"}

// minorBands are the age bands of a child (Law 91/2025: a child's data needs consent).
var minorBands = []string{"under-7", "7-11", "12-15", "16-17"}

type source int

const (
	fromWeb source = iota
	fromAPI
	fromOperator
)

// input is a report as decoded, before validation: strings as received, flags already read.
type input struct {
	src         source
	channel     string
	lang        string
	harm        string
	choice      string
	urls        []string // one entry per line or per field, not yet trimmed
	platform    string
	account     string
	where       string
	when        string
	description string
	dangerNow   bool
	selfHarm    bool
	extortion   bool
	reporter    string
	ageBand     string
	province    string
	contact     string
	feedback    bool
	consent     bool
	shots       []upload
}

// upload is one screenshot as received.
type upload struct {
	declared string // content type the client declared (JSON only; "" when not checked)
	data     []byte
	tooBig   bool // more than MaxScreenshotBytes: data was not kept
}

// problems collects field errors. A field reports at most maxPerField problems, so a hostile
// input cannot make the answer as large as itself.
type problems struct {
	list     hotline.ValidationError
	perField map[string]int
}

const maxPerField = 5

func (p *problems) add(field, key, format string, args ...any) {
	if p.perField == nil {
		p.perField = map[string]int{}
	}
	p.perField[field]++
	switch n := p.perField[field]; {
	case n < maxPerField:
		p.list = append(p.list, hotline.FieldError{Field: field, Key: key, Msg: fmt.Sprintf(format, args...)})
	case n == maxPerField:
		p.list = append(p.list, hotline.FieldError{Field: field, Key: "report.err.more",
			Msg: "more problems with " + field + " not listed"})
	}
}

func (p *problems) has(fields ...string) bool {
	for _, f := range fields {
		if p.perField[f] > 0 {
			return true
		}
	}
	return false
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return p.list
}

// validate is the one place every channel's rules live.
func validate(in *input, lim hotline.Limits, p *problems) (hotline.Submission, error) {
	lim = withDefaults(lim)
	var sub hotline.Submission
	urlsField, shotsField := "urls", "screenshot"

	switch in.src {
	case fromWeb:
		sub.Channel = "web"
	case fromOperator:
		sub.Channel = "phone"
	case fromAPI:
		shotsField = "screenshots"
		switch {
		case in.channel == "":
			p.add("channel", "report.err.required", "channel is required: one of %s", strings.Join(APIChannels, ", "))
		case !slices.Contains(APIChannels, in.channel):
			p.add("channel", "report.err.option", "channel must be one of %s", strings.Join(APIChannels, ", "))
		default:
			sub.Channel = in.channel
		}
	}

	switch in.lang {
	case "":
		sub.Language = "vi"
	case "vi", "en":
		sub.Language = in.lang
	default:
		p.add("lang", "report.err.option", "lang must be vi or en")
	}

	sub.Harm, sub.Choice = harmOf(in, p)

	sub.Platform = p.line("platform", in.platform, lim.MaxField)
	sub.Account = p.line("account", in.account, lim.MaxField)
	sub.When = p.line("when", in.when, lim.MaxField)
	sub.Province = p.line("province", in.province, lim.MaxField)
	sub.Contact = p.line("contact", in.contact, lim.MaxField)
	sub.Description = p.text("description", in.description, lim.MaxDescription)
	sub.WhereKind = p.option("where", in.where, taxonomy.WhereKinds)
	sub.ReporterType = p.option("reporter", in.reporter, taxonomy.ReporterTypes)
	sub.AgeBand = p.option("age_band", in.ageBand, taxonomy.AgeBands)
	sub.DangerNow, sub.SelfHarmRisk, sub.ExtortionOngoing = in.dangerNow, in.selfHarm, in.extortion
	sub.WantsFeedback = in.feedback

	sub.URLs = p.urls(urlsField, in.urls, lim.MaxURLs)

	if in.src == fromOperator && sub.Description == "" && !p.has("description") {
		p.add("description", "report.err.required", "description is required: write down what the caller said")
	}
	if !p.has(urlsField, "platform", "account", "description") && len(sub.URLs) == 0 &&
		(sub.Platform == "" || sub.Account == "") && utf8.RuneCountInString(sub.Description) < MinDescription {
		p.add("report", "report.err.nothing",
			"give at least a link, the platform and account, or a description of %d characters or more", MinDescription)
	}

	child := sub.ReporterType == "child" || slices.Contains(minorBands, sub.AgeBand)
	switch {
	case sub.DangerNow:
		// Law 91/2025 waives consent to protect life or health in an emergency, whoever
		// reports it.
		sub.LegalBasis = "vital_interest"
	case in.src == fromOperator:
		// The caller chose to call the national hotline: its public task is the basis.
		sub.LegalBasis = "public_task"
	default:
		sub.LegalBasis = "consent"
		if child && sub.Contact != "" && !in.consent {
			p.add("consent", "report.err.consent",
				"to keep a child's contact details we need consent: tick the consent box, or leave the contact empty to stay anonymous")
		}
	}

	sub.Screenshots = p.screenshots(shotsField, in, sub.Harm, lim)

	if err := p.err(); err != nil {
		return hotline.Submission{}, err
	}
	return sub, nil
}

// harmOf returns the harm code and the public form's choice id.
func harmOf(in *input, p *problems) (harm, choice string) {
	switch in.src {
	case fromWeb:
		if in.choice == "" {
			p.add("choice", "report.err.choice", "choose what happened")
			return "", ""
		}
		h, ok := taxonomy.ChoiceHarm(in.choice)
		if !ok {
			p.add("choice", "report.err.choice", "choose one of the answers to what happened")
			return "", ""
		}
		return h, in.choice
	case fromOperator:
		if in.harm == "" {
			p.add("harm", "report.err.harm", "harm is required: choose a harm code")
			return "", ""
		}
		if !taxonomy.Valid(in.harm) {
			p.add("harm", "report.err.harm", "unknown harm code")
			return "", ""
		}
		return in.harm, ""
	}
	// The API takes a harm code, a choice, or both when they agree.
	if in.harm == "" && in.choice == "" {
		p.add("harm", "report.err.harm", "harm (a taxonomy code such as VIO.BULLY) or choice is required")
		return "", ""
	}
	if in.harm != "" && !taxonomy.Valid(in.harm) {
		p.add("harm", "report.err.harm", "unknown harm code")
		return "", ""
	}
	if in.choice == "" {
		return in.harm, ""
	}
	h, ok := taxonomy.ChoiceHarm(in.choice)
	if !ok {
		p.add("choice", "report.err.choice", "unknown choice")
		return "", ""
	}
	if in.harm != "" && in.harm != h {
		p.add("harm", "report.err.harm_choice", "harm %s does not match choice %s (%s)", in.harm, in.choice, h)
		return "", ""
	}
	return h, in.choice
}

// urls checks each link with package canon and drops duplicates (same canonical form); it keeps
// the links as given, trimmed: Service.Submit stores raw and canonical side by side.
func (p *problems) urls(field string, raw []string, max int) []string {
	var given []string
	for _, u := range raw {
		// Counting before anything else: 10^4 links cost one error, not 10^4 parses.
		if strings.TrimSpace(u) != "" {
			given = append(given, u)
		}
		if len(given) > max {
			p.add(field, "report.err.urls_too_many", "too many links: at most %d in one report", max)
			return nil
		}
	}
	var out []string
	seen := map[string]bool{}
	for i, u := range given {
		c, err := canon.URL(u)
		if err != nil {
			key := "report.err.url"
			switch {
			case errors.Is(err, canon.ErrScheme):
				key = "report.err.url_scheme"
			case errors.Is(err, canon.ErrTooLong):
				key = "report.err.url_too_long"
			}
			p.add(field, key, "link %d: %s", i+1, strings.TrimPrefix(err.Error(), "canon: "))
			continue
		}
		if !seen[c.URL] {
			seen[c.URL] = true
			out = append(out, strings.TrimSpace(u))
		}
	}
	return out
}

func (p *problems) option(field, v string, allowed []string) string {
	if v == "" {
		return ""
	}
	if !slices.Contains(allowed, v) {
		p.add(field, "report.err.option", "%s must be one of %s", field, strings.Join(allowed, ", "))
		return ""
	}
	return v
}
