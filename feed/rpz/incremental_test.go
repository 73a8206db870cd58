package rpz

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
)

func records(z *Zone) []string {
	var out []string
	z.Records(func(rr dns.RR) bool { out = append(out, rr.String()); return true })
	return out
}

// Apply gives exactly the zone Build makes of the new list, and reports exactly the names
// whose flags moved, over random lists and random changes (including no-op changes and
// values that come and go).
func TestZoneApplyMatchesBuild(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 9))
	kinds := []string{store.ListDomain, store.ListHost, store.ListURL}
	list := map[string]string{} // value → kind
	entries := func() []*store.ListEntry {
		var es []*store.ListEntry
		for v, k := range list {
			es = append(es, &store.ListEntry{Kind: k, Value: v})
		}
		return es
	}
	z := Build(testParams(), 0, entries())
	for round := 1; round <= 300; round++ {
		changes := map[string]*store.ListEntry{}
		for range rnd.IntN(6) {
			v := fmt.Sprintf("n%02d.example", rnd.IntN(40))
			if rnd.IntN(3) == 0 {
				delete(list, v)
				changes[v] = nil
				continue
			}
			list[v] = kinds[rnd.IntN(len(kinds))]
			changes[v] = &store.ListEntry{Kind: list[v], Value: v}
		}
		want := Build(testParams(), int64(round), entries())
		got, old := z.Apply(int64(round), changes)
		if g, w := records(got), records(want); !slices.Equal(g, w) {
			t.Fatalf("round %d: applied\n%s\nbuilt\n%s", round, strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
		if w := want.changed(z); !maps.Equal(old, w) {
			t.Fatalf("round %d: moved %v, want %v", round, old, w)
		}
		z = got
	}
	if z.Names() == 0 {
		t.Fatal("the random walk ended with an empty zone: it tested little")
	}
}

// A primary on a real store follows the list by its changes (not by re-reading it), and what
// it serves stays exact: after random confirmations, delistings and imports the AXFR is the
// zone built from the whole list, and every IXFR applied to the version it starts from gives
// that AXFR. A change of the zone's parameters moves the serial, rewrites every record, and
// IXFR from before it gets the whole zone. The canary answers with CanaryAddr.
func TestServerFollowsChanges(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func() *store.Store) {
		ctx := t.Context()
		st := open()
		alice, err := st.CreateUser(ctx, store.User{Login: "alice", Name: "A", Roles: []string{"analyst"}, PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		bob, err := st.CreateUser(ctx, store.User{Login: "bob", Name: "B", Roles: []string{"analyst"}, PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		s, addr, logs := startServer(t, nil, func(o *Options) {
			o.Serial, o.Snapshot, o.Changes, o.Journal = st.ListSerial, st.NetworkListSnapshot, st.NetworkListChanges, st
			o.MarkParams = func(ctx context.Context, fp string) error {
				_, _, err := st.MarkFeedParams(ctx, fp, "test")
				return err
			}
		})
		start := s.Zone().Serial
		if start != 1 {
			t.Errorf("first start: serial %d, want 1 (the parameters recorded)", start)
		}
		canary := store.CanaryValue + "." + testZone + "\t300\tIN\tA\t192.0.2.1"
		if got, _ := xfr(t, addr, axfrQ(), testSecret); !slices.Contains(got, canary) {
			t.Fatalf("no canary record %q in\n%s", canary, strings.Join(got, "\n"))
		}

		rnd := rand.New(rand.NewPCG(3, 4))
		versions := map[int64][]string{start: axfr(t, addr)}
		live := map[string]int64{}
		for step := range 25 {
			v := fmt.Sprintf("n%02d.example", rnd.IntN(15))
			switch {
			case rnd.IntN(4) == 0:
				var es []store.ImportEntry
				for i := range 15 {
					if rnd.IntN(3) == 0 {
						es = append(es, store.ImportEntry{Kind: store.ListDomain, Value: fmt.Sprintf("n%02d.example", i)})
					}
				}
				if _, err := st.ImportList(ctx, store.ListImport{Source: "pub", Category: "adult", Actor: "cli", Entries: es}); err != nil {
					t.Fatal(err)
				}
			case live[v] != 0:
				if _, _, err := st.ChangeListEntry(ctx, live[v], store.ListChange{To: lifecycle.ListDelisted, ActorID: bob, Reason: "gone"}); err != nil {
					t.Fatal(err)
				}
				delete(live, v)
			default:
				kind := []string{store.ListDomain, store.ListHost}[rnd.IntN(2)]
				id, err := st.ProposeListEntry(ctx, store.ListProposal{Kind: kind, Value: v, Category: "hotline", ActorID: alice})
				if err != nil {
					if strings.Contains(err.Error(), "delisted") || errorsIsConflict(err) {
						continue // a tombstone or a live entry of the other kind
					}
					t.Fatalf("step %d: %v", step, err)
				}
				if _, _, err := st.ChangeListEntry(ctx, id, store.ListChange{To: lifecycle.ListActive, ActorID: bob}); err != nil {
					t.Fatal(err)
				}
				live[v] = id
			}
			serial, _ := st.ListSerial(ctx)
			waitSerial(t, s, serial)
			versions[serial] = axfr(t, addr)
			_, es, _ := st.NetworkListSnapshot(ctx)
			if want := records(Build(testParams(), serial, es)); !slices.Equal(versions[serial], want) {
				t.Fatalf("step %d: AXFR at %d\n%s\nwant the zone of the whole list\n%s", step, serial,
					strings.Join(versions[serial], "\n"), strings.Join(want, "\n"))
			}
		}
		if !logged(logs, `from=changes`) {
			t.Errorf("no version was built from the changes:\n%s", logs)
		}
		cur := s.Zone().Serial
		for from, old := range versions {
			if from == cur {
				continue
			}
			got := ixfr(t, addr, uint32(from))
			if isFull(got) {
				t.Errorf("IXFR from %d: the whole zone, want a difference", from)
				continue
			}
			if applied := applyText(t, old, got); !slices.Equal(applied, sortedZone(versions[cur])) {
				t.Fatalf("IXFR from %d applied\n%s\nwant\n%s", from, strings.Join(applied, "\n"), strings.Join(versions[cur], "\n"))
			}
		}

		// A second control node on the same store, to see another node's parameter change.
		s2, addr2, _ := startServer(t, nil, func(o *Options) {
			o.Serial, o.Snapshot, o.Changes, o.Journal = st.ListSerial, st.NetworkListSnapshot, st.NetworkListChanges, st
		})
		if got := ixfr(t, addr2, uint32(start)); isFull(got) {
			t.Fatalf("second node: IXFR from %d is the whole zone", start)
		}

		// New parameters (a reload with another TTL): a new serial, every record rewritten,
		// the whole zone from before the change, on this node and on the other.
		p := testParams()
		p.TTL = 60
		if err := s.SetParams(ctx, p); err != nil {
			t.Fatal(err)
		}
		waitSerial(t, s, cur+1)
		got := axfr(t, addr)
		if !strings.Contains(got[len(got)/2], "\t60\tIN\t") {
			t.Errorf("after the TTL change: %s", got[len(got)/2])
		}
		if full := ixfr(t, addr, uint32(cur)); len(full) < 3 || !strings.Contains(full[1], "\tNS\t") {
			t.Errorf("IXFR from before the parameter change is a difference:\n%s", strings.Join(full, "\n"))
		}
		waitSerial(t, s2, cur+1)
		if full := ixfr(t, addr2, uint32(cur)); !isFull(full) {
			t.Errorf("second node: IXFR across another node's parameter change is a difference:\n%s", strings.Join(full, "\n"))
		}
		p.Origin = "other.test."
		if err := s.SetParams(ctx, p); err == nil {
			t.Error("the zone's name changed while running")
		}
	})
}

func errorsIsConflict(err error) bool {
	return err != nil && strings.Contains(err.Error(), store.ErrConflict.Error())
}

func axfr(t *testing.T, addr string) []string {
	t.Helper()
	got, err := xfr(t, addr, axfrQ(), testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// applyText applies an IXFR answer (as record strings) to a zone's AXFR (as record strings),
// as a secondary would, and returns the zone's records sorted (sortedZone).
func applyText(t *testing.T, zone, ixfr []string) []string {
	t.Helper()
	body := map[string]bool{}
	for _, r := range zone[1 : len(zone)-1] {
		body[r] = true
	}
	// new SOA, old SOA, deletions, new SOA, additions, new SOA
	i := 2
	for ; !strings.Contains(ixfr[i], "\tSOA\t"); i++ {
		if !body[ixfr[i]] {
			t.Fatalf("IXFR deletes %q, not in the zone", ixfr[i])
		}
		delete(body, ixfr[i])
	}
	for i++; i < len(ixfr)-1; i++ {
		if body[ixfr[i]] {
			t.Fatalf("IXFR adds %q, already in the zone", ixfr[i])
		}
		body[ixfr[i]] = true
	}
	return append([]string{ixfr[0]}, slices.Sorted(maps.Keys(body))...)
}

// sortedZone is an AXFR's SOA followed by its other records sorted.
func sortedZone(axfr []string) []string {
	return append([]string{axfr[0]}, slices.Sorted(slices.Values(axfr[1:len(axfr)-1]))...)
}
