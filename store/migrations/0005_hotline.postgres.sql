-- The hotline: partners, cases, reports and their URLs, case history,
-- evidence, screenshots, takedown notices and the network list. Times are
-- unix microseconds, UTC; 0 means "not yet". Columns named *_sealed hold
-- values encrypted by the application (package seal): the database never sees
-- a reporter's contact, a description or a note in clear. States are the
-- lifecycle of HOTLINE.md and are checked by package hotline/lifecycle, in
-- the store, before any write.

-- Partner organisations (police, ministries, platforms, hosts, ISPs, foreign
-- hotlines): data an administrator edits, never code.
CREATE TABLE partners (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL,
    country    TEXT    NOT NULL DEFAULT 'VN',
    email      TEXT    NOT NULL DEFAULT '',
    language   TEXT    NOT NULL DEFAULT 'vi',
    -- domains the partner answers for (a platform's or host's), comma-separated:
    -- suggests the recipient of a notice and groups removal rates per platform.
    domains    TEXT    NOT NULL DEFAULT '',
    deadline_h BIGINT  NOT NULL DEFAULT 24,
    active     BIGINT  NOT NULL DEFAULT 1,
    created_us BIGINT  NOT NULL
);

CREATE TABLE cases (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ref          TEXT    NOT NULL UNIQUE,
    state        TEXT    NOT NULL,
    priority     BIGINT  NOT NULL,
    harm         TEXT    NOT NULL,
    severity     BIGINT  NOT NULL DEFAULT 0,
    legal        TEXT    NOT NULL DEFAULT '',
    age_band     TEXT    NOT NULL DEFAULT '',
    flags        TEXT    NOT NULL DEFAULT '',
    province     TEXT    NOT NULL DEFAULT '',
    channel      TEXT    NOT NULL,
    platform     TEXT    NOT NULL DEFAULT '',
    danger_now   BIGINT  NOT NULL DEFAULT 0,
    assignee_id  BIGINT ,
    report_count BIGINT  NOT NULL DEFAULT 1,
    received_us  BIGINT  NOT NULL,
    sla_due_us   BIGINT  NOT NULL,
    triaged_us   BIGINT  NOT NULL DEFAULT 0,
    assessed_us  BIGINT  NOT NULL DEFAULT 0,
    referred_us  BIGINT  NOT NULL DEFAULT 0,
    resolved_us  BIGINT  NOT NULL DEFAULT 0,
    closed_us    BIGINT  NOT NULL DEFAULT 0,
    updated_us   BIGINT  NOT NULL,
    version      BIGINT  NOT NULL DEFAULT 1
);
CREATE INDEX cases_queue ON cases (state, priority, sla_due_us);
-- Covering indexes for the statistics, which read only these columns over a period.
CREATE INDEX cases_received ON cases (received_us, triaged_us, assessed_us, province);

