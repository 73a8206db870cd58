package ui

import (
	"crypto/rand"
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/intake"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/hotline/taxonomy"
	"github.com/kidshield/kidshield/web"
	"github.com/kidshield/kidshield/web/i18n"
)

// publicPages is the public intake: the report form, the receipt, the reporter's status page
// and the JSON API for partner apps. Its rate limiters live as long as the route table.
type publicPages struct {
	u       *UI
	reports *rateLimiter // report submissions per client network
	lookups *rateLimiter // failed status look-ups per client network: stops guessing codes
	api     *rateLimiter // API submissions per token
	sent    *sentForms   // forms already stored: a reload of the receipt does not report twice
}

// statusLookupsPerHour is how many wrong reference/code pairs one client network may try.
const statusLookupsPerHour = 20

func (u *UI) publicRoutes() []web.Route {
	p := &publicPages{u: u, reports: newRateLimiter(), lookups: newRateLimiter(), api: newRateLimiter(), sent: newSentForms()}
	h := func(f http.HandlerFunc) http.Handler { return f }
	return []web.Route{
		{Method: http.MethodGet, Pattern: "/report", Access: web.Public, Handler: h(p.reportForm)},
		{Method: http.MethodPost, Pattern: "/report", Access: web.Public, Handler: h(p.reportSubmit)},
		{Method: http.MethodGet, Pattern: "/status", Access: web.Public, Handler: h(p.statusForm)},
		{Method: http.MethodPost, Pattern: "/status", Access: web.Public, Handler: h(p.statusCheck)},
		{Method: http.MethodPost, Pattern: "/status/info", Access: web.Public, Handler: h(p.statusAddInfo)},
		{Method: http.MethodPost, Pattern: "/api/v1/reports", Access: web.Token(ScopeReportsSubmit), Handler: h(p.apiSubmit)},
		{Method: http.MethodGet, Pattern: "/api/v1/openapi.json", Access: web.Public, Handler: h(p.openAPI)},
	}
}

// ScopeReportsSubmit is the API token scope that may submit reports.
const ScopeReportsSubmit = "reports:submit"

// publicRender renders a public page that must never be cached: forms keep what a child typed
// (contact details included), receipts and status pages show the secret status code.
func (p *publicPages) publicRender(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	w.Header().Set("Cache-Control", "no-store")
	p.u.render(w, r, status, name, data)
}

// --- The report form ---

// reportFormInput is what the reporter typed, kept when the form comes back with errors.
type reportFormInput struct {
	Choice, URLs, Platform, Account, Where, When, Description string
	DangerNow, SelfHarm, Extortion                            bool
	Reporter, AgeBand, Province, Contact                      string
	Feedback, Consent                                         bool
}

func readReportInput(r *http.Request) reportFormInput {
	f := r.PostForm // filled by the decoder's ParseMultipartForm; nil if the body was unreadable
	yes := func(k string) bool { return f.Get(k) == "yes" }
	return reportFormInput{
		Choice: f.Get("choice"), URLs: f.Get("urls"), Platform: f.Get("platform"), Account: f.Get("account"),
		Where: f.Get("where"), When: f.Get("when"), Description: f.Get("description"),
		DangerNow: yes("danger_now"), SelfHarm: yes("self_harm"), Extortion: yes("extortion"),
		Reporter: f.Get("reporter"), AgeBand: f.Get("age_band"), Province: f.Get("province"), Contact: f.Get("contact"),
		Feedback: yes("feedback"), Consent: yes("consent"),
	}
}

type reportChoice struct {
	ID             string
	Shots, Checked bool
}

// reportOption is one <option>: Key is a catalog key for its label, Label a name that is not
// translated (a platform's brand).
type reportOption struct {
	Value, Key, Label string
	Selected          bool
}

// reportFieldErr is one translated message; ID is the id of the field it belongs to, so the
// summary at the top links to it.
type reportFieldErr struct {
	ID, Msg string
}

