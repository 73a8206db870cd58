package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kidshield/kidshield/seal"
	"github.com/kidshield/kidshield/store"
)

const keysUsage = `usage:
  kidshield keys generate
      print a new data key "ID:BASE64" (32 random bytes)
  kidshield keys rotate [--data-dir DIR | --config FILE | --dsn DSN]
      re-seal every sealed column with the current (first) data key and print the counts

Rotation: generate a key, put it FIRST in hotline.data_keys (or the key file, or
KIDSHIELD_DATA_KEYS) and keep the old keys after it; restart serve; run keys rotate with the
same keys; once it reports success, the old keys may be removed. Keep a copy of the key set
apart from database backups: a backup cannot be read without the keys it was sealed with.
`

// keysCmd runs `kidshield keys generate|rotate`.
func keysCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, keysUsage)
		return 0
	case "generate":
		fs := flag.NewFlagSet("keys generate", flag.ContinueOnError)
		fs.SetOutput(stderr)
		if code := parseSub(fs, args[1:]); code >= 0 {
			return code
		}
		spec, err := seal.Generate()
		if err != nil {
			fmt.Fprintln(stderr, "kidshield keys generate:", err)
			return 1
		}
		fmt.Fprintln(stdout, spec)
		return 0
	case "rotate":
		var sf storeFlags
		fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.Usage = func() { fmt.Fprint(stderr, keysUsage); fs.PrintDefaults() }
		sf.register(fs)
		if code := parseSub(fs, args[1:]); code >= 0 {
			return code
		}
		ctx, stop := signalContext()
		defer stop()
		if err := keysRotate(ctx, &sf, stdout); err != nil {
			fmt.Fprintln(stderr, "kidshield keys rotate:", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "kidshield keys: unknown subcommand %q\n\n%s", args[0], keysUsage)
	return 2
}

func keysRotate(ctx context.Context, sf *storeFlags, stdout io.Writer) error {
	st, cfg, err := sf.openExisting(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	// seal.Load generates a key when none is configured, which is right for serve's first start
	// but not here: rotating onto a key nobody has is how data is lost.
	if os.Getenv(seal.EnvKeys) == "" && cfg.Hotline.DataKeysFile == "" && len(cfg.Hotline.DataKeys) == 0 {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, seal.KeysFileName)); err != nil {
			return fmt.Errorf("no data keys: set %s, hotline.data_keys or hotline.data_keys_file, or give the --data-dir that holds %s (%v)", seal.EnvKeys, seal.KeysFileName, err)
		}
	}
	keys, err := seal.Load(cfg.Hotline, cfg.DataDir)
	if err != nil {
		return err
	}
	counts, err := st.Reseal(ctx, func(column, sealed string) (string, error) {
		return keys.Reseal(sealed, column)
	})
	printCounts(stdout, counts)
	if err != nil {
		return fmt.Errorf("%w (the counts above are committed; fix the cause and run it again)", err)
	}
	fmt.Fprintf(stdout, "every sealed value now uses key %s\n", keys.Current())
	return nil
}

func printCounts(w io.Writer, counts map[string]int) {
	for _, c := range store.SealedColumns() {
		if n, ok := counts[c]; ok {
			fmt.Fprintf(w, "%-28s %d re-sealed\n", c, n)
		}
	}
}
