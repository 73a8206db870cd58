package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/kidshield/kidshield/feed/rpz"
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
