-- The append-only audit log. seq runs 1, 2, 3, ... without gaps; hash chains
-- each row to the one before (see package audit), so an edited, inserted or
-- deleted row breaks the chain and `kidshield audit verify` names it. detail
-- is JSON and never holds personal data: it names what was seen or changed,
-- not the values.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    time_us   INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    object    TEXT    NOT NULL,
    detail    TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);
CREATE INDEX audit_log_object ON audit_log (object, seq);
