package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Monitored sources and the analysts' suggestions queue (migration 0010).

// Job kinds of monitored sources: a poll of a feed or sitemap, and a scan of one of its items.
const (
	ScanJobSourcePoll = "source_poll"
	ScanJobSourceItem = "source_item"
)

// Suggestion states.
const (
	SuggestionOpen      = "open"
	SuggestionOpened    = "opened" // a case was opened from it
	SuggestionDismissed = "dismissed"
)

// SourceSeenNew marks urls as seen by source and returns those it had not seen before, in
// order.
func (s *Store) SourceSeenNew(ctx context.Context, source string, urls []string, now time.Time) ([]string, error) {
	var fresh []string
	err := s.write(ctx, func(tx *sql.Tx) error {
		fresh = fresh[:0]
		for _, u := range urls {
			r, err := tx.ExecContext(ctx, `INSERT INTO scan_source_seen (source, url, first_seen_us) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
				source, cleanText(u), now.UnixMicro())
			if err != nil {
				return err
			}
			if n, err := r.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				fresh = append(fresh, u)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: seen items of source %s: %w", source, err)
	}
	return fresh, nil
}

// SourceSuggestion is one item of a monitored source that the scanner suggests to analysts.
type SourceSuggestion struct {
	ID         int64
	Source     string
	URL        string
	Canonical  string
	Title      string
	HTTPStatus int
	SHA256     string
	Suggestion ScanSuggestion
	Matches    []ScanMatch
	Created    time.Time
	State      string
	CaseID     int64
	DecidedBy  string // the audit label, "user:1:lan"
	// DecidedByID and DecidedByName are the user who decided (0 and "" for a decision taken
	// under an API token, or by a user since deleted); the page shows the name, not the label.
	DecidedByID   int64
	DecidedByName string
	// DecidedReason is why it was dismissed (required for a known-hash match).
	DecidedReason string
	Decided       time.Time
}

// AddSourceSuggestion queues a suggestion unless a case already names its canonical URL or an
// earlier suggestion has it; created says whether it was queued.
func (s *Store) AddSourceSuggestion(ctx context.Context, g SourceSuggestion) (id int64, created bool, err error) {
	if g.Canonical == "" || g.Source == "" {
		return 0, false, errors.New("store: add suggestion: no source or canonical URL")
	}
	sug, err := json.Marshal(g.Suggestion)
	if err != nil {
		return 0, false, err
	}
	if g.Matches == nil {
		g.Matches = []ScanMatch{}
	}
	m, err := json.Marshal(g.Matches)
	if err != nil {
		return 0, false, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM report_urls WHERE canonical = $1`, g.Canonical).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO scan_suggestions (source, url, canonical, title, http_status, sha256, suggestion, matches, created_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING id`,
			g.Source, cleanText(g.URL), cleanText(g.Canonical), cleanText(g.Title), g.HTTPStatus, g.SHA256, string(sug), string(m),
			g.Created.UnixMicro()).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		created = true
		return s.appendAudit(ctx, tx, AuditEvent{Time: g.Created, Actor: "scanner", Action: "suggestion.create", Object: fmt.Sprintf("suggestion:%d", id),
			Detail: map[string]any{"source": g.Source, "top": g.Suggestion.Top, "matches": len(g.Matches)}})
	})
	if err != nil {
		return 0, false, fmt.Errorf("store: add suggestion: %w", err)
	}
	return id, created, nil
}

const suggestionCols = `g.id, g.source, g.url, g.canonical, g.title, g.http_status, g.sha256, g.suggestion, g.matches, g.created_us, g.state, g.case_id,
	g.decided_by, g.decided_by_id, COALESCE(u.name, ''), g.decided_reason, g.decided_us`

// suggestionFrom joins the decider's account for their name, as caseFrom does for assignees.
const suggestionFrom = ` FROM scan_suggestions g LEFT JOIN users u ON u.id = g.decided_by_id`

func scanSourceSuggestion(sc interface{ Scan(...any) error }) (*SourceSuggestion, error) {
	var g SourceSuggestion
	var sug, m string
	var created, decided int64
	if err := sc.Scan(&g.ID, &g.Source, &g.URL, &g.Canonical, &g.Title, &g.HTTPStatus, &g.SHA256, &sug, &m, &created, &g.State, &g.CaseID,
		&g.DecidedBy, &g.DecidedByID, &g.DecidedByName, &g.DecidedReason, &decided); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(sug), &g.Suggestion); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(m), &g.Matches); err != nil {
		return nil, err
	}
	g.Created, g.Decided = usTime(created), usTime(decided)
	return &g, nil
}

// SourceSuggestions lists suggestions in state (all when ""), newest first, at most limit
// (default 100, at most 1000).
func (s *Store) SourceSuggestions(ctx context.Context, state string, limit int) ([]*SourceSuggestion, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	rows, err := s.r.QueryContext(ctx, `SELECT `+suggestionCols+suggestionFrom+` WHERE ($1 = '' OR g.state = $1) ORDER BY g.id DESC LIMIT $2`, state, limit)
	if err != nil {
		return nil, fmt.Errorf("store: suggestions: %w", err)
	}
	defer rows.Close()
	var out []*SourceSuggestion
	for rows.Next() {
		g, err := scanSourceSuggestion(rows)
		if err != nil {
			return nil, fmt.Errorf("store: suggestions: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// SourceSuggestionByID returns one suggestion.
func (s *Store) SourceSuggestionByID(ctx context.Context, id int64) (*SourceSuggestion, error) {
	g, err := scanSourceSuggestion(s.r.QueryRowContext(ctx, `SELECT `+suggestionCols+suggestionFrom+` WHERE g.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: suggestion %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: suggestion %d: %w", id, err)
	}
	return g, nil
}

// ErrReasonRequired is returned (wrapped) when a suggestion with a known-hash match is dismissed
// without a reason: the match is the strongest signal the system has, so whoever sets it aside
// says why, for the audit log and for whoever looks at it again.
var ErrReasonRequired = errors.New("a known-hash match is dismissed only with a reason")

// SuggestionDecision is an analyst's decision on an open suggestion.
type SuggestionDecision struct {
	To      string // SuggestionOpened or SuggestionDismissed
	CaseID  int64  // the case opened from it
	ActorID int64  // the deciding user, 0 for none (an API token)
	Actor   string // the audit label
	Reason  string // why it was dismissed; required when it has a known-hash match
	Time    time.Time
}

// DecideSourceSuggestion closes an open suggestion: opened (with the case made from it) or
// dismissed, by d.Actor, audited with the reason. A suggestion no longer open is ErrConflict; a
// known-hash match dismissed without a reason is ErrReasonRequired.
func (s *Store) DecideSourceSuggestion(ctx context.Context, id int64, d SuggestionDecision) error {
	if d.To != SuggestionOpened && d.To != SuggestionDismissed {
		return fmt.Errorf("store: decide suggestion %d: unknown state %q", id, d.To)
	}
	reason := cleanText(strings.TrimSpace(d.Reason))
	err := s.write(ctx, func(tx *sql.Tx) error {
		var state, matches string
		err := tx.QueryRowContext(ctx, `SELECT state, matches FROM scan_suggestions WHERE id = $1`, id).Scan(&state, &matches)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if state != SuggestionOpen {
			return fmt.Errorf("already %s: %w", state, ErrConflict)
		}
		// matches is "[]" when there is none (AddSourceSuggestion never stores null).
		if d.To == SuggestionDismissed && reason == "" && strings.TrimSpace(matches) != "[]" {
			return ErrReasonRequired
		}
		r, err := tx.ExecContext(ctx, `UPDATE scan_suggestions SET state = $1, case_id = $2, decided_by = $3, decided_by_id = $4, decided_reason = $5,
			decided_us = $6 WHERE id = $7 AND state = 'open'`, d.To, d.CaseID, d.Actor, d.ActorID, reason, d.Time.UnixMicro(), id)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			// Decided by another node between the read and the update (PostgreSQL).
			return fmt.Errorf("decided meanwhile: %w", ErrConflict)
		}
		// The audit log never holds free text (it is append-only, and a reason may name
		// someone): it records that a reason was given; the text stays on the suggestion,
		// as a list entry keeps its own (ChangeListEntry).
		return s.appendAudit(ctx, tx, AuditEvent{Time: d.Time, Actor: d.Actor, Action: "suggestion." + d.To, Object: fmt.Sprintf("suggestion:%d", id),
			Detail: map[string]any{"case": d.CaseID, "known_hash": strings.TrimSpace(matches) != "[]", "reason_given": reason != ""}})
	})
	if err != nil {
		return fmt.Errorf("store: decide suggestion %d: %w", id, err)
	}
	return nil
}
