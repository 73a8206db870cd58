package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/auth"
	"github.com/kidshield/kidshield/store"
)

func runUser(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := userCmd(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestUserAddAndList(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runUser(t, "một mật khẩu đủ dài\n", "add", "--data-dir", dir, "--login", "Admin", "--name", "Quản trị viên", "--roles", "admin,analyst")
	if code != 0 || out != "1\n" {
		t.Fatalf("add: %d %q %q", code, out, errs)
	}
	// The store is the one serve would open for this data directory.
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dir, "kidshield.db"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.UserByLogin(context.Background(), "admin")
	st.Close()
	if err != nil || u.Name != "Quản trị viên" || strings.Join(u.Roles, ",") != "admin,analyst" {
		t.Fatalf("stored %+v %v", u, err)
	}
	if ok, _ := auth.VerifyPassword(u.PasswordHash, "một mật khẩu đủ dài"); !ok {
		t.Fatal("password not stored as given (line ending kept?)")
	}

	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
		msg         string
	}{
		{"duplicate", "another long password\n", []string{"--login", "admin", "--name", "X", "--roles", "admin"}, 1, "already taken"},
		{"weak", "short\n", []string{"--login", "b", "--name", "B", "--roles", "analyst"}, 1, "at least 12"},
		{"no password", "", []string{"--login", "b", "--name", "B", "--roles", "analyst"}, 1, "no password"},
		{"bad role", "another long password\n", []string{"--login", "b", "--name", "B", "--roles", "boss"}, 2, "unknown role"},
		{"missing flag", "another long password\n", []string{"--login", "b", "--roles", "analyst"}, 2, "required"},
		{"partner without id", "another long password\n", []string{"--login", "p", "--name", "P", "--roles", "partner"}, 1, "partner organisation"},
		{"bad login", "another long password\n", []string{"--login", "không hợp lệ", "--name", "P", "--roles", "analyst"}, 1, "login"},
	} {
		code, _, errs := runUser(t, tc.stdin, append([]string{"add", "--data-dir", dir}, tc.args...)...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%s: %d %q, want %d and %q", tc.name, code, errs, tc.code, tc.msg)
		}
	}
	// Without a trailing newline, with a Windows line ending, with spaces kept.
	if code, out, errs := runUser(t, "  spaces count too  ", "add", "--data-dir", dir, "--login", "p", "--name", "Đối tác", "--roles", "partner", "--partner", "3"); code != 0 || out != "2\n" {
		t.Fatalf("partner: %d %q %q", code, out, errs)
	}

	code, out, errs = runUser(t, "", "list", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "admin,analyst") || !strings.Contains(out, "Đối tác") || strings.Count(out, "\n") != 3 {
		t.Fatalf("list: %d %q %q", code, out, errs)
	}
}

func TestUserAddConfigAndDSN(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kidshield.yaml")
	if err := os.WriteFile(cfg, []byte("data_dir: data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runUser(t, "a long enough password\n", "add", "--config", cfg, "--login", "lan", "--name", "Lan", "--roles", "operator"); code != 0 || out != "1\n" {
		t.Fatalf("with --config: %d %q %q", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "kidshield.db")); err != nil {
		t.Fatalf("not in the configuration's data directory: %v", err)
	}
	dsn := "sqlite:" + filepath.Join(dir, "other.db")
	if code, out, errs := runUser(t, "a long enough password\n", "add", "--dsn", dsn, "--login", "lan", "--name", "Lan", "--roles", "operator"); code != 0 || out != "1\n" {
		t.Fatalf("with --dsn: %d %q %q", code, out, errs)
	}
	if code, out, _ := runUser(t, "", "list", "--dsn", dsn); code != 0 || !strings.Contains(out, "lan") {
		t.Fatalf("list --dsn: %d %q", code, out)
	}
}

func TestUserUsage(t *testing.T) {
	if code, _, errs := runUser(t, "", "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Fatalf("%d %q", code, errs)
	}
	if code, _, _ := runUser(t, ""); code != 2 {
		t.Fatal("no subcommand accepted")
	}
	if code, out, _ := runUser(t, "", "help"); code != 0 || !strings.Contains(out, "kidshield user add") {
		t.Fatalf("help: %d %q", code, out)
	}
}