CREATE TABLE reports (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ref               TEXT    NOT NULL UNIQUE,
    status_hash       TEXT    NOT NULL,
    case_id           BIGINT  REFERENCES cases (id),
    state             TEXT    NOT NULL,
    channel           TEXT    NOT NULL,
    received_us       BIGINT  NOT NULL,
    language          TEXT    NOT NULL,
    harm              TEXT    NOT NULL,
    reporter_type     TEXT    NOT NULL DEFAULT '',
    age_band          TEXT    NOT NULL DEFAULT '',
    province          TEXT    NOT NULL DEFAULT '',
    platform          TEXT    NOT NULL DEFAULT '',
    account           TEXT    NOT NULL DEFAULT '',
    where_kind        TEXT    NOT NULL DEFAULT '',
    incident_when     TEXT    NOT NULL DEFAULT '',
    danger_now        BIGINT  NOT NULL DEFAULT 0,
    self_harm_risk    BIGINT  NOT NULL DEFAULT 0,
    extortion_ongoing BIGINT  NOT NULL DEFAULT 0,
    wants_feedback    BIGINT  NOT NULL DEFAULT 0,
    legal_basis       TEXT    NOT NULL DEFAULT '',
    description_sealed TEXT   NOT NULL DEFAULT '',
    contact_sealed    TEXT    NOT NULL DEFAULT '',
    ip_hash           TEXT    NOT NULL DEFAULT '',
    operator_id       BIGINT ,
    token_id          BIGINT ,
    idem_key          TEXT,
    purged_us         BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX reports_case ON reports (case_id);
CREATE INDEX reports_received ON reports (received_us, harm, channel, state);
CREATE UNIQUE INDEX reports_idem ON reports (token_id, idem_key) WHERE idem_key IS NOT NULL;

-- Each URL a report names, raw and canonical; dedup looks up canonical.
CREATE TABLE report_urls (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_id BIGINT  NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    case_id   BIGINT  REFERENCES cases (id),
    raw       TEXT    NOT NULL,
    canonical TEXT    NOT NULL,
    host      TEXT    NOT NULL
);
CREATE INDEX report_urls_canonical ON report_urls (canonical);
CREATE INDEX report_urls_case ON report_urls (case_id);

-- Screenshots a reporter attached (only for harm types that allow them),
-- re-encoded without metadata, sealed.
CREATE TABLE attachments (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_id    BIGINT  NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    content_type TEXT    NOT NULL,
    width        BIGINT  NOT NULL,
    height       BIGINT  NOT NULL,
    sha256       TEXT    NOT NULL,
    data_sealed  BYTEA   NOT NULL,
    created_us   BIGINT  NOT NULL
);
CREATE INDEX attachments_report ON attachments (report_id);

-- The history of a case: transitions, assignment, classification, notes.
CREATE TABLE case_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id     BIGINT  NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    time_us     BIGINT  NOT NULL,
    actor_id    BIGINT ,
    kind        TEXT    NOT NULL,
    from_state  TEXT    NOT NULL DEFAULT '',
    to_state    TEXT    NOT NULL DEFAULT '',
    detail      TEXT    NOT NULL DEFAULT '',
    note_sealed TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX case_events_case ON case_events (case_id, id);

-- Evidence: what was seen where and when, with hashes; never sexual media.
CREATE TABLE evidence (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id      BIGINT  NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    url          TEXT    NOT NULL,
    final_url    TEXT    NOT NULL DEFAULT '',
    captured_us  BIGINT  NOT NULL,
    http_status  BIGINT  NOT NULL DEFAULT 0,
    sha256       TEXT    NOT NULL DEFAULT '',
    pdq          TEXT    NOT NULL DEFAULT '',
    content_type TEXT    NOT NULL DEFAULT '',
    source       TEXT    NOT NULL DEFAULT 'analyst',
    note         TEXT    NOT NULL DEFAULT '',
    added_by     BIGINT 
);
CREATE INDEX evidence_case ON evidence (case_id);

CREATE TABLE notices (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ref              TEXT    NOT NULL UNIQUE,
    case_id          BIGINT  NOT NULL REFERENCES cases (id),
    partner_id       BIGINT  NOT NULL REFERENCES partners (id),
    kind             TEXT    NOT NULL DEFAULT 'takedown',
    state            TEXT    NOT NULL,
    language         TEXT    NOT NULL DEFAULT 'vi',
    ground           TEXT    NOT NULL,
    legal_text       TEXT    NOT NULL DEFAULT '',
    explanation      TEXT    NOT NULL DEFAULT '',
    category         TEXT    NOT NULL,
    detection        TEXT    NOT NULL DEFAULT 'report',
    automated        BIGINT  NOT NULL DEFAULT 0,
    action           TEXT    NOT NULL DEFAULT 'remove',
    scope            TEXT    NOT NULL DEFAULT 'global',
    preserve         BIGINT  NOT NULL DEFAULT 1,
    tlp              TEXT    NOT NULL DEFAULT 'AMBER',
    deadline_us      BIGINT  NOT NULL DEFAULT 0,
    -- hours the recipient has once the notice is sent (the partner's, or as drafted)
    deadline_h       BIGINT  NOT NULL DEFAULT 24,
    created_by       BIGINT ,
    created_us       BIGINT  NOT NULL,
    approved_by      BIGINT ,
    approved_us      BIGINT  NOT NULL DEFAULT 0,
    sent_us          BIGINT  NOT NULL DEFAULT 0,
    acknowledged_us  BIGINT  NOT NULL DEFAULT 0,
    actioned_us      BIGINT  NOT NULL DEFAULT 0,
    action_taken     TEXT    NOT NULL DEFAULT '',
    verified_us      BIGINT  NOT NULL DEFAULT 0,
    closed_us        BIGINT  NOT NULL DEFAULT 0,
    reminders        BIGINT  NOT NULL DEFAULT 0,
    last_reminder_us BIGINT  NOT NULL DEFAULT 0,
    response         TEXT    NOT NULL DEFAULT '',
    reappeared_us    BIGINT  NOT NULL DEFAULT 0,
    signature        TEXT    NOT NULL DEFAULT '',
    updated_us       BIGINT  NOT NULL
);
CREATE INDEX notices_partner ON notices (partner_id, state);
CREATE INDEX notices_case ON notices (case_id);
CREATE INDEX notices_deadline ON notices (state, deadline_us);

CREATE TABLE notice_items (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notice_id     BIGINT  NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
    url           TEXT    NOT NULL,
    platform_id   TEXT    NOT NULL DEFAULT '',
    content_type  TEXT    NOT NULL DEFAULT '',
    first_seen_us BIGINT  NOT NULL DEFAULT 0,
    hashes        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX notice_items_notice ON notice_items (notice_id);

-- The network list. kind is domain (with subdomains), host, url or hash.
-- At most one live entry per value; delisted and disabled ones stay as
-- tombstones. list_changes numbers every change: its id is the list serial.
CREATE TABLE list_entries (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             TEXT    NOT NULL,
    value            TEXT    NOT NULL,
    category         TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    case_id          BIGINT  REFERENCES cases (id),
    source           TEXT    NOT NULL,
    reason           TEXT    NOT NULL DEFAULT '',
    proposed_by      BIGINT ,
    proposed_us      BIGINT  NOT NULL,
    approved_by      BIGINT ,
    activated_us     BIGINT  NOT NULL DEFAULT 0,
    ended_us         BIGINT  NOT NULL DEFAULT 0,
    last_verified_us BIGINT  NOT NULL DEFAULT 0,
    expires_us       BIGINT  NOT NULL DEFAULT 0,
    updated_us       BIGINT  NOT NULL
);
CREATE UNIQUE INDEX list_entries_live ON list_entries (kind, value) WHERE state IN ('proposed', 'active', 'appealed');
CREATE INDEX list_entries_state ON list_entries (state);
CREATE TABLE list_changes (
    serial   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry_id BIGINT  NOT NULL REFERENCES list_entries (id),
    op       TEXT    NOT NULL,
    time_us  BIGINT  NOT NULL
);
