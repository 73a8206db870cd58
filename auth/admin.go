package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// The administrator's pages: accounts and API tokens. The guard admits only admins and checks
// the CSRF token of every POST.

// userRow is an account as the pages show it (never its hash or secret).
type userRow struct {
	ID        int64
	Login     string
	Name      string
	Roles     []web.Role
	PartnerID int64
	Disabled  bool
	TOTP      bool
	Created   string
}

func toRow(u store.User) userRow {
	return userRow{ID: u.ID, Login: u.Login, Name: u.Name, Roles: roles(u.Roles), PartnerID: u.PartnerID,
		Disabled: u.Disabled, TOTP: u.TOTPSecret != "", Created: fmtTime(u.Created)}
}

// fmtTime shows a time as every staff page does: Viet Nam time (auditZone, the desk's clock),
// day first, to the minute.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(auditZone).Format("02/01/2006 15:04")
}

// roleChoice is one checkbox of the roles field.
type roleChoice struct {
	Role    web.Role
	Checked bool
}

func choices(rs []web.Role) []roleChoice {
	out := make([]roleChoice, len(web.AllRoles))
	for i, r := range web.AllRoles {
		out[i] = roleChoice{r, slices.Contains(rs, r)}
	}
	return out
}

// formRoles reads the roles checkboxes (name "roles", one value per role).
func formRoles(r *http.Request) ([]web.Role, error) {
	return ParseRoles(strings.Join(r.PostForm["roles"], ","))
}

func formPartner(r *http.Request) (int64, error) {
	s := strings.TrimSpace(r.PostFormValue("partner"))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, &InputError{"auth.err.partner", "the partner id must be a positive number"}
	}
	return n, nil
}

func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

type usersData struct {
	Users []userRow
	Saved string // the login just created or changed
}

func (m *Manager) usersList(w http.ResponseWriter, r *http.Request) {
	us, err := m.st.Users(r.Context())
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	d := &usersData{Saved: r.URL.Query().Get("saved")}
	for _, u := range us {
		d.Users = append(d.Users, toRow(u))
	}
	m.render(w, r, http.StatusOK, "auth_users", d)
}

type userFormData struct {
	formError
	User    userRow
	Choices []roleChoice
	Notice  string // a message key after an action on the page
}

func (m *Manager) userNewForm(w http.ResponseWriter, r *http.Request) {
	m.render(w, r, http.StatusOK, "auth_user_new", &userFormData{Choices: choices(nil)})
}

func (m *Manager) userCreate(w http.ResponseWriter, r *http.Request) {
	p := web.PrincipalFrom(r.Context())
	rs, rerr := formRoles(r)
	partner, perr := formPartner(r)
	d := &userFormData{User: userRow{Login: NormalizeLogin(r.PostFormValue("login")), Name: r.PostFormValue("name"), Roles: rs, PartnerID: partner}}
	d.Choices = choices(rs)
	err := errors.Join(rerr, perr)
	if err == nil {
		_, err = AddUser(r.Context(), m.st, NewUser{Login: d.User.Login, Name: d.User.Name, Roles: rs, PartnerID: partner,
			Password: r.PostFormValue("password")}, p.Actor())
	}
	if err != nil {
		if d.Error = inputKey(err); d.Error == "" {
			m.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		m.render(w, r, http.StatusBadRequest, "auth_user_new", d)
		return
	}
	see(w, r, "/admin/users?saved="+url.QueryEscape(d.User.Login))
}

func (m *Manager) userFor(w http.ResponseWriter, r *http.Request) (store.User, bool) {
	id, ok := pathID(r)
	if !ok {
		http.NotFound(w, r)
		return store.User{}, false
	}
	u, err := m.st.UserByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return u, false
	}
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return u, false
	}
	return u, true
}

func (m *Manager) userEditForm(w http.ResponseWriter, r *http.Request) {
	u, ok := m.userFor(w, r)
	if !ok {
		return
	}
	row := toRow(u)
	m.render(w, r, http.StatusOK, "auth_user_edit", &userFormData{User: row, Choices: choices(row.Roles), Notice: noticeKey(r.URL.Query().Get("done"))})
}

// noticeKey maps the ?done= of a redirect to a message; anything else shows nothing.
func noticeKey(done string) string {
	switch done {
	case "saved", "password", "totp":
		return "auth.user.done." + done
	}
	return ""
}

