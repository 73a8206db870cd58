package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	auditlog "github.com/kidshield/kidshield/audit"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// The administrator's view of the audit log: newest first, filtered and paged, and the hash
// chain's verification on demand (what `kidshield audit verify` does, without a shell).

// auditPageSize is how many records a page shows.
const auditPageSize = 100

// auditZone is the time the admin pages (the audit log, accounts, API tokens) show and read
// dates in: the hotline works on Vietnam's clock (UTC+7 all year), like the desk.
var auditZone = time.FixedZone("ICT", 7*3600)

const auditDate = "2006-01-02"

type auditRow struct {
	Seq         int64
	Time        string // in auditZone, to the second
	TimeISO     string
	Actor       string
	ActorLogin  string // the login of a "user:N" actor, when there is such an account
	Action      string
	Object      string
	ObjectLogin string
	Detail      string // JSON; "" for {}
}

// auditVerify is the result of a verification run from the page.
type auditVerify struct {
	OK       bool
	Records  int64
	HeadSeq  int64
	HeadHash string
	// BrokenSeq and Reason name the first bad record when the chain is broken.
	BrokenSeq int64
	Reason    string
}

type auditData struct {
	formError
	// The filter as typed, shown again in the form.
	Object, Actor, Action, From, To string
	Before                          int64
	Rows                            []auditRow
	// Query is the filter without the page; VerifyAction carries it to the verification.
	Query, VerifyAction string
	// Older is the next page's URL ("" on the last page); Newest is the first page's when this
	// is a later one.
	Older, Newest string
	Verify        *auditVerify
}

// auditQuery reads the filter from the URL. A value it cannot use is an *InputError.
func auditQuery(q url.Values) (*auditData, store.AuditFilter, error) {
	d := &auditData{
		Object: strings.TrimSpace(q.Get("object")),
		Actor:  strings.TrimSpace(q.Get("actor")),
		Action: strings.TrimSpace(q.Get("action")),
		From:   strings.TrimSpace(q.Get("from")),
		To:     strings.TrimSpace(q.Get("to")),
	}
	f := store.AuditFilter{ObjectPrefix: d.Object, Actor: d.Actor, Action: d.Action, Limit: auditPageSize + 1}
	keep := url.Values{}
	for k, v := range map[string]string{"object": d.Object, "actor": d.Actor, "action": d.Action, "from": d.From, "to": d.To} {
		if v != "" {
			keep.Set(k, v)
		}
	}
	d.Query = keep.Encode()
	d.VerifyAction = withQuery("/admin/audit/verify", d.Query)
	if len(d.Object) > 200 || len(d.Actor) > 200 || len(d.Action) > 100 {
		return d, f, &InputError{"auth.audit.err.long", "a filter value is too long"}
	}
	var err error
	if d.From != "" {
		if f.Since, err = time.ParseInLocation(auditDate, d.From, auditZone); err != nil {
			return d, f, &InputError{"auth.audit.err.date", "dates are YYYY-MM-DD"}
		}
	}
	if d.To != "" {
		var to time.Time
		if to, err = time.ParseInLocation(auditDate, d.To, auditZone); err != nil {
			return d, f, &InputError{"auth.audit.err.date", "dates are YYYY-MM-DD"}
		}
		f.Until = to.AddDate(0, 0, 1) // the whole day named
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return d, f, &InputError{"auth.audit.err.range", "the start date is after the end date"}
	}
	if s := q.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return d, f, &InputError{"auth.audit.err.page", "bad page"}
		}
		d.Before, f.BeforeSeq = n, n
	}
	return d, f, nil
}

// withQuery appends a query string to path.
func withQuery(path, q string) string {
	if q == "" {
		return path
	}
	return path + "?" + q
}

func (m *Manager) auditPage(w http.ResponseWriter, r *http.Request) {
	m.auditRender(w, r, nil)
}

