-- Scanner (issue 5): the kind of a job's last failure (scanner.FailureKind), so that the case
-- page can say why a scan that is being retried has not reached its page yet ("the name does
-- not exist"), not only that it is retrying. Empty for jobs that never failed, and for
-- failures recorded before this migration.
ALTER TABLE scan_jobs ADD COLUMN last_error_kind TEXT NOT NULL DEFAULT '';
