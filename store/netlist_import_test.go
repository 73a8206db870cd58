package store

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

func netView(t *testing.T, s *Store) map[string]*ListEntry {
	t.Helper()
	es, err := s.ActiveNetworkEntries(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*ListEntry{}
	for i, e := range es {
		if _, dup := m[e.Value]; dup {
			t.Fatalf("%s twice in the merged view", e.Value)
		}
		if i > 0 && cmpKV([2]string{es[i-1].Kind, es[i-1].Value}, [2]string{e.Kind, e.Value}) > 0 {
			t.Fatalf("not sorted at %s", e.Value)
		}
		m[e.Value] = e
	}
	return m
}

func TestImportListMerge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		alice, bob := ntcUser(t, s, "alice"), ntcUser(t, s, "bob")
		t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		serial := func() int64 {
			n, err := s.ListSerial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		// The canary is there on a fresh store, and is no list entry (nothing to delist).
		v := netView(t, s)
		if c := v[CanaryValue]; len(v) != 1 || c == nil || c.Source != CanarySource || c.Category != "hotline" || c.State != lifecycle.ListActive || c.Kind != ListDomain {
			t.Fatalf("fresh view %+v", v)
		}
		if serial() != 0 {
			t.Fatal("the canary bumped the serial")
		}
		// No entry may take the canary's value: the database refuses it, whatever the path.
		if _, err := s.ProposeListEntry(ctx, ListProposal{Kind: ListDomain, Value: "Canary.Kidshield.Example.", Category: "hotline", ActorID: alice, Time: t0}); err == nil || !strings.Contains(err.Error(), "canary") {
			t.Fatalf("canary proposal: %v", err)
		}

		// Confirmed entries: one active (the import of it must show the confirmed category), one
		// delisted (a tombstone: the import must not block it again).
		confirm := func(value, cat string) int64 {
			id, err := s.ProposeListEntry(ctx, ListProposal{Kind: ListDomain, Value: value, Category: cat, ActorID: alice, Time: t0})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.ChangeListEntry(ctx, id, ListChange{To: lifecycle.ListActive, ActorID: bob, Time: t0}); err != nil {
				t.Fatal(err)
			}
			return id
		}
		confirm("confirmed.example", "hotline")
		gone := confirm("gone.example", "hotline")
		if _, _, err := s.ChangeListEntry(ctx, gone, ListChange{To: lifecycle.ListDelisted, ActorID: bob, Reason: "removed", Time: t0}); err != nil {
			t.Fatal(err)
		}
		base := serial()

		imp := ListImport{Source: "UT1-adult", Category: "adult", Origin: "/tmp/x", Format: "domains", Digest: "sha256:1", Actor: "cli", Time: t0,
			Entries: []ImportEntry{{ListDomain, "Porn.example."}, {ListDomain, "confirmed.example"}, {ListDomain, "gone.example"},
				{ListHost, "cdn.porn2.example"}, {ListDomain, "not a name"}, {ListURL, "https://x.example/"}, {ListDomain, CanaryValue}, {ListDomain, "porn.example"}}}
		res, err := s.ImportList(ctx, imp)
		if err != nil {
			t.Fatal(err)
		}
		if res.Added != 4 || res.Removed != 0 || res.Invalid != 3 || !res.Changed() || res.Serial != base+4 || serial() != base+4 {
			t.Fatalf("first import %+v (base %d)", res, base)
		}
		v = netView(t, s)
		if e := v["porn.example"]; e == nil || e.Source != "import:ut1-adult" || e.Category != "adult" || e.ID != 0 || e.Kind != ListDomain {
			t.Fatalf("imported %+v", e)
		}
		if e := v["cdn.porn2.example"]; e == nil || e.Kind != ListHost {
			t.Fatalf("imported host %+v", e)
		}
		if e := v["confirmed.example"]; e == nil || e.Source != "case" || e.Category != "hotline" || e.ID == 0 {
			t.Fatalf("a confirmed entry must win over an import: %+v", e)
		}
		if e := v["gone.example"]; e != nil {
			t.Fatalf("a delisted value came back through an import: %+v", e)
		}
		if len(v) != 4 {
			t.Fatalf("view %d entries", len(v))
		}

		// The same content again: nothing changes, no serial.
		res, err = s.ImportList(ctx, imp)
		if err != nil || res.Changed() || res.Unchanged != 4 || res.Serial != base+4 {
			t.Fatalf("re-import %+v %v", res, err)
		}
		// A new version of the list: one value gone, one new; only those are numbered.
		imp.Entries = []ImportEntry{{ListDomain, "porn.example"}, {ListDomain, "confirmed.example"}, {ListDomain, "gone.example"}, {ListDomain, "new.example"}}
		imp.Digest = "sha256:2"
		res, err = s.ImportList(ctx, imp)
		if err != nil || res.Added != 1 || res.Removed != 1 || res.Unchanged != 3 || res.Serial != base+6 {
			t.Fatalf("update %+v %v", res, err)
		}
		// A new category re-tags every value.
		imp.Category = "gambling"
		if res, err = s.ImportList(ctx, imp); err != nil || res.Recategorised != 4 || res.Serial != base+10 {
			t.Fatalf("recategorise %+v %v", res, err)
		}
		// A second source sharing a value: it appears once.
		if _, err := s.ImportList(ctx, ListImport{Source: "other", Category: "adult", Entries: []ImportEntry{{ListDomain, "porn.example"}, {ListDomain, "b.example"}}, Time: t0}); err != nil {
			t.Fatal(err)
		}
		v = netView(t, s)
		if e := v["porn.example"]; e == nil || e.Source != "import:other" || v["b.example"] == nil || v["new.example"].Category != "gambling" {
			t.Fatalf("two sources %+v", v)
		}
		// Once the network confirms an imported value, its entry is what consumers see; a
		// disabled (false positive) entry keeps it off even though the import still lists it.
		id := confirm("new.example", "hotline")
		if e := netView(t, s)["new.example"]; e == nil || e.ID != id || e.Category != "hotline" {
			t.Fatalf("confirmed import %+v", e)
		}
		if _, _, err := s.ChangeListEntry(ctx, id, ListChange{To: lifecycle.ListDisabled, ActorID: bob, Time: t0}); err != nil {
			t.Fatal(err)
		}
		if e := netView(t, s)["new.example"]; e != nil {
			t.Fatalf("a disabled value is blocked by an import: %+v", e)
		}
		// An empty import empties the source.
		imp.Entries = nil
		if res, err = s.ImportList(ctx, imp); err != nil || res.Removed != 4 {
			t.Fatalf("empty import %+v %v", res, err)
		}
		srcs, err := s.ImportSources(ctx)
		if err != nil || len(srcs) != 2 || srcs[1].Source != "ut1-adult" || srcs[1].Entries != 0 || srcs[1].Category != "gambling" || srcs[0].Entries != 2 {
			t.Fatalf("sources %+v %v", srcs, err)
		}
		for _, bad := range []ListImport{{Source: "", Category: "x"}, {Source: "a b", Category: "x"}, {Source: "ok", Category: " "}} {
			if _, err := s.ImportList(ctx, bad); !errors.Is(err, ErrImportSource) {
				t.Errorf("%+v: %v", bad, err)
			}
		}
		// The snapshot is the merged view with the serial it was read at.
		sn, es, err := s.NetworkListSnapshot(ctx)
		if err != nil || sn != serial() || len(es) != len(netView(t, s)) || es[0].Value != "b.example" {
			t.Fatalf("snapshot %d %d %v", sn, len(es), err)
		}
		// ActiveListEntries is still only the network's own entries.
		act, _ := s.ActiveListEntries(ctx)
		if len(act) != 1 || act[0].Value != "confirmed.example" {
			t.Fatalf("active %+v", act)
		}
	})
}

