package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// NewUser is an account to create.
type NewUser struct {
	Login     string
	Name      string
	Roles     []web.Role
	PartnerID int64
	Password  string
}

var loginRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// NormalizeLogin is how logins are compared: trimmed, lower case.
func NormalizeLogin(login string) string { return strings.ToLower(strings.TrimSpace(login)) }

// ParseRoles reads "admin,analyst" (commas or spaces).
func ParseRoles(s string) ([]web.Role, error) {
	var out []web.Role
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		r := web.Role(strings.ToLower(f))
		if !slices.Contains(web.AllRoles, r) {
			return nil, &InputError{"auth.err.role", fmt.Sprintf("unknown role %q (roles: operator, analyst, supervisor, partner, admin)", f)}
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// checkAccount validates what an administrator sets on an account.
func checkAccount(name string, rs []web.Role, partnerID int64) error {
	switch {
	case strings.TrimSpace(name) == "" || len(name) > 200:
		return &InputError{"auth.err.name", "give the person's name (at most 200 characters)"}
	case len(rs) == 0:
		return &InputError{"auth.err.noroles", "choose at least one role"}
	case slices.Contains(rs, web.RolePartner) && partnerID <= 0:
		return &InputError{"auth.err.partner", "a partner account needs the id of its partner organisation"}
	case partnerID < 0:
		return &InputError{"auth.err.partner", "a partner account needs the id of its partner organisation"}
	}
	for _, r := range rs {
		if !slices.Contains(web.AllRoles, r) {
			return &InputError{"auth.err.role", fmt.Sprintf("unknown role %q", r)}
		}
	}
	return nil
}

// AddUser checks and creates an account, hashing its password, and records it in the audit log
// as done by actor. Input problems are *InputError; a login in use wraps store.ErrLoginTaken.
func AddUser(ctx context.Context, st *store.Store, u NewUser, actor string) (int64, error) {
	login := NormalizeLogin(u.Login)
	if !loginRE.MatchString(login) {
		return 0, &InputError{"auth.err.login", "a login is 1 to 64 letters a-z, digits, '.', '_', '-' or '@', starting with a letter or digit"}
	}
	if err := checkAccount(u.Name, u.Roles, u.PartnerID); err != nil {
		return 0, err
	}
	if err := CheckPassword(u.Password, login); err != nil {
		return 0, err
	}
	hash, err := HashPassword(u.Password)
	if err != nil {
		return 0, err
	}
	id, err := st.CreateUser(ctx, store.User{Login: login, Name: strings.TrimSpace(u.Name), Roles: roleNames(u.Roles),
		PartnerID: u.PartnerID, PasswordHash: hash})
	if errors.Is(err, store.ErrLoginTaken) {
		return 0, &InputError{"auth.err.taken", fmt.Sprintf("the login %q is already taken", login)}
	}
	if err != nil {
		return 0, err
	}
	audit(ctx, st, nil, actor, "user.create", fmt.Sprintf("user:%d", id),
		map[string]any{"login": login, "roles": roleNames(u.Roles), "partner": u.PartnerID})
	return id, nil
}

// AccountReset is what ResetAccount changes: a new password (checked like any other) and/or
// the second factor cleared.
type AccountReset struct {
	Password string // "": keep the password
	TOTP     bool   // clear the TOTP secret: the user enrols again at the next login
}

// ResetAccount is the way back into an account whose password or phone is lost (the command
// line's `user reset`, for when the only administrator is locked out): it sets the new password
// and/or clears the second factor, ends every session of the account, and records each change
// in the audit log as done by actor. It returns how many sessions ended. A failed audit append
// is returned (after the change, which has committed): a command run by hand should say so.
func ResetAccount(ctx context.Context, st *store.Store, id int64, r AccountReset, actor string) (int64, error) {
	if r.Password == "" && !r.TOTP {
		return 0, errors.New("auth: reset: nothing to reset")
	}
	u, err := st.UserByID(ctx, id)
	if err != nil {
		return 0, err
	}
	var hash string
	if r.Password != "" {
		if err := CheckPassword(r.Password, u.Login); err != nil {
			return 0, err
		}
		if hash, err = HashPassword(r.Password); err != nil {
			return 0, err
		}
	}
	now := time.Now()
	if hash != "" {
		if err := st.SetPasswordHash(ctx, id, hash, now); err != nil {
			return 0, err
		}
	}
	if r.TOTP {
		if err := st.ResetTOTP(ctx, id); err != nil {
			return 0, err
		}
	}
	ended, err := st.DeleteUserSessions(ctx, id)
	if err != nil {
		return 0, err
	}
	object := fmt.Sprintf("user:%d", id)
	detail := map[string]any{"sessions_ended": ended}
	var errs []error
	if hash != "" {
		errs = append(errs, st.AppendAudit(ctx, store.AuditEvent{Time: now, Actor: actor, Action: "user.password.reset", Object: object, Detail: detail}))
	}
	if r.TOTP {
		errs = append(errs, st.AppendAudit(ctx, store.AuditEvent{Time: now, Actor: actor, Action: "user.totp.reset", Object: object, Detail: detail}))
	}
	if err := errors.Join(errs...); err != nil {
		return ended, fmt.Errorf("the account was reset but the audit log did not record it: %w", err)
	}
	return ended, nil
}

// SetDisabled disables an account (ending its sessions: the user is out at once) or enables it
// again, and records it in the audit log as done by actor ("user.disable", "user.enable"). It
// returns how many sessions ended. Like ResetAccount, a failed audit append is returned.
func SetDisabled(ctx context.Context, st *store.Store, id int64, disabled bool, actor string) (int64, error) {
	u, err := st.UserByID(ctx, id)
	if err != nil {
		return 0, err
	}
	if u.Disabled != disabled {
		if err := st.UpdateUser(ctx, id, store.UserChange{Name: u.Name, Roles: u.Roles, PartnerID: u.PartnerID, Disabled: disabled}); err != nil {
			return 0, err
		}
	}
	var ended int64
	if disabled {
		// Even when it already was: a session must not outlive a disabled account.
		if ended, err = st.DeleteUserSessions(ctx, id); err != nil {
			return 0, err
		}
	}
	action := "user.enable"
	if disabled {
		action = "user.disable"
	}
	err = st.AppendAudit(ctx, store.AuditEvent{Time: time.Now(), Actor: actor, Action: action, Object: fmt.Sprintf("user:%d", id),
		Detail: map[string]any{"sessions_ended": ended, "changed": u.Disabled != disabled}})
	if err != nil {
		return ended, fmt.Errorf("the account was changed but the audit log did not record it: %w", err)
	}
	return ended, nil
}

var scopeRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}:[a-z][a-z0-9_-]{0,31}$`)

// ParseScopes reads "reports:submit notices:read" (spaces or commas).
func ParseScopes(s string) ([]string, error) {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		if !scopeRE.MatchString(f) {
			return nil, &InputError{"auth.err.scope", fmt.Sprintf("%q is not a scope (want resource:action, e.g. reports:submit)", f)}
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, &InputError{"auth.err.noscopes", "give at least one scope, e.g. reports:submit"}
	}
	return out, nil
}

// NewToken is an API token to create.
type NewToken struct {
	Name      string
	Scopes    []string
	PartnerID int64
	CreatedBy int64 // user id; 0 from the command line
}

// CreateToken creates an API token and returns it (shown once, never stored) and its id.
func CreateToken(ctx context.Context, st *store.Store, t NewToken, actor string) (token string, id int64, err error) {
	name := strings.TrimSpace(t.Name)
	if name == "" || len(name) > 100 {
		return "", 0, &InputError{"auth.err.tokenname", "give the token a name saying who uses it (at most 100 characters)"}
	}
	for _, s := range t.Scopes {
		if !scopeRE.MatchString(s) {
			return "", 0, &InputError{"auth.err.scope", fmt.Sprintf("%q is not a scope", s)}
		}
	}
	if len(t.Scopes) == 0 {
		return "", 0, &InputError{"auth.err.noscopes", "give at least one scope, e.g. reports:submit"}
	}
	if t.PartnerID < 0 {
		return "", 0, &InputError{"auth.err.partner", "the partner id must be a positive number"}
	}
	r, err := randomString(32)
	if err != nil {
		return "", 0, fmt.Errorf("auth: new token: %w", err)
	}
	token = TokenPrefix + r
	id, err = st.CreateAPIToken(ctx, store.APIToken{Name: name, Hash: hashSecret(token), Scopes: t.Scopes,
		PartnerID: t.PartnerID, CreatedBy: t.CreatedBy})
	if err != nil {
		return "", 0, err
	}
	audit(ctx, st, nil, actor, "token.create", fmt.Sprintf("token:%d", id),
		map[string]any{"name": name, "scopes": t.Scopes, "partner": t.PartnerID})
	return token, id, nil
}

// RevokeToken revokes an API token at once and audits it; store.ErrNotFound (wrapped) when no
// active token has that id.
func RevokeToken(ctx context.Context, st *store.Store, id int64, actor string) error {
	if err := st.RevokeAPIToken(ctx, id, time.Now()); err != nil {
		return fmt.Errorf("token %d: %w", id, err)
	}
	audit(ctx, st, nil, actor, "token.revoke", fmt.Sprintf("token:%d", id), nil)
	return nil
}

// audit appends to the audit log. A failed append is logged, not returned: the change it
// records has already committed, and failing the request would not undo it.
func audit(ctx context.Context, st *store.Store, log *slog.Logger, actor, action, object string, detail map[string]any) {
	err := st.AppendAudit(ctx, store.AuditEvent{Time: time.Now(), Actor: actor, Action: action, Object: object, Detail: detail})
	if err != nil {
		if log == nil {
			log = slog.Default()
		}
		log.Error("auth: audit append failed", "action", action, "object", object, "err", err)
	}
}

// audit records an event with the Manager's clock and logger.
func (m *Manager) audit(ctx context.Context, actor, action, object string, detail map[string]any) {
	err := m.st.AppendAudit(ctx, store.AuditEvent{Time: m.now(), Actor: actor, Action: action, Object: object, Detail: detail})
	if err != nil {
		m.log.Error("auth: audit append failed", "action", action, "object", object, "err", err)
	}
}
