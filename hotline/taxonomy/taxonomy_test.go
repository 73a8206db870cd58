package taxonomy

import (
	"slices"
	"testing"

	"github.com/kidshield/kidshield/config"
)

func TestTaxonomyConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, h := range Harms {
		if seen[h.Code] {
			t.Errorf("%s listed twice", h.Code)
		}
		seen[h.Code] = true
		if h.Urgent > h.Priority || h.Priority > 4 || h.Urgent < 0 {
			t.Errorf("%s: priorities %d/%d", h.Code, h.Priority, h.Urgent)
		}
		if !slices.Contains(config.BuiltinCategories, h.Category) {
			t.Errorf("%s: category %q is not a filter category", h.Code, h.Category)
		}
		if len(h.Code) > 4 && h.Code[:4] == "CSE." && h.Screenshots {
			t.Errorf("%s allows screenshots: sexual content involving children must never be uploaded", h.Code)
		}
	}
	for _, c := range Choices {
		if !seen[c.Harm] {
			t.Errorf("choice %s maps to unknown harm %s", c.ID, c.Harm)
		}
	}
}

func TestPriority(t *testing.T) {
	if p := Priority("HARM.ADULT", Urgency{DangerNow: true}); p != 0 {
		t.Errorf("danger now: P%d, want P0", p)
	}
	if p := Priority("VIO.BULLY", Urgency{}); p != 2 {
		t.Errorf("bullying: P%d, want P2", p)
	}
	if p := Priority("VIO.BULLY", Urgency{SelfHarmRisk: true}); p != 1 {
		t.Errorf("bullying with self-harm risk: P%d, want P1", p)
	}
	if p := Priority("nonsense", Urgency{}); p != 4 {
		t.Errorf("unknown: P%d", p)
	}
}