type reportFormData struct {
	In                                             reportFormInput
	Choices                                        []reportChoice
	Platforms, WhereKinds, ReporterTypes, AgeBands []reportOption
	Errors                                         []reportFieldErr
	Err                                            map[string]*reportFieldErr
	ShotsAgain                                     bool
	Limits                                         hotline.Limits
	ShotInputs                                     []int
	ShotMiB                                        int64
	// Once identifies this copy of the form (hidden field "once"): the same copy sent twice
	// (a reload of the receipt, a double tap) is stored once.
	Once string
}

// reportPlatforms are the platforms children in Viet Nam use most, in the order they use them.
var reportPlatforms = []reportOption{
	{Value: "facebook", Label: "Facebook"}, {Value: "tiktok", Label: "TikTok"}, {Value: "youtube", Label: "YouTube"},
	{Value: "zalo", Label: "Zalo"}, {Value: "instagram", Label: "Instagram"}, {Value: "messenger", Label: "Messenger"},
	{Value: "telegram", Label: "Telegram"}, {Value: "game", Key: "report.platform.game"}, {Value: "other", Key: "report.platform.other"},
}

// reportFields are the form's fields that carry an error message of their own; an error on any
// other field is shown in the summary only.
var reportFields = []string{"choice", "urls", "platform", "where", "account", "description", "when", "screenshot",
	"reporter", "age_band", "province", "contact", "consent"}

// reportFieldAlias maps the names decoders and the service use to the form's field names.
var reportFieldAlias = map[string]string{
	"harm": "choice", "screenshots": "screenshot", "report": "urls", "url": "urls", "where_kind": "where", "reporter_type": "reporter",
	"age": "age_band", "feedback": "contact", "wants_feedback": "contact",
}

func options(values []string, selected string) []reportOption {
	out := make([]reportOption, len(values))
	for i, v := range values {
		out[i] = reportOption{Value: v, Selected: v == selected}
	}
	return out
}

func (p *publicPages) newFormData(in reportFormInput) *reportFormData {
	lim := p.u.svc.Limits()
	d := &reportFormData{In: in, Limits: lim, Err: map[string]*reportFieldErr{}, ShotMiB: max(1, lim.MaxScreenshotBytes>>20),
		Once: publicRandomCode(20)}
	for _, c := range taxonomy.Choices {
		h, _ := taxonomy.Lookup(c.Harm)
		d.Choices = append(d.Choices, reportChoice{ID: c.ID, Shots: h.Screenshots, Checked: c.ID == in.Choice})
	}
	for _, o := range reportPlatforms {
		o.Selected = o.Value == in.Platform
		d.Platforms = append(d.Platforms, o)
	}
	d.WhereKinds = options(taxonomy.WhereKinds, in.Where)
	d.ReporterTypes = options(taxonomy.ReporterTypes, in.Reporter)
	d.AgeBands = options(taxonomy.AgeBands, in.AgeBand)
	for i := range lim.MaxScreenshots {
		d.ShotInputs = append(d.ShotInputs, i+1)
	}
	return d
}

// addErrors translates a validation error next to its fields and into the summary.
func (d *reportFormData) addErrors(cat i18n.Catalog, verr hotline.ValidationError) {
	for _, e := range verr {
		field, _, _ := strings.Cut(e.Field, "[")
		field, _, _ = strings.Cut(field, ".")
		if a, ok := reportFieldAlias[field]; ok {
			field = a
		}
		msg := translateFieldError(cat, e)
		id := "f-" + field
		if !slices.Contains(reportFields, field) {
			id = "errors"
		} else if fe := d.Err[field]; fe != nil {
			if !strings.Contains(fe.Msg, msg) {
				fe.Msg += " " + msg
			}
		} else {
			d.Err[field] = &reportFieldErr{ID: id, Msg: msg}
		}
		if !slices.ContainsFunc(d.Errors, func(x reportFieldErr) bool { return x.ID == id && x.Msg == msg }) {
			d.Errors = append(d.Errors, reportFieldErr{ID: id, Msg: msg})
		}
	}
}

// translateFieldError is a field error in the reader's language; a key no catalog knows falls
// back to a general sentence rather than showing a raw key to a child.
func translateFieldError(cat i18n.Catalog, e hotline.FieldError) string {
	if e.Key != "" {
		if s := cat.T(e.Key); s != e.Key {
			return s
		}
	}
	return cat.T("report.err.generic")
}

