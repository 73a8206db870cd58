package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kidshield/kidshield/feed/httpfeed"
)

const feedUsage = `usage:
  kidshield feed verify --key KEY --manifest manifest.json FILE...
  kidshield feed verify --key KEY --url https://HOST/feed/v1 --token ks_... [--out DIR] [NAME...]

Checks the manifest's Ed25519 signature with KEY (a PEM file, as GET /feed/v1/key serves it,
or the base64 of the 32-byte public key), then each file's size and SHA-256 against the
manifest (a file is named in the manifest by its base name). With --url, downloads the
manifest and the named files (all files of the manifest when none is named) and checks them;
with --out, the files that verified and the manifest are written into DIR (each replaced
atomically, the manifest last).
Exit status: 0 all good, 1 a mismatch or a bad signature (named), 2 usage.
`

// feedSubcmd runs `kidshield feed SUBCOMMAND`.
func feedSubcmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, feedUsage)
			return 0
		}
		fmt.Fprint(stderr, feedUsage)
		return 2
	}
	return feedVerify(context.Background(), args[1:], stdout, stderr, http.DefaultClient)
}

func feedVerify(ctx context.Context, args []string, stdout, stderr io.Writer, client *http.Client) int {
	fs := flag.NewFlagSet("feed verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, feedUsage) }
	keyArg := fs.String("key", "", "the publisher's public key: PEM file or base64")
	manifestPath := fs.String("manifest", "", "the manifest file")
	base := fs.String("url", "", "the feed's URL (…/feed/v1)")
	token := fs.String("token", "", "API token with scope feed:read (with --url); default $KIDSHIELD_FEED_TOKEN")
	outDir := fs.String("out", "", "with --url: write the verified files and the manifest into this directory")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *keyArg == "" || (*manifestPath == "") == (*base == "") {
		fmt.Fprint(stderr, "kidshield feed verify: give --key, and either --manifest or --url\n\n"+feedUsage)
		return 2
	}
	pub, err := feedKey(*keyArg)
	if err != nil {
		fmt.Fprintln(stderr, "kidshield feed verify:", err)
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "kidshield feed verify: FAIL:", err)
		return 1
	}
	if *manifestPath != "" {
		data, err := os.ReadFile(*manifestPath)
		if err != nil {
			fmt.Fprintln(stderr, "kidshield feed verify:", err)
			return 2
		}
		m, err := httpfeed.VerifyManifest(data, pub)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", *manifestPath, err))
		}
		for _, p := range fs.Args() {
			b, err := os.ReadFile(p)
			if err != nil {
				fmt.Fprintln(stderr, "kidshield feed verify:", err)
				return 2
			}
			if err := m.Check(filepath.Base(p), b); err != nil {
				return fail(err)
			}
			fmt.Fprintf(stdout, "%s: ok\n", p)
		}
		fmt.Fprintf(stdout, "ok: manifest serial %d, %d file(s) verified\n", m.Serial, len(fs.Args()))
		return 0
	}

	tok := *token
	if tok == "" {
		tok = os.Getenv("KIDSHIELD_FEED_TOKEN")
	}
	if tok == "" {
		fmt.Fprint(stderr, "kidshield feed verify: --url needs --token (or $KIDSHIELD_FEED_TOKEN)\n")
		return 2
	}
	u, err := url.Parse(strings.TrimSuffix(*base, "/") + "/")
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		fmt.Fprintf(stderr, "kidshield feed verify: --url %q is not an http(s) URL\n", *base)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	data, err := feedGet(ctx, client, u, httpfeed.ManifestName, tok, 16<<20)
	if err != nil {
		return fail(err)
	}
	m, err := httpfeed.VerifyManifest(data, pub)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", httpfeed.ManifestName, err))
	}
	names := fs.Args()
	if len(names) == 0 {
		for _, f := range m.Files {
			names = append(names, f.Name)
		}
	}
	for _, n := range names {
		f := m.File(n)
		if f == nil {
			return fail(fmt.Errorf("%s: not in the manifest of serial %d: %w", n, m.Serial, httpfeed.ErrMismatch))
		}
		b, err := feedGet(ctx, client, u, n, tok, f.Size+1)
		if err != nil {
			return fail(err)
		}
		if err := m.Check(n, b); err != nil {
			// The list may have changed between the manifest and the file: say so rather than
			// let a member suspect tampering.
			return fail(fmt.Errorf("%w (if the list changed during the download, run again)", err))
		}
		fmt.Fprintf(stdout, "%s: ok\n", n)
		if *outDir != "" {
			if err := writeAtomic(*outDir, n, b); err != nil {
				fmt.Fprintln(stderr, "kidshield feed verify:", err)
				return 1
			}
		}
	}
	if *outDir != "" {
		if err := writeAtomic(*outDir, httpfeed.ManifestName, data); err != nil {
			fmt.Fprintln(stderr, "kidshield feed verify:", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "ok: manifest serial %d, %d file(s) verified\n", m.Serial, len(names))
	return 0
}

// writeAtomic writes dir/name through a temporary file and a rename: a reader never sees half
// a list.
func writeAtomic(dir, name string, data []byte) error {
	if name != filepath.Base(name) || name == "." || name == ".." || strings.HasPrefix(name, ".") {
		return fmt.Errorf("refusing to write a file named %q", name)
	}
	tmp, err := os.CreateTemp(dir, ".feed-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// feedKey reads --key: a file holding the key, or the key itself.
func feedKey(s string) (ed25519.PublicKey, error) {
	if b, err := os.ReadFile(s); err == nil {
		return httpfeed.ParsePublicKey(string(b))
	}
	return httpfeed.ParsePublicKey(s)
}

// feedGet downloads one file of the feed (Go's transport asks for gzip and decompresses), at
// most limit bytes.
func feedGet(ctx context.Context, client *http.Client, base *url.URL, name, token string, limit int64) ([]byte, error) {
	u := base.ResolveReference(&url.URL{Path: name})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %s", name, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}
