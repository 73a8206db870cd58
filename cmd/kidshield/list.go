package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
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
  kidshield list add --kind domain|host|url|hash --value V --category C --reason R --by LOGIN [store flags]
      proposes an entry without a case (an emergency): it blocks once another person approves it.
  kidshield list approve --id N --by LOGIN [store flags]
      approves a proposal; LOGIN must not be its proposer (two-person rule).
  kidshield list remove --id N --by LOGIN --reason R [store flags]
      delists an entry (a proposal is rejected); the tombstone stays.
  kidshield list show [--state STATE] [--category C] [--json] [store flags]
      prints entries with their provenance; --state active prints what members receive: the
      network's entries, imports not overridden by them, and the canary.
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
	case "add", "approve", "remove", "show", "import", "sources":
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
	asJSON                                   bool
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
	case "approve", "remove":
		fs.Int64Var(&f.id, "id", -1, "the entry's id (list show)")
	case "show":
		fs.StringVar(&f.state, "state", "", "only entries in this state (proposed, active, appealed, delisted, disabled, rejected)")
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
	if cmd == "add" && store.IsCanary(f.value) || (cmd == "approve" || cmd == "remove") && f.id == 0 {
		fmt.Fprintf(stderr, "%s: %v\n", name, store.ErrCanary)
		return 1
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
		by = hotline.Actor{UserID: u.ID, Label: fmt.Sprintf("user:%d:%s", u.ID, u.Login)}
	}

	switch cmd {
	case "add":
		id, err := svc.AddListEntry(ctx, by, f.kind, f.value, f.category, f.reason)
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
	case "import":
		rep, err := svc.ImportList(ctx, by, hotline.ListImportInput{Source: f.source, Category: f.category, Location: location, Format: f.format})
		if err != nil {
			fmt.Fprintln(stderr, name+":", err)
			return 1
		}
		fmt.Fprintf(stdout, "imported %s (%s): %d added, %d removed, %d recategorised, %d unchanged; %d lines, %d bad, %d ignored; list serial %d\n",
			f.source, rep.Digest, rep.Added, rep.Removed, rep.Recategorised, rep.Unchanged, rep.Parse.Lines, rep.Parse.Bad, rep.Ignored+rep.Invalid, rep.Serial)
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
	switch f.state {
	case lifecycle.ListActive:
		es, err = st.ActiveNetworkEntries(ctx)
	case "":
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
		}
		rows := make([]row, 0, len(es))
		for _, e := range es {
			rows = append(rows, row{ID: e.ID, Kind: e.Kind, Value: e.Value, Category: e.Category, State: e.State, Source: e.Source, Case: e.CaseRef,
				Reason: e.Reason, ProposedBy: e.ProposedByName, ApprovedBy: e.ApprovedByName, Proposed: rfc3339(e.Proposed), Activated: rfc3339(e.Activated), Ended: rfc3339(e.Ended)})
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
	fmt.Fprintln(tw, "ID\tKIND\tVALUE\tCATEGORY\tSTATE\tSOURCE\tCASE\tPROPOSED BY\tAPPROVED BY\tACTIVATED")
	for _, e := range es {
		id := "-"
		if e.ID != 0 {
			id = fmt.Sprint(e.ID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, e.Kind, e.Value, e.Category, e.State, e.Source, dash(e.CaseRef),
			dash(e.ProposedByName), dash(e.ApprovedByName), dash(rfc3339(e.Activated)))
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