func (p *publicPages) reportForm(w http.ResponseWriter, r *http.Request) {
	p.publicRender(w, r, http.StatusOK, "report_form", p.newFormData(reportFormInput{}))
}

// reportBodyLimit is the largest report form accepted: every screenshot at its largest plus
// 1 MiB for the text fields and the multipart framing.
func reportBodyLimit(lim hotline.Limits) int64 {
	return int64(lim.MaxScreenshots)*lim.MaxScreenshotBytes + 1<<20
}

func (p *publicPages) reportSubmit(w http.ResponseWriter, r *http.Request) {
	addr, key := clientNetwork(r)
	if !p.reports.allow(key, p.u.svc.Config().Intake.PerHour(), p.u.svc.Now()) {
		p.tooMany(w, r, "report")
		return
	}
	lim := p.u.svc.Limits()
	r.Body = http.MaxBytesReader(w, r.Body, reportBodyLimit(lim))
	sub, err := intake.DecodeForm(r, lim)
	var verr hotline.ValidationError
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, intake.ErrBot):
		// A robot filled the hidden field: it gets what a person would, so it learns nothing,
		// and nothing is stored. No address, no content in the log.
		p.u.log.Debug("report form: honeypot filled, nothing stored")
		p.publicRender(w, r, http.StatusOK, "report_receipt", reportReceiptData{
			Ref: "KS-" + formatPublicCode(publicRandomCode(8)), Code: formatPublicCode(publicRandomCode(12)),
			Emergency: r.PostForm.Get("danger_now") == "yes"})
		return
	case errors.Is(err, intake.ErrTooLarge), errors.As(err, &tooBig):
		p.problem(w, r, http.StatusRequestEntityTooLarge, "report.toolarge.title", "report.toolarge.msg", "/report")
		return
	case errors.As(err, &verr):
		p.reportInvalid(w, r, verr)
		return
	case err != nil:
		p.u.log.Debug("report form: unreadable", "err", err)
		p.problem(w, r, http.StatusBadRequest, "report.bad.title", "report.bad.msg", "/report")
		return
	}
	once := r.PostForm.Get("once")
	if !validOnce(once) {
		once = "" // an old or hand-made form: no protection against a second send, no harm either
	}
	if ref, dup := p.sent.reserve(once, p.u.svc.Now()); dup {
		p.publicRender(w, r, http.StatusOK, "report_again", reportReceiptData{Ref: ref, Emergency: sub.DangerNow})
		return
	}
	sub.Client = addr
	rc, err := p.u.svc.Submit(r.Context(), sub, actor(r))
	if err != nil {
		p.sent.release(once)
	}
	if errors.As(err, &verr) {
		p.reportInvalid(w, r, verr)
		return
	}
	if err != nil {
		p.u.fail(w, r, err)
		return
	}
	p.sent.done(once, rc.Ref)
	// 200, not 201: every browser shows the page. no-store keeps the code out of the cache; a
	// reload re-posts the same copy of the form, which gets "already sent" and the reference.
	p.publicRender(w, r, http.StatusOK, "report_receipt", reportReceiptData{Ref: rc.Ref, Code: rc.StatusCode, Emergency: rc.Emergency})
}

func (p *publicPages) reportInvalid(w http.ResponseWriter, r *http.Request, verr hotline.ValidationError) {
	in := readReportInput(r)
	d := p.newFormData(in)
	if once := r.PostForm.Get("once"); validOnce(once) {
		d.Once = once // still the same report: nothing was stored
	}
	d.addErrors(i18n.Get(i18n.FromRequest(r)), verr)
	// A browser never sends files back: whatever was chosen must be chosen again. The decoder
	// does not keep files it refused, so the page says it whenever it comes back.
	d.ShotsAgain = true
	p.publicRender(w, r, http.StatusUnprocessableEntity, "report_form", d)
}

// reportReceiptData is the receipt: the reference and the status code, shown once.
type reportReceiptData struct {
	Ref, Code string
	Emergency bool
}

// reportProblemData is a short page with a title, a message and a way back (catalog keys).
type reportProblemData struct {
	Title, Msg, Back string
}

