package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/kidshield/kidshield/auth"
)

const tokenUsage = `Usage:
  kidshield token add --name NAME --scopes SCOPE[,SCOPE] [--partner ID] [store flags]
      creates an API token and prints it once (it is stored hashed: keep it now). Scopes:
      feed:read (the network list's HTTP downloads, /feed/v1/), policy:read (the control
      node's profiles, policy.yaml: for the network's own filter nodes only, it holds
      families' client addresses), reports:submit (the reporting API). NAME says who uses it,
      e.g. "isp-a resolvers" or "vendor x".
  kidshield token list [store flags]
      lists the tokens (never the secrets): id, name, scopes, created, last used, revoked.
  kidshield token revoke --id ID [store flags]
      revokes a token at once.

The same tokens are managed on /admin/tokens; the command is for nodes without the hotline's
pages (a feed node) and for scripts. Every change is audited.
Store flags (as for kidshield serve): --config FILE, --data-dir DIR, or --dsn DSN.
`

// tokenCmd manages API tokens from the command line.
func tokenCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, tokenUsage)
		return 2
	}
	fs := flag.NewFlagSet("token "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, tokenUsage+"\nFlags:\n"); fs.PrintDefaults() }
	var sf storeFlags
	sf.register(fs)
	var name, scopes string
	var partner, id int64
	switch args[0] {
	case "add":
		fs.StringVar(&name, "name", "", "who uses the token")
		fs.StringVar(&scopes, "scopes", "", "comma-separated scopes, e.g. feed:read")
		fs.Int64Var(&partner, "partner", 0, "partner organisation id (a partner's token)")
	case "list":
	case "revoke":
		fs.Int64Var(&id, "id", 0, "the token's id (kidshield token list)")
	case "help", "-h", "--help":
		fmt.Fprint(stdout, tokenUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "kidshield token: unknown command %q\n\n%s", args[0], tokenUsage)
		return 2
	}
	if code := parseSub(fs, args[1:]); code >= 0 {
		return code
	}
	fail := func(err error) int { fmt.Fprintf(stderr, "kidshield token %s: %v\n", args[0], err); return 1 }
	var sc []string
	if args[0] == "add" {
		var err error
		if sc, err = auth.ParseScopes(scopes); err != nil || strings.TrimSpace(name) == "" {
			if err == nil {
				err = fmt.Errorf("--name is required")
			}
			fmt.Fprintf(stderr, "kidshield token add: %v\n", err)
			return 2
		}
	}
	if args[0] == "revoke" && id <= 0 {
		fmt.Fprintln(stderr, "kidshield token revoke: --id is required")
		return 2
	}
	ctx, stop := signalContext()
	defer stop()
	open := sf.openExisting
	if args[0] == "add" {
		open = sf.open // the first token of a new feed node may come before its first start
	}
	st, _, err := open(ctx)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	switch args[0] {
	case "add":
		tok, id, err := auth.CreateToken(ctx, st, auth.NewToken{Name: name, Scopes: sc, PartnerID: partner}, "cli")
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stderr, "created token %d (%s); it is shown once:\n", id, strings.Join(sc, ","))
		fmt.Fprintln(stdout, tok)
	case "list":
		ts, err := st.APITokens(ctx)
		if err != nil {
			return fail(err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED\tLAST USED\tREVOKED")
		for _, t := range ts {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, printable(t.Name), strings.Join(t.Scopes, ","), t.Created.UTC().Format("2006-01-02"),
				dateOrDash(t.LastUsed.IsZero(), t.LastUsed.UTC().Format("2006-01-02 15:04")), dateOrDash(t.Revoked.IsZero(), t.Revoked.UTC().Format("2006-01-02 15:04")))
		}
		tw.Flush()
	case "revoke":
		if err := auth.RevokeToken(ctx, st, id, "cli"); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "revoked token %d\n", id)
	}
	return 0
}

func dateOrDash(zero bool, s string) string {
	if zero {
		return "-"
	}
	return s
}

// printable keeps a name made on the web page from writing control characters (terminal escape
// sequences) to the administrator's terminal: they are shown as \u escapes.
func printable(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	q := strconv.QuoteToASCII(s)
	return q[1 : len(q)-1]
}
