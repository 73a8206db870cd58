-- A URL entry may also block its host by DNS ("everything on that host"): the
-- host's normalised name is kept here and published to DNS consumers as a host
-- entry (store.publishedEntries); '' for every other entry. The index serves the
-- narrowed reads of an incremental publisher (store.NetworkListChanges).
ALTER TABLE list_entries ADD COLUMN dns_name TEXT NOT NULL DEFAULT '';
CREATE INDEX list_entries_dns_name ON list_entries (dns_name) WHERE dns_name <> '';
-- Re-check due: active entries by expiry (the desk's "re-check due" list).
CREATE INDEX list_entries_expires ON list_entries (expires_us) WHERE state IN ('active', 'appealed');