func (m *Manager) userUpdate(w http.ResponseWriter, r *http.Request) {
	u, ok := m.userFor(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	p := web.PrincipalFrom(ctx)
	rs, rerr := formRoles(r)
	partner, perr := formPartner(r)
	c := store.UserChange{Name: strings.TrimSpace(r.PostFormValue("name")), Roles: roleNames(rs), PartnerID: partner,
		Disabled: r.PostFormValue("disabled") != ""}
	row := toRow(u)
	row.Name, row.Roles, row.PartnerID, row.Disabled = c.Name, rs, partner, c.Disabled
	d := &userFormData{User: row, Choices: choices(rs)}
	err := errors.Join(rerr, perr)
	if err == nil {
		err = checkAccount(c.Name, rs, partner)
	}
	if err == nil && u.ID == p.UserID && (c.Disabled || !slices.Contains(rs, web.RoleAdmin)) {
		// The last administrator locking themselves out needs a shell to undo.
		err = &InputError{"auth.err.self", "you cannot disable your own account or remove your own admin role"}
	}
	if err != nil {
		if d.Error = inputKey(err); d.Error == "" {
			m.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		m.render(w, r, http.StatusBadRequest, "auth_user_edit", d)
		return
	}
	if err := m.st.UpdateUser(ctx, u.ID, c); err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	if c.Disabled && !u.Disabled {
		if _, err := m.st.DeleteUserSessions(ctx, u.ID); err != nil {
			m.fail(w, r, http.StatusInternalServerError, err)
			return
		}
	}
	m.audit(ctx, p.Actor(), "user.update", fmt.Sprintf("user:%d", u.ID), map[string]any{
		"name_changed": c.Name != u.Name, "roles": c.Roles, "roles_before": u.Roles,
		"partner": c.PartnerID, "partner_before": u.PartnerID, "disabled": c.Disabled, "disabled_before": u.Disabled})
	see(w, r, fmt.Sprintf("/admin/users/%d?done=saved", u.ID))
}

func (m *Manager) userPasswordReset(w http.ResponseWriter, r *http.Request) {
	u, ok := m.userFor(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	p := web.PrincipalFrom(ctx)
	pw := r.PostFormValue("password")
	if err := CheckPassword(pw, u.Login); err != nil {
		row := toRow(u)
		m.render(w, r, http.StatusBadRequest, "auth_user_edit", &userFormData{formError: formError{inputKey(err)}, User: row, Choices: choices(row.Roles)})
		return
	}
	hash, err := HashPassword(pw)
	if err == nil {
		err = m.st.SetPasswordHash(ctx, u.ID, hash, m.now())
	}
	if err == nil {
		_, err = m.st.DeleteUserSessions(ctx, u.ID)
	}
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	m.audit(ctx, p.Actor(), "user.password.reset", fmt.Sprintf("user:%d", u.ID), nil)
	if u.ID == p.UserID { // resetting one's own: carry on under a new session
		if _, err := m.startSession(ctx, w, r, u, true); err != nil {
			m.fail(w, r, http.StatusInternalServerError, err)
			return
		}
	}
	see(w, r, fmt.Sprintf("/admin/users/%d?done=password", u.ID))
}

func (m *Manager) userTOTPReset(w http.ResponseWriter, r *http.Request) {
	u, ok := m.userFor(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	p := web.PrincipalFrom(ctx)
	if err := m.st.ResetTOTP(ctx, u.ID); err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	// The user enrols again at the next login; sessions made with the old factor end.
	if _, err := m.st.DeleteUserSessions(ctx, u.ID); err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	m.audit(ctx, p.Actor(), "user.totp.reset", fmt.Sprintf("user:%d", u.ID), nil)
	see(w, r, fmt.Sprintf("/admin/users/%d?done=totp", u.ID))
}

// ---- API tokens ----

type tokenRow struct {
	ID        int64
	Name      string
	Scopes    string
	PartnerID int64
	CreatedBy int64
	Created   string
	LastUsed  string
	Revoked   string
}

type tokensData struct {
	formError
	Tokens []tokenRow
	// New is the token just created: shown once, on this answer only.
	New     string
	NewName string
	// The form's values after an error.
	Name, Scopes, Partner string
}

func (m *Manager) tokensPage(w http.ResponseWriter, r *http.Request, status int, d *tokensData) {
	ts, err := m.st.APITokens(r.Context())
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	for _, t := range ts {
		d.Tokens = append(d.Tokens, tokenRow{ID: t.ID, Name: t.Name, Scopes: strings.Join(t.Scopes, " "), PartnerID: t.PartnerID,
			CreatedBy: t.CreatedBy, Created: fmtTime(t.Created), LastUsed: fmtTime(t.LastUsed), Revoked: fmtTime(t.Revoked)})
	}
	m.render(w, r, status, "auth_tokens", d)
}

func (m *Manager) tokensList(w http.ResponseWriter, r *http.Request) {
	m.tokensPage(w, r, http.StatusOK, &tokensData{})
}

func (m *Manager) tokenCreate(w http.ResponseWriter, r *http.Request) {
	p := web.PrincipalFrom(r.Context())
	d := &tokensData{Name: r.PostFormValue("name"), Scopes: r.PostFormValue("scopes"), Partner: r.PostFormValue("partner")}
	scopes, err := ParseScopes(d.Scopes)
	partner, perr := formPartner(r)
	if err == nil {
		err = perr
	}
	var token string
	if err == nil {
		token, _, err = CreateToken(r.Context(), m.st, NewToken{Name: d.Name, Scopes: scopes, PartnerID: partner, CreatedBy: p.UserID}, p.Actor())
	}
	if err != nil {
		if d.Error = inputKey(err); d.Error == "" {
			m.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		m.tokensPage(w, r, http.StatusBadRequest, d)
		return
	}
	// Shown in this answer, not after a redirect: the token exists nowhere else.
	m.tokensPage(w, r, http.StatusOK, &tokensData{New: token, NewName: strings.TrimSpace(d.Name)})
}

func (m *Manager) tokenRevoke(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	err := m.st.RevokeAPIToken(ctx, id, m.now())
	if errors.Is(err, store.ErrNotFound) {
		see(w, r, "/admin/tokens") // already revoked, or never was: nothing to do
		return
	}
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	m.audit(ctx, web.PrincipalFrom(ctx).Actor(), "token.revoke", fmt.Sprintf("token:%d", id), nil)
	see(w, r, "/admin/tokens")
}
