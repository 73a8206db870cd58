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
	for body, want := range map[string][]string{
		"scanner:\n  hash_lists: [" + good + "]\n":                              nil,
		"scanner:\n  allow_loopback_for_tests: true\n":                          {"warning: scanner.allow_loopback_for_tests is on"},
		"scanner:\n  hash_lists: [" + good + ", " + bad + "]\n":                 {"scanner.hash_lists[1]", "line 1"},
		"scanner:\n  hash_lists: [" + filepath.Join(dir, "missing.pdq") + "]\n": {"scanner.hash_lists[0]", "missing.pdq"},
	} {
		os.WriteFile(cfg, []byte("upstreams: [\"127.0.0.1:53\"]\n"+body), 0o600)
		var out, errb bytes.Buffer
		if code := run([]string{"check-config", cfg}, &out, &errb); code != 0 {
			t.Fatalf("%s: check-config failed: %s", body, errb.String())
		}
		if len(want) == 0 && strings.Contains(out.String(), "warning") {
			t.Errorf("%s: unexpected warning: %s", body, out.String())
		}
		for _, w := range want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: output lacks %q: %s", body, w, out.String())
			}
		}
	}
}
