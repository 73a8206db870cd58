package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

// Imports of public category lists are kept apart from the network's confirmed entries: one
// list_import_sources row per source (where it came from, its digest, who imported it) and one
// list_imports row per value. They never enter list_entries, so the analysts' pages, the
// two-person rule and the live-value uniqueness stay about the network's own decisions, and a
// 100,000-line import does not bury them. ActiveNetworkEntries merges both for consumers.

// CanaryValue is the canary: a domain present in every published list and zone so that a
// member can check its blocking works (`dig canary.kidshield.example` blocked, and any name
// under it). It is under .example (RFC 2606), which no resolver serves locally by default:
// Unbound's local zones (test., invalid., localhost., onion.) win over RPZ, so a canary there
// would never be rewritten. It is not a list entry but built into ActiveNetworkEntries, so no
// page or command can delist it; migration 0006 refuses any list entry with its value.
const CanaryValue = "canary.kidshield.example"

// CanarySource is the source of the canary entry.
const CanarySource = "canary"

// ErrCanary is returned (wrapped) for an attempt to list, change or delist the canary.
var ErrCanary = errors.New(CanaryValue + " is the built-in canary entry: it cannot be proposed, changed or delisted")

// IsCanary reports whether v (a value of any kind, as given) is the canary.
func IsCanary(v string) bool {
	return strings.EqualFold(strings.TrimSuffix(strings.TrimSpace(v), "."), CanaryValue)
}

// CanaryEntry returns the canary as a list entry (ID 0, always active, category "hotline").
func CanaryEntry() *ListEntry {
	return &ListEntry{Kind: ListDomain, Value: CanaryValue, Category: "hotline", State: lifecycle.ListActive, Source: CanarySource,
		Reason: "test entry: members check their blocking with it", Proposed: canarySince, Activated: canarySince}
}

// canarySince is when the canary joined the list (the release that introduced it): consumers
// that show an "added" date get a real one, the same on every node.
var canarySince = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

// ImportSourcePrefix prefixes an import's source name in ListEntry.Source ("import:NAME").
const ImportSourcePrefix = "import:"

// ListImport is one import of a public list: it replaces the previous import of the same source.
type ListImport struct {
	Source   string // short name: letters, digits, . _ -
	Category string
	Origin   string // file path or URL it was read from
	Format   string // "domains", "hosts", "adblock", "auto"
	Digest   string // "sha256:…" of the content
	Entries  []ImportEntry
	Actor    string
	Time     time.Time
}

// ImportEntry is one value of an import (kind ListDomain or ListHost, normalised by ImportList).
type ImportEntry struct {
	Kind  string
	Value string
}

// ImportResult says what an import changed.
type ImportResult struct {
	Added, Removed, Recategorised, Unchanged int
	Invalid                                  int   // values refused by NormalizeListValue (and the canary)
	Serial                                   int64 // the list serial after the import
	// Refused says why, for the first MaxRefusedShown refused values: an administrator
	// whose list lost entries wants to know which and why, not only how many.
	Refused []string
}

// MaxRefusedShown is how many refused values an ImportResult describes.
const MaxRefusedShown = 10

// Changed reports whether the import changed the list (and bumped the serial).
func (r ImportResult) Changed() bool { return r.Added+r.Removed+r.Recategorised > 0 }

// ImportSource describes a source's last import.
type ImportSource struct {
	Source, Category, Origin, Format, Digest, ImportedBy string
	Entries                                              int
	Imported                                             time.Time
}

// ErrImportSource is returned (wrapped) for a bad source name or category.
var ErrImportSource = errors.New("bad import source")

func validSourceName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// importLockKey serialises imports on PostgreSQL ("ksimport" in ASCII, cut to 63 bits).
const importLockKey int64 = 0x6b73696d706f7274

