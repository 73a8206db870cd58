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

// Data keys that serve could not load fail check-config too.
func TestCheckConfigDataKeys(t *testing.T) {
	t.Setenv("KIDSHIELD_DATA_KEYS", "")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "k.yaml")
	for body, want := range map[string]string{
		"hotline:\n  data_keys: [\"bad\"]\n":                         "hotline data keys",
		"hotline:\n  data_keys_file: " + dir + "/nonexistent-keys\n": "nonexistent-keys",
	} {
		os.WriteFile(cfg, []byte(body), 0o600)
		var out, errb bytes.Buffer
		if code := run([]string{"check-config", cfg}, &out, &errb); code == 0 || !strings.Contains(errb.String(), want) {
			t.Errorf("%q: exit %d, %s", body, code, errb.String())
		}
	}
}
