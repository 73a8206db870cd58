-- The RPZ feed's journal (store.AddFeedVersion): one row per published version of
-- the zone, naming the version it was built from, and one row per name whose
-- kinds changed, with the kinds it had in that previous version (feed/rpz's
-- flags: 1 domain, 2 host, 0 not listed). Kept so that IXFR is answered
-- incrementally after a restart and by every control node sharing the store.
CREATE TABLE feed_versions (
    serial     BIGINT PRIMARY KEY,
    prev       BIGINT NOT NULL,
    created_us BIGINT NOT NULL
);
CREATE TABLE feed_deltas (
    serial BIGINT NOT NULL,
    name   TEXT    NOT NULL,
    was    INTEGER NOT NULL,
    PRIMARY KEY (serial, name)
);
