package store

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

// published is the published list as value → kind/category, the fields consumers act on.
func published(es []*ListEntry) map[string]string {
	m := make(map[string]string, len(es))
	for _, e := range es {
		m[e.Value] = e.Kind + "/" + e.Category + "/" + e.Source + "/" + e.LastVerified.UTC().Format(time.RFC3339)
	}
	return m
}

// TestNetworkListChanges checks the incremental read against the whole one: after random
// proposals (names, and URLs blocking their host by DNS or not), approvals, re-checks,
// delistings, rejections and imports (shadowed and not), the list at
// serial A with NetworkListChanges(A) applied is exactly NetworkListSnapshot at the new serial,
// from every earlier serial.
func TestNetworkListChanges(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		alice, bob := ntcUser(t, s, "alice"), ntcUser(t, s, "bob")
		t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		rnd := rand.New(rand.NewPCG(1, 2))
		names := make([]string, 12)
		for i := range names {
			names[i] = fmt.Sprintf("n%02d.example", i)
		}
		type version struct {
			serial int64
			list   map[string]string
		}
		snap := func() version {
			serial, es, err := s.NetworkListSnapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return version{serial, published(es)}
		}
		versions := []version{snap()}
		live := map[string]int64{} // value → id of its proposed or active entry
		state := map[int64]string{}
		urls, dnsURLs := 0, 0
		for step := range 120 {
			// A name, or a URL: a URL entry may block its host by DNS. On a host of names it
			// competes with the name's own entries and imports; on a host only URLs use
			// ("u" + name), only its own changes touch the host, which the incremental read
			// must then follow from the URL entry's changes alone.
			v := names[rnd.IntN(len(names))]
			isURL := rnd.IntN(3) == 0
			if isURL {
				v = "https://" + []string{"", "u"}[rnd.IntN(2)] + v + "/p"
			}
			at := t0.Add(time.Duration(step) * time.Hour)
			switch op := rnd.IntN(6); {
			case op == 0 || op == 1 && live[v] == 0:
				if live[v] != 0 {
					continue
				}
				kind, dnsHost := ListDomain, false
				switch {
				case isURL:
					// Alternately, so that the walk has both.
					kind, dnsHost = ListURL, urls%2 == 0
					urls++
					if dnsHost {
						dnsURLs++
					}
				case rnd.IntN(3) == 0:
					kind = ListHost
				}
				id, err := s.ProposeListEntry(ctx, ListProposal{Kind: kind, Value: v, DNSHost: dnsHost, Category: []string{"hotline", "adult"}[rnd.IntN(2)], ActorID: alice, Time: at})
				if err != nil {
					t.Fatal(err)
				}
				live[v], state[id] = id, lifecycle.ListProposed
			case op == 5 && state[live[v]] == lifecycle.ListActive:
				// A re-check moves the published entry's dates, not its state.
				if _, err := s.VerifyListEntry(ctx, live[v], ListVerification{ActorID: bob, Time: at}); err != nil {
					t.Fatalf("step %d verify %s: %v", step, v, err)
				}
			case op == 1 || op == 5:
				id := live[v]
				if id == 0 {
					continue
				}
				to := map[string]string{lifecycle.ListProposed: lifecycle.ListActive, lifecycle.ListActive: lifecycle.ListDelisted}[state[id]]
				if rnd.IntN(4) == 0 && state[id] == lifecycle.ListProposed {
					to = lifecycle.ListRejected
				}
				if _, _, err := s.ChangeListEntry(ctx, id, ListChange{To: to, ActorID: bob, Reason: "test", Time: at}); err != nil {
					t.Fatalf("step %d %s %s→%s: %v", step, v, state[id], to, err)
				}
				state[id] = to
				if to != lifecycle.ListActive {
					delete(live, v)
				}
			default:
				// An import of a random subset of the names, from one of two sources.
				var es []ImportEntry
				for _, n := range names {
					if rnd.IntN(3) == 0 {
						es = append(es, ImportEntry{ListDomain, n})
					}
				}
				src := []string{"a-list", "b-list"}[rnd.IntN(2)]
				if _, err := s.ImportList(ctx, ListImport{Source: src, Category: "gambling", Actor: "cli", Time: t0, Entries: es}); err != nil {
					t.Fatal(err)
				}
			}
			versions = append(versions, snap())
		}
		if _, _, err := s.MarkFeedParams(ctx, "p1", "cli"); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, snap())
		last := versions[len(versions)-1]
		checked := 0
		for _, from := range versions {
			ch, ok, err := s.NetworkListChanges(ctx, from.serial, 1000)
			if err != nil || !ok {
				t.Fatalf("changes since %d: ok %v, %v", from.serial, ok, err)
			}
			if ch.Serial != last.serial || ch.Params != (from.serial < last.serial) {
				t.Fatalf("changes since %d: serial %d (want %d), params %v", from.serial, ch.Serial, last.serial, ch.Params)
			}
			got := map[string]string{}
			for k, v := range from.list {
				got[k] = v
			}
			for v, e := range ch.Entries {
				delete(got, v)
				if e != nil {
					got[v] = e.Kind + "/" + e.Category + "/" + e.Source + "/" + e.LastVerified.UTC().Format(time.RFC3339)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(last.list) {
				t.Fatalf("from %d: applied\n%v\nwant\n%v", from.serial, got, last.list)
			}
			checked++
		}
		if len(last.list) < 3 {
			t.Fatalf("the random walk published only %v", last.list)
		}
		urlHosts := 0 // versions publishing a URL entry's host
		for _, ver := range versions {
			for _, e := range ver.list {
				if strings.HasPrefix(e, ListHost+"/") && strings.Contains(e, "/"+URLHostSource+"/") {
					urlHosts++
					break
				}
			}
		}
		t.Logf("%d URL entries, %d with a DNS name; %d versions publish a URL's host", urls, dnsURLs, urlHosts)
		if urls == dnsURLs || dnsURLs == 0 || urlHosts == 0 {
			t.Fatalf("the random walk proposed %d URL entries, %d with a DNS name: want both kinds", urls, dnsURLs)
		}
		// A narrowed read (PublishedEntries) says of each value what the whole one does: for
		// every name, a URL's host, a value never listed, and all of them at once.
		all := append(append([]string{}, names...), "u"+names[0], "never.example")
		for _, vs := range append([][]string{all}, func() (each [][]string) {
			for _, v := range all {
				each = append(each, []string{v})
			}
			return each
		}()...) {
			es, err := s.PublishedEntries(ctx, vs)
			if err != nil {
				t.Fatal(err)
			}
			got, want := published(es), map[string]string{}
			for _, v := range vs {
				if e, ok := last.list[v]; ok {
					want[v] = e
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("PublishedEntries(%v) = %v, want %v", vs, got, want)
			}
		}
		if es, err := s.PublishedEntries(ctx, nil); err != nil || len(es) != 0 {
			t.Errorf("PublishedEntries(nil) = %d entries, %v; want none", len(es), err)
		}
		// Too many values, and a serial ahead of the list: the caller must read it all.
		if _, ok, err := s.NetworkListChanges(ctx, versions[0].serial, 2); err != nil || ok {
			t.Errorf("max 2: ok %v, %v", ok, err)
		}
		if _, ok, err := s.NetworkListChanges(ctx, last.serial+5, 1000); err != nil || ok {
			t.Errorf("ahead: ok %v, %v", ok, err)
		}
		// The same parameters again: no change, no serial.
		if changed, serial, err := s.MarkFeedParams(ctx, "p1", "cli"); err != nil || changed || serial != last.serial {
			t.Errorf("same params: changed %v serial %d, %v", changed, serial, err)
		}
		if changed, serial, err := s.MarkFeedParams(ctx, "p2", "cli"); err != nil || !changed || serial != last.serial+1 {
			t.Errorf("new params: changed %v serial %d, %v", changed, serial, err)
		}
		t.Logf("%d versions checked", checked)
	})
}
