package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/store"
)

func TestAuditVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(dir, "kidshield.db"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := st.AppendAudit(t.Context(), store.AuditEvent{Actor: "user:1", Action: "case.view", Object: fmt.Sprintf("case:%d", i), Detail: map[string]any{"n": i}}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	db, err := sql.Open("sqlite", filepath.Join(dir, "kidshield.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sqlx := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	verify := func(want int, wantOut string, extra ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(append([]string{"audit", "verify", "--data-dir", dir}, extra...), &out, &errb)
		if code != want || !strings.Contains(out.String()+errb.String(), wantOut) {
			t.Fatalf("audit verify %v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", extra, code, want, wantOut, out.String(), errb.String())
		}
		return out.String()
	}
	if _, err := db.Exec(`DELETE FROM audit_log`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("delete allowed: %v", err)
	}
	sqlx(`DROP TRIGGER audit_log_no_update`)
	sqlx(`DROP TRIGGER audit_log_no_delete`)
	anchor := filepath.Join(t.TempDir(), "anchor")
	verify(0, "audit log ok: 20 records, head 20 ", "--save-anchor", anchor)
	if b, _ := os.ReadFile(anchor); !strings.HasPrefix(string(b), "20 ") {
		t.Fatalf("anchor file: %q", b)
	}
	verify(0, "anchor 20 ", "--anchor", anchor)

	sqlx(`UPDATE audit_log SET detail = '{"n":7,"contact":"x"}' WHERE seq = 8`)
	verify(1, "broken at seq 8: hash does not match")
	sqlx(`UPDATE audit_log SET detail = '{"n":7}' WHERE seq = 8`)
	verify(0, "audit log ok")

	sqlx(`DELETE FROM audit_log WHERE seq = 19 OR seq = 20`)
	verify(0, "audit log ok: 18 records, head 18 ")
	verify(1, "broken at seq 19: the log ends at seq 18 but the anchor names seq 20", "--anchor", anchor)

	sqlx(`DELETE FROM audit_log WHERE seq = 5`)
	verify(1, "broken at seq 5: record 5 is missing")

	verify(2, "unexpected argument", "extra")
	var out, errb bytes.Buffer
	if code := run([]string{"audit"}, &out, &errb); code != 2 {
		t.Fatalf("audit without verify: %d", code)
	}
}
