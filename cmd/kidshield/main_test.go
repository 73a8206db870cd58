package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// check-config reports what serve would only find at start: missing list files, upstream specs
// the forwarder cannot use.
func TestCheckConfigCatchesStartFailures(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.txt")
	os.WriteFile(good, []byte("a.example\n"), 0o600)
	cfg := filepath.Join(dir, "k.yaml")
	os.WriteFile(cfg, []byte("upstreams: [\"tls://[::1\"]\nlists:\n  - {category: adult, source: good.txt}\n  - {category: games, source: missing.txt}\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"check-config", cfg}, &out, &errb); code == 0 {
		t.Fatalf("check-config passed: %s", out.String())
	}
	if !strings.Contains(errb.String(), "lists[1].source") || strings.Contains(errb.String(), "lists[0]") {
		t.Fatalf("missing list not reported (only): %s", errb.String())
	}
	os.WriteFile(cfg, []byte("upstreams: [\"127.0.0.1:53\"]\nlists:\n  - {category: adult, source: good.txt}\n"), 0o600)
	errb.Reset()
	if code := run([]string{"check-config", cfg}, &out, &errb); code != 0 {
		t.Fatalf("good config rejected: %s", errb.String())
	}
}
