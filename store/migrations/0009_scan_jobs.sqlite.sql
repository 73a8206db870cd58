-- The scanner's durable job queue and its results (issue 5). A job is leased by one worker
-- at a time (lease_owner, lease_until_us); a lease that expires is a worker that died, and
-- the job goes back to the queue. An identical pending job (same kind and payload digest)
-- is not queued twice: the partial unique index.
CREATE TABLE scan_jobs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    kind           TEXT    NOT NULL,
    digest         TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    host           TEXT    NOT NULL DEFAULT '',
    state          TEXT    NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    max_attempts   INTEGER NOT NULL,
    next_run_us    INTEGER NOT NULL,
    lease_owner    TEXT    NOT NULL DEFAULT '',
    lease_until_us INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT    NOT NULL DEFAULT '',
    created_us     INTEGER NOT NULL,
    updated_us     INTEGER NOT NULL
);
CREATE UNIQUE INDEX scan_jobs_pending ON scan_jobs (kind, digest) WHERE state IN ('queued', 'running');
CREATE INDEX scan_jobs_runnable ON scan_jobs (next_run_us, id) WHERE state = 'queued';
CREATE INDEX scan_jobs_running ON scan_jobs (host, lease_until_us) WHERE state = 'running';

-- What one scan found: the capture's evidence fields, the classifier's suggestion and the
-- known-hash matches, as JSON (suggestions, shown to analysts with their reasons).
CREATE TABLE scan_results (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id         INTEGER NOT NULL DEFAULT 0,
    case_id        INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    url            TEXT    NOT NULL,
    final_url      TEXT    NOT NULL DEFAULT '',
    remote_addr    TEXT    NOT NULL DEFAULT '',
    http_status    INTEGER NOT NULL DEFAULT 0,
    fetched_us     INTEGER NOT NULL,
    sha256         TEXT    NOT NULL DEFAULT '',
    bytes          INTEGER NOT NULL DEFAULT 0,
    error          TEXT    NOT NULL DEFAULT '',
    suggestion     TEXT    NOT NULL DEFAULT '{}',
    matches        TEXT    NOT NULL DEFAULT '[]',
    images_hashed  INTEGER NOT NULL DEFAULT 0,
    raised         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX scan_results_case ON scan_results (case_id, id);
