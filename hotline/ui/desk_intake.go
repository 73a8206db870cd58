package ui

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/intake"
	"github.com/kidshield/kidshield/hotline/taxonomy"
	"github.com/kidshield/kidshield/web"
)

// deskIntakeValues are the phone form's fields as typed, shown again after a field error so the
// operator, still on the line, fixes one field instead of asking everything again.
type deskIntakeValues struct {
	ReporterType, AgeBand, Harm, URLs, Platform, Account, Description, Province, Contact string
	DangerNow, SelfHarm, Extortion, Feedback                                             bool
}

type deskIntakeData struct {
	Values        deskIntakeValues
	Errors        []string
	Receipt       *hotline.Receipt
	Harms         []taxonomy.Harm
	ReporterTypes []string
	AgeBands      []string
	MaxURLs       int
}

func (u *UI) deskIntakeData() deskIntakeData {
	return deskIntakeData{Harms: taxonomy.Harms, ReporterTypes: taxonomy.ReporterTypes, AgeBands: taxonomy.AgeBands, MaxURLs: u.svc.Limits().MaxURLs}
}

func (u *UI) deskIntakeForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	u.render(w, r, http.StatusOK, "desk_intake", u.deskIntakeData())
}

// deskIntakeSubmit stores a phone report. The operator is recorded on the report; the channel is
// the phone; the legal basis is the hotline's public task (or a child's vital interest when in
// danger now), since the caller chose to call the national hotline.
func (u *UI) deskIntakeSubmit(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	d := u.deskIntakeData()
	if r.PostForm != nil {
		// The route guard read the body to check the CSRF field; intake reads the body itself,
		// so it gets the parsed fields back as the urlencoded body the form sent.
		r.Body = io.NopCloser(strings.NewReader(r.PostForm.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	sub, err := intake.DecodeOperator(r, u.svc.Limits())
	if err == nil {
		sub.OperatorID = web.PrincipalFrom(r.Context()).UserID
		if sub.Channel == "" {
			sub.Channel = "phone"
		}
		if sub.Language == "" {
			sub.Language = "vi"
		}
		if sub.LegalBasis == "" {
			sub.LegalBasis = "public_task"
			if sub.DangerNow {
				sub.LegalBasis = "vital_interest"
			}
		}
		var rc hotline.Receipt
		if rc, err = u.svc.Submit(r.Context(), sub, actor(r)); err == nil {
			d.Receipt = &rc
			u.render(w, r, http.StatusOK, "desk_intake", d)
			return
		}
	}
	var verr hotline.ValidationError
	if !errors.As(err, &verr) {
		u.fail(w, r, err)
		return
	}
	d.Errors = deskFieldErrors(deskCat(r), verr)
	f := r.PostForm
	d.Values = deskIntakeValues{ReporterType: f.Get("reporter"), AgeBand: f.Get("age_band"), Harm: f.Get("harm"), URLs: f.Get("urls"),
		Platform: f.Get("platform"), Account: f.Get("account"), Description: f.Get("description"), Province: f.Get("province"),
		Contact: f.Get("contact"), DangerNow: f.Get("danger_now") != "", SelfHarm: f.Get("self_harm") != "",
		Extortion: f.Get("extortion") != "", Feedback: f.Get("feedback") != ""}
	u.render(w, r, http.StatusUnprocessableEntity, "desk_intake", d)
}
