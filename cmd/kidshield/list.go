package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kidshield/kidshield/auth"
	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

const listUsage = `Usage:
  kidshield list add --kind domain|host|url|hash --value V --category C --reason R --by LOGIN [--dns-host] [store flags]
      proposes an entry without a case (an emergency): it blocks once another person approves it.
      --dns-host (URLs only) also blocks the URL's host by DNS: everything on that host.
  kidshield list approve --id N --by LOGIN [store flags]
      approves a proposal; LOGIN must not be its proposer (two-person rule).
  kidshield list remove --id N --by LOGIN --reason R [store flags]
      delists an entry (a proposal is rejected); the tombstone stays.
  kidshield list verify ID --by LOGIN [store flags]
      records that LOGIN looked at an active entry's content again and it still belongs on the
      list: it is due its next re-check after hotline.list_recheck_after.
  kidshield list show [--state STATE | --due] [--category C] [--json] [store flags]
      prints entries with their provenance; --state active prints what members receive: the
      network's entries, the hosts of URL entries blocked by DNS, imports not overridden by
      them, and the canary. --due prints the entries due a re-check (expired; they keep
      blocking), the longest overdue first.
  kidshield list import --source NAME --category C [--format auto|domains|hosts|adblock] [--by LOGIN] FILE_OR_URL [store flags]
      imports a public list as the source NAME, replacing its previous import. The network's own
      entries win over imports; a delisted value is not blocked again by an import.
  kidshield list sources [store flags]
      prints the import sources.

--by names an account with the admin, supervisor or analyst role: changes are made and audited
in its name, as on the web pages. The canary ` + store.CanaryValue + ` is in every published list;
it cannot be removed. Every command needs an existing database.
Store flags (as for kidshield serve): --config FILE, --data-dir DIR, or --dsn DSN.
`

// listCmd is the administrators' access to the network list: emergencies and imports, through
// the same service, approval and audit as the web pages.
func listCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, listUsage)
		return 2
	}
	switch args[0] {
	case "add", "approve", "remove", "verify", "show", "import", "sources":
		return listRun(args[0], args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, listUsage)
		return 0
	}
	fmt.Fprintf(stderr, "kidshield list: unknown command %q\n\n%s", args[0], listUsage)
	return 2
}

type listFlags struct {
	sf                                       storeFlags
	kind, value, category, reason, by, state string
	source, format                           string
	id                                       int64
	asJSON, dnsHost, due                     bool
}

