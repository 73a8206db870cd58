package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kidshield/kidshield/scanner/pdq"
)

const pdqUsage = `Usage: kidshield pdq [flags] FILE...

Print the PDQ hash of each image (JPEG, PNG, GIF first frame, WebP) as the reference tool
pdq-photo-hasher does: one "hash,quality,file" line per file. Quality below 50 means the hash
is too weak to act on. A file that cannot be read or decoded is reported on standard error and
the exit status is 1; the other files are still hashed.

Flags:
`

func pdqCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pdq", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dihedral := fs.Bool("dihedral", false,
		"print the eight dihedral hashes (orig, rot90, rot180, rot270, flipx, flipy, flipp, flipm) as eight\n"+
			"\"hash,quality,file\" lines per file, like pdq-photo-hasher --pdqdih")
	across := fs.Bool("dihedral-across", false,
		"print the eight dihedral hashes on one line, \"h0,…,h7,quality,file\", like pdq-photo-hasher --pdqdih-across")
	list := fs.Bool("list", false,
		"print a hash list the scanner loads (scanner.hash_lists): a \"pdq HASH\" line per file after a\n"+
			"comment naming it; images under quality 50 are left out with a note on stderr")
	maxPixels := fs.Int64("max-pixels", pdq.DefaultLimits.MaxPixels, "refuse images with more pixels than this (read from the header, before decoding)")
	maxBytes := fs.Int64("max-bytes", pdq.DefaultLimits.MaxBytes, "refuse files larger than this")
	fs.Usage = func() {
		fmt.Fprint(stderr, pdqUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if *list && (*dihedral || *across) {
		fmt.Fprintln(stderr, "kidshield pdq: --list takes the original hash only (the scanner probes the eight dihedral ones itself)")
		return 2
	}
	lim := pdq.Limits{MaxBytes: *maxBytes, MaxPixels: *maxPixels}
	status := 0
	for _, name := range fs.Args() {
		if *list {
			line, err := pdqListLine(name, lim)
			if err != nil {
				fmt.Fprintf(stderr, "kidshield pdq: %s: %v\n", name, err)
				status = 1
				continue
			}
			fmt.Fprint(stdout, line)
			continue
		}
		line, err := pdqFile(name, lim, *dihedral, *across)
		if err != nil {
			fmt.Fprintf(stderr, "kidshield pdq: %s: %v\n", name, err)
			status = 1
			continue
		}
		fmt.Fprint(stdout, line)
	}
	return status
}

// pdqFile returns the output lines for one file, so that a failure prints nothing for it.
func pdqFile(name string, lim pdq.Limits, dihedral, across bool) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	img, _, err := pdq.Decode(f, lim)
	if err != nil {
		return "", err
	}
	if !dihedral && !across {
		h, q := pdq.HashImage(img)
		return fmt.Sprintf("%s,%d,%s\n", h, q, name), nil
	}
	hs, q := pdq.HashDihedral(img)
	var b strings.Builder
	if across {
		for _, h := range hs {
			fmt.Fprintf(&b, "%s,", h)
		}
		fmt.Fprintf(&b, "%d,%s\n", q, name)
		return b.String(), nil
	}
	for _, h := range hs {
		fmt.Fprintf(&b, "%s,%d,%s\n", h, q, name)
	}
	return b.String(), nil
}

// pdqListLine is one file's line of a hash list in the format scanner.hash_lists reads
// (python-threatexchange's "pdq HASH"), after a comment line naming the file and quality.
func pdqListLine(name string, lim pdq.Limits) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	img, _, err := pdq.Decode(f, lim)
	if err != nil {
		return "", err
	}
	h, q := pdq.HashImage(img)
	if q < pdq.MinQuality {
		return "", fmt.Errorf("quality %d is under %d: too weak a hash to match on, left out", q, pdq.MinQuality)
	}
	return fmt.Sprintf("# %s, quality %d\npdq %s\n", filepath.Base(name), q, h), nil
}
