-- The scanner's durable job queue and its results (issue 5). A job is leased by one worker
-- at a time (lease_owner, lease_until_us); a lease that expires is a worker that died, and
-- the job goes back to the queue. An identical pending job (same kind and payload digest)
-- is not queued twice: the partial unique index.
CREATE TABLE scan_jobs (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind           TEXT    NOT NULL,
    digest         TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    host           TEXT    NOT NULL DEFAULT '',
    state          TEXT    NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts       BIGINT  NOT NULL DEFAULT 0,
    max_attempts   BIGINT  NOT NULL,
    next_run_us    BIGINT  NOT NULL,
    lease_owner    TEXT    NOT NULL DEFAULT '',
    lease_until_us BIGINT  NOT NULL DEFAULT 0,
    last_error     TEXT    NOT NULL DEFAULT '',
    created_us     BIGINT  NOT NULL,
    updated_us     BIGINT  NOT NULL
);
CREATE UNIQUE INDEX scan_jobs_pending ON scan_jobs (kind, digest) WHERE state IN ('queued', 'running');
CREATE INDEX scan_jobs_runnable ON scan_jobs (next_run_us, id) WHERE state = 'queued';
CREATE INDEX scan_jobs_running ON scan_jobs (host, lease_until_us) WHERE state = 'running';

-- What one scan found: the capture's evidence fields, the classifier's suggestion and the
-- known-hash matches, as JSON (suggestions, shown to analysts with their reasons).
CREATE TABLE scan_results (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id         BIGINT  NOT NULL DEFAULT 0,
    case_id        BIGINT  NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    url            TEXT    NOT NULL,
    final_url      TEXT    NOT NULL DEFAULT '',
    remote_addr    TEXT    NOT NULL DEFAULT '',
    http_status    BIGINT  NOT NULL DEFAULT 0,
    fetched_us     BIGINT  NOT NULL,
    sha256         TEXT    NOT NULL DEFAULT '',
    bytes          BIGINT  NOT NULL DEFAULT 0,
    error          TEXT    NOT NULL DEFAULT '',
    suggestion     TEXT    NOT NULL DEFAULT '{}',
    matches        TEXT    NOT NULL DEFAULT '[]',
    images_hashed  BIGINT  NOT NULL DEFAULT 0,
    raised         BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX scan_results_case ON scan_results (case_id, id);
