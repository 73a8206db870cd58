package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func latestVersion(t *testing.T) int {
	t.Helper()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	return ms[len(ms)-1].version
}

func TestOpenTwiceIsIdempotent(t *testing.T) {
	t.Parallel()
	forEachDSN(t, func(t *testing.T, dsn string) {
		for i := range 2 {
			s, err := Open(t.Context(), dsn)
			if err != nil {
				t.Fatalf("Open #%d: %v", i+1, err)
			}
			if err := s.Ping(t.Context()); err != nil {
				t.Errorf("Ping: %v", err)
			}
			v, err := s.SchemaVersion(t.Context())
			if err != nil || v != latestVersion(t) {
				t.Errorf("SchemaVersion = %d, %v; want %d", v, err, latestVersion(t))
			}
			var n int
			if err := s.r.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n != latestVersion(t) {
				t.Errorf("schema_migrations has %d rows (%v), want %d", n, err, latestVersion(t))
			}
			if want := strings.SplitN(t.Name(), "/", 3)[1]; s.Dialect() != want {
				t.Errorf("Dialect = %q, want %q", s.Dialect(), want)
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	})
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	forEachDSN(t, func(t *testing.T, dsn string) {
		s, err := Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		future := latestVersion(t) + 1
		if _, err := s.w.ExecContext(t.Context(), "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'from_the_future', 0)", future); err != nil {
			t.Fatal(err)
		}
		s.Close()

		s, err = Open(t.Context(), dsn)
		if err == nil {
			s.Close()
			t.Fatal("Open succeeded on a database with a newer schema")
		}
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Errorf("err = %v, want ErrSchemaTooNew", err)
		}
		for _, want := range []string{fmt.Sprint(future), fmt.Sprint(latestVersion(t))} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name version %s", err, want)
			}
		}
	})
}

func TestMigrationFiles(t *testing.T) {
	t.Parallel()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m.version != i+1 || m.sql[DialectSQLite] == "" || m.sql[DialectPostgres] == "" {
			t.Errorf("migration %d: version %d, dialects %d", i, m.version, len(m.sql))
		}
	}

	bad := []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"missing dialect", fstest.MapFS{
			"m/0001_a.sqlite.sql": {Data: []byte("x")},
		}, "no postgres SQL"},
		{"gap", fstest.MapFS{
			"m/0001_a.sqlite.sql": {Data: []byte("x")}, "m/0001_a.postgres.sql": {Data: []byte("x")},
			"m/0003_c.sqlite.sql": {Data: []byte("x")}, "m/0003_c.postgres.sql": {Data: []byte("x")},
		}, "version 2 is missing"},
		{"unknown dialect", fstest.MapFS{"m/0001_a.mysql.sql": {Data: []byte("x")}}, "want NNNN_name"},
		{"names differ", fstest.MapFS{
			"m/0001_a.sqlite.sql": {Data: []byte("x")}, "m/0001_b.postgres.sql": {Data: []byte("x")},
		}, "named both"},
	}
	for _, tc := range bad {
		if _, err := parseMigrations(tc.files, "m"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestOpenBadDSN(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dsn  string
		want []string
		not  string // must not appear (secrets)
	}{
		{"", []string{"empty DSN", "sqlite:PATH"}, ""},
		{"mysql://root@localhost/kidshield", []string{`unsupported DSN scheme "mysql"`, "postgres://"}, ""},
		{"sqlite:", []string{"no file path"}, ""},
		{"sqlite::memory:", []string{"in-memory"}, ""},
		{"sqlite:" + dir + "/x.db?_pragma=synchronous(OFF)", []string{"options are not accepted"}, ""},
		{"sqlite:" + file + "/sub/x.db", []string{"create directory", file}, ""},
		{"postgres://kid:s3cretpw@127.0.0.1:1/kidshield?sslmode=disable&connect_timeout=5", []string{"open postgres", "127.0.0.1:1"}, "s3cretpw"},
		{"postgres://kid@127.0.0.1:1/kidshield?sslmode=disable&password=s3cretpw&connect_timeout=5", []string{"open postgres"}, "s3cretpw"},
		{"postgres://kid@127.0.0.1:99999999/kidshield", []string{"open postgres"}, ""},
	} {
		s, err := Open(t.Context(), tc.dsn)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", tc.dsn)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Open(%q) = %q, want it to contain %q", tc.dsn, err, w)
			}
		}
		if tc.not != "" && strings.Contains(err.Error(), tc.not) {
			t.Errorf("Open(%q) = %q, leaks %q", tc.dsn, err, tc.not)
		}
	}
}

func TestParseDSN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ dsn, dialect, target string }{
		{"sqlite:/var/lib/kidshield/db", DialectSQLite, "/var/lib/kidshield/db"},
		{"sqlite:///var/lib/kidshield/db", DialectSQLite, "/var/lib/kidshield/db"},
		{"sqlite:data/kidshield.db", DialectSQLite, "data/kidshield.db"},
		{"/var/lib/kidshield/db", DialectSQLite, "/var/lib/kidshield/db"},
		{"kidshield.db", DialectSQLite, "kidshield.db"},
		{`C:\kidshield\db`, DialectSQLite, `C:\kidshield\db`},
		{"postgres://u@h/db", DialectPostgres, "postgres://u@h/db"},
		{"PostgreSQL://u@h/db", DialectPostgres, "PostgreSQL://u@h/db"},
	} {
		d, target, err := parseDSN(tc.dsn)
		if err != nil || d != tc.dialect || target != tc.target {
			t.Errorf("parseDSN(%q) = %q, %q, %v; want %q, %q", tc.dsn, d, target, err, tc.dialect, tc.target)
		}
	}
}

// TestSQLiteSettings checks the settings durability and safety rest on, on
// both pools.
func TestSQLiteSettings(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "b")
	s, err := Open(t.Context(), filepath.Join(dir, "kidshield.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for pool, db := range map[string]interface {
		queryRower
	}{"write": s.w, "read": s.r} {
		for pragma, want := range map[string]string{
			"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": "10000",
		} {
			var got string
			if err := db.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil || got != want {
				t.Errorf("%s pool: PRAGMA %s = %q (%v), want %q", pool, pragma, got, err, want)
			}
		}
	}
	if s.w.Stats().MaxOpenConnections != 1 {
		t.Errorf("write pool allows %d connections, want 1", s.w.Stats().MaxOpenConnections)
	}
	if _, err := s.r.ExecContext(t.Context(), "DELETE FROM filter_query_log"); err == nil {
		t.Error("read pool accepted a write")
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "kidshield.db"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
}
