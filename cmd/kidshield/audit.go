package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kidshield/kidshield/audit"
)

const auditUsage = `usage: kidshield audit verify [--data-dir DIR | --config FILE | --dsn DSN] [--anchor FILE] [--save-anchor FILE]

Checks the audit log's hash chain from its first record to its head. With --anchor, also
checks the log against a head saved earlier with --save-anchor, which detects records cut off
the end. Keep anchors off the database host (another machine, a ticket): an anchor an intruder
can rewrite proves nothing.

Exit status: 0 when the log is intact, 1 when a record is broken (it is named), 2 on usage.
`

// auditCmd runs `kidshield audit verify`.
func auditCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, auditUsage)
			return 0
		}
		fmt.Fprint(stderr, auditUsage)
		return 2
	}
	var sf storeFlags
	var anchorFile, saveAnchor string
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, auditUsage); fs.PrintDefaults() }
	sf.register(fs)
	fs.StringVar(&anchorFile, "anchor", "", "file with a saved head (\"SEQ HASH\"): fail when the log no longer reaches it")
	fs.StringVar(&saveAnchor, "save-anchor", "", "write the verified head to this file (keep it off the database host)")
	if code := parseSub(fs, args[1:]); code >= 0 {
		return code
	}
	ctx, stop := signalContext()
	defer stop()
	if err := auditVerify(ctx, &sf, anchorFile, saveAnchor, stdout); err != nil {
		fmt.Fprintln(stderr, "kidshield audit verify:", err)
		return 1
	}
	return 0
}

func auditVerify(ctx context.Context, sf *storeFlags, anchorFile, saveAnchor string, stdout io.Writer) error {
	var anchor *audit.Anchor
	if anchorFile != "" {
		b, err := os.ReadFile(anchorFile)
		if err != nil {
			return err
		}
		a, err := audit.ParseAnchor(string(b))
		if err != nil {
			return fmt.Errorf("%s: %w", anchorFile, err)
		}
		anchor = &a
	}
	st, _, err := sf.openExisting(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	next := st.AuditRecords(ctx, 1000)
	var res audit.Result
	if anchor != nil {
		res, err = audit.VerifyAnchor(ctx, next, *anchor)
	} else {
		res, err = audit.Verify(ctx, next)
	}
	if err != nil {
		if errors.Is(err, audit.ErrBroken) && res.HeadSeq > 0 {
			return fmt.Errorf("%w (records 1 to %d are intact)", err, res.HeadSeq)
		}
		return err
	}
	fmt.Fprintf(stdout, "audit log ok: %d records, head %d %s\n", res.Records, res.HeadSeq, orDash(res.HeadHash))
	if anchor != nil {
		fmt.Fprintf(stdout, "anchor %s: ok\n", anchor)
	}
	if saveAnchor != "" {
		if err := writeFileAtomic(saveAnchor, []byte(res.Head().String()+"\n"), 0o644); err != nil {
			return fmt.Errorf("save anchor: %w", err)
		}
		fmt.Fprintf(stdout, "anchor saved to %s: copy it off this host\n", saveAnchor)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeFileAtomic writes data to a temporary file beside path and renames it into place, so
// a crash leaves the old file or the new one, never half of one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, perm)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
