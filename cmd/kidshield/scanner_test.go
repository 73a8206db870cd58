package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// check-config warns about the unsafe test-only key and about a hash list serve would refuse;
// a plain scanner section gets no warning.
func TestCheckConfigScanner(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "k.yaml")
	good := filepath.Join(dir, "good.pdq")
	bad := filepath.Join(dir, "bad.pdq")
	os.WriteFile(good, []byte("pdq "+strings.Repeat("0f", 32)+"\n"), 0o600)
	os.WriteFile(bad, []byte("pdq 123\n"), 0o600)
	for _, c := range []struct {
		body string
		code int      // check-config's exit status: a list serve would refuse fails it
		want []string // in its output (warnings on stdout, errors on stderr)
	}{
		{"scanner:\n  hash_lists: [" + good + "]\n", 0, nil},
		{"scanner:\n  allow_loopback_for_tests: true\n", 0, []string{"warning: scanner.allow_loopback_for_tests is on"}},
		{"scanner:\n  hash_lists: [" + good + ", " + bad + "]\n", 1, []string{"scanner.hash_lists[1]", "line 1", "kidshield pdq --list"}},
		{"scanner:\n  hash_lists: [" + filepath.Join(dir, "missing.pdq") + "]\n", 1, []string{"scanner.hash_lists[0]", "missing.pdq"}},
	} {
		os.WriteFile(cfg, []byte("upstreams: [\"127.0.0.1:53\"]\n"+c.body), 0o600)
		var out, errb bytes.Buffer
		if code := run([]string{"check-config", cfg}, &out, &errb); code != c.code {
			t.Fatalf("%s: check-config exit %d, want %d: %s%s", c.body, code, c.code, out.String(), errb.String())
		}
		all := out.String() + errb.String()
		if len(c.want) == 0 && strings.Contains(all, "warning") {
			t.Errorf("%s: unexpected warning: %s", c.body, all)
		}
		for _, w := range c.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: output lacks %q: %s", c.body, w, all)
			}
		}
	}
}
