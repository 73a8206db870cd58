// Command kidshield is the whole platform in one binary: `kidshield serve` runs every part with
// an embedded SQLite store; `kidshield check-config FILE` validates a configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/filter/upstream"
	"github.com/kidshield/kidshield/seal"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise the module version.
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `kidshield: child online protection platform

Usage:
  kidshield serve [flags]            run the platform (see kidshield serve -h)
  kidshield check-config FILE        validate a configuration file
  kidshield user add|list|reset|disable|enable   manage staff and partner accounts (kidshield user -h)
  kidshield token add|list|revoke    API tokens, e.g. feed:read for members (kidshield token -h)
  kidshield audit verify [flags]     check the audit log's hash chain
  kidshield list add|approve|remove|show|import|sources   the network list, for administrators (kidshield list -h)
  kidshield keys generate|rotate     make a data key; re-encrypt personal fields with the first key
  kidshield feed verify [flags] FILE...   check downloaded feed files against the signed manifest
  kidshield pdq [--dihedral] FILE...   print PDQ image hashes as hash,quality,file (kidshield pdq -h)
  kidshield classify [--threshold CAT=V]  score texts (one per line on stdin) as JSON lines: suggestions
  kidshield version                  print the version
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := serve(ctx, args[1:], stderr); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintln(stderr, "kidshield:", err)
			return 1
		}
		return 0
	case "check-config":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: kidshield check-config FILE")
			return 2
		}
		c, err := config.LoadFile(args[1])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		// What serve would only find out at start: upstream specs it cannot use, list files
		// that are not there.
		bad := false
		for i, spec := range c.Upstreams {
			if _, err := upstream.Parse(spec, upstream.Options{}); err != nil {
				fmt.Fprintf(stderr, "%s: upstreams[%d]: %v\n", args[1], i, err)
				bad = true
			}
		}
		for i, l := range c.Lists {
			if !strings.Contains(l.Source, "://") {
				if _, err := os.Stat(l.Source); err != nil {
					fmt.Fprintf(stderr, "%s: lists[%d].source: %v\n", args[1], i, err)
					bad = true
				}
			}
		}
		if checkScannerLists(stderr, args[1], c) {
			bad = true
		}
		if h := c.Hotline; len(h.DataKeys) > 0 || h.DataKeysFile != "" {
			if _, err := seal.Load(h, c.DataDir); err != nil {
				fmt.Fprintf(stderr, "%s: hotline data keys: %v\n", args[1], err)
				bad = true
			}
		}
		if bad {
			return 1
		}
		fmt.Fprintf(stdout, "%s: ok\n", args[1])
		checkPolicyNote(stdout, args[1], c)
		checkScannerNote(stdout, args[1], c)
		return 0
	case "user":
		return userCmd(args[1:], os.Stdin, stdout, stderr)
	case "audit":
		return auditCmd(args[1:], stdout, stderr)
	case "list":
		return listCmd(args[1:], stdout, stderr)
	case "keys":
		return keysCmd(args[1:], stdout, stderr)
	case "token":
		return tokenCmd(args[1:], stdout, stderr)
	case "feed":
		return feedSubcmd(args[1:], stdout, stderr)
	case "pdq":
		return pdqCmd(args[1:], stdout, stderr)
	case "classify":
		return classifyCmd(args[1:], os.Stdin, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "kidshield", versionString())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "kidshield: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " " + s.Value[:12]
			}
		}
		return v
	}
	return "devel"
}
