package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/ui"
	"github.com/kidshield/kidshield/seal"
	"github.com/kidshield/kidshield/web"
)

// startHotline builds the hotline's service and pages, and starts its jobs on bg. The hotline
// shares the process's store and web server with the filter: a domain an analyst confirms is
// compiled into the filter's policy in the same process.
func (a *app) startHotline(ctx context.Context, bg *sync.WaitGroup, clock func() time.Time) ([]web.Route, error) {
	cfg := a.cfg()
	keys, err := seal.Load(cfg.Hotline, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("hotline data keys: %w", err)
	}
	clientKey, err := secretFile(filepath.Join(cfg.DataDir, "client-hash-key"), 32)
	if err != nil {
		return nil, err
	}
	a.hotline = hotline.New(hotline.Options{
		Store: a.st, Sealer: keys, ClientKey: clientKey, Now: clock, Logger: a.log,
		Config: func() *config.Hotline { return &a.cfg().Hotline },
	})
	routes := ui.New(a.hotline, a.views, a.log).Routes()
	bg.Add(1)
	go func() { defer bg.Done(); a.hotlineJobs(ctx, clock) }()
	return routes, nil
}

// hotlineJobs runs the hotline's periodic work: the retention purge.
func (a *app) hotlineJobs(ctx context.Context, clock func() time.Time) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	var lastPurge time.Time
	for {
		h := a.cfg().Hotline
		if time.Since(lastPurge) >= h.Retention.Every {
			lastPurge = time.Now()
			if res, err := a.st.PurgeHotline(ctx, clock(), h.Retention); err != nil {
				if ctx.Err() == nil {
					a.log.Warn("hotline purge failed", "err", err)
				}
			} else {
				a.log.Debug("hotline purge", "result", fmt.Sprintf("%+v", res))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// secretFile reads a random secret from path, creating it (mode 0600) on first start.
func secretFile(path string, n int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != n {
			return nil, fmt.Errorf("%s: want %d bytes, found %d", path, n, len(b))
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return b, nil
}
