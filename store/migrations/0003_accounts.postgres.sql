-- Staff and partner accounts, their sessions and API tokens. Times are unix
-- microseconds, UTC. roles is a comma-separated subset of
-- operator,analyst,supervisor,partner,admin. password_hash is an Argon2id PHC
-- string; totp_secret is sealed (encrypted) by the application, '' until the
-- user enrols. Session and token values are never stored: only their SHA-256.
CREATE TABLE users (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login               TEXT    NOT NULL UNIQUE,
    name                TEXT    NOT NULL,
    roles               TEXT    NOT NULL,
    partner_id          BIGINT ,
    password_hash       TEXT    NOT NULL,
    totp_secret         TEXT    NOT NULL DEFAULT '',
    totp_last_step      BIGINT  NOT NULL DEFAULT 0,
    disabled            BIGINT  NOT NULL DEFAULT 0,
    created_us          BIGINT  NOT NULL,
    password_changed_us BIGINT  NOT NULL
);
CREATE TABLE sessions (
    id_hash      TEXT    PRIMARY KEY,
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf         TEXT    NOT NULL,
    mfa_done     BIGINT  NOT NULL DEFAULT 0,
    created_us   BIGINT  NOT NULL,
    last_seen_us BIGINT  NOT NULL,
    expires_us   BIGINT  NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_us);
CREATE TABLE api_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    scopes       TEXT    NOT NULL,
    partner_id   BIGINT ,
    created_by   BIGINT ,
    created_us   BIGINT  NOT NULL,
    last_used_us BIGINT  NOT NULL DEFAULT 0,
    revoked_us   BIGINT  NOT NULL DEFAULT 0
);
