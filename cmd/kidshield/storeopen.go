package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/store"
)

// storeFlags are the flags by which a maintenance command (audit verify, keys rotate, user ...)
// finds the store `kidshield serve` uses: the configuration file and data directory resolve to
// the same DSN as serve (store.dsn, else SQLite in the data directory), or --dsn names it.
type storeFlags struct {
	config, dataDir, dsn string
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "configuration file (YAML) that serve runs with")
	fs.StringVar(&f.dataDir, "data-dir", "", "data directory (default ./kidshield-data, or the configuration's)")
	fs.StringVar(&f.dsn, "dsn", "", "store DSN (sqlite:PATH or postgres://...), instead of the configuration's")
}

// load returns the configuration, with --data-dir applied as serve applies it, and the DSN.
func (f *storeFlags) load() (*config.Config, string, error) {
	var c *config.Config
	if f.config != "" {
		var err error
		if c, err = config.LoadFile(f.config); err != nil {
			return nil, "", err
		}
	} else {
		c = config.Default()
	}
	if f.dataDir != "" {
		c.DataDir = f.dataDir
	}
	if err := c.Finish(); err != nil {
		return nil, "", err
	}
	dsn := f.dsn
	if dsn == "" {
		dsn = c.Store.DSN
	}
	if dsn == "" {
		dsn = "sqlite:" + c.DataDir + "/kidshield.db"
	}
	return c, dsn, nil
}

// open loads the configuration and opens the store (applying pending migrations, as serve
// does), creating a SQLite database that is not there yet: only `user add` wants that (the
// first administrator may be made before the first serve).
func (f *storeFlags) open(ctx context.Context) (*store.Store, *config.Config, error) {
	return f.openStore(ctx, false)
}

// openExisting is open for the commands that only make sense on a database that is already
// there (audit verify, keys rotate, user list|reset|disable|enable): opening a SQLite file
// creates it, so a mistyped --data-dir would otherwise make an empty database and report on it
// ("ok: 0 records"). A PostgreSQL database is not checked: the server has it or refuses the
// connection.
func (f *storeFlags) openExisting(ctx context.Context) (*store.Store, *config.Config, error) {
	return f.openStore(ctx, true)
}

func (f *storeFlags) openStore(ctx context.Context, mustExist bool) (*store.Store, *config.Config, error) {
	c, dsn, err := f.load()
	if err != nil {
		return nil, nil, err
	}
	if mustExist {
		if err := f.checkExists(dsn); err != nil {
			return nil, nil, err
		}
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	return st, c, nil
}

// checkExists fails when dsn names a SQLite file that is missing or empty.
func (f *storeFlags) checkExists(dsn string) error {
	path, ok := sqlitePath(dsn)
	if !ok {
		return nil
	}
	hint := "check --data-dir or --config"
	if f.dsn != "" {
		hint = "check --dsn"
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs // a relative data directory depends on where the command runs: say where
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no database at %s: %s", path, hint)
	case err != nil:
		return fmt.Errorf("store: %w", err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("no database at %s (not a regular file): %s", path, hint)
	case fi.Size() == 0:
		return fmt.Errorf("no database at %s (the file is empty): %s", path, hint)
	}
	return nil
}

// sqlitePath returns the file a SQLite DSN names, as store.Open reads it (sqlite:PATH,
// sqlite:///PATH or a bare path); false for PostgreSQL and for schemes store.Open refuses.
func sqlitePath(dsn string) (string, bool) {
	lower := strings.ToLower(dsn)
	switch {
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return "", false
	case strings.HasPrefix(lower, "sqlite:"):
		p := dsn[len("sqlite:"):]
		if strings.HasPrefix(p, "//") {
			p = p[2:]
		}
		return p, p != ""
	}
	if i := strings.Index(dsn, ":"); i > 1 && isScheme(dsn[:i]) {
		return "", false // another scheme: store.Open says which
	}
	return dsn, dsn != ""
}

// isScheme reports whether s looks like a URL scheme, as store.Open decides it.
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

// parseSub parses a subcommand's flags; it returns an exit code when the caller should stop
// (0 after -h, 2 after a usage error) and -1 to go on.
func parseSub(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q (flags start with -)\n", fs.Name(), fs.Arg(0))
		return 2
	}
	return -1
}

// signalContext is a context cancelled by SIGINT or SIGTERM, for maintenance commands that
// should stop between batches rather than be killed halfway.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
