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