// ImportList replaces the entries of li.Source with li.Entries in one transaction. Only what
// changed is written and numbered in list_changes (op import.add, import.remove,
// import.category, with the source, kind and value): importing the same content again bumps
// no serial. The source row (origin, digest, time) is updated every time, and the import is
// audited.
func (s *Store) ImportList(ctx context.Context, li ListImport) (ImportResult, error) {
	var res ImportResult
	li.Source = strings.ToLower(strings.TrimSpace(li.Source))
	li.Category = strings.TrimSpace(li.Category)
	if !validSourceName(li.Source) {
		return res, fmt.Errorf("store: import list: source %q: want 1-64 of a-z 0-9 . _ -: %w", li.Source, ErrImportSource)
	}
	if li.Category == "" {
		return res, fmt.Errorf("store: import list %s: no category: %w", li.Source, ErrImportSource)
	}
	if li.Time.IsZero() {
		li.Time = time.Now()
	}
	now := li.Time.UnixMicro()
	want := make(map[[2]string]struct{}, len(li.Entries))
	refuse := func(why string) {
		res.Invalid++
		if len(res.Refused) < MaxRefusedShown {
			res.Refused = append(res.Refused, why)
		}
	}
	for _, e := range li.Entries {
		if e.Kind != ListDomain && e.Kind != ListHost {
			refuse(fmt.Sprintf("%q: kind %q is not domain or host", e.Value, e.Kind))
			continue
		}
		v, err := NormalizeListValue(e.Kind, e.Value)
		if err != nil {
			refuse(err.Error())
			continue
		}
		if v == CanaryValue {
			refuse(fmt.Sprintf("%q is the network's canary name, published by the network itself", v))
			continue
		}
		want[[2]string{e.Kind, v}] = struct{}{}
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if s.dialect == DialectPostgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, importLockKey); err != nil {
				return err
			}
		}
		have := map[[2]string]string{} // kind, value → category
		rows, err := tx.QueryContext(ctx, `SELECT kind, value, category FROM list_imports WHERE source = $1`, li.Source)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k, v, c string
			if err := rows.Scan(&k, &v, &c); err != nil {
				rows.Close()
				return err
			}
			have[[2]string{k, v}] = c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO list_import_sources (source, category, origin, format, digest, entries, imported_by, imported_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (source) DO UPDATE SET category = excluded.category, origin = excluded.origin, format = excluded.format,
				digest = excluded.digest, entries = excluded.entries, imported_by = excluded.imported_by, imported_us = excluded.imported_us`,
			li.Source, li.Category, cleanText(li.Origin), li.Format, li.Digest, len(want), li.Actor, now); err != nil {
			return err
		}
		if err := s.lockListSerial(ctx, tx); err != nil {
			return err
		}
		change, err := tx.PrepareContext(ctx, `INSERT INTO list_changes (op, time_us, source, kind, value) VALUES ($1, $2, $3, $4, $5)`)
		if err != nil {
			return err
		}
		defer change.Close()
		ins, err := tx.PrepareContext(ctx, `INSERT INTO list_imports (source, kind, value, category, imported_us) VALUES ($1, $2, $3, $4, $5)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		// Removals and additions in a fixed order, so two stores given the same imports number
		// the same changes the same way.
		var gone [][2]string
		for kv := range have {
			if _, ok := want[kv]; !ok {
				gone = append(gone, kv)
			}
		}
		slices.SortFunc(gone, cmpKV)
		for _, kv := range gone {
			if _, err := tx.ExecContext(ctx, `DELETE FROM list_imports WHERE source = $1 AND kind = $2 AND value = $3`, li.Source, kv[0], kv[1]); err != nil {
				return err
			}
			if _, err := change.ExecContext(ctx, "import.remove", now, li.Source, kv[0], kv[1]); err != nil {
				return err
			}
			res.Removed++
		}
		added := make([][2]string, 0, len(want))
		for kv := range want {
			added = append(added, kv)
		}
		slices.SortFunc(added, cmpKV)
		for _, kv := range added {
			cat, ok := have[kv]
			switch {
			case !ok:
				if _, err := ins.ExecContext(ctx, li.Source, kv[0], kv[1], li.Category, now); err != nil {
					return err
				}
				if _, err := change.ExecContext(ctx, "import.add", now, li.Source, kv[0], kv[1]); err != nil {
					return err
				}
				res.Added++
			case cat != li.Category:
				if _, err := tx.ExecContext(ctx, `UPDATE list_imports SET category = $1, imported_us = $2 WHERE source = $3 AND kind = $4 AND value = $5`,
					li.Category, now, li.Source, kv[0], kv[1]); err != nil {
					return err
				}
				if _, err := change.ExecContext(ctx, "import.category", now, li.Source, kv[0], kv[1]); err != nil {
					return err
				}
				res.Recategorised++
			default:
				res.Unchanged++
			}
		}
		return s.appendAudit(ctx, tx, AuditEvent{Time: li.Time, Actor: li.Actor, Action: "list.import", Object: "list-source:" + li.Source,
			Detail: map[string]any{"category": li.Category, "origin": li.Origin, "format": li.Format, "digest": li.Digest, "entries": len(want),
				"added": res.Added, "removed": res.Removed, "recategorised": res.Recategorised, "invalid": res.Invalid}})
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("store: import list %s: %w", li.Source, err)
	}
	if res.Serial, err = s.ListSerial(ctx); err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