// An existing list (schema 5) keeps its serial through migration 0006, which rebuilds
// list_changes on SQLite: the serial never goes back, and old changes keep their entries.
func TestImportMigrationKeepsSerial(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		dialect, target, err := parseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		driver := "pgx"
		if dialect == DialectSQLite {
			driver = "sqlite"
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		db, err := sql.Open(driver, target)
		if err != nil {
			t.Fatal(err)
		}
		old := &Store{dialect: dialect, w: db, r: db}
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, createSchemaMigrations); err != nil {
			t.Fatal(err)
		}
		ms, err := loadMigrations()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms[:5] {
			if err := old.apply(ctx, conn, m); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO list_entries (kind, value, category, state, source, proposed_us, updated_us) VALUES ('domain', 'old.example', 'hotline', 'active', 'case', 1, 1)`); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := conn.ExecContext(ctx, `INSERT INTO list_changes (entry_id, op, time_us) VALUES (1, 'x', $1)`, i); err != nil {
				t.Fatal(err)
			}
		}
		conn.Close()
		db.Close()

		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if n, err := s.ListSerial(ctx); err != nil || n != 3 {
			t.Fatalf("serial after migration %d %v", n, err)
		}
		res, err := s.ImportList(ctx, ListImport{Source: "s", Category: "adult", Entries: []ImportEntry{{ListDomain, "a.example"}, {ListDomain, "old.example"}}})
		if err != nil || res.Serial != 5 {
			t.Fatalf("import %+v %v", res, err)
		}
		if v := netView(t, s); len(v) != 3 || v["old.example"].ID != 1 || v["old.example"].Source != "case" {
			t.Fatalf("view %+v", v)
		}
		var entry sql.NullInt64
		if err := s.r.QueryRowContext(ctx, `SELECT entry_id FROM list_changes WHERE serial = 2`).Scan(&entry); err != nil || entry.Int64 != 1 {
			t.Fatalf("old change %v %v", entry, err)
		}
	})
}
