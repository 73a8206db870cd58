// Package ui is the hotline's web front: the public report pages and status check, the JSON API
// for partner apps, the staff desk (queue, case, phone intake), notices and the partner view,
// the network list and the statistics. Every handler is thin: it decodes, calls hotline.Service,
// and renders a template of web/templates. Access is declared per route in Routes and enforced by
// package web, never here.
package ui

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// UI holds what the handlers share.
type UI struct {
	svc   *hotline.Service
	views *web.Views
	log   *slog.Logger
}

// New returns the hotline's web front.
func New(svc *hotline.Service, views *web.Views, log *slog.Logger) *UI {
	if log == nil {
		log = slog.Default()
	}
	return &UI{svc: svc, views: views, log: log}
}

// Routes is the hotline's part of the route table.
func (u *UI) Routes() []web.Route {
	var rs []web.Route
	rs = append(rs, u.publicRoutes()...)
	rs = append(rs, u.deskRoutes()...)
	rs = append(rs, u.noticeRoutes()...)
	rs = append(rs, u.statsRoutes()...)
	return rs
}

// actor is who is calling, for the case history and the audit log.
func actor(r *http.Request) hotline.Actor {
	p := web.PrincipalFrom(r.Context())
	if p == nil {
		return hotline.Actor{Label: "anonymous"}
	}
	return hotline.Actor{UserID: p.UserID, Label: p.Actor()}
}

// render writes a page; a template error becomes the error page with a reference id.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	if err := u.views.Render(w, r, status, name, data); err != nil {
		web.Error(w, r, u.log, http.StatusInternalServerError, err)
	}
}

// fail answers an error from the service: not found is 404, a changed record 409, a refused
// transition 409 with its reason, a validation error 422; anything else is 500 with a reference
// id and no internal text.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, err error) {
	var verr hotline.ValidationError
	switch {
	case errors.Is(err, store.ErrNotFound):
		web.Error(w, r, u.log, http.StatusNotFound, errors.New("not found"))
	case errors.Is(err, store.ErrConflict):
		web.Error(w, r, u.log, http.StatusConflict, errors.New("someone else changed this in the meantime: reload the page and look again"))
	case errors.As(err, &verr):
		web.Error(w, r, u.log, http.StatusUnprocessableEntity, verr)
	case isTransition(err):
		web.Error(w, r, u.log, http.StatusConflict, transitionReason(err))
	default:
		web.Error(w, r, u.log, http.StatusInternalServerError, err)
	}
}

// pathID parses a numeric path value.
func pathID(r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return id, err == nil && id > 0
}
