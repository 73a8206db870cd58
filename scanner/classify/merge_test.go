package classify

import (
	"reflect"
	"testing"
)

func TestMerge(t *testing.T) {
	c, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	text := Result{Scores: map[string]float64{Gambling: 0.2, Sexual: 0.1}, Top: Clean,
		Reasons: []Reason{{Category: Gambling, Rule: "lexicon", Evidence: "cược"}}}
	domain := Result{Scores: map[string]float64{Gambling: 0.9, Sexual: 0}, Top: Gambling, Truncated: true,
		Reasons: []Reason{{Category: Gambling, Rule: "name", Evidence: "'nohu' in 'nohu88'"}}}
	got := c.Merge(text, domain)
	want := map[string]float64{Gambling: 0.9, Sexual: 0.1}
	if !reflect.DeepEqual(got.Scores, want) {
		t.Errorf("scores %v, want %v (the highest of each)", got.Scores, want)
	}
	if got.Top != Gambling || !got.Truncated || len(got.Reasons) != 2 || got.Reasons[0].Rule != "lexicon" || got.Reasons[1].Rule != "name" {
		t.Errorf("merged %+v: want top gambling, truncated, both reasons in order", got)
	}
	// The top is chosen again from the joined scores, not taken from an input: two results
	// each below the threshold stay clean, and the most severe category past its threshold wins.
	low := c.Merge(Result{Scores: map[string]float64{Gambling: 0.1}}, Result{Scores: map[string]float64{Gambling: 0.2}, Top: Gambling})
	if low.Top != Clean {
		t.Errorf("two weak results: top %q, want clean", low.Top)
	}
	both := c.Merge(domain, Result{Scores: map[string]float64{Sexual: 0.95}})
	if both.Top != Sexual {
		t.Errorf("sexual 0.95 with gambling 0.9: top %q, want sexual (more severe)", both.Top)
	}
	if m := c.Merge(); m.Top != Clean || len(m.Scores) != 0 || m.Reasons == nil {
		t.Errorf("nothing merged: %+v", m)
	}
}
