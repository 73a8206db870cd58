package scanner

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/scanner/fetch"
	"github.com/kidshield/kidshield/store"
)

// mutNoCases is a Cases that no test of Strong reaches.
type mutNoCases struct{}

func (mutNoCases) ChangeCase(context.Context, hotline.Actor, int64, hotline.Change) (*store.Case, error) {
	return nil, errors.New("mutNoCases: not expected")
}

func (mutNoCases) AddEvidence(context.Context, hotline.Actor, store.Evidence) (int64, error) {
	return 0, errors.New("mutNoCases: not expected")
}

func mutStrongService(t *testing.T, threshold float64) *Service {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	client, err := fetch.New(fetch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	s, err := New(Options{Store: st, Cases: mutNoCases{}, Client: client, TextThreshold: threshold, RecheckEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The raise rule of docs/scanner.md: a known-hash match at distance ≤ 31 (the closest named
// in the reason), or a sexual, grooming or self-harm suggestion whose score is at least
// scanner.text_threshold (default 0.65).
func TestStrongBoundaries(t *testing.T) {
	def := mutStrongService(t, 0)
	if _, ok := def.Strong(&Outcome{Matches: []store.ScanMatch{{Distance: 31, Transform: "orig", Source: "list"}}}); !ok {
		t.Error("a match at distance 31 is not strong")
	}
	reason, ok := def.Strong(&Outcome{Matches: []store.ScanMatch{
		{Distance: 20, Transform: "rot90", Source: "a"}, {Distance: 3, Transform: "flipx", Source: "b"}, {Distance: 40, Transform: "orig", Source: "c"}}})
	if !ok || !strings.Contains(reason, "distance 3 (flipx, b)") {
		t.Errorf("reason %q (%v): want the closest match, distance 3 (flipx, b)", reason, ok)
	}
	text := func(s *Service, top string, score float64) bool {
		o := &Outcome{}
		o.Suggestion.Top, o.Suggestion.Scores = top, map[string]float64{top: score}
		_, ok := s.Strong(o)
		return ok
	}
	for _, tc := range []struct {
		s     *Service
		name  string
		top   string
		score float64
		want  bool
	}{
		{def, "default", "sexual", 0.65, true},
		{def, "default", "grooming", 0.65, true},
		{def, "default", "self_harm", 0.65, true},
		{def, "default", "sexual", 0.6499, false},
		{def, "default", "violence", 0.99, false},
		{mutStrongService(t, 0.9), "0.9", "sexual", 0.9, true},
		{mutStrongService(t, 0.9), "0.9", "grooming", 0.8999, false},
	} {
		if got := text(tc.s, tc.top, tc.score); got != tc.want {
			t.Errorf("threshold %s, %s %.4f: strong %v, want %v", tc.name, tc.top, tc.score, got, tc.want)
		}
	}
}