func listRun(cmd string, args []string, stdout, stderr io.Writer) int {
	name := "kidshield list " + cmd
	var f listFlags
	fs := flag.NewFlagSet("list "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, listUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	f.sf.register(fs)
	switch cmd {
	case "add":
		fs.StringVar(&f.kind, "kind", "", "domain (with subdomains), host, url or hash")
		fs.StringVar(&f.value, "value", "", "the name, URL or hash")
		fs.BoolVar(&f.dnsHost, "dns-host", false, "with --kind url: also block the URL's host by DNS (everything on that host)")
	case "approve", "remove", "verify":
		fs.Int64Var(&f.id, "id", -1, "the entry's id (list show)")
	case "show":
		fs.StringVar(&f.state, "state", "", "only entries in this state (proposed, active, appealed, delisted, disabled, rejected)")
		fs.BoolVar(&f.due, "due", false, "only entries due a re-check (their expiry passed), the longest overdue first")
		fs.BoolVar(&f.asJSON, "json", false, "print JSON")
	case "import":
		fs.StringVar(&f.source, "source", "", "the source's name (a-z 0-9 . _ -); a new import replaces its previous one")
		fs.StringVar(&f.format, "format", "auto", "auto, domains, hosts or adblock")
	}
	if cmd == "add" || cmd == "show" || cmd == "import" {
		fs.StringVar(&f.category, "category", "", "filter category")
	}
	if cmd == "add" || cmd == "remove" {
		fs.StringVar(&f.reason, "reason", "", "why (kept with the entry)")
	}
	if cmd != "show" && cmd != "sources" {
		fs.StringVar(&f.by, "by", "", "login of the account acting (admin, supervisor or analyst)")
	}
	var location string
	if cmd == "import" {
		// FILE_OR_URL may come before or after the flags.
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			fmt.Fprintln(stderr, name+": FILE_OR_URL is required")
			return 2
		}
		location = fs.Arg(0)
		if code := parseSub(fs, fs.Args()[1:]); code >= 0 {
			return code
		}
	} else if cmd == "verify" {
		// ID may be given before or after the flags, or as --id.
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() > 0 {
			n, err := strconv.ParseInt(fs.Arg(0), 10, 64)
			if err != nil || n < 0 {
				fmt.Fprintf(stderr, "%s: ID %q is not an entry's id (list show)\n", name, fs.Arg(0))
				return 2
			}
			f.id = n
			if code := parseSub(fs, fs.Args()[1:]); code >= 0 {
				return code
			}
		}
	} else if code := parseSub(fs, args); code >= 0 {
		return code
	}
	var missing []string
	need := func(ok bool, flag string) {
		if !ok {
			missing = append(missing, flag)
		}
	}
	switch cmd {
	case "add":
		need(f.kind != "", "--kind")
		need(f.value != "", "--value")
		need(f.category != "", "--category")
		need(strings.TrimSpace(f.reason) != "", "--reason")
		need(f.by != "", "--by")
	case "approve":
		need(f.id >= 0, "--id")
		need(f.by != "", "--by")
	case "verify":
		need(f.id >= 0, "ID")
		need(f.by != "", "--by")
	case "remove":
		need(f.id >= 0, "--id")
		need(f.by != "", "--by")
		need(strings.TrimSpace(f.reason) != "", "--reason")
	case "import":
		need(f.source != "", "--source")
		need(f.category != "", "--category")
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "%s: %s required\n", name, strings.Join(missing, ", "))
		return 2
	}
	if cmd == "add" && store.IsCanary(f.value) || (cmd == "approve" || cmd == "remove" || cmd == "verify") && f.id == 0 {
		fmt.Fprintf(stderr, "%s: %v\n", name, store.ErrCanary)
		return 1
	}
	if f.dnsHost && f.kind != store.ListURL {
		fmt.Fprintf(stderr, "%s: --dns-host is for --kind url (a domain or host entry is blocked by DNS already)\n", name)
		return 2
	}
	if f.due && f.state != "" {
		fmt.Fprintf(stderr, "%s: --due and --state do not go together (due entries are active or appealed)\n", name)
		return 2
	}
	if f.state != "" && !lifecycle.List.Valid(f.state) {
		fmt.Fprintf(stderr, "%s: unknown state %q (want one of %s)\n", name, f.state, strings.Join(lifecycle.List.States(), ", "))
		return 2
	}

	ctx, stop := signalContext()
	defer stop()
	st, cfg, err := f.sf.openExisting(ctx)
	if err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return 1
	}
	defer st.Close()
	if (cmd == "add" || cmd == "import") && !slices.Contains(cfg.AllCategories(), f.category) {
		// The filter would count an unknown category as "hotline": say so now instead.
		fmt.Fprintf(stderr, "%s: unknown category %q (want one of %s)\n", name, f.category, strings.Join(cfg.AllCategories(), ", "))
		return 1
	}
	svc := hotline.New(hotline.Options{Store: st, Config: func() *config.Hotline { return &cfg.Hotline }})
	by := hotline.Actor{Label: "cli"}
	if f.by != "" {
		u, err := st.UserByLogin(ctx, auth.NormalizeLogin(f.by))
		switch {
		case errors.Is(err, store.ErrNotFound):
			fmt.Fprintf(stderr, "%s: no account %q (kidshield user list)\n", name, f.by)
			return 1
		case err != nil:
			fmt.Fprintln(stderr, name+":", err)
			return 1
		case u.Disabled:
			fmt.Fprintf(stderr, "%s: account %q is disabled\n", name, u.Login)
			return 1
		case !slices.ContainsFunc(u.Roles, func(r string) bool {
			return r == string(web.RoleAdmin) || r == string(web.RoleSupervisor) || r == string(web.RoleAnalyst)
		}):
			fmt.Fprintf(stderr, "%s: account %q has none of the roles admin, supervisor, analyst\n", name, u.Login)
			return 1
		}
		// "cli:" marks the audit records of changes made from the command line in the account's
		// name: the command has no password to check, so the audit log must say where they came from.
		by = hotline.Actor{UserID: u.ID, Label: fmt.Sprintf("cli:user:%d:%s", u.ID, u.Login)}
	}

	switch cmd {
	case "add":
		id, err := svc.AddListEntryInput(ctx, by, hotline.ListAddInput{Kind: f.kind, Value: f.value, Category: f.category, Reason: f.reason, DNSHost: f.dnsHost})
		if err != nil {
			fmt.Fprintln(stderr, name+":", err)
			return 1
		}
		fmt.Fprintf(stdout, "proposed entry %d: it blocks once another person approves it (kidshield list approve --id %d --by LOGIN)\n", id, id)
	case "approve":
		e, err := svc.ApproveListEntry(ctx, by, f.id)
		if err != nil {
			fmt.Fprintln(stderr, name+":", err)
			return 1
		}
		fmt.Fprintf(stdout, "entry %d %s %s: %s\n", e.ID, e.Kind, e.Value, e.State)
	case "remove":
		e, err := svc.RemoveListEntry(ctx, by, f.id, f.reason)
		if err != nil {
			fmt.Fprintln(stderr, name+":", err)
			return 1
		}
		fmt.Fprintf(stdout, "entry %d %s %s: %s\n", e.ID, e.Kind, e.Value, e.State)
	case "verify":
		e, err := svc.VerifyListEntry(ctx, by, f.id)
		if err != nil {
			fmt.Fprintln(stderr, name+":", err)
			return 1
		}
		fmt.Fprintf(stdout, "entry %d %s %s: re-checked %s, next re-check due %s\n", e.ID, e.Kind, e.Value, rfc3339(e.LastVerified), rfc3339(e.Expires))
	case "import":
		rep, err := svc.ImportList(ctx, by, hotline.ListImportInput{Source: f.source, Category: f.category, Location: location, Format: f.format})
		if err != nil {
			fmt.Fprintln(stderr, name+":", err)
			return 1
		}
		fmt.Fprintf(stdout, "imported %s (%s): %d added, %d removed, %d recategorised, %d unchanged; %d lines, %d bad, %d ignored; list serial %d\n",
			f.source, rep.Digest, rep.Added, rep.Removed, rep.Recategorised, rep.Unchanged, rep.Parse.Lines, rep.Parse.Bad, rep.Ignored+rep.Invalid, rep.Serial)
		// Say which lines and values were left out and why (the first few of each).
		for i, le := range rep.Parse.Errors {
			if i == store.MaxRefusedShown {
				fmt.Fprintf(stdout, "  bad: … and %d more\n", rep.Parse.Bad-i)
				break
			}
			fmt.Fprintf(stdout, "  bad: %s\n", le.Error())
		}
		for _, r := range rep.Refused {
			fmt.Fprintf(stdout, "  ignored: %s\n", r)
		}
		if n := rep.Ignored + rep.Invalid; n > len(rep.Refused) {
			fmt.Fprintf(stdout, "  ignored: … and %d more\n", n-len(rep.Refused))
		}
	case "sources":
		srcs, err := st.ImportSources(ctx)
		if err != nil {
			fmt.Fprintln(stderr, name+":", err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SOURCE\tCATEGORY\tENTRIES\tFORMAT\tIMPORTED\tBY\tORIGIN\tDIGEST")
		for _, s := range srcs {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", s.Source, s.Category, s.Entries, s.Format, s.Imported.UTC().Format(time.RFC3339), s.ImportedBy, s.Origin, s.Digest)
		}
		tw.Flush()
	case "show":
		return listShow(ctx, st, f, stdout, stderr)
	}
	return 0
}

// listShow prints entries: with --state active the merged view members receive, otherwise the
// network's own entries (and the canary when its state is asked for).
func listShow(ctx context.Context, st *store.Store, f listFlags, stdout, stderr io.Writer) int {
	var es []*store.ListEntry
	var err error
	switch {
	case f.due:
		es, err = st.ListEntries(ctx, store.ListFilter{DueBy: time.Now(), Limit: 5000})
	case f.state == lifecycle.ListActive:
		es, err = st.ActiveNetworkEntries(ctx)
	case f.state == "":
		es, err = st.ListEntries(ctx, store.ListFilter{Limit: 5000})
		es = append([]*store.ListEntry{store.CanaryEntry()}, es...)
	default:
		es, err = st.ListEntries(ctx, store.ListFilter{States: []string{f.state}, Limit: 5000})
	}
	if err != nil {
		fmt.Fprintln(stderr, "kidshield list show:", err)
		return 1
	}
	if f.category != "" {
		es = slices.DeleteFunc(es, func(e *store.ListEntry) bool { return e.Category != f.category })
	}
	now := time.Now()
	if f.asJSON {
		type row struct {
			ID         int64  `json:"id"`
			Kind       string `json:"kind"`
			Value      string `json:"value"`
			Category   string `json:"category"`
			State      string `json:"state"`
			Source     string `json:"source"`
			Case       string `json:"case,omitempty"`
			Reason     string `json:"reason,omitempty"`
			ProposedBy string `json:"proposed_by,omitempty"`
			ApprovedBy string `json:"approved_by,omitempty"`
			Proposed   string `json:"proposed,omitempty"`
			Activated  string `json:"activated,omitempty"`
			Ended      string `json:"ended,omitempty"`
			// DNSHost is the host a URL entry also blocks by DNS.
			DNSHost      string `json:"dns_host,omitempty"`
			LastVerified string `json:"last_verified,omitempty"`
			Expires      string `json:"expires,omitempty"`
			RecheckDue   bool   `json:"recheck_due,omitempty"`
		}
		rows := make([]row, 0, len(es))
		for _, e := range es {
			rows = append(rows, row{ID: e.ID, Kind: e.Kind, Value: e.Value, Category: e.Category, State: e.State, Source: e.Source, Case: e.CaseRef,
				Reason: e.Reason, ProposedBy: e.ProposedByName, ApprovedBy: e.ApprovedByName, Proposed: rfc3339(e.Proposed), Activated: rfc3339(e.Activated), Ended: rfc3339(e.Ended),
				DNSHost: e.DNSName, LastVerified: rfc3339(e.LastVerified), Expires: rfc3339(e.Expires), RecheckDue: e.RecheckDue(now)})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			fmt.Fprintln(stderr, "kidshield list show:", err)
			return 1
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tVALUE\tDNS HOST\tCATEGORY\tSTATE\tSOURCE\tCASE\tPROPOSED BY\tAPPROVED BY\tACTIVATED\tVERIFIED\tRE-CHECK BY")
	for _, e := range es {
		id := "-"
		if e.ID != 0 {
			id = fmt.Sprint(e.ID)
		}
		recheck := dash(rfc3339(e.Expires))
		if e.RecheckDue(now) {
			recheck += " (due)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, e.Kind, e.Value, dash(e.DNSName), e.Category, e.State, e.Source, dash(e.CaseRef),
			dash(e.ProposedByName), dash(e.ApprovedByName), dash(rfc3339(e.Activated)), dash(rfc3339(e.LastVerified)), recheck)
	}
	tw.Flush()
	return 0
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
