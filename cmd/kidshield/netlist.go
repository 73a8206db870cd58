package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/feed/subscribe"
	"github.com/kidshield/kidshield/filter/lists"
	"github.com/kidshield/kidshield/store"
)

// netList is the network list as the filter uses it: the domains and hosts analysts confirmed
// (two-person approved) and the imported public lists they do not override, compiled per
// category. URL and hash entries are for HTTP consumers and
// the scanner; DNS can only block names.
type netList struct {
	serial int64
	byCat  map[string]*lists.List
}

// loadNetList returns the network list compiled for the filter: from the store, following it
// by its changes (localList); with `subscribe:` from the copy taken from the remote publisher
// instead (subscribe.go).
func (a *app) loadNetList(ctx context.Context) (*netList, error) {
	if a.subscribed() {
		return a.loadSubscribedNetList(ctx)
	}
	return a.local.load(ctx, a.st)
}

// localList follows the store's published list (the network's confirmed entries, the
// attributed imports they do not shadow, and the canary) as categories of names, the shape of
// a subscriber's copy, so the same catCache compiles it: after the first whole read, each new
// serial reads only the values that changed (store.NetworkListChanges) and recompiles only the
// categories they are in. At a million entries that is milliseconds for a confirmation, where
// a whole read takes seconds.
type localList struct {
	mu  sync.Mutex
	cur *subscribe.List
	gen uint64
	catCache
}

// localStore is what localList reads (*store.Store).
type localStore interface {
	NetworkListSnapshot(ctx context.Context) (int64, []*store.ListEntry, error)
	NetworkListChanges(ctx context.Context, from int64, max int) (store.ListChanges, bool, error)
}

// maxLocalChanges bounds the values one incremental read asks for; beyond it the whole list
// is read.
const maxLocalChanges = 50000

func (ll *localList) load(ctx context.Context, st localStore) (*netList, error) {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	if ll.cur != nil {
		ch, ok, err := st.NetworkListChanges(ctx, ll.cur.Serial, maxLocalChanges)
		if err != nil {
			return nil, err
		}
		if ok {
			if ch.Serial != ll.cur.Serial {
				ll.cur = ll.apply(ll.cur, ch)
			}
			return ll.compile(ll.cur), nil
		}
	}
	serial, entries, err := st.NetworkListSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	l := &subscribe.List{Serial: serial, Cats: map[string]map[string]string{}, Gen: map[string]uint64{}}
	for _, e := range entries {
		if e.Kind != store.ListDomain && e.Kind != store.ListHost {
			continue // URL and hash entries are for HTTP consumers and the scanner
		}
		if l.Cats[e.Category] == nil {
			l.Cats[e.Category] = map[string]string{}
		}
		l.Cats[e.Category][e.Value] = e.Kind
	}
	// Every category is new to the cache unless its set is the one compiled already.
	for cat, names := range l.Cats {
		if ll.cur != nil && maps.Equal(ll.cur.Cats[cat], names) {
			l.Gen[cat] = ll.cur.Gen[cat]
			continue
		}
		ll.gen++
		l.Gen[cat] = ll.gen
	}
	ll.cur = l
	return ll.compile(l), nil
}

// apply returns cur moved by the changes: the categories they touch are copied and changed,
// the others shared (a List is never changed once made).
func (ll *localList) apply(cur *subscribe.List, ch store.ListChanges) *subscribe.List {
	l := &subscribe.List{Serial: ch.Serial, Cats: maps.Clone(cur.Cats), Gen: maps.Clone(cur.Gen)}
	copied := map[string]bool{}
	touch := func(cat string) map[string]string {
		if !copied[cat] {
			copied[cat] = true
			l.Cats[cat] = maps.Clone(l.Cats[cat])
			if l.Cats[cat] == nil {
				l.Cats[cat] = map[string]string{}
			}
			ll.gen++
			l.Gen[cat] = ll.gen
		}
		return l.Cats[cat]
	}
	for v, e := range ch.Entries {
		kind, cat := "", ""
		if e != nil && (e.Kind == store.ListDomain || e.Kind == store.ListHost) {
			kind, cat = e.Kind, e.Category
		}
		// The value may sit in another category (recategorised, or now shadowed by the
		// network's own entry): out of every category but the one it belongs to now.
		for c, names := range l.Cats {
			if _, in := names[v]; in && c != cat {
				delete(touch(c), v)
			}
		}
		if cat != "" && l.Cats[cat][v] != kind {
			touch(cat)[v] = kind
		}
	}
	for c, names := range l.Cats {
		if len(names) == 0 {
			delete(l.Cats, c)
			delete(l.Gen, c)
		}
	}
	return l
}

// entries tags each category's list with its bit in cfg's category order. An entry whose
// category the configuration does not know (an operator removed it) counts as "hotline", which
// every shipped profile blocks: a confirmed harm is never silently dropped.
func (nl *netList) entries(cfg *config.Config) []lists.Entry {
	if nl == nil {
		return nil
	}
	cats := cfg.AllCategories()
	var out []lists.Entry
	for cat, l := range nl.byCat {
		i := slices.Index(cats, cat)
		if i < 0 {
			i = slices.Index(cats, "hotline")
		}
		out = append(out, lists.Entry{List: l, Category: uint8(i)})
	}
	return out
}

// watchNetList applies network-list changes to the filter: at once when this process changed
// the list (the hotline's OnListChange), and by polling the list serial for changes made by
// other nodes sharing the store.
func (a *app) watchNetList(ctx context.Context) {
	// Reading the serial is one indexed MAX(); a change costs what changed (localList), so
	// other nodes' changes are followed every second, as the feed's primary follows them.
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.netChanged:
		case <-t.C:
			if a.subscribed() {
				continue // the subscriber applies its copies itself
			}
			serial, err := a.st.ListSerial(ctx)
			if err != nil || serial == a.netSerial() {
				continue
			}
		}
		if err := a.applyNetList(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("network list not applied; the filter keeps the previous one", "err", err)
		}
	}
}

// netListChanged is the hotline's OnListChange hook: it never blocks the analyst's request.
func (a *app) netListChanged() {
	if a.feed != nil {
		a.feed.Changed() // the RPZ zone and its NOTIFYs follow at once
	}
	select {
	case a.netChanged <- struct{}{}:
	default: // a reload is already pending
	}
}

func (a *app) netSerial() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.net == nil {
		return -1
	}
	return a.net.serial
}

// applyNetList reloads the network list and swaps in a policy with it, keeping the compiled
// category lists as they are.
func (a *app) applyNetList(ctx context.Context) error {
	nl, err := a.loadNetList(ctx)
	if err != nil {
		return fmt.Errorf("network list: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.net = nl
	if a.current == nil {
		// The first policy is not loaded yet (it may be waiting for this very list): load it now.
		select {
		case a.firstList <- struct{}{}:
		default:
		}
		return nil
	}
	if err := a.swap(a.cfg(), a.current); err != nil {
		return err
	}
	a.log.Info("network list applied", "serial", nl.serial)
	return nil
}