func cmpKV(a, b [2]string) int {
	if c := strings.Compare(a[0], b[0]); c != 0 {
		return c
	}
	return strings.Compare(a[1], b[1])
}

// ImportSources returns every import source, by name.
func (s *Store) ImportSources(ctx context.Context) ([]ImportSource, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT source, category, origin, format, digest, entries, imported_by, imported_us
		FROM list_import_sources ORDER BY source`+s.collate())
	if err != nil {
		return nil, fmt.Errorf("store: import sources: %w", err)
	}
	defer rows.Close()
	var out []ImportSource
	for rows.Next() {
		var src ImportSource
		var us int64
		if err := rows.Scan(&src.Source, &src.Category, &src.Origin, &src.Format, &src.Digest, &src.Entries, &src.ImportedBy, &us); err != nil {
			return nil, fmt.Errorf("store: import sources: %w", err)
		}
		src.Imported = usTime(us)
		out = append(out, src)
	}
	return out, rows.Err()
}

// shadowingStates are the states in which the network's own entry for a value decides over
// any import of it: a confirmed entry (its category is what consumers see) and a tombstone (a
// value the network delisted or found to be a false positive is not blocked again by a public
// list). A proposal does not shadow yet, and a rejected proposal is no decision about the
// value itself, so the import stands.
var shadowingStates = []string{lifecycle.ListActive, lifecycle.ListAppealed, lifecycle.ListDelisted, lifecycle.ListDisabled}

// ActiveNetworkEntries is the list as members and the filter see it: the canary, the network's
// confirmed entries (ActiveListEntries), a host entry (Source "url") for each confirmed URL
// entry that also blocks its host by DNS, and imported values no entry of the network shadows
// (see shadowingStates; values are compared whatever their kind). A value imported by several
// sources appears once, from the first source by name. Imported entries have ID 0, Source
// "import:NAME", State active and Activated the time of their import. The result is sorted by
// kind and value.
func (s *Store) ActiveNetworkEntries(ctx context.Context) ([]*ListEntry, error) {
	var out []*ListEntry
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.networkEntries(ctx, tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: active network entries: %w", err)
	}
	return out, nil
}

// NetworkListSnapshot returns the list serial and ActiveNetworkEntries at that serial, read in
// one read transaction so the two agree: what a publisher (RPZ zone, HTTP lists) builds a
// version from. Imports change the serial through list_changes rows without an entry (op
// import.add, import.remove, import.category), and whether an imported value is published
// depends on the network's entries for it, so a consumer should diff two snapshots rather
// than replay list_changes ops entry by entry.
func (s *Store) NetworkListSnapshot(ctx context.Context) (serial int64, entries []*ListEntry, err error) {
	err = s.read(ctx, func(tx *sql.Tx) error {
		var n sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(serial) FROM list_changes`).Scan(&n); err != nil {
			return err
		}
		serial = n.Int64
		entries, err = s.networkEntries(ctx, tx)
		return err
	})
	if err != nil {
		return 0, nil, fmt.Errorf("store: network list snapshot: %w", err)
	}
	return serial, entries, nil
}

func (s *Store) networkEntries(ctx context.Context, tx *sql.Tx) ([]*ListEntry, error) {
	return s.publishedEntries(ctx, tx, nil)
}

