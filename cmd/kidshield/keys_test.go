package main

import (
	"bytes"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/seal"
	"github.com/kidshield/kidshield/store"
)

func keysRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"keys"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestKeysGenerateRotate(t *testing.T) {
	t.Setenv(seal.EnvKeys, "")
	code, oldSpec, _ := keysRun(t, "generate")
	if code != 0 {
		t.Fatal(code)
	}
	if _, err := seal.ParseKeys([]string{strings.TrimSpace(oldSpec)}); err != nil {
		t.Fatalf("generated %q: %v", oldSpec, err)
	}
	_, newSpec, _ := keysRun(t, "generate")
	if newSpec == oldSpec {
		t.Fatal("two generated keys are equal")
	}

	// A database sealed with the old key.
	dir := t.TempDir()
	db := filepath.Join(dir, "kidshield.db")
	st, err := store.Open(t.Context(), "sqlite:"+db)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	oldKeys, _ := seal.ParseKeys([]string{strings.TrimSpace(oldSpec)})
	totp, _ := oldKeys.SealString("JBSWY3DPEHPK3PXP", "users.totp_secret")
	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`INSERT INTO users (login, name, roles, password_hash, totp_secret, created_us, password_changed_us) VALUES ('a', 'A', 'analyst', 'x', ?, 1, 1)`, totp); err != nil {
		t.Fatal(err)
	}

	// The new key first, the old one after it, in a key file named by the configuration.
	keyFile := filepath.Join(dir, "keys")
	os.WriteFile(keyFile, []byte(newSpec+oldSpec), 0o600)
	cfg := filepath.Join(dir, "k.yaml")
	os.WriteFile(cfg, []byte("data_dir: "+dir+"\nhotline:\n  data_keys_file: "+keyFile+"\n"), 0o600)
	code, out, errs := keysRun(t, "rotate", "--config", cfg)
	if code != 0 || !strings.Contains(out, "users.totp_secret            1 re-sealed") || !strings.Contains(out, "reports.contact_sealed       0 re-sealed") {
		t.Fatalf("rotate: %d\n%s\n%s", code, out, errs)
	}
	var v string
	raw.QueryRow(`SELECT totp_secret FROM users`).Scan(&v)
	newKeys, _ := seal.ParseKeys([]string{strings.TrimSpace(newSpec)})
	if got, err := newKeys.OpenString(v, "users.totp_secret"); err != nil || got != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("after rotate: %q %v", got, err)
	}

	// Without the old key the value cannot be opened: rotate fails and says where.
	raw.Exec(`UPDATE users SET totp_secret = ?`, totp)
	os.WriteFile(keyFile, []byte(newSpec), 0o600)
	code, _, errs = keysRun(t, "rotate", "--config", cfg)
	if code != 1 || !strings.Contains(errs, "users.totp_secret") || !strings.Contains(errs, "unknown data key id") {
		t.Fatalf("rotate without the old key: %d %s", code, errs)
	}
	// No key anywhere: rotate refuses rather than invent one.
	code, _, errs = keysRun(t, "rotate", "--data-dir", dir)
	if code != 1 || !strings.Contains(errs, "no data keys") {
		t.Fatalf("rotate without keys: %d %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, seal.KeysFileName)); err == nil {
		t.Fatal("rotate generated a key file")
	}
	if code, _, _ := keysRun(t, "frobnicate"); code != 2 {
		t.Fatal("unknown subcommand accepted")
	}
}
