-- Imported public category lists, kept apart from the network's confirmed entries
-- (list_entries): one row per source with its provenance, one row per imported
-- value. The network's own entries win over imports (store.ActiveNetworkEntries).
CREATE TABLE list_import_sources (
    source      TEXT    PRIMARY KEY,
    category    TEXT    NOT NULL,
    origin      TEXT    NOT NULL,
    format      TEXT    NOT NULL,
    digest      TEXT    NOT NULL,
    entries     BIGINT  NOT NULL,
    imported_by TEXT    NOT NULL,
    imported_us BIGINT  NOT NULL
);
CREATE TABLE list_imports (
    source      TEXT    NOT NULL REFERENCES list_import_sources (source),
    kind        TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    imported_us BIGINT  NOT NULL,
    PRIMARY KEY (source, kind, value)
);
CREATE INDEX list_imports_value ON list_imports (value);
CREATE INDEX list_entries_value ON list_entries (value);

-- An import's changes number the list serial too: list_changes rows without an
-- entry, naming the source, kind and value instead.
ALTER TABLE list_changes ALTER COLUMN entry_id DROP NOT NULL;
ALTER TABLE list_changes ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE list_changes ADD COLUMN kind   TEXT NOT NULL DEFAULT '';
ALTER TABLE list_changes ADD COLUMN value  TEXT NOT NULL DEFAULT '';

-- The canary (store.CanaryValue) is built into every published list; it is not a
-- list entry and no entry may take its value.
CREATE FUNCTION list_entries_no_canary() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'canary.kidshield.example is the built-in canary entry: it cannot be proposed, changed or delisted';
END;
$$;
CREATE TRIGGER list_entries_no_canary BEFORE INSERT ON list_entries
FOR EACH ROW WHEN (NEW.value = 'canary.kidshield.example') EXECUTE FUNCTION list_entries_no_canary();
