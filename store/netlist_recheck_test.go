package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

// entryOf returns the published entry of value v, or nil.
func entryOf(es []*ListEntry, v string) *ListEntry {
	for _, e := range es {
		if e.Value == v {
			return e
		}
	}
	return nil
}

// TestListURLDNSName checks a URL entry that also blocks its host by DNS: the host is
// published as a host entry while the URL entry blocks, after the network's own entries for
// the name and before imports, and an incremental read finds it when only the name changed.
func TestListURLDNSName(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		alice, bob := ntcUser(t, s, "alice"), ntcUser(t, s, "bob")
		cid := ntcCase(t, s, lifecycle.CaseActionable, "https://www.bad.example/a")
		t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		const host, url = "www.bad.example", "https://WWW.Bad.example./a?b=1"
		for _, c := range []struct {
			kind, value string
			want        error
		}{
			{ListDomain, "bad.example", ErrListValue},
			{ListHost, "www.bad.example", ErrListValue},
			{ListURL, "https://192.0.2.1/x", ErrListValue},
			{ListURL, "https://canary.kidshield.example/x", ErrCanary},
		} {
			if _, err := s.ProposeListEntry(ctx, ListProposal{Kind: c.kind, Value: c.value, DNSHost: true, Category: "hotline", ActorID: alice, Time: t0}); !errors.Is(err, c.want) {
				t.Errorf("%s %s with DNS host: %v, want %v", c.kind, c.value, err, c.want)
			}
		}
		plain, err := s.ProposeListEntry(ctx, ListProposal{Kind: ListURL, Value: "https://other.example/x", Category: "hotline", ActorID: alice, Time: t0})
		if err != nil {
			t.Fatal(err)
		}
		id, err := s.ProposeListEntry(ctx, ListProposal{Kind: ListURL, Value: url, DNSHost: true, Category: "hotline", CaseID: cid, ActorID: alice, Time: t0})
		if err != nil {
			t.Fatal(err)
		}
		if e, _ := s.ListEntryByID(ctx, id); e.DNSName != host {
			t.Fatalf("dns name %q, want %q", e.DNSName, host)
		}
		if e, _ := s.ListEntryByID(ctx, plain); e.DNSName != "" {
			t.Fatalf("a URL without the option has dns name %q", e.DNSName)
		}
		pub := func() []*ListEntry {
			t.Helper()
			es, err := s.ActiveNetworkEntries(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return es
		}
		if entryOf(pub(), host) != nil {
			t.Fatal("a proposal's host is published")
		}
		for _, i := range []int64{id, plain} {
			if _, _, err := s.ChangeListEntry(ctx, i, ListChange{To: lifecycle.ListActive, ActorID: bob, Time: t0}); err != nil {
				t.Fatal(err)
			}
		}
		es := pub()
		h, u := entryOf(es, host), entryOf(es, "https://WWW.Bad.example./a?b=1")
		if h == nil || h.Kind != ListHost || h.Source != URLHostSource || h.CaseID != cid || h.CaseRef == "" || h.Category != "hotline" || h.ID != id {
			t.Fatalf("host entry %+v", h)
		}
		if u == nil || u.Kind != ListURL {
			t.Fatalf("the URL entry is not published for HTTP consumers any more: %+v", u)
		}
		if entryOf(es, "other.example") != nil {
			t.Fatal("a URL entry without the option publishes its host")
		}

		// step publishes a change and checks the incremental read of it against the whole.
		step := func(what string, change func(), want string) {
			t.Helper()
			from, err := s.ListSerial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			change()
			ch, ok, err := s.NetworkListChanges(ctx, from, 100)
			if err != nil || !ok {
				t.Fatalf("%s: changes: %v %v", what, ok, err)
			}
			got := "absent"
			if e := entryOf(pub(), host); e != nil {
				got = e.Kind + "/" + e.Category + "/" + e.Source
			}
			inc, touched := ch.Entries[host]
			incs := "absent"
			if inc != nil {
				incs = inc.Kind + "/" + inc.Category + "/" + inc.Source
			}
			if got != want || !touched || incs != want {
				t.Fatalf("%s: published %s, incremental %s (touched %v), want %s", what, got, incs, touched, want)
			}
		}
		step("an import of the name", func() {
			if _, err := s.ImportList(ctx, ListImport{Source: "a-list", Category: "gambling", Actor: "cli", Time: t0,
				Entries: []ImportEntry{{ListDomain, host}}}); err != nil {
				t.Fatal(err)
			}
		}, "host/hotline/url")
		var own int64
		step("the network's own entry for the name", func() {
			if own, err = s.ProposeListEntry(ctx, ListProposal{Kind: ListDomain, Value: host, Category: "adult", ActorID: alice, Time: t0}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.ChangeListEntry(ctx, own, ListChange{To: lifecycle.ListActive, ActorID: bob, Time: t0}); err != nil {
				t.Fatal(err)
			}
		}, "domain/adult/case")
		step("its delisting", func() {
			if _, _, err := s.ChangeListEntry(ctx, own, ListChange{To: lifecycle.ListDelisted, ActorID: bob, Time: t0}); err != nil {
				t.Fatal(err)
			}
		}, "host/hotline/url")
		step("a re-check of the URL entry", func() {
			if _, err := s.VerifyListEntry(ctx, id, ListVerification{ActorID: bob, Time: t0.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}, "host/hotline/url")
		// The delisted domain entry is a tombstone for the name: the import stays off.
		step("the URL entry's delisting", func() {
			if _, _, err := s.ChangeListEntry(ctx, id, ListChange{To: lifecycle.ListDelisted, ActorID: bob, Time: t0}); err != nil {
				t.Fatal(err)
			}
		}, "absent")
	})
}

// TestListRecheck checks expiry and re-checks: approval sets the expiry, an expired entry keeps
// blocking and is listed as due, and a re-check moves both dates, numbers a change and is
// audited; only an entry that blocks can be re-checked.
func TestListRecheck(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		alice, bob := ntcUser(t, s, "alice"), ntcUser(t, s, "bob")
		t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		const period = 48 * time.Hour
		add := func(v string, at time.Time, recheck time.Duration) int64 {
			t.Helper()
			id, err := s.ProposeListEntry(ctx, ListProposal{Kind: ListDomain, Value: v, Category: "hotline", ActorID: alice, Time: at})
			if err != nil {
				t.Fatal(err)
			}
			e, _, err := s.ChangeListEntry(ctx, id, ListChange{To: lifecycle.ListActive, ActorID: bob, Time: at, Recheck: recheck})
			if err != nil {
				t.Fatal(err)
			}
			if want := at.Add(recheck); recheck > 0 && !e.Expires.Equal(want) || !e.LastVerified.Equal(at) {
				t.Fatalf("approved %s: verified %v expires %v, want %v and %v", v, e.LastVerified, e.Expires, at, want)
			}
			return id
		}
		a := add("a.example", t0, period)
		b := add("b.example", t0.Add(-time.Hour), period) // due an hour before a
		c := add("c.example", t0, 0)
		if e, _ := s.ListEntryByID(ctx, c); !e.Expires.Equal(t0.Add(DefaultListRecheck)) {
			t.Fatalf("default expiry %v", e.Expires)
		}
		due := func(at time.Time) []int64 {
			t.Helper()
			es, err := s.ListEntries(ctx, ListFilter{DueBy: at})
			if err != nil {
				t.Fatal(err)
			}
			n, err := s.CountListRecheckDue(ctx, at)
			if err != nil || n != len(es) {
				t.Fatalf("count %d %v, list %d", n, err, len(es))
			}
			var ids []int64
			for _, e := range es {
				if !e.RecheckDue(at) {
					t.Errorf("entry %d listed as due at %v, expires %v", e.ID, at, e.Expires)
				}
				ids = append(ids, e.ID)
			}
			return ids
		}
		if got := due(t0.Add(period - 2*time.Hour)); len(got) != 0 {
			t.Fatalf("due before expiry: %v", got)
		}
		if got := fmt.Sprint(due(t0.Add(period + time.Minute))); got != fmt.Sprint([]int64{b, a}) {
			t.Fatalf("due %s, want oldest first [%d %d]", got, b, a)
		}
		// Expired, it keeps blocking: a stale check is no reason to unblock.
		if es, _ := s.ActiveNetworkEntries(ctx); entryOf(es, "a.example") == nil {
			t.Fatal("an expired entry stopped blocking")
		}

		serial, _ := s.ListSerial(ctx)
		at := t0.Add(period + time.Hour)
		e, err := s.VerifyListEntry(ctx, a, ListVerification{ActorID: bob, Actor: "user:bob", Time: at, Recheck: period})
		if err != nil {
			t.Fatal(err)
		}
		if !e.LastVerified.Equal(at) || !e.Expires.Equal(at.Add(period)) || e.State != lifecycle.ListActive {
			t.Fatalf("verified %+v", e)
		}
		if n, _ := s.ListSerial(ctx); n != serial+1 {
			t.Fatalf("serial %d after a re-check, want %d", n, serial+1)
		}
		ch, ok, err := s.NetworkListChanges(ctx, serial, 10)
		if err != nil || !ok || ch.Entries["a.example"] == nil || !ch.Entries["a.example"].LastVerified.Equal(at) {
			t.Fatalf("changes after a re-check: %v %v %+v", ok, err, ch.Entries)
		}
		if got := fmt.Sprint(due(at)); got != fmt.Sprint([]int64{b}) {
			t.Fatalf("due after the re-check %s", got)
		}
		recs, err := s.AuditList(ctx, AuditFilter{Action: "list.verify"})
		if err != nil || len(recs) != 1 || recs[0].Object != fmt.Sprintf("list:%d", a) || recs[0].Actor != "user:bob" {
			t.Fatalf("audit %+v %v", recs, err)
		}

		// Appealed entries block: they can be re-checked; proposals and tombstones cannot.
		if _, _, err := s.ChangeListEntry(ctx, b, ListChange{To: lifecycle.ListAppealed, Time: at}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.VerifyListEntry(ctx, b, ListVerification{ActorID: bob, Time: at}); err != nil {
			t.Fatalf("re-check of an appealed entry: %v", err)
		}
		if _, _, err := s.ChangeListEntry(ctx, c, ListChange{To: lifecycle.ListDelisted, ActorID: bob, Time: at}); err != nil {
			t.Fatal(err)
		}
		p, err := s.ProposeListEntry(ctx, ListProposal{Kind: ListDomain, Value: "p.example", Category: "hotline", ActorID: alice, Time: at})
		if err != nil {
			t.Fatal(err)
		}
		serial, _ = s.ListSerial(ctx)
		for _, id := range []int64{c, p} {
			if _, err := s.VerifyListEntry(ctx, id, ListVerification{ActorID: bob, Time: at}); !errors.Is(err, ErrNotBlocking) || !errors.Is(err, ErrConflict) {
				t.Errorf("re-check of entry %d: %v", id, err)
			}
		}
		if _, err := s.VerifyListEntry(ctx, 9999, ListVerification{ActorID: bob}); !errors.Is(err, ErrNotFound) {
			t.Errorf("re-check of a missing entry: %v", err)
		}
		if n, _ := s.ListSerial(ctx); n != serial {
			t.Fatalf("a refused re-check moved the serial to %d", n)
		}
		if e, _ := s.ListEntryByID(ctx, c); !e.Expires.Equal(t0.Add(DefaultListRecheck)) || !e.LastVerified.Equal(t0) {
			t.Fatalf("a refused re-check changed the tombstone: %+v", e)
		}
	})
}