func (p *publicPages) problem(w http.ResponseWriter, r *http.Request, status int, title, msg, back string) {
	p.publicRender(w, r, status, "report_problem", reportProblemData{Title: title, Msg: msg, Back: back})
}

func (p *publicPages) tooMany(w http.ResponseWriter, r *http.Request, what string) {
	w.Header().Set("Retry-After", "600")
	if what == "status" {
		p.problem(w, r, http.StatusTooManyRequests, "status.limited.title", "status.limited.msg", "/status")
		return
	}
	p.problem(w, r, http.StatusTooManyRequests, "report.limited.title", "report.limited.msg", "/report")
}

// --- The reporter's status page ---

type statusFormData struct {
	Ref      string
	NotFound bool
}

type statusStep struct {
	Stage         string
	Done, Current bool
}

type statusShowData struct {
	Ref, Code, Received, Stage string
	Closed, Removed, Added     bool
	Steps                      []statusStep
	Info, InfoErr              string
}

// statusSteps are the stages a reporter sees, in order.
var statusSteps = []string{lifecycle.StageReceive, lifecycle.StageCollect, lifecycle.StageVerify, lifecycle.StageCoordinate, lifecycle.StageDone}

// vietnamTime is UTC+7 all year (no daylight saving), without depending on a tz database.
var vietnamTime = time.FixedZone("ICT", 7*3600)

func publicDate(t time.Time, lang string) string {
	if lang == "en" {
		return t.In(vietnamTime).Format("2 January 2006")
	}
	return t.In(vietnamTime).Format("02/01/2006")
}

func (p *publicPages) statusForm(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("ref")
	if len(ref) > 40 {
		ref = ""
	}
	p.publicRender(w, r, http.StatusOK, "status_form", statusFormData{Ref: ref})
}

// statusParse reads a small public form; the limit keeps a stranger from posting megabytes.
func (p *publicPages) statusParse(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, int64(p.u.svc.Config().Intake.MaxDescription)*12+64<<10)
	if err := r.ParseForm(); err != nil {
		p.problem(w, r, http.StatusBadRequest, "report.bad.title", "report.bad.msg", "/status")
		return false
	}
	return true
}

// statusGuard refuses a client network that made too many wrong guesses; wrongGuess counts one.
func (p *publicPages) statusGuard(w http.ResponseWriter, r *http.Request) (ok bool, wrongGuess func()) {
	_, key := clientNetwork(r)
	now := p.u.svc.Now()
	if !p.lookups.has(key, statusLookupsPerHour, now) {
		p.tooMany(w, r, "status")
		return false, nil
	}
	return true, func() { p.lookups.take(key, statusLookupsPerHour, now) }
}

func (p *publicPages) statusCheck(w http.ResponseWriter, r *http.Request) {
	ok, wrong := p.statusGuard(w, r)
	if !ok || !p.statusParse(w, r) {
		return
	}
	p.statusShow(w, r, http.StatusOK, wrong, statusShowData{})
}

// statusShow looks the report up and shows it; a wrong reference or code gets the same neutral
// answer (404) whichever of the two was wrong.
func (p *publicPages) statusShow(w http.ResponseWriter, r *http.Request, code int, wrong func(), extra statusShowData) {
	ref, sc := strings.TrimSpace(r.PostForm.Get("ref")), strings.TrimSpace(r.PostForm.Get("code"))
	if len(ref) > 40 || len(sc) > 40 {
		ref, sc = "", ""
	}
	st, _, err := p.u.svc.Status(r.Context(), ref, sc)
	if errors.Is(err, hotline.ErrBadStatusCode) {
		wrong()
		p.publicRender(w, r, http.StatusNotFound, "status_form", statusFormData{Ref: ref, NotFound: true})
		return
	}
	if err != nil {
		p.u.fail(w, r, err)
		return
	}
	d := extra
	d.Ref, d.Code, d.Stage, d.Closed, d.Removed = st.Ref, sc, st.Stage, st.Closed, st.Removed
	d.Received = publicDate(st.Received, i18n.FromRequest(r))
	cur := slices.Index(statusSteps, st.Stage)
	for i, s := range statusSteps {
		d.Steps = append(d.Steps, statusStep{Stage: s, Done: i < cur, Current: i == cur})
	}
	p.publicRender(w, r, code, "status_show", d)
}

