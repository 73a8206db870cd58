-- Imported public category lists, kept apart from the network's confirmed entries
-- (list_entries): one row per source with its provenance, one row per imported
-- value. The network's own entries win over imports (store.ActiveNetworkEntries).
CREATE TABLE list_import_sources (
    source      TEXT    PRIMARY KEY,
    category    TEXT    NOT NULL,
    origin      TEXT    NOT NULL,
    format      TEXT    NOT NULL,
    digest      TEXT    NOT NULL,
    entries     INTEGER NOT NULL,
    imported_by TEXT    NOT NULL,
    imported_us INTEGER NOT NULL
);
CREATE TABLE list_imports (
    source      TEXT    NOT NULL REFERENCES list_import_sources (source),
    kind        TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    imported_us INTEGER NOT NULL,
    PRIMARY KEY (source, kind, value)
);
CREATE INDEX list_imports_value ON list_imports (value);
CREATE INDEX list_entries_value ON list_entries (value);

-- An import's changes number the list serial too: list_changes rows without an
-- entry, naming the source, kind and value instead. SQLite cannot drop NOT NULL
-- in place, so the table is rebuilt (serials kept, so the serial never goes back).
CREATE TABLE list_changes_new (
    serial   INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id INTEGER REFERENCES list_entries (id),
    op       TEXT    NOT NULL,
    time_us  INTEGER NOT NULL,
    source   TEXT    NOT NULL DEFAULT '',
    kind     TEXT    NOT NULL DEFAULT '',
    value    TEXT    NOT NULL DEFAULT ''
);
INSERT INTO list_changes_new (serial, entry_id, op, time_us) SELECT serial, entry_id, op, time_us FROM list_changes;
DELETE FROM sqlite_sequence WHERE name = 'list_changes_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'list_changes_new', seq FROM sqlite_sequence WHERE name = 'list_changes';
DROP TABLE list_changes;
ALTER TABLE list_changes_new RENAME TO list_changes;

-- The canary (store.CanaryValue) is built into every published list; it is not a
-- list entry and no entry may take its value.
CREATE TRIGGER list_entries_no_canary BEFORE INSERT ON list_entries
WHEN NEW.value = 'canary.kidshield.example'
BEGIN
    SELECT RAISE(ABORT, 'canary.kidshield.example is the built-in canary entry: it cannot be proposed, changed or delisted');
END;
