package store

import (
	"errors"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

func TestNormalizeListValue(t *testing.T) {
	for _, c := range []struct{ kind, in, want string }{
		{ListDomain, "Example.COM.", "example.com"},
		{ListDomain, "bücher.example", "xn--bcher-kva.example"},
		{ListHost, "WWW.Ví-dụ.vn", "www.xn--v-d-rma6749a.vn"},
		{ListHash, "SHA256:" + "AB" + "00000000000000000000000000000000000000000000000000000000000000", "sha256:ab00000000000000000000000000000000000000000000000000000000000000"},
		{ListURL, " https://a.example/x ", "https://a.example/x"},
		{ListDomain, "localhost", ""},
		{ListDomain, "1.2.3.4", ""},
		{ListDomain, "a..b", ""},
		{ListHash, "sha256:zz", ""},
		{ListURL, "javascript:alert(1)", ""},
		{"regex", "x", ""},
	} {
		got, err := NormalizeListValue(c.kind, c.in)
		if c.want == "" {
			if err == nil || !errors.Is(err, ErrListValue) {
				t.Errorf("%s %q: accepted as %q", c.kind, c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s %q: %q %v, want %q", c.kind, c.in, got, err, c.want)
		}
	}
}

func TestNetworkList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		alice, bob := ntcUser(t, s, "alice"), ntcUser(t, s, "bob")
		cid := ntcCase(t, s, lifecycle.CaseActionable, "https://bad.example/x")
		t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		serial := func() int64 {
			n, err := s.ListSerial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if serial() != 0 {
			t.Fatal("fresh list has a serial")
		}
		id, err := s.ProposeListEntry(ctx, ListProposal{Kind: ListDomain, Value: "BAD.example.", Category: "hotline", CaseID: cid, Reason: "CSAM", ActorID: alice, Actor: "user:alice", Time: t0})
		if err != nil {
			t.Fatal(err)
		}
		if serial() != 1 {
			t.Fatalf("serial after propose %d", serial())
		}
		if _, err := s.ProposeListEntry(ctx, ListProposal{Kind: ListDomain, Value: "bad.example", Category: "hotline", ActorID: bob, Time: t0}); !errors.Is(err, ErrListed) || !errors.Is(err, ErrConflict) {
			t.Fatalf("second live entry: %v", err)
		}
		if act, _ := s.ActiveListEntries(ctx); len(act) != 0 {
			t.Fatal("a proposal blocks")
		}
		if _, _, err := s.ChangeListEntry(ctx, id, ListChange{To: lifecycle.ListActive, ActorID: alice, Time: t0}); !errors.Is(err, lifecycle.ErrSamePerson) {
			t.Fatalf("self-approval: %v", err)
		}
		if _, _, err := s.ChangeListEntry(ctx, id, ListChange{To: lifecycle.ListActive, ActorID: 0, Time: t0}); !errors.Is(err, lifecycle.ErrSamePerson) {
			t.Fatalf("approval by nobody: %v", err)
		}
		if serial() != 1 {
			t.Fatal("a refused change bumped the serial")
		}
		e, blocking, err := s.ChangeListEntry(ctx, id, ListChange{To: lifecycle.ListActive, ActorID: bob, Actor: "user:bob", Time: t0.Add(time.Minute)})
		if err != nil || !blocking || e.State != lifecycle.ListActive || e.ApprovedByName != "Name bob" || e.CaseID != cid || e.CaseRef == "" {
			t.Fatalf("approve: %+v %v %v", e, blocking, err)
		}
		if serial() != 2 {
			t.Fatalf("serial after approve %d", serial())
		}
		act, _ := s.ActiveListEntries(ctx)
		if len(act) != 1 || act[0].Value != "bad.example" {
			t.Fatalf("active %+v", act)
		}
		// Appeal keeps blocking; upholding does not change what is blocked.
		if _, blocking, err = s.ChangeListEntry(ctx, id, ListChange{To: lifecycle.ListAppealed, Time: t0}); err != nil || blocking {
			t.Fatalf("appeal: %v %v", blocking, err)
		}
		if _, blocking, err = s.ChangeListEntry(ctx, id, ListChange{To: lifecycle.ListActive, ActorID: alice, Time: t0}); err != nil || blocking {
			t.Fatalf("uphold: %v %v", blocking, err)
		}
		if _, blocking, err = s.ChangeListEntry(ctx, id, ListChange{To: lifecycle.ListDisabled, ActorID: alice, Reason: "false positive", Time: t0.Add(time.Hour)}); err != nil || !blocking {
			t.Fatalf("disable: %v %v", blocking, err)
		}
		if serial() != 5 {
			t.Fatalf("serial %d", serial())
		}
		if _, _, err := s.ChangeListEntry(ctx, id, ListChange{To: lifecycle.ListActive, ActorID: bob, Time: t0}); !errors.Is(err, lifecycle.ErrTransition) {
			t.Fatalf("disabled → active: %v", err)
		}
		// The tombstone stays; the value may be proposed again as a new entry.
		id2, err := s.ProposeListEntry(ctx, ListProposal{Kind: ListDomain, Value: "bad.example", Category: "hotline", ActorID: bob, Time: t0})
		if err != nil || id2 == id {
			t.Fatalf("re-propose: %d %v", id2, err)
		}
		if _, _, err := s.ChangeListEntry(ctx, id2, ListChange{To: lifecycle.ListRejected, ActorID: alice, Time: t0}); err != nil {
			t.Fatal(err)
		}
		all, _ := s.ListEntries(ctx, ListFilter{})
		if len(all) != 2 || all[1].State != lifecycle.ListDisabled || all[1].Ended.IsZero() {
			t.Fatalf("tombstones %+v", all)
		}
		if _, _, err := s.ChangeListEntry(ctx, 999, ListChange{To: lifecycle.ListActive, ActorID: bob}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing entry: %v", err)
		}
	})
}
