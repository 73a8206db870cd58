package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kidshield/kidshield/auth"
	"github.com/kidshield/kidshield/seal"
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
	if code != 0 || out != "created user 1\n" {
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
	if code, out, errs := runUser(t, "  spaces count too  ", "add", "--data-dir", dir, "--login", "p", "--name", "Đối tác", "--roles", "partner", "--partner", "3"); code != 0 || out != "created user 2\n" {
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
	if code, out, errs := runUser(t, "a long enough password\n", "add", "--config", cfg, "--login", "lan", "--name", "Lan", "--roles", "operator"); code != 0 || out != "created user 1\n" {
		t.Fatalf("with --config: %d %q %q", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "kidshield.db")); err != nil {
		t.Fatalf("not in the configuration's data directory: %v", err)
	}
	dsn := "sqlite:" + filepath.Join(dir, "other.db")
	if code, out, errs := runUser(t, "a long enough password\n", "add", "--dsn", dsn, "--login", "lan", "--name", "Lan", "--roles", "operator"); code != 0 || out != "created user 1\n" {
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

func TestUserResetDisableEnable(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runUser(t, "một mật khẩu đủ dài\n", "add", "--data-dir", dir, "--login", "root", "--name", "Quản trị", "--roles", "admin"); code != 0 {
		t.Fatalf("add: %d %s", code, errs)
	}
	ctx := context.Background()
	open := func() *store.Store {
		t.Helper()
		st, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "kidshield.db"))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// The administrator has a second factor and two sessions (two browsers).
	st := open()
	if err := st.EnrolTOTP(ctx, 1, "sealed-secret", 7); err != nil {
		t.Fatal(err)
	}
	addSessions := func() {
		t.Helper()
		for _, h := range []string{"a", "b"} {
			now := time.Now()
			if err := st.CreateSession(ctx, store.Session{IDHash: h + fmt.Sprint(now.UnixNano()), UserID: 1, CSRF: "x", MFADone: true, Created: now, LastSeen: now, Expires: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	addSessions()
	st.Close()

	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
		msg         string
	}{
		{"nothing to reset", "", []string{"--login", "root"}, 2, "at least one of --password and --totp"},
		{"no login", "", []string{"--totp"}, 2, "--login"},
		{"unknown login", "", []string{"--login", "nobody", "--totp"}, 1, `no account with the login "nobody"`},
		{"weak password", "short\n", []string{"--login", "root", "--password"}, 1, "at least 12"},
		{"no password", "", []string{"--login", "root", "--password"}, 1, "no password on standard input"},
		{"no database", "", []string{"--login", "root", "--totp", "--data-dir", filepath.Join(dir, "nope")}, 1, "no database at"},
	} {
		args := append([]string{"reset", "--data-dir", dir}, tc.args...)
		code, _, errs := runUser(t, tc.stdin, args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%s: %d %q, want %d and %q", tc.name, code, errs, tc.code, tc.msg)
		}
	}

	// A new password: the second factor stays, the sessions end.
	code, out, errs := runUser(t, "mật khẩu mới cũng đủ dài\n", "reset", "--data-dir", dir, "--login", " ROOT ", "--password")
	if code != 0 || !strings.Contains(out, "root: new password set; 2 session(s) ended") {
		t.Fatalf("reset --password: %d %q %q", code, out, errs)
	}
	st = open()
	u, _ := st.UserByLogin(ctx, "root")
	if ok, _ := auth.VerifyPassword(u.PasswordHash, "mật khẩu mới cũng đủ dài"); !ok || u.TOTPSecret == "" {
		t.Fatalf("after reset --password: password ok %v, totp %q", ok, u.TOTPSecret)
	}
	if n, _ := st.DeleteUserSessions(ctx, 1); n != 0 {
		t.Fatalf("%d sessions survived the reset", n)
	}
	addSessions()
	st.Close()

	// The lost phone: the second factor is cleared, the password stays.
	code, out, errs = runUser(t, "", "reset", "--data-dir", dir, "--login", "root", "--totp")
	if code != 0 || !strings.Contains(out, "second factor cleared") || !strings.Contains(out, "2 session(s) ended") {
		t.Fatalf("reset --totp: %d %q %q", code, out, errs)
	}
	// Both at once, from a pipe.
	code, out, errs = runUser(t, "lại một mật khẩu khác\n", "reset", "--data-dir", dir, "--login", "root", "--totp", "--password")
	if code != 0 || !strings.Contains(out, "new password set, second factor cleared") {
		t.Fatalf("reset both: %d %q %q", code, out, errs)
	}
	st = open()
	u, _ = st.UserByLogin(ctx, "root")
	if ok, _ := auth.VerifyPassword(u.PasswordHash, "lại một mật khẩu khác"); !ok || u.TOTPSecret != "" || u.TOTPLastStep != 0 {
		t.Fatalf("after reset --totp: password ok %v, totp %q step %d", ok, u.TOTPSecret, u.TOTPLastStep)
	}
	addSessions()
	st.Close()

	// Disable ends the sessions and warns when no administrator is left; enable undoes it.
	code, out, errs = runUser(t, "", "disable", "--data-dir", dir, "--login", "root")
	if code != 0 || !strings.Contains(out, "root: disabled; 2 session(s) ended") || !strings.Contains(errs, "no active administrator") {
		t.Fatalf("disable: %d %q %q", code, out, errs)
	}
	code, out, _ = runUser(t, "", "reset", "--data-dir", dir, "--login", "root", "--totp")
	if code != 0 || !strings.Contains(out, "kidshield user enable --login root") {
		t.Fatalf("reset of a disabled account does not say so: %d %q", code, out)
	}
	if code, out, _ := runUser(t, "", "list", "--data-dir", dir); code != 0 || !strings.Contains(out, "disabled") {
		t.Fatalf("list after disable: %d %q", code, out)
	}
	if code, out, errs := runUser(t, "", "enable", "--data-dir", dir, "--login", "root"); code != 0 || out != "root: enabled\n" {
		t.Fatalf("enable: %d %q %q", code, out, errs)
	}
	if code, _, errs := runUser(t, "", "disable", "--data-dir", dir); code != 2 || !strings.Contains(errs, "--login is required") {
		t.Fatalf("disable without --login: %d %q", code, errs)
	}
	if code, _, errs := runUser(t, "", "disable", "--data-dir", dir, "--login", "ghost"); code != 1 || !strings.Contains(errs, "no account") {
		t.Fatalf("disable unknown: %d %q", code, errs)
	}

	// Each change is in the audit log, done by "cli".
	st = open()
	defer st.Close()
	recs, err := st.AuditList(ctx, store.AuditFilter{Actor: "cli", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		if r.Object != "user:1" {
			t.Errorf("audit record on %q", r.Object)
		}
		got = append(got, r.Action)
	}
	slices.Reverse(got)
	want := "user.create user.password.reset user.totp.reset user.password.reset user.totp.reset user.disable user.totp.reset user.enable"
	if strings.Join(got, " ") != want {
		t.Fatalf("audit actions:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if _, err := st.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
	u, _ = st.UserByLogin(ctx, "root")
	if u.Disabled {
		t.Fatal("still disabled after enable")
	}
}

// The commands that read or change an existing database refuse a path where there is none,
// instead of creating an empty database and reporting on it.
func TestCommandsNeedExistingDatabase(t *testing.T) {
	t.Setenv(seal.EnvKeys, "")
	dir := t.TempDir()
	missing := filepath.Join(dir, "wrong")
	cfg := filepath.Join(dir, "k.yaml")
	if err := os.WriteFile(cfg, []byte("data_dir: "+missing+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wantMsg := "no database at " + filepath.Join(missing, "kidshield.db") + ": check --data-dir or --config"
	for _, cmd := range [][]string{
		{"audit", "verify"},
		{"keys", "rotate"},
		{"user", "list"},
		{"user", "reset", "--login", "root", "--totp"},
		{"user", "disable", "--login", "root"},
		{"user", "enable", "--login", "root"},
	} {
		for _, where := range [][]string{{"--data-dir", missing}, {"--config", cfg}} {
			var out, errb bytes.Buffer
			code := run(append(slices.Clone(cmd), where...), &out, &errb)
			if code != 1 || !strings.Contains(errb.String(), wantMsg) {
				t.Errorf("%v %v: exit %d, stderr %q; want 1 and %q", cmd, where, code, errb.String(), wantMsg)
			}
		}
		var out, errb bytes.Buffer
		code := run(append(slices.Clone(cmd), "--dsn", "sqlite:"+filepath.Join(missing, "x.db")), &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), "x.db: check --dsn") {
			t.Errorf("%v --dsn: exit %d, stderr %q", cmd, code, errb.String())
		}
		errb.Reset()
		code = run(append(slices.Clone(cmd), "--dsn", empty), &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), "(the file is empty)") {
			t.Errorf("%v --dsn empty file: exit %d, stderr %q", cmd, code, errb.String())
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("a command created %s: %v", missing, err)
	}
	// user add may create it: the first administrator can be made before the first serve.
	if code, _, errs := runUser(t, "một mật khẩu đủ dài\n", "add", "--config", cfg, "--login", "root", "--name", "Root", "--roles", "admin"); code != 0 {
		t.Fatalf("add: %d %s", code, errs)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"audit", "verify", "--config", cfg}, &out, &errb); code != 0 || !strings.Contains(out.String(), "audit log ok: 1 records") {
		t.Fatalf("audit verify after add: %d %q %q", code, out.String(), errb.String())
	}
}

func TestSQLitePath(t *testing.T) {
	for _, tc := range []struct {
		dsn, path string
		ok        bool
	}{
		{"sqlite:/var/lib/k.db", "/var/lib/k.db", true},
		{"sqlite:///var/lib/k.db", "/var/lib/k.db", true},
		{"SQLite:data/k.db", "data/k.db", true},
		{"data/k.db", "data/k.db", true},
		{"postgres://u@h/db", "", false},
		{"PostgreSQL://u@h/db", "", false},
		{"mysql://h/db", "", false},
		{"sqlite:", "", false},
	} {
		if p, ok := sqlitePath(tc.dsn); p != tc.path || ok != tc.ok {
			t.Errorf("sqlitePath(%q) = %q %v, want %q %v", tc.dsn, p, ok, tc.path, tc.ok)
		}
	}
}

// /dev/null is a character device but not a terminal: it is read like a pipe (no stty, no
// prompt) and, being empty, gives no password.
func TestPasswordFromDevNull(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Skip(err)
	}
	defer null.Close()
	if isTerminal(null) {
		t.Fatal("/dev/null taken for a terminal")
	}
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := userCmd([]string{"add", "--data-dir", dir, "--login", "root", "--name", "Root", "--roles", "admin"}, null, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "no password on standard input") || strings.Contains(errb.String(), "stty") ||
		strings.Contains(errb.String(), "Password") {
		t.Fatalf("user add </dev/null: %d %q", code, errb.String())
	}
	// A pseudo-terminal is one.
	if ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0); err == nil {
		defer ptm.Close()
		if !isTerminal(ptm) {
			t.Error("a pseudo-terminal not taken for a terminal")
		}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	pw.Close()
	if isTerminal(pr) {
		t.Error("a pipe taken for a terminal")
	}
}
