package ui

import (
	"bytes"
	_ "embed"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/intake"
	"github.com/kidshield/kidshield/web"
)

// openAPIDoc describes POST /api/v1/reports for partner apps, platforms and the 111 app. A test
// keeps its enums equal to the taxonomy.
//
//go:embed openapi.json
var openAPIDoc []byte

// apiRateFactor: a partner app or platform speaks for many reporters, so a token may submit
// this many times the per-address hourly rate.
const apiRateFactor = 60

// apiFieldError is one problem with one field of an API submission.
type apiFieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// apiErrorBody is every error the report API answers with (except 401 and 403, answered by
// package web with {"error", "ref"}).
type apiErrorBody struct {
	Error  string          `json:"error"`
	Fields []apiFieldError `json:"fields,omitempty"`
}

func apiError(w http.ResponseWriter, status int, msg string, fields []apiFieldError) {
	web.JSON(w, status, apiErrorBody{Error: msg, Fields: fields})
}

// validIdempotencyKey: 1 to 100 printable ASCII characters.
func validIdempotencyKey(k string) bool {
	if k == "" || len(k) > 100 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// apiBodyLimit is the form's limit with room for base64 (4 bytes for 3) screenshots.
func apiBodyLimit(lim hotline.Limits) int64 {
	return int64(lim.MaxScreenshots)*lim.MaxScreenshotBytes*4/3 + 1<<20
}

func (p *publicPages) apiSubmit(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		apiError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json", nil)
		return
	}
	key, hasKey := r.Header.Get("Idempotency-Key"), len(r.Header.Values("Idempotency-Key")) > 0
	if hasKey && !validIdempotencyKey(key) {
		apiError(w, http.StatusBadRequest, "Idempotency-Key must be 1 to 100 printable ASCII characters", nil)
		return
	}
	prin := web.PrincipalFrom(r.Context())
	if prin == nil { // the route's access rule makes this impossible; refuse rather than trust it
		apiError(w, http.StatusUnauthorized, "API token required", nil)
		return
	}
	perHour := p.u.svc.Config().Intake.PerHour() * apiRateFactor
	if !p.api.allow("token:"+strconv.FormatInt(prin.TokenID, 10), perHour, p.u.svc.Now()) {
		w.Header().Set("Retry-After", "60")
		apiError(w, http.StatusTooManyRequests, "rate limit reached: "+strconv.Itoa(perHour)+" reports per hour for this token", nil)
		return
	}
	lim := p.u.svc.Limits()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, apiBodyLimit(lim)))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		apiError(w, http.StatusRequestEntityTooLarge, "body larger than "+strconv.FormatInt(apiBodyLimit(lim), 10)+" bytes", nil)
		return
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, "could not read the body", nil)
		return
	}
	sub, err := intake.DecodeJSON(bytes.NewReader(body), lim)
	if apiValidation(w, err) {
		return
	}
	switch {
	case errors.Is(err, intake.ErrTooLarge):
		apiError(w, http.StatusRequestEntityTooLarge, "the report is larger than any valid report", nil)
		return
	case err != nil:
		apiError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "intake: "), nil)
		return
	}
	sub.TokenID = prin.TokenID
	if hasKey {
		sub.IdempotencyKey = key
	}
	rc, err := p.u.svc.Submit(r.Context(), sub, actor(r))
	if apiValidation(w, err) {
		return
	}
	if err != nil {
		web.Error(w, r, p.u.log, http.StatusInternalServerError, err)
		return
	}
	status := http.StatusCreated
	if rc.Replayed {
		status = http.StatusOK
	}
	web.JSON(w, status, rc)
}

// apiValidation answers a validation error with 422 and every field's problem.
func apiValidation(w http.ResponseWriter, err error) bool {
	var verr hotline.ValidationError
	if !errors.As(err, &verr) {
		return false
	}
	fields := make([]apiFieldError, len(verr))
	for i, e := range verr {
		fields[i] = apiFieldError{Field: e.Field, Message: e.Msg}
	}
	apiError(w, http.StatusUnprocessableEntity, "the report is not valid", fields)
	return true
}

func (p *publicPages) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(openAPIDoc)
}
