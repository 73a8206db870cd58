package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/store"
)

// storeFlags are the flags by which a maintenance command (audit verify, keys rotate, user add)
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
// does).
func (f *storeFlags) open(ctx context.Context) (*store.Store, *config.Config, error) {
	c, dsn, err := f.load()
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	return st, c, nil
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
