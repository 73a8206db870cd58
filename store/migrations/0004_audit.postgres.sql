-- The append-only audit log. seq runs 1, 2, 3, ... without gaps; hash chains
-- each row to the one before (see package audit), so an edited, inserted or
-- deleted row breaks the chain and `kidshield audit verify` names it. detail
-- is JSON and never holds personal data: it names what was seen or changed,
-- not the values.
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    time_us   BIGINT  NOT NULL,
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
-- Defence in depth: the application never updates or deletes a record. A superuser or the
-- table's owner can drop these triggers; the hash chain (and an anchor kept elsewhere) is what
-- detects that. Deployments should also REVOKE UPDATE, DELETE, TRUNCATE on audit_log from the
-- role kidshield runs as when that role does not own the schema.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
