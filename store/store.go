package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Dialects reported by Store.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// sqliteBusyTimeout is how long an SQLite statement waits for a lock held by
// another process (a backup, the CLI) before failing with SQLITE_BUSY.
const sqliteBusyTimeout = 10 * time.Second

// Store is kidshield's storage. It is safe for concurrent use.
type Store struct {
	dialect string
	// w takes every write. For SQLite it holds a single connection: SQLite
	// allows one writer at a time, and queueing writers in the pool is cheaper
	// and fairer than letting them spin on SQLITE_BUSY.
	w *sql.DB
	// r serves reads. For SQLite it is a separate pool of query_only
	// connections, which WAL lets read while the writer writes, so a parent
	// opening a report does not wait behind a statistics flush. For PostgreSQL
	// it is the same pool as w.
	r *sql.DB

	// reports feeds the group writer of CreateReport; quit stops it and writerDone says it
	// has stopped.
	reports    chan *reportJob
	quit       chan struct{}
	writerDone chan struct{}
	closeOnce  sync.Once
}

// Open opens the store named by dsn and applies pending migrations.
//
// dsn is one of
//
//	sqlite:/path/to/kidshield.db   (also sqlite:///path, or a bare path)
//	postgres://user@host:5432/db?sslmode=disable   (or postgresql://)
//
// For SQLite, Open creates the parent directory (mode 0700) and the file (mode
// 0600) when missing, and sets WAL mode, a busy timeout, foreign keys, and
// synchronous=FULL. FULL, not NORMAL: in WAL mode NORMAL skips the fsync at
// commit, so a committed transaction survives a crash of kidshield but may be
// lost on power failure or an OS crash. A report acknowledged to a child must
// survive both, so every commit is fsynced; statistics writes are batched by
// the filter and pay that cost once per flush.
func Open(ctx context.Context, dsn string) (*Store, error) {
	dialect, target, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	var s *Store
	switch dialect {
	case DialectSQLite:
		s, err = openSQLite(ctx, target)
	default:
		s, err = openPostgres(ctx, target)
	}
	if err != nil {
		return nil, err
	}
	s.reports, s.quit, s.writerDone = make(chan *reportJob), make(chan struct{}), make(chan struct{})
	go s.reportWriter()
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

const dsnHelp = "want sqlite:PATH, a file path, or postgres://..."

// parseDSN returns the dialect and what its driver needs: a file path for
// SQLite, the URL for PostgreSQL.
func parseDSN(dsn string) (dialect, target string, err error) {
	lower := strings.ToLower(dsn)
	switch {
	case strings.TrimSpace(dsn) == "":
		return "", "", fmt.Errorf("store: open: empty DSN (%s)", dsnHelp)
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return DialectPostgres, dsn, nil
	case strings.HasPrefix(lower, "sqlite:"):
		target = dsn[len("sqlite:"):]
		if strings.HasPrefix(target, "//") { // sqlite:///abs/path
			target = target[2:]
		}
	default:
		if i := strings.Index(dsn, ":"); i > 1 && isScheme(dsn[:i]) {
			return "", "", fmt.Errorf("store: open: unsupported DSN scheme %q (%s)", dsn[:i], dsnHelp)
		}
		target = dsn
	}
	if target == "" {
		return "", "", fmt.Errorf("store: open: DSN %q has no file path (%s)", dsn, dsnHelp)
	}
	if target == ":memory:" || strings.HasPrefix(target, "file:") {
		return "", "", fmt.Errorf("store: open: %q: in-memory and file: URI databases are not supported; give a file path", dsn)
	}
	if strings.Contains(target, "?") {
		// The driver would read the rest as its own options and override
		// the pragmas the store relies on.
		return "", "", fmt.Errorf("store: open: SQLite path %q contains '?': options are not accepted in the DSN", target)
	}
	return DialectSQLite, target, nil
}

// isScheme reports whether s looks like a URL scheme (and not like a Windows
// drive letter, which is one character and excluded by the caller).
func isScheme(s string) bool {
	for i, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: create directory: %w", abs, err)
	}
	// Create the file ourselves so that it (and the -wal and -shm files
	// SQLite derives from it) are readable by the owner only.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", abs, err)
	}
	f.Close()

	common := fmt.Sprintf("_busy_timeout=%d&_foreign_keys=1&_synchronous=FULL", sqliteBusyTimeout.Milliseconds())
	// _txlock=immediate: a write transaction takes the write lock at BEGIN,
	// so a busy database is waited for under busy_timeout instead of failing
	// when a read lock cannot be upgraded halfway through.
	w, err := sql.Open("sqlite", abs+"?"+common+"&_journal_mode=WAL&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", abs, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", abs, err)
	}
	if !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, fmt.Errorf("store: open sqlite %s: journal_mode is %q, not WAL (is the file on a network filesystem?)", abs, mode)
	}

	r, err := sql.Open("sqlite", abs+"?"+common+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", abs, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(5 * time.Minute)
	return &Store{dialect: DialectSQLite, w: w, r: r}, nil
}

func openPostgres(ctx context.Context, dsn string) (*Store, error) {
	name := redactDSN(dsn)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres %s: %w", name, err)
	}
	db.SetMaxOpenConns(16)
	// As many idle as open: with fewer, a burst of requests closes and reopens connections,
	// and a new PostgreSQL connection costs a process fork on the server.
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open postgres %s: %w", name, err)
	}
	return &Store{dialect: DialectPostgres, w: db, r: db}, nil
}

// redactDSN returns dsn without its password, for messages.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable postgres DSN)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Dialect returns DialectSQLite or DialectPostgres.
func (s *Store) Dialect() string { return s.dialect }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	if s.r != s.w {
		if err := s.r.PingContext(ctx); err != nil {
			return fmt.Errorf("store: ping: %w", err)
		}
	}
	return nil
}

// Close closes the store's connections.
func (s *Store) Close() error {
	if s.quit != nil {
		s.closeOnce.Do(func() { close(s.quit) })
		<-s.writerDone // a group being committed finishes first
	}
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	if err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// write runs fn in a write transaction and commits it when fn returns nil.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// read runs fn in a read-only transaction, so that the several queries of one
// report see one snapshot even while writers commit.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.dialect == DialectPostgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.r.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
