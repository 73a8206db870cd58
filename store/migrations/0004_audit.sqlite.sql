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
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_time ON audit_log (time_us);
-- Defence in depth: the application never updates or deletes a record. Someone with write
-- access to the file can drop these triggers; the hash chain (and an anchor kept elsewhere)
-- is what detects that.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
