package store

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// A suggestion with a known-hash match is dismissed only with a reason, kept on the suggestion;
// the audit log says a reason was given, never its text. Other suggestions are dismissed
// without one. The decider's name comes from their account.
func TestDecideSourceSuggestionReason(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		uid, err := s.CreateUser(ctx, User{Login: "lan", Name: "Nguyễn Thị Lan", Roles: []string{"analyst"}, PasswordHash: "h"})
		if err != nil {
			t.Fatal(err)
		}
		add := func(u string, matches []ScanMatch) int64 {
			id, _, err := s.AddSourceSuggestion(ctx, SourceSuggestion{Source: "bao", URL: u, Canonical: u, Matches: matches, Created: scanT0,
				Suggestion: ScanSuggestion{Top: "gambling"}})
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		hash := add("https://a.example/hash", []ScanMatch{{ImageURL: "https://a.example/i.png", Distance: 2}})
		text := add("https://a.example/text", nil)
		by := SuggestionDecision{To: SuggestionDismissed, ActorID: uid, Actor: "user:1:lan", Time: scanT0}

		for _, reason := range []string{"", " \n\t "} {
			d := by
			d.Reason = reason
			if err := s.DecideSourceSuggestion(ctx, hash, d); !errors.Is(err, ErrReasonRequired) {
				t.Fatalf("known hash dismissed with reason %q: %v", reason, err)
			}
		}
		if g, _ := s.SourceSuggestionByID(ctx, hash); g.State != SuggestionOpen {
			t.Fatalf("refused dismissal changed the suggestion: %+v", g)
		}
		d := by
		d.Reason = "  logo của báo, không phải ảnh xâm hại  "
		if err := s.DecideSourceSuggestion(ctx, hash, d); err != nil {
			t.Fatal(err)
		}
		g, err := s.SourceSuggestionByID(ctx, hash)
		if err != nil || g.State != SuggestionDismissed || g.DecidedReason != "logo của báo, không phải ảnh xâm hại" || g.DecidedByID != uid ||
			g.DecidedByName != "Nguyễn Thị Lan" || g.DecidedBy != "user:1:lan" {
			t.Fatalf("dismissed %+v %v", g, err)
		}
		if err := s.DecideSourceSuggestion(ctx, text, by); err != nil {
			t.Fatalf("text suggestion without a reason: %v", err)
		}
		// A decision under a token has no account: no name, and the list still reads.
		tok := add("https://a.example/token", nil)
		if err := s.DecideSourceSuggestion(ctx, tok, SuggestionDecision{To: SuggestionOpened, CaseID: 3, Actor: "token:2:x", Time: scanT0}); err != nil {
			t.Fatal(err)
		}
		list, err := s.SourceSuggestions(ctx, "", 0)
		if err != nil || len(list) != 3 || list[0].DecidedByName != "" || list[2].DecidedByName != "Nguyễn Thị Lan" {
			t.Fatalf("list %+v %v", list, err)
		}

		recs, err := s.AuditList(ctx, AuditFilter{Action: "suggestion.dismissed"})
		if err != nil || len(recs) != 2 {
			t.Fatalf("audit %v %v", recs, err)
		}
		// Newest first: the text suggestion, then the known hash.
		if !strings.Contains(recs[1].Detail, `"known_hash":true`) || !strings.Contains(recs[1].Detail, `"reason_given":true`) ||
			!strings.Contains(recs[0].Detail, `"reason_given":false`) {
			t.Errorf("audit details %s / %s", recs[1].Detail, recs[0].Detail)
		}
		for _, r := range recs {
			if strings.Contains(r.Detail, "logo") {
				t.Errorf("the reason's text is in the audit log: %s", r.Detail)
			}
		}
	})
}

// Suggestions decided before migration 0012 get their decider's user id from the audit label,
// so the page shows their name too.
func TestMigration0012DecidedByID(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		uid, err := s.CreateUser(ctx, User{Login: "lan", Name: "Lan", PasswordHash: "h"})
		if err != nil {
			t.Fatal(err)
		}
		// Back to schema 11, with suggestions decided by a user, a token and nobody.
		for _, q := range []string{`ALTER TABLE scan_suggestions DROP COLUMN decided_by_id`, `ALTER TABLE scan_suggestions DROP COLUMN decided_reason`,
			`DELETE FROM schema_migrations WHERE version = 12`} {
			if _, err := s.w.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		for i, by := range []string{"user:" + strconv.FormatInt(uid, 10) + ":lan", "token:4:app", ""} {
			state := "dismissed"
			if by == "" {
				state = "open"
			}
			if _, err := s.w.ExecContext(ctx, `INSERT INTO scan_suggestions (source, url, canonical, created_us, state, decided_by) VALUES ('bao', $1, $1, 1, $2, $3)`,
				"https://a.example/"+strconv.Itoa(i), state, by); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		list, err := s.SourceSuggestions(ctx, "", 0)
		if err != nil || len(list) != 3 {
			t.Fatalf("list %v %v", list, err)
		}
		got := map[string]int64{}
		for _, g := range list {
			got[g.DecidedBy] = g.DecidedByID
		}
		if got["user:"+strconv.FormatInt(uid, 10)+":lan"] != uid || got["token:4:app"] != 0 || got[""] != 0 || list[2].DecidedByName != "Lan" {
			t.Fatalf("decided_by_id after the migration: %v, %+v", got, list[2])
		}
	})
}
