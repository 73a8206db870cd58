-- The filter's query log, off by default. client is already anonymised by the
-- filter when configured so. time_us is unix microseconds, UTC. AUTOINCREMENT
-- keeps ids from being reused after a purge empties the table, so a paging
-- cursor (an id) never points at a different entry.
CREATE TABLE filter_query_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    time_us  INTEGER NOT NULL,
    profile  TEXT    NOT NULL,
    device   TEXT    NOT NULL,
    client   TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    qtype    TEXT    NOT NULL,
    result   TEXT    NOT NULL,
    category TEXT    NOT NULL
);
CREATE INDEX filter_query_log_time ON filter_query_log (time_us);
CREATE INDEX filter_query_log_profile ON filter_query_log (profile, device, id);
