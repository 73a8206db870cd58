package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/feed/httpfeed"
	"github.com/kidshield/kidshield/feed/rpz"
	"github.com/kidshield/kidshield/web"
)

// startFeed starts the RPZ primary (feed/rpz) when feed.listen is set: the network list as a
// zone members transfer (AXFR/IXFR, TSIG or allowed addresses) and are sent NOTIFY for. It
// follows the list by its serial in the store (so changes made on other nodes reach it too)
// and stops when ctx ends; bg waits for it.
func (a *app) startFeed(ctx context.Context, bg *sync.WaitGroup) error {
	cfg := a.cfg()
	if len(cfg.Feed.Listen) == 0 {
		return nil
	}
	opt, err := rpz.OptionsFromConfig(&cfg.Feed)
	if err != nil {
		return err
	}
	// The zone publishes what the filter blocks: the network's entries, imports, the canary.
	opt.Serial, opt.Snapshot, opt.Logger = a.st.ListSerial, a.st.NetworkListSnapshot, a.log
	// A new serial costs the changes since the last one, not a read of the whole list: an
	// analyst's confirmation reaches the secondaries in about a second at a million entries.
	opt.Changes = a.st.NetworkListChanges
	opt.MarkParams = func(ctx context.Context, fp string) error {
		_, _, err := a.st.MarkFeedParams(ctx, fp, "system:feed")
		return err
	}
	// Published deltas are kept in the store: after a restart (or on another control node over
	// the same PostgreSQL) secondaries still catch up by IXFR.
	opt.Journal = a.st
	srv := rpz.New(opt)
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	a.feed = srv // the hotline's list changes reach it at once (netListChanged)
	for _, ad := range srv.Addrs() {
		a.log.Info("feed listening", "zone", opt.Params.Origin, "udp", ad.UDP, "tcp", ad.TCP, "serial", srv.Zone().Serial32(), "members", len(opt.Members))
	}
	bg.Add(1)
	go func() {
		defer bg.Done()
		<-ctx.Done()
		srv.Close()
	}()
	return nil
}

// feedReloaded applies a reloaded configuration's zone parameters (action, block page, TTL,
// timers) to the running primary: a new serial, and the whole zone to every secondary. The
// zone's name, listeners and members take a restart.
func (a *app) feedReloaded(ctx context.Context, cfg *config.Config) {
	if a.feed == nil {
		return
	}
	opt, err := rpz.OptionsFromConfig(&cfg.Feed)
	if err == nil {
		err = a.feed.SetParams(ctx, opt.Params)
	}
	if err != nil {
		a.log.Error("feed parameters not changed", "err", err)
	}
}

// feedRoutes are the network list's HTTP downloads for filter vendors and filter nodes
// (/feed/v1/, tokens with scope feed:read): the feed role's, on the same web server as the
// hotline when this node has it, or alone on a feed node.
func (a *app) feedRoutes(clock func() time.Time) ([]web.Route, error) {
	signer, err := httpfeed.LoadSigner(a.cfg().DataDir)
	if err != nil {
		return nil, fmt.Errorf("feed signing key: %w", err)
	}
	return httpfeed.New(httpfeed.Options{
		Store: a.st, Signer: signer, Logger: a.log, Now: clock,
		Config:     func() *config.Feed { return &a.cfg().Feed },
		Categories: func() []string { return a.cfg().AllCategories() },
		Policy:     a.publishedPolicy,
	}).Routes(), nil
}
