package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrLoginTaken is returned (wrapped) by CreateUser when another account has the login.
var ErrLoginTaken = errors.New("login already taken")

// User is a staff or partner account. Roles are the names of web.Role (the store does not
// import web); PasswordHash is an Argon2id PHC string; TOTPSecret is sealed by the caller and
// opaque here ("" until the user enrols).
type User struct {
	ID              int64
	Login           string
	Name            string
	Roles           []string
	PartnerID       int64 // 0: none
	PasswordHash    string
	TOTPSecret      string
	TOTPLastStep    int64 // the last time step a code was accepted for (replay protection)
	Disabled        bool
	Created         time.Time
	PasswordChanged time.Time
}

// UserChange is what an administrator edits on an account.
type UserChange struct {
	Name      string
	Roles     []string
	PartnerID int64
	Disabled  bool
}

// Session is a login session. IDHash is the SHA-256 of the cookie value (the value itself is
// never stored).
type Session struct {
	IDHash   string
	UserID   int64
	CSRF     string
	MFADone  bool
	Created  time.Time
	LastSeen time.Time
	Expires  time.Time // the absolute end, whatever the activity
}

// APIToken is a machine credential. Hash is the SHA-256 of the token (the token itself is
// shown once and never stored).
type APIToken struct {
	ID        int64
	Name      string
	Hash      string
	Scopes    []string
	PartnerID int64 // 0: none
	CreatedBy int64 // user id, 0: the command line
	Created   time.Time
	LastUsed  time.Time // zero: never
	Revoked   time.Time // zero: active
}

// acctTouchEvery bounds the writes that record activity: last_seen and last_used move at most once
// a minute, so a busy page or API client does not turn every request into a write.
const acctTouchEvery = time.Minute

func acctJoin(l []string) string { return strings.Join(l, ",") }

