-- Suggestions (desk trial): who decided a suggestion, as a user id the page joins to the
-- user's name (decided_by stays the audit label, "user:1:lan"), and why it was dismissed: a
-- dismissal of a known-hash match needs a reason (store.DecideSourceSuggestion). Rows decided
-- before this migration get their user id back from the label.
ALTER TABLE scan_suggestions ADD COLUMN decided_by_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE scan_suggestions ADD COLUMN decided_reason TEXT NOT NULL DEFAULT '';
UPDATE scan_suggestions
   SET decided_by_id = CAST(split_part(decided_by, ':', 2) AS BIGINT)
 WHERE decided_by ~ '^user:[0-9]+:';
