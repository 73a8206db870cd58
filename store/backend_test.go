package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The conformance suite: every test in this package that uses forEachBackend
// or forEachDSN runs unchanged against SQLite (always) and PostgreSQL (when
// KIDSHIELD_TEST_POSTGRES names a server; see .ci/pg.sh). Each PostgreSQL test
// gets a database of its own, dropped afterwards.

const pgEnv = "KIDSHIELD_TEST_POSTGRES"

// forEachDSN runs fn once per backend with the DSN of a fresh, empty database.
func forEachDSN(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run(DialectSQLite, func(t *testing.T) {
		t.Parallel()
		fn(t, "sqlite:"+filepath.Join(t.TempDir(), "data", "kidshield.db"))
	})
	t.Run(DialectPostgres, func(t *testing.T) {
		t.Parallel()
		fn(t, postgresTestDSN(t))
	})
}

// forEachBackend runs fn once per backend with an open store on a fresh
// database, closed when the test ends.
func forEachBackend(t *testing.T, fn func(t *testing.T, s *Store)) {
	t.Helper()
	forEachDSN(t, func(t *testing.T, dsn string) {
		s, err := Open(t.Context(), dsn)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		fn(t, s)
	})
}

// postgresTestDSN creates a database on the server named by
// KIDSHIELD_TEST_POSTGRES and returns its DSN. Without the variable the test
// is skipped, except under CI=true, where a silently skipped PostgreSQL suite
// would hide exactly the bugs it exists to find.
func postgresTestDSN(t *testing.T) string {
	t.Helper()
	admin := os.Getenv(pgEnv)
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set but CI=true: the PostgreSQL conformance tests must run in CI (start a server with: eval \"$(.ci/pg.sh start)\")", pgEnv)
		}
		t.Skipf("PostgreSQL tests skipped: set %s=postgres://user@host:port/db?sslmode=disable (e.g. eval \"$(.ci/pg.sh start)\")", pgEnv)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", pgEnv, err)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("%s: %v", pgEnv, err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	name := "kidshield_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
		db.Close()
	})
	u.Path = "/" + name
	return u.String()
}
