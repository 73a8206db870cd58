package ui

import (
	"fmt"
	"net/http"
	"time"

	"github.com/kidshield/kidshield/web"
	"github.com/kidshield/kidshield/web/i18n"
)

// deskRoutes is the staff desk: the queue, the case page and its actions, screenshots, and the
// phone intake of 111 operators. Operators see the queue and take calls; only analysts and
// supervisors open a case, because a case page shows reporters' words and may show media.
func (u *UI) deskRoutes() []web.Route {
	desk := web.Staff(web.RoleOperator, web.RoleAnalyst, web.RoleSupervisor)
	analyst := web.Staff(web.RoleAnalyst, web.RoleSupervisor)
	h := func(f http.HandlerFunc) http.Handler { return f }
	return append([]web.Route{
		{Method: "GET", Pattern: "/desk", Access: desk, Handler: h(u.deskQueue)},
		{Method: "GET", Pattern: "/desk/intake", Access: desk, Handler: h(u.deskIntakeForm)},
		{Method: "POST", Pattern: "/desk/intake", Access: desk, Handler: h(u.deskIntakeSubmit)},
		{Method: "GET", Pattern: "/desk/cases/{id}", Access: analyst, Handler: h(u.deskCase)},
		{Method: "POST", Pattern: "/desk/cases/{id}/contact", Access: analyst, Handler: h(u.deskCaseContact)},
		{Method: "POST", Pattern: "/desk/cases/{id}/reveal", Access: analyst, Handler: h(u.deskCaseReveal)},
		{Method: "POST", Pattern: "/desk/cases/{id}/transition", Access: analyst, Handler: h(u.deskCaseTransition)},
		{Method: "POST", Pattern: "/desk/cases/{id}/assign", Access: analyst, Handler: h(u.deskCaseAssign)},
		{Method: "POST", Pattern: "/desk/cases/{id}/classify", Access: analyst, Handler: h(u.deskCaseClassify)},
		{Method: "POST", Pattern: "/desk/cases/{id}/note", Access: analyst, Handler: h(u.deskCaseNote)},
		{Method: "POST", Pattern: "/desk/cases/{id}/evidence", Access: analyst, Handler: h(u.deskCaseEvidence)},
		{Method: "GET", Pattern: "/desk/attachments/{id}", Access: analyst, Handler: h(u.deskAttachment)},
	}, u.suggestRoutes()...)
}

// deskZone is the desk's clock: Viet Nam has one time zone and no daylight saving, so a fixed
// offset needs no time zone database on the server.
var deskZone = time.FixedZone("ICT", 7*3600)

func deskLocal(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.In(deskZone)
}

// deskCat is the catalog of the request's language, for texts the handlers compose (durations,
// refused transitions, field errors).
func deskCat(r *http.Request) i18n.Catalog { return i18n.Get(i18n.FromRequest(r)) }

// deskT translates key, or returns fallback when the catalog has no such key (a state or event
// kind another part added, an error key of another part's catalog).
func deskT(cat i18n.Catalog, key, fallback string) string {
	if v := cat.T(key); v != key {
		return v
	}
	return fallback
}

// deskSLA is a case's time to its SLA target, in words.
type deskSLA struct {
	Text string
	Over bool // past the target
	Soon bool // less than an hour left
	None bool // no clock runs (assessed, closed)
}

// deskSLAOf says how long is left until due, or how long ago it passed. The clock is the target
// from receipt to assessment: it stops once a case is assessed or closed.
func deskSLAOf(cat i18n.Catalog, due, now, assessed time.Time, open bool) deskSLA {
	if due.IsZero() || !assessed.IsZero() || !open {
		return deskSLA{None: true, Text: cat.T("desk.sla.none")}
	}
	d := due.Sub(now)
	if d < 0 {
		return deskSLA{Over: true, Text: fmt.Sprintf(cat.T("desk.sla.over"), deskDuration(cat, -d))}
	}
	return deskSLA{Soon: d < time.Hour, Text: fmt.Sprintf(cat.T("desk.sla.left"), deskDuration(cat, d))}
}

// deskDuration writes d as "2 giờ 10 phút", "3 ngày 4 giờ" or "35 phút": two units at most, which
// is all a queue needs.
func deskDuration(cat i18n.Catalog, d time.Duration) string {
	m := int((d + 30*time.Second) / time.Minute)
	days, hours, mins := m/(24*60), m%(24*60)/60, m%60
	switch {
	case days > 0:
		return fmt.Sprintf(cat.T("desk.dur.dh"), days, hours)
	case hours > 0:
		return fmt.Sprintf(cat.T("desk.dur.hm"), hours, mins)
	default:
		return fmt.Sprintf(cat.T("desk.dur.m"), mins)
	}
}
