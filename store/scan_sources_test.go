package store

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

func TestSourceSeenNew(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		got, err := s.SourceSeenNew(ctx, "bao", []string{"https://a.vn/1", "https://a.vn/2"}, scanT0)
		if err != nil || !slices.Equal(got, []string{"https://a.vn/1", "https://a.vn/2"}) {
			t.Fatalf("first poll %v %v", got, err)
		}
		got, err = s.SourceSeenNew(ctx, "bao", []string{"https://a.vn/2", "https://a.vn/3"}, scanT0)
		if err != nil || !slices.Equal(got, []string{"https://a.vn/3"}) {
			t.Fatalf("second poll %v %v", got, err)
		}
		// Another source keeps its own memory.
		if got, err := s.SourceSeenNew(ctx, "other", []string{"https://a.vn/1"}, scanT0); err != nil || len(got) != 1 {
			t.Fatalf("other source %v %v", got, err)
		}
	})
}

// Suggestions are deduplicated against cases' canonical URLs and earlier suggestions; an open
// one is decided once.
func TestSourceSuggestions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		ntcCase(t, s, lifecycle.CaseNew, "https://a.example/case")
		g := SourceSuggestion{Source: "bao", URL: "http://a.example/new", Canonical: "https://a.example/new", Title: "Tin", HTTPStatus: 200,
			Suggestion: ScanSuggestion{Top: "sexual", Scores: map[string]float64{"sexual": 0.9}, Reasons: []ScanReason{{Category: "sexual", Rule: "lexicon", Evidence: "x"}}},
			Matches:    []ScanMatch{{ImageURL: "https://a.example/i.png", Distance: 3}}, Created: scanT0}
		id, created, err := s.AddSourceSuggestion(ctx, g)
		if err != nil || !created || id == 0 {
			t.Fatalf("add: %d %v %v", id, created, err)
		}
		if _, created, err := s.AddSourceSuggestion(ctx, g); err != nil || created {
			t.Fatalf("again: %v %v", created, err)
		}
		onCase := g
		onCase.Canonical = "https://a.example/case"
		if _, created, err := s.AddSourceSuggestion(ctx, onCase); err != nil || created {
			t.Fatalf("URL of a case: %v %v", created, err)
		}
		list, err := s.SourceSuggestions(ctx, SuggestionOpen, 0)
		if err != nil || len(list) != 1 {
			t.Fatalf("list %v %v", list, err)
		}
		got := list[0]
		if got.ID != id || got.Title != "Tin" || got.Suggestion.Top != "sexual" || len(got.Suggestion.Reasons) != 1 || len(got.Matches) != 1 ||
			got.Matches[0].Distance != 3 || !got.Created.Equal(scanT0) || got.State != SuggestionOpen {
			t.Fatalf("suggestion %+v", got)
		}
		at := scanT0.Add(time.Hour)
		if err := s.DecideSourceSuggestion(ctx, id, SuggestionDecision{To: SuggestionOpened, CaseID: 42, Actor: "user:1:lan", Time: at}); err != nil {
			t.Fatal(err)
		}
		if err := s.DecideSourceSuggestion(ctx, id, SuggestionDecision{To: SuggestionDismissed, Actor: "user:2:x", Reason: "r", Time: at}); !errors.Is(err, ErrConflict) {
			t.Fatalf("decided twice: %v", err)
		}
		if err := s.DecideSourceSuggestion(ctx, 9999, SuggestionDecision{To: SuggestionDismissed, Actor: "u", Time: at}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
		g2, err := s.SourceSuggestionByID(ctx, id)
		if err != nil || g2.State != SuggestionOpened || g2.CaseID != 42 || g2.DecidedBy != "user:1:lan" || !g2.Decided.Equal(at) {
			t.Fatalf("decided %+v %v", g2, err)
		}
		if open, _ := s.SourceSuggestions(ctx, SuggestionOpen, 0); len(open) != 0 {
			t.Fatalf("still open: %v", open)
		}
	})
}
