package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrSchemaTooNew is returned by Open when the database was migrated by a
// newer kidshield than this binary.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary")

// migration is one schema version, with its SQL for each dialect.
type migration struct {
	version int
	name    string
	sql     map[string]string // dialect -> SQL
}

var loadMigrations = sync.OnceValues(func() ([]migration, error) {
	return parseMigrations(migrationFiles, "migrations")
})

// parseMigrations reads NNNN_name.<dialect>.sql files from dir and checks
// that every version exists for every dialect and versions run 1, 2, 3, ...
func parseMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	byVersion := map[int]*migration{}
	for _, e := range entries {
		file := e.Name()
		base, ok := strings.CutSuffix(file, ".sql")
		if !ok {
			continue
		}
		stem, dialect, ok := cutLast(base, ".")
		if !ok || (dialect != DialectSQLite && dialect != DialectPostgres) {
			return nil, fmt.Errorf("store: migration %s: want NNNN_name.sqlite.sql or NNNN_name.postgres.sql", file)
		}
		num, name, ok := strings.Cut(stem, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || name == "" {
			return nil, fmt.Errorf("store: migration %s: want NNNN_name.%s.sql", file, dialect)
		}
		b, err := fs.ReadFile(fsys, dir+"/"+file)
		if err != nil {
			return nil, fmt.Errorf("store: migration %s: %w", file, err)
		}
		m := byVersion[v]
		if m == nil {
			m = &migration{version: v, name: name, sql: map[string]string{}}
			byVersion[v] = m
		}
		if m.name != name {
			return nil, fmt.Errorf("store: migration %d is named both %q and %q", v, m.name, name)
		}
		if _, dup := m.sql[dialect]; dup {
			return nil, fmt.Errorf("store: migration %d has two %s files", v, dialect)
		}
		m.sql[dialect] = string(b)
	}
	out := make([]migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("store: migrations: version %d is missing", i+1)
		}
		for _, d := range []string{DialectSQLite, DialectPostgres} {
			if strings.TrimSpace(m.sql[d]) == "" {
				return nil, fmt.Errorf("store: migration %04d_%s has no %s SQL", m.version, m.name, d)
			}
		}
	}
	return out, nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// migrateLockKey is the PostgreSQL advisory lock that serialises migrations
// when several nodes start at once ("kidshiel" in ASCII).
const migrateLockKey int64 = 0x6b6964736869656c

const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at BIGINT  NOT NULL
)`

// migrate applies pending migrations, each in its own transaction.
func (s *Store) migrate(ctx context.Context) (err error) {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer conn.Close()
	if s.dialect == DialectPostgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
			return fmt.Errorf("store: migrate: lock: %w", err)
		}
		defer func() {
			_, uerr := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey)
			if uerr != nil && err == nil {
				err = fmt.Errorf("store: migrate: unlock: %w", uerr)
			}
		}()
	}
	if _, err := conn.ExecContext(ctx, createSchemaMigrations); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	current, err := schemaVersion(ctx, conn)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	latest := ms[len(ms)-1].version
	if current > latest {
		return fmt.Errorf("store: open: %w: the database is at schema version %d, this binary knows versions up to %d; run a newer kidshield (or restore a backup taken before the upgrade)",
			ErrSchemaTooNew, current, latest)
	}
	for _, m := range ms {
		if err := s.apply(ctx, conn, m); err != nil {
			return err
		}
	}
	return nil
}

// apply runs one migration unless it is recorded already (by an earlier run,
// or by another process that got there first).
func (s *Store) apply(ctx context.Context, conn *sql.Conn, m migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migration %04d_%s: %w", m.version, m.name, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = $1", m.version).Scan(&n); err != nil {
		return fmt.Errorf("store: migration %04d_%s: %w", m.version, m.name, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql[s.dialect]); err != nil {
		return fmt.Errorf("store: migration %04d_%s (%s): %w", m.version, m.name, s.dialect, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
		m.version, m.name, time.Now().Unix()); err != nil {
		return fmt.Errorf("store: migration %04d_%s: record: %w", m.version, m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migration %04d_%s: commit: %w", m.version, m.name, err)
	}
	return nil
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func schemaVersion(ctx context.Context, q queryRower) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

// SchemaVersion returns the database's schema version: the highest applied
// migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	v, err := schemaVersion(ctx, s.r)
	if err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v, nil
}
