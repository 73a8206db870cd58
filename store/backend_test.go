package store

import (
	"github.com/kidshield/kidshield/internal/pgtest"
	"path/filepath"
	"testing"
)

// The conformance suite: every test in this package that uses forEachBackend
// or forEachDSN runs unchanged against SQLite (always) and PostgreSQL (when
// KIDSHIELD_TEST_POSTGRES names a server; see .ci/pg.sh). Each PostgreSQL test
// gets a database of its own, dropped afterwards.

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

// postgresTestDSN: a PostgreSQL database of the test's own (package pgtest).
func postgresTestDSN(t *testing.T) string { return pgtest.DSN(t) }
