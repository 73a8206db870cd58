-- Scanner (issue 5): why a scan failed, as a stable kind the case page words in the analyst's
-- language (scanner.FailureKind: private, port, disallowed, timeout, dns, …). The raw error
-- stays in scan_results.error for the record; rows from before this migration have no kind
-- and are shown with the generic sentence.
ALTER TABLE scan_results ADD COLUMN error_kind TEXT NOT NULL DEFAULT '';
