-- Scanner (issue 5): notice re-checks and monitored sources.
-- Re-checks of the URLs of takedown notices (issue 5): the last check of each notice item,
-- so that a removal is recorded once every URL of a notice is gone and content that comes
-- back after a removal is seen as a change, not as another present page.
CREATE TABLE notice_item_checks (
    item_id        INTEGER NOT NULL PRIMARY KEY REFERENCES notice_items (id) ON DELETE CASCADE,
    notice_id      INTEGER NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
    checked_us     INTEGER NOT NULL,
    http_status    INTEGER NOT NULL DEFAULT 0,
    final_url      TEXT    NOT NULL DEFAULT '',
    sha256         TEXT    NOT NULL DEFAULT '',
    gone           INTEGER NOT NULL DEFAULT 0,
    -- why: http_404, http_410, marker:<platform>, hash_absent; page_present, hash_present
    reason         TEXT    NOT NULL DEFAULT '',
    gone_since_us  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX notice_item_checks_notice ON notice_item_checks (notice_id);

-- Monitored sources (feeds and sitemaps): the item URLs each source has already yielded, so
-- that a poll queues only new ones.
CREATE TABLE scan_source_seen (
    source         TEXT    NOT NULL,
    url            TEXT    NOT NULL,
    first_seen_us  INTEGER NOT NULL,
    PRIMARY KEY (source, url)
);

-- The analysts' suggestions queue: monitored items with a known-hash match or a category past
-- its threshold, with the reasons. One per canonical URL; none for a URL a case already has.
CREATE TABLE scan_suggestions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    source         TEXT    NOT NULL,
    url            TEXT    NOT NULL,
    canonical      TEXT    NOT NULL UNIQUE,
    title          TEXT    NOT NULL DEFAULT '',
    http_status    INTEGER NOT NULL DEFAULT 0,
    sha256         TEXT    NOT NULL DEFAULT '',
    suggestion     TEXT    NOT NULL DEFAULT '{}',
    matches        TEXT    NOT NULL DEFAULT '[]',
    created_us     INTEGER NOT NULL,
    state          TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'opened', 'dismissed')),
    case_id        INTEGER NOT NULL DEFAULT 0,
    decided_by     TEXT    NOT NULL DEFAULT '',
    decided_us     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX scan_suggestions_state ON scan_suggestions (state, id);
