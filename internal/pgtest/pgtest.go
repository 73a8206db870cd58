// Package pgtest gives tests a PostgreSQL database of their own on the server named by
// KIDSHIELD_TEST_POSTGRES (a throwaway cluster: eval "$(.ci/pg.sh start)"). It is shared by the
// store's conformance suite, the feed's tests and the end-to-end tests.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// Env names the PostgreSQL server of the tests.
const Env = "KIDSHIELD_TEST_POSTGRES"

// DSN creates a database for the test and returns its DSN; the database is dropped when the
// test ends. Without the variable the test is skipped, except under CI=true, where a silently
// skipped PostgreSQL test would hide exactly the bugs it exists to find.
func DSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(Env)
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set but CI=true: the PostgreSQL tests must run in CI (start a server with: eval \"$(.ci/pg.sh start)\")", Env)
		}
		t.Skipf("PostgreSQL tests skipped: set %s=postgres://user@host:port/db?sslmode=disable (e.g. eval \"$(.ci/pg.sh start)\")", Env)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
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
