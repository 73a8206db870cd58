package main

import (
	"context"
	"errors"
	"path/filepath"
	"sync"

	"github.com/kidshield/kidshield/feed/subscribe"
	"github.com/kidshield/kidshield/filter/lists"
)

// A filter node with `subscribe:` takes the network list from a remote publisher (its RPZ
// primary or its signed HTTP feed) instead of its own store: feed/subscribe keeps the last good
// copy in DATA_DIR/subscribe/ and this file compiles it into the filter's netList, rebuilding
// only the categories whose set changed.

// subState is one app's subscriber and the category lists compiled from its copies.
type subState struct {
	sub *subscribe.Subscriber
	catCache
}

// catCache keeps the category lists compiled from successive versions of a list: a category
// whose generation did not move is reused as it is (a confirmation in "hotline" does not
// recompile a million-name import in "adult").
type catCache struct {
	mu    sync.Mutex
	lists map[string]*lists.List // category → compiled list
	gens  map[string]uint64      // category → generation it was compiled at
}

// errNoCopy is returned while no copy of the subscribed list is held (first start with the
// publisher unreachable): the filter runs with its own lists meanwhile.
var errNoCopy = errors.New("no copy of the subscribed network list yet: the filter answers SERVFAIL until the first transfer succeeds (publisher unreachable, or refusing this node: check tsig_name, tsig_secret and the zone name against the control node's feed.members)")

// subscribed reports whether the network list comes from a remote publisher.
func (a *app) subscribed() bool {
	c := a.cfg()
	return c != nil && c.Subscribe.Enabled()
}

// subscriber returns the app's subscriber, created and started (until ctx ends) on first use:
// its disk copy is read at once, before any transfer, so a node restarts filtering with the
// publisher down.
func (a *app) subscriber(ctx context.Context) (*subState, error) {
	// Created with the first network-list load; lives as long as the process.
	if ss := a.sub.Load(); ss != nil {
		return ss, nil
	}
	cfg := a.cfg()
	sub, err := subscribe.New(subscribe.Options{
		Subscribe: cfg.Subscribe,
		Dir:       filepath.Join(cfg.DataDir, "subscribe"),
		Logger:    a.log,
		OnChange: func(*subscribe.List) {
			if err := a.applyNetList(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("subscribed network list not applied; the filter keeps the previous one", "err", err)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	ss := &subState{sub: sub}
	if !a.sub.CompareAndSwap(nil, ss) {
		return a.sub.Load(), nil
	}
	go func() {
		if err := sub.Run(ctx); err != nil {
			a.log.Error("network list subscription stopped", "err", err)
		}
		a.sub.CompareAndSwap(ss, nil)
	}()
	return ss, nil
}

// loadSubscribedNetList compiles the subscriber's copy, reusing the compiled list of every
// category whose generation did not move.
func (a *app) loadSubscribedNetList(ctx context.Context) (*netList, error) {
	ss, err := a.subscriber(ctx)
	if err != nil {
		return nil, err
	}
	l := ss.sub.Current()
	if l == nil {
		return nil, errNoCopy
	}
	return ss.compile(l), nil
}

func (ss *catCache) compile(l *subscribe.List) *netList {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.lists == nil {
		ss.lists, ss.gens = map[string]*lists.List{}, map[string]uint64{}
	}
	nl := &netList{serial: l.Serial, byCat: make(map[string]*lists.List, len(l.Cats))}
	for cat, names := range l.Cats {
		if g, ok := ss.gens[cat]; ok && g == l.Gen[cat] && ss.lists[cat] != nil {
			nl.byCat[cat] = ss.lists[cat]
			continue
		}
		rules := make([]lists.Rule, 0, len(names))
		for name, kind := range names {
			k := lists.Subtree
			if kind == subscribe.KindHost {
				k = lists.Exact
			}
			rules = append(rules, lists.Rule{Name: name, Kind: k})
		}
		nl.byCat[cat] = lists.NewList(rules)
		ss.lists[cat], ss.gens[cat] = nl.byCat[cat], l.Gen[cat]
	}
	for cat := range ss.lists {
		if _, ok := l.Cats[cat]; !ok {
			delete(ss.lists, cat)
			delete(ss.gens, cat)
		}
	}
	return nl
}