// publishedEntries returns the published entries (ActiveNetworkEntries) of the given values,
// or of every value when values is nil. Both cases run the same queries, narrowed by value, so
// an incremental reader (NetworkListChanges) sees exactly what a whole read would: the
// network's own entries first, in the order they were created (a value both a domain and a
// host entry list is published as the older), then the hosts its URL entries block by DNS
// (urlHostEntry), then imports by source name.
func (s *Store) publishedEntries(ctx context.Context, tx *sql.Tx, values []string) ([]*ListEntry, error) {
	var out []*ListEntry
	if values == nil || slices.Contains(values, CanaryValue) {
		out = append(out, CanaryEntry())
	}
	for part := range valueBatches(values) {
		entryIn, dnsIn, importIn, args := "", "", "", []any(nil)
		if part != nil {
			ph := make([]string, len(part))
			for i, v := range part {
				ph[i] = fmt.Sprintf("$%d", i+1)
				args = append(args, v)
			}
			entryIn = " AND e.value IN (" + strings.Join(ph, ", ") + ")"
			dnsIn = " AND e.dns_name IN (" + strings.Join(ph, ", ") + ")"
			importIn = " AND i.value IN (" + strings.Join(ph, ", ") + ")"
		}
		var err error
		out, err = appendEntries(ctx, tx, out, nil, `SELECT `+listCols+listFrom+` WHERE e.state IN ('active', 'appealed')`+entryIn+` ORDER BY e.id`, args...)
		if err != nil {
			return nil, err
		}
		// The hosts of URL entries that say "also block the host in DNS", as host entries
		// after the network's own names (an analyst's domain or host entry for the name says
		// more: its category, its own history) and before imports. The URL entry itself
		// stays in the list for HTTP consumers.
		out, err = appendEntries(ctx, tx, out, urlHostEntry, `SELECT `+listCols+listFrom+` WHERE e.state IN ('active', 'appealed') AND e.kind = 'url'
			AND e.dns_name <> ''`+dnsIn+` ORDER BY e.id`, args...)
		if err != nil {
			return nil, err
		}
		n := len(args)
		sargs := append(args, shadowingStates[0], shadowingStates[1], shadowingStates[2], shadowingStates[3])
		rows, err := tx.QueryContext(ctx, fmt.Sprintf(`SELECT i.source, i.kind, i.value, i.category, i.imported_us FROM list_imports i
		WHERE NOT EXISTS (SELECT 1 FROM list_entries e WHERE e.value = i.value AND e.state IN ($%d, $%d, $%d, $%d))%s
		ORDER BY i.source%s`, n+1, n+2, n+3, n+4, importIn, s.collate()), sargs...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var src string
			var us int64
			e := &ListEntry{State: lifecycle.ListActive}
			if err := rows.Scan(&src, &e.Kind, &e.Value, &e.Category, &us); err != nil {
				rows.Close()
				return nil, err
			}
			e.Source = ImportSourcePrefix + src
			e.Proposed, e.Activated, e.Updated = usTime(us), usTime(us), usTime(us)
			out = append(out, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	// The canary, then the network's entries, then the hosts of its URL entries, then imports:
	// a value keeps its first (winning) entry. Batches hold disjoint values, so the order
	// across batches does not matter.
	seen := make(map[string]bool, len(out))
	kept := out[:0]
	for _, e := range out {
		if seen[e.Value] {
			continue
		}
		seen[e.Value] = true
		kept = append(kept, e)
	}
	slices.SortStableFunc(kept, func(a, b *ListEntry) int { return cmpKV([2]string{a.Kind, a.Value}, [2]string{b.Kind, b.Value}) })
	return kept, nil
}

// URLHostSource is the Source of the host entry a URL entry with a DNS name publishes.
const URLHostSource = "url"

// urlHostEntry is the host entry a URL entry u publishes for its DNSName: the same id, case,
// category, state and dates (it is decided with the URL entry: approved, re-checked and
// delisted with it), kind host, Source URLHostSource.
func urlHostEntry(u *ListEntry) *ListEntry {
	h := *u
	h.Kind, h.Value, h.Source = ListHost, u.DNSName, URLHostSource
	return &h
}

// appendEntries appends the list entries a query returns to out, each through conv when set.
func appendEntries(ctx context.Context, tx *sql.Tx, out []*ListEntry, conv func(*ListEntry) *ListEntry, q string, args ...any) ([]*ListEntry, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanListEntry(rows)
		if err != nil {
			return nil, err
		}
		if conv != nil {
			e = conv(e)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// valueBatches yields values in parts small enough for one statement's parameters; nil values
// yield one nil part (no narrowing).
func valueBatches(values []string) func(func([]string) bool) {
	return func(yield func([]string) bool) {
		if values == nil {
			yield(nil)
			return
		}
		const per = 500
		for i := 0; i < len(values); i += per {
			if !yield(values[i:min(i+per, len(values))]) {
				return
			}
		}
	}
}