// auditVerifySubmit walks the whole chain and shows the result above the page the form was on
// (its filter rides in the form action's query). POST, not GET: it reads every record, which
// no prefetch or crawler should start.
func (m *Manager) auditVerifySubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	res, err := m.st.VerifyAudit(ctx)
	v := &auditVerify{OK: err == nil, Records: res.Records, HeadSeq: res.HeadSeq, HeadHash: res.HeadHash}
	var be *auditlog.BreakError
	switch {
	case errors.As(err, &be):
		v.BrokenSeq, v.Reason = be.Seq, be.Reason
	case err != nil:
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	m.audit(ctx, web.PrincipalFrom(ctx).Actor(), "audit.verify", "audit_log",
		map[string]any{"ok": v.OK, "records": v.Records, "broken_at": v.BrokenSeq})
	m.auditRender(w, r, v)
}

// auditVerifyGet sends a GET of the verify address (the language switch of the page a
// verification rendered) back to the list it came from.
func (m *Manager) auditVerifyGet(w http.ResponseWriter, r *http.Request) {
	see(w, r, withQuery("/admin/audit", r.URL.RawQuery))
}

func (m *Manager) auditRender(w http.ResponseWriter, r *http.Request, v *auditVerify) {
	ctx := r.Context()
	d, f, err := auditQuery(r.URL.Query())
	d.Verify = v
	if err != nil {
		d.Error = inputKey(err)
		m.render(w, r, http.StatusBadRequest, "admin_audit", d)
		return
	}
	users, err := m.st.Users(ctx)
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	logins := make(map[string]string, len(users))
	for _, u := range users {
		logins[fmt.Sprintf("user:%d", u.ID)] = u.Login
	}
	if f.Actor, err = m.auditActor(r, f.Actor, users); err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	recs, err := m.st.AuditList(ctx, f)
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	if len(recs) > auditPageSize {
		recs = recs[:auditPageSize]
		older := url.Values{}
		if d.Query != "" {
			older, _ = url.ParseQuery(d.Query)
		}
		older.Set("before", strconv.FormatInt(recs[len(recs)-1].Seq, 10))
		d.Older = "/admin/audit?" + older.Encode()
	}
	if d.Before > 0 {
		d.Newest = withQuery("/admin/audit", d.Query)
	}
	for _, rec := range recs {
		t := rec.Time().In(auditZone)
		row := auditRow{Seq: rec.Seq, Time: t.Format("2006-01-02 15:04:05"), TimeISO: t.Format(time.RFC3339),
			Actor: rec.Actor, ActorLogin: logins[rec.Actor], Action: rec.Action, Object: rec.Object, ObjectLogin: logins[rec.Object]}
		if rec.Detail != "{}" {
			row.Detail = rec.Detail
		}
		d.Rows = append(d.Rows, row)
	}
	m.render(w, r, http.StatusOK, "admin_audit", d)
}

// auditActor turns the actor an administrator typed into the one the log records. People and
// tokens are recorded as "user:ID:login" and "token:ID:name" (web.Principal.Actor), and neither
// part after the id ever changes, so "user:3", "token:2" and a bare login ("lan") name one
// actor each. Anything else ("cli", "system:purge", a full actor) is matched as typed.
func (m *Manager) auditActor(r *http.Request, typed string, users []store.User) (string, error) {
	kind, id, ok := strings.Cut(typed, ":")
	n, err := strconv.ParseInt(id, 10, 64)
	numbered := ok && err == nil && n > 0
	switch {
	case typed == "" || typed == "cli" || typed == "anonymous" || typed == "system":
		return typed, nil
	case kind == "user" && numbered, !ok:
		for _, u := range users {
			if (ok && u.ID == n) || (!ok && u.Login == NormalizeLogin(typed)) {
				return fmt.Sprintf("user:%d:%s", u.ID, u.Login), nil
			}
		}
	case kind == "token" && numbered:
		ts, err := m.st.APITokens(r.Context())
		if err != nil {
			return "", err
		}
		for _, t := range ts {
			if t.ID == n {
				return fmt.Sprintf("token:%d:%s", t.ID, t.Name), nil
			}
		}
	}
	return typed, nil
}