func (p *publicPages) statusAddInfo(w http.ResponseWriter, r *http.Request) {
	ok, wrong := p.statusGuard(w, r)
	if !ok || !p.statusParse(w, r) {
		return
	}
	ref, sc, text := strings.TrimSpace(r.PostForm.Get("ref")), strings.TrimSpace(r.PostForm.Get("code")), r.PostForm.Get("info")
	err := p.u.svc.AddInfo(r.Context(), ref, sc, text)
	var verr hotline.ValidationError
	switch {
	case errors.Is(err, hotline.ErrBadStatusCode):
		wrong()
		p.publicRender(w, r, http.StatusNotFound, "status_form", statusFormData{Ref: ref, NotFound: true})
	case errors.As(err, &verr):
		cat := i18n.Get(i18n.FromRequest(r))
		var msgs []string
		for _, e := range verr {
			msgs = append(msgs, translateFieldError(cat, e))
		}
		p.statusShow(w, r, http.StatusUnprocessableEntity, wrong, statusShowData{Info: text, InfoErr: strings.Join(msgs, " ")})
	case err != nil:
		p.u.fail(w, r, err)
	default:
		p.statusShow(w, r, http.StatusOK, wrong, statusShowData{Added: true})
	}
}

// --- Helpers shared by the public handlers ---

// sentForms remembers, for a day, which copies of the form (their "once" value) were stored and
// under which reference. It lives in memory: after a restart a reload may store a second
// report, which dedup joins to the same case when it names a link.
type sentForms struct {
	mu    sync.Mutex
	forms map[string]sentForm
}

type sentForm struct {
	ref string // "" while the first send is being stored
	at  time.Time
}

const (
	sentFormsKeep = 24 * time.Hour
	sentFormsMax  = 100_000
)

func newSentForms() *sentForms { return &sentForms{forms: map[string]sentForm{}} }

func validOnce(s string) bool {
	if len(s) != 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(publicCodeAlphabet, rune(s[i])) {
			return false
		}
	}
	return true
}

// reserve marks once as being sent; dup is true (with the first report's reference, "" if it
// is still being stored) when it was sent before.
func (s *sentForms) reserve(once string, now time.Time) (ref string, dup bool) {
	if once == "" {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.forms[once]; ok && now.Sub(f.at) < sentFormsKeep {
		return f.ref, true
	}
	if len(s.forms) >= sentFormsMax {
		for k, f := range s.forms {
			if now.Sub(f.at) >= sentFormsKeep {
				delete(s.forms, k)
			}
		}
		if len(s.forms) >= sentFormsMax {
			clear(s.forms)
		}
	}
	s.forms[once] = sentForm{at: now}
	return "", false
}

// done records the reference of a stored report; release forgets a send that failed, so the
// corrected form can be sent.
func (s *sentForms) done(once, ref string) {
	if once == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.forms[once]; ok {
		f.ref = ref
		s.forms[once] = f
	}
}

func (s *sentForms) release(once string) {
	if once == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.forms, once)
}

// clientNetwork is the caller's address and its rate-limit key: the address for IPv4, the /64
// for IPv6 (one phone or household holds a whole /64, so a per-address limit would be none).
// It reads r.RemoteAddr only: a deployment behind a proxy must set it from the proxy's header.
func clientNetwork(r *http.Request) (netip.Addr, string) {
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		a = ap.Addr()
	} else if b, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		a = b
	}
	a = a.Unmap().WithZone("")
	switch {
	case !a.IsValid():
		return a, "unknown"
	case a.Is6():
		pfx, _ := a.Prefix(64)
		return a, pfx.String()
	default:
		return a, a.String()
	}
}

// publicCodeAlphabet is hotline's: Crockford's base32, so a decoy receipt looks like a real one.
const publicCodeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

func publicRandomCode(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = publicCodeAlphabet[int(b[i])%32]
	}
	return string(b)
}

func formatPublicCode(c string) string {
	var parts []string
	for len(c) > 4 {
		parts = append(parts, c[:4])
		c = c[4:]
	}
	return strings.Join(append(parts, c), "-")
}