func acctSplit(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

func acctOptID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

func acctBool(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func acctTime(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func acctUS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// acctOneRow returns ErrNotFound when a statement changed no row.
func acctOneRow(r sql.Result) error {
	n, err := r.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// CreateUser adds an account and returns its id. Created and PasswordChanged default to now.
func (s *Store) CreateUser(ctx context.Context, u User) (int64, error) {
	if u.Login == "" || u.PasswordHash == "" {
		return 0, errors.New("store: create user: login and password hash are required")
	}
	now := time.Now()
	if u.Created.IsZero() {
		u.Created = now
	}
	if u.PasswordChanged.IsZero() {
		u.PasswordChanged = u.Created
	}
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE login = $1", u.Login).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrLoginTaken
		}
		return tx.QueryRowContext(ctx, `INSERT INTO users
			(login, name, roles, partner_id, password_hash, totp_secret, totp_last_step, disabled, created_us, password_changed_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
			cleanText(u.Login), cleanText(u.Name), acctJoin(u.Roles), acctOptID(u.PartnerID), u.PasswordHash,
			u.TOTPSecret, u.TOTPLastStep, acctBool(u.Disabled), acctUS(u.Created), acctUS(u.PasswordChanged)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("store: create user %q: %w", u.Login, err)
	}
	return id, nil
}

const userCols = "u.id, u.login, u.name, u.roles, u.partner_id, u.password_hash, u.totp_secret, u.totp_last_step, u.disabled, u.created_us, u.password_changed_us"

type acctScanner interface{ Scan(dst ...any) error }

// scanUser reads userCols; extra receives any further columns of the row.
func scanUser(row acctScanner, extra ...any) (User, error) {
	var u User
	var roles string
	var partner sql.NullInt64
	var disabled, created, changed int64
	dst := append([]any{&u.ID, &u.Login, &u.Name, &roles, &partner, &u.PasswordHash, &u.TOTPSecret, &u.TOTPLastStep,
		&disabled, &created, &changed}, extra...)
	if err := row.Scan(dst...); err != nil {
		return User{}, err
	}
	u.Roles = acctSplit(roles)
	u.PartnerID = partner.Int64
	u.Disabled = disabled != 0
	u.Created = acctTime(created)
	u.PasswordChanged = acctTime(changed)
	return u, nil
}

func (s *Store) userWhere(ctx context.Context, what, cond string, arg any) (User, error) {
	var u User
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userCols+" FROM users u WHERE "+cond, arg))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("store: user %s: %w", what, err)
	}
	return u, nil
}

// UserByID returns an account, or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (User, error) {
	return s.userWhere(ctx, fmt.Sprint(id), "u.id = $1", id)
}

// UserByLogin returns an account by its exact login, or ErrNotFound.
func (s *Store) UserByLogin(ctx context.Context, login string) (User, error) {
	return s.userWhere(ctx, fmt.Sprintf("%q", login), "u.login = $1", login)
}

// Users lists every account by login.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	out := []User{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		return scanAll(ctx, tx, "SELECT "+userCols+" FROM users u ORDER BY u.login"+s.collate(), nil, func(rows *sql.Rows) error {
			u, err := scanUser(rows)
			if err != nil {
				return err
			}
			out = append(out, u)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: users: %w", err)
	}
	return out, nil
}

// UpdateUser replaces an account's name, roles, partner and disabled flag.
func (s *Store) UpdateUser(ctx context.Context, id int64, c UserChange) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, "UPDATE users SET name = $1, roles = $2, partner_id = $3, disabled = $4 WHERE id = $5",
			cleanText(c.Name), acctJoin(c.Roles), acctOptID(c.PartnerID), acctBool(c.Disabled), id)
		if err != nil {
			return err
		}
		return acctOneRow(r)
	})
	if err != nil {
		return fmt.Errorf("store: update user %d: %w", id, err)
	}
	return nil
}

// SetPasswordHash stores a new password hash. changed is when the password itself changed: a
// rehash of the same password (new parameters) passes the old time.
func (s *Store) SetPasswordHash(ctx context.Context, id int64, hash string, changed time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = $1, password_changed_us = $2 WHERE id = $3", hash, acctUS(changed), id)
		if err != nil {
			return err
		}
		return acctOneRow(r)
	})
	if err != nil {
		return fmt.Errorf("store: set password of user %d: %w", id, err)
	}
	return nil
}

// EnrolTOTP stores a sealed TOTP secret and the step of the code that confirmed it, only when
// the account has no secret yet: two enrolments racing cannot overwrite each other, and a
// session that knows only the password cannot replace an enrolled secret. ErrConflict when a
// secret is already set, ErrNotFound when there is no such user.
func (s *Store) EnrolTOTP(ctx context.Context, id int64, sealed string, step int64) error {
	if sealed == "" {
		return errors.New("store: enrol TOTP: empty secret")
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, "UPDATE users SET totp_secret = $1, totp_last_step = $2 WHERE id = $3 AND totp_secret = ''", sealed, step, id)
		if err != nil {
			return err
		}
		if err := acctOneRow(r); err == nil || !errors.Is(err, ErrNotFound) {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE id = $1", id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		return ErrConflict
	})
	if err != nil {
		return fmt.Errorf("store: enrol TOTP of user %d: %w", id, err)
	}
	return nil
}

// ResetTOTP removes an account's TOTP secret: the user enrols again at the next login.
func (s *Store) ResetTOTP(ctx context.Context, id int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, "UPDATE users SET totp_secret = '', totp_last_step = 0 WHERE id = $1", id)
		if err != nil {
			return err
		}
		return acctOneRow(r)
	})
	if err != nil {
		return fmt.Errorf("store: reset TOTP of user %d: %w", id, err)
	}
	return nil
}

// UseTOTPStep records that a code of time step step was accepted, if step is later than the
// last one recorded (compare-and-set). false means the code (or an earlier one) was already
// used: a replay.
func (s *Store) UseTOTPStep(ctx context.Context, id, step int64) (bool, error) {
	var ok bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1", step, id)
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		ok = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: use TOTP step of user %d: %w", id, err)
	}
	return ok, nil
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, ss Session) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_id, csrf, mfa_done, created_us, last_seen_us, expires_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			ss.IDHash, ss.UserID, ss.CSRF, acctBool(ss.MFADone), acctUS(ss.Created), acctUS(ss.LastSeen), acctUS(ss.Expires))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create session of user %d: %w", ss.UserID, err)
	}
	return nil
}

// SessionByHash returns a session and its user, or ErrNotFound. It does not check expiry: the
// caller decides with its own clock and timeouts.
func (s *Store) SessionByHash(ctx context.Context, hash string) (Session, User, error) {
	var ss Session
	var u User
	// One statement, on the path of every staff request: no transaction (see APITokenByHash).
	err := func() error {
		var mfa, created, seen, expires int64
		var err error
		u, err = scanUser(s.r.QueryRowContext(ctx, "SELECT "+userCols+", s.id_hash, s.csrf, s.mfa_done, s.created_us, s.last_seen_us, s.expires_us"+
			" FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1", hash),
			&ss.IDHash, &ss.CSRF, &mfa, &created, &seen, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		ss.UserID = u.ID
		ss.MFADone = mfa != 0
		ss.Created, ss.LastSeen, ss.Expires = acctTime(created), acctTime(seen), acctTime(expires)
		return err
	}()
	if err != nil {
		return Session{}, User{}, fmt.Errorf("store: session: %w", err)
	}
	return ss, u, nil
}

// TouchSession moves a session's last_seen to now when it is more than a minute old.
func (s *Store) TouchSession(ctx context.Context, hash string, now time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE sessions SET last_seen_us = $1 WHERE id_hash = $2 AND last_seen_us < $3",
			now.UnixMicro(), hash, now.Add(-acctTouchEvery).UnixMicro())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	return nil
}

// DeleteSession removes a session (no error when it is already gone).
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE id_hash = $1", hash)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions logs a user out everywhere and returns how many sessions ended.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = $1", userID)
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete sessions of user %d: %w", userID, err)
	}
	return n, nil
}

// DeleteExpiredSessions removes sessions past their absolute end at now, and, when idle > 0,
// sessions unused for longer than idle. It returns how many it removed.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time, idle time.Duration) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		q := "DELETE FROM sessions WHERE expires_us <= $1"
		args := []any{now.UnixMicro()}
		if idle > 0 {
			q += " OR last_seen_us <= $2"
			args = append(args, now.Add(-idle).UnixMicro())
		}
		r, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	return n, nil
}

// CreateAPIToken stores a token and returns its id. Created defaults to now.
func (s *Store) CreateAPIToken(ctx context.Context, t APIToken) (int64, error) {
	if t.Hash == "" || t.Name == "" {
		return 0, errors.New("store: create API token: name and hash are required")
	}
	if t.Created.IsZero() {
		t.Created = time.Now()
	}
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO api_tokens (name, token_hash, scopes, partner_id, created_by, created_us)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			cleanText(t.Name), t.Hash, acctJoin(t.Scopes), acctOptID(t.PartnerID), acctOptID(t.CreatedBy), acctUS(t.Created)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("store: create API token %q: %w", t.Name, err)
	}
	return id, nil
}

const tokenCols = "id, name, token_hash, scopes, partner_id, created_by, created_us, last_used_us, revoked_us"

func scanToken(row acctScanner) (APIToken, error) {
	var t APIToken
	var scopes string
	var partner, by sql.NullInt64
	var created, used, revoked int64
	if err := row.Scan(&t.ID, &t.Name, &t.Hash, &scopes, &partner, &by, &created, &used, &revoked); err != nil {
		return APIToken{}, err
	}
	t.Scopes = acctSplit(scopes)
	t.PartnerID, t.CreatedBy = partner.Int64, by.Int64
	t.Created, t.LastUsed, t.Revoked = acctTime(created), acctTime(used), acctTime(revoked)
	return t, nil
}

// APITokenByHash returns the active (not revoked) token with this hash, or ErrNotFound.
func (s *Store) APITokenByHash(ctx context.Context, hash string) (APIToken, error) {
	var t APIToken
	// One statement, so no transaction: it is on the path of every API call, where BEGIN and
	// COMMIT would triple the round trips to PostgreSQL.
	err := func() error {
		var err error
		t, err = scanToken(s.r.QueryRowContext(ctx, "SELECT "+tokenCols+" FROM api_tokens WHERE token_hash = $1 AND revoked_us = 0", hash))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return err
	}()
	if err != nil {
		return APIToken{}, fmt.Errorf("store: API token: %w", err)
	}
	return t, nil
}

// APITokens lists every token, revoked ones included, newest first.
func (s *Store) APITokens(ctx context.Context) ([]APIToken, error) {
	out := []APIToken{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		return scanAll(ctx, tx, "SELECT "+tokenCols+" FROM api_tokens ORDER BY id DESC", nil, func(rows *sql.Rows) error {
			t, err := scanToken(rows)
			if err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: API tokens: %w", err)
	}
	return out, nil
}

// RevokeAPIToken revokes an active token; ErrNotFound when there is no such active token.
func (s *Store) RevokeAPIToken(ctx context.Context, id int64, now time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, "UPDATE api_tokens SET revoked_us = $1 WHERE id = $2 AND revoked_us = 0", now.UnixMicro(), id)
		if err != nil {
			return err
		}
		return acctOneRow(r)
	})
	if err != nil {
		return fmt.Errorf("store: revoke API token %d: %w", id, err)
	}
	return nil
}

// TouchAPIToken records a use of a token, at most once a minute.
func (s *Store) TouchAPIToken(ctx context.Context, id int64, now time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE api_tokens SET last_used_us = $1 WHERE id = $2 AND last_used_us < $3",
			now.UnixMicro(), id, now.Add(-acctTouchEvery).UnixMicro())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: touch API token %d: %w", id, err)
	}
	return nil
}
