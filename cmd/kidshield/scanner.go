package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/scanner"
	"github.com/kidshield/kidshield/scanner/fetch"
)

// scanHook connects the hotline to the scanner. The hotline is built with onReport as its
// OnReport hook before the scanner exists (the scanner needs the hotline's case path), so the
// hook reads the scanner through an atomic pointer; it is set before startHotline returns,
// that is before any route is served.
type scanHook struct {
	a  *app
	sc atomic.Pointer[scanner.Service]
	// reloadMu serialises reloads of the known hashes (the periodic one and SIGHUP's), so that
	// an older set never replaces a newer one.
	reloadMu sync.Mutex
}

func (a *app) newScanHook() *scanHook {
	h := &scanHook{a: a}
	a.scan.Store(h)
	return h
}

// reloadScannerLists re-reads the scanner's known hashes (scanner.hash_lists of the
// configuration in force and the network list's pdq: entries) on SIGHUP; nothing on a node
// that runs no scanner. A failure keeps the previous set.
func (a *app) reloadScannerLists(ctx context.Context) {
	if h := a.scan.Load(); h != nil {
		h.reloadKnown(ctx, "SIGHUP")
	}
}

// reloadKnown replaces the scanner's known hashes with a fresh load; a failed load keeps the
// ones in use and is logged.
func (h *scanHook) reloadKnown(ctx context.Context, why string) {
	sc := h.sc.Load()
	if sc == nil {
		return
	}
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	a := h.a
	k, err := scanner.LoadKnown(ctx, scanner.KnownSources{Files: a.cfg().Scanner.Settings().HashLists, List: a.st.ActiveListEntries})
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("scanner: known hashes not reloaded, keeping the previous ones", "trigger", why, "err", err)
		}
		return
	}
	sc.SetKnown(k)
	if why == "SIGHUP" {
		a.log.Info("scanner: known hashes reloaded", "trigger", why, "known_hashes", k.Len(), "from_files", k.Files, "from_list", k.List)
	}
}

func (h *scanHook) onReport(ctx context.Context, r hotline.ReportEvent) {
	if sc := h.sc.Load(); sc != nil {
		sc.OnReport(ctx, r)
	}
}

// knownReload is how often the known hashes are re-read (hash-list files and the network
// list's pdq: entries).
const knownReload = 5 * time.Minute

// start builds the scanner from the configuration and runs it on bg (nothing when
// scanner.enabled is false).
func (h *scanHook) start(ctx context.Context, bg *sync.WaitGroup, clock func() time.Time, svc *hotline.Service) error {
	a := h.a
	v := a.cfg().Scanner.Settings()
	if !v.Enabled {
		a.log.Info("scanner disabled (scanner.enabled: false)")
		return nil
	}
	opts := fetch.Options{
		UserAgent: fetch.UserAgent(versionString(), v.UserAgentURL), Ports: append([]int{80, 443}, v.Ports...),
		Timeout: v.Timeout, MaxPageBytes: v.MaxPageBytes, MaxImageBytes: v.MaxImageBytes, HostConcurrency: v.PerHost, Logger: a.log,
	}
	newClient := fetch.New
	if v.AllowLoopbackForTests {
		for _, w := range a.cfg().Scanner.Warnings() {
			a.log.Warn(w)
		}
		newClient = fetch.NewAllowingLoopbackForTests
	}
	client, err := newClient(opts)
	if err != nil {
		return fmt.Errorf("scanner: %w", err)
	}
	src := scanner.KnownSources{Files: v.HashLists, List: a.st.ActiveListEntries}
	known, err := scanner.LoadKnown(ctx, src)
	if err != nil {
		client.Close()
		return err
	}
	var sources []scanner.Source
	for _, src := range v.Sources {
		sources = append(sources, scanner.Source{Name: src.Name, URL: src.URL, Kind: src.Kind, Every: src.Every})
	}
	sc, err := scanner.New(scanner.Options{Sources: sources, Store: a.st, Cases: svc, Client: client, Known: known, Workers: v.Workers, PerHost: v.PerHost,
		MaxImages: v.MaxImages, MaxAttempts: v.MaxAttempts, TextThreshold: v.TextThreshold, SuggestCategories: v.SuggestCategories, RecheckEvery: v.RecheckEvery,
		RecheckRemovedFor: v.RecheckRemovedFor, KeepJobs: v.KeepJobs, Now: clock, Logger: a.log})
	if err != nil {
		client.Close()
		return err
	}
	h.sc.Store(sc)
	a.log.Info("scanner started", "workers", v.Workers, "per_host", v.PerHost, "recheck_every", v.RecheckEvery, "sources", len(sources), "known_hashes", known.Len(),
		"from_files", known.Files, "from_list", known.List)
	bg.Add(2)
	go func() {
		defer bg.Done()
		defer client.Close()
		defer a.scan.Store(nil)
		sc.Run(ctx)
	}()
	go func() {
		defer bg.Done()
		t := time.NewTicker(knownReload)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			h.reloadKnown(ctx, "timer")
		}
	}()
	return nil
}

// checkScannerNote is what check-config says about the scanner section: its unsafe settings,
// and hash lists that serve would refuse at start.
func checkScannerNote(w io.Writer, file string, c *config.Config) {
	for _, m := range c.Scanner.Warnings() {
		fmt.Fprintf(w, "%s: warning: %s\n", file, m)
	}
}

// checkScannerLists reports the hash lists serve would refuse to start with; true when one is
// bad, so check-config fails as serve would (a deploy script must not pass it).
func checkScannerLists(w io.Writer, file string, c *config.Config) (bad bool) {
	for i, p := range c.Scanner.HashLists {
		if _, err := scanner.LoadKnown(context.Background(), scanner.KnownSources{Files: []string{p}}); err != nil {
			fmt.Fprintf(w, "%s: scanner.hash_lists[%d]: %v (serve will not start with it; make a list from images with: kidshield pdq --list FILE...)\n", file, i, err)
			bad = true
		}
	}
	return bad
}
