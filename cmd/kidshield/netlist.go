package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/filter/lists"
)

// netList is the network list as the filter uses it: the domains and hosts analysts confirmed
// (two-person approved) and the imported public lists they do not override, compiled per
// category. URL and hash entries are for HTTP consumers and
// the scanner; DNS can only block names.
type netList struct {
	serial int64
	byCat  map[string]*lists.List
}

// loadNetList reads the active entries from the store and compiles them; with `subscribe:` it
// compiles the copy taken from the remote publisher instead (subscribe.go).
func (a *app) loadNetList(ctx context.Context) (*netList, error) {
	if a.subscribed() {
		return a.loadSubscribedNetList(ctx)
	}
	// The merged view: the network's confirmed entries, the attributed imports they do not
	// shadow, and the canary members test their blocking with; read with its serial at once.
	serial, entries, err := a.st.NetworkListSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	rules := map[string][]lists.Rule{}
	for _, e := range entries {
		switch e.Kind {
		case "domain":
			rules[e.Category] = append(rules[e.Category], lists.Rule{Name: e.Value, Kind: lists.Subtree})
		case "host":
			rules[e.Category] = append(rules[e.Category], lists.Rule{Name: e.Value, Kind: lists.Exact})
		}
	}
	nl := &netList{serial: serial, byCat: map[string]*lists.List{}}
	for cat, rs := range rules {
		nl.byCat[cat] = lists.NewList(rs)
	}
	return nl, nil
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
	t := time.NewTicker(15 * time.Second)
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
		return nil // the first policy is not loaded yet; it will include the list
	}
	if err := a.swap(a.cfg(), a.current); err != nil {
		return err
	}
	a.log.Info("network list applied", "serial", nl.serial)
	return nil
}
