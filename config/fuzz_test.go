package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the configuration parser: it must never panic, and it either
// returns a valid configuration or Errors that say what is wrong.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../docs/examples/*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("profiles:\n  - id: a\n    schedule:\n      - {from: '23:00', to: '01:00', mode: allow_only}\n"))
	f.Add([]byte("dns: &a [*a]\n"))
	f.Add([]byte("\x00\xff: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error is not Errors: %T %v", err, err)
			}
			for _, e := range es {
				if e.Msg == "" {
					t.Fatalf("empty message in %v", es)
				}
			}
			return
		}
		if es := c.validate(); len(es) > 0 {
			t.Fatalf("accepted config does not validate: %v", es)
		}
		if len(c.Profiles) == 0 || len(c.DNS.Listen) == 0 {
			t.Fatal("accepted config without defaults")
		}
	})
}

// FuzzParsePolicy feeds arbitrary bytes to the parser of a control node's policy.yaml (what a
// filter node takes from the network): it never panics, refuses with Errors that say what is
// wrong, and a document it accepts is valid and survives being published again: the filter
// node applies exactly what the control node meant.
func FuzzParsePolicy(f *testing.F) {
	c := Default()
	if b, err := c.PolicyYAML(); err == nil {
		f.Add(b)
	}
	f.Add([]byte("default_profile: kid\nprofiles:\n  - id: kid\n    block_categories: [adult]\n    deny: [x.example]\ncategories: [adult]\n"))
	f.Add([]byte("profiles: []\n"))
	f.Add([]byte("profiles:\n  - id: a\n    surprise: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(data)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 || es[0].Msg == "" {
				t.Fatalf("error is not Errors that say what is wrong: %T %v", err, err)
			}
			return
		}
		if len(p.Profiles) == 0 {
			t.Fatal("accepted a policy without profiles")
		}
		cfg := &Config{Profiles: p.Profiles, DefaultProfile: p.DefaultProfile, Categories: p.Categories}
		cfg.applyDefaults()
		again, err := cfg.PolicyYAML()
		if err != nil {
			t.Fatal(err)
		}
		p2, err := ParsePolicy(again)
		if err != nil {
			t.Fatalf("an accepted policy, published again, is refused: %v\n%s", err, again)
		}
		if p2.DefaultProfile != p.DefaultProfile || len(p2.Profiles) != len(p.Profiles) {
			t.Fatalf("round trip changed the policy: %q %d → %q %d", p.DefaultProfile, len(p.Profiles), p2.DefaultProfile, len(p2.Profiles))
		}
	})
}
