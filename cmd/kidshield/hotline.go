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

	"github.com/kidshield/kidshield/auth"
	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/ui"
	"github.com/kidshield/kidshield/seal"
	"github.com/kidshield/kidshield/web"
)

// startHotline builds the hotline's service and pages, and starts its jobs on bg. The hotline
// shares the process's store and web server with the filter: a domain an analyst confirms is
// compiled into the filter's policy in the same process.
func (a *app) startHotline(ctx context.Context, bg *sync.WaitGroup, clock func() time.Time) (*auth.Manager, []web.Route, error) {
	cfg := a.cfg()
	keys, err := seal.Load(cfg.Hotline, cfg.DataDir)
	if err != nil {
		return nil, nil, fmt.Errorf("hotline data keys: %w", err)
	}
	// A restore without the key file, or a second node that generated keys of its own, would
	// otherwise start fine and then fail on every case page while sealing new data with a key
	// the others do not have: refuse to start instead.
	if col, sealed, err := a.st.SealedSample(ctx); err != nil {
		return nil, nil, err
	} else if sealed != "" {
		if _, err := keys.Open(sealed, col); err != nil {
			return nil, nil, fmt.Errorf("the data keys (%s, key ids %v) do not open the data already in the store (%w): "+
				"restore DATA_DIR/%s from the backup kept apart from the database, or give the keys with %s or hotline.data_keys",
				keySource(cfg), keys.IDs(), err, seal.KeysFileName, seal.EnvKeys)
		}
	}
	clientKey, err := secretFile(filepath.Join(cfg.DataDir, "client-hash-key"), 32)
	if err != nil {
		return nil, nil, err
	}
	signer, err := hotline.LoadNoticeSigner(cfg.DataDir, "")
	if err != nil {
		return nil, nil, fmt.Errorf("notice signing key: %w", err)
	}
	am, err := auth.New(auth.Options{Store: a.st, Config: cfg.Hotline.Auth, Sealer: keys, Logger: a.log, Now: clock, Issuer: cfg.Hotline.IssuerName})
	if err != nil {
		return nil, nil, err
	}
	scan := a.newScanHook()
	a.hotline = hotline.New(hotline.Options{
		Store: a.st, Sealer: keys, ClientKey: clientKey, Now: clock, Logger: a.log,
		Config:       func() *config.Hotline { return &a.cfg().Hotline },
		OnListChange: a.netListChanged, NoticeSigner: signer, OnReport: scan.onReport,
	})
	if err := scan.start(ctx, bg, clock, a.hotline); err != nil {
		return nil, nil, err
	}
	routes := append(am.Routes(a.views), ui.New(a.hotline, a.views, a.log).Routes()...)
	bg.Add(1)
	go func() { defer bg.Done(); a.hotlineJobs(ctx, clock, am) }()
	return am, routes, nil
}

// hotlineJobs runs the hotline's periodic work: overdue notices and reminders every minute,
// the retention purge as configured.
func (a *app) hotlineJobs(ctx context.Context, clock func() time.Time, am *auth.Manager) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	var lastPurge time.Time
	for {
		h := a.cfg().Hotline
		if overdue, reminded, err := a.hotline.NoticeSweep(ctx, clock()); err != nil {
			if ctx.Err() == nil {
				a.log.Warn("notice sweep failed", "err", err)
			}
		} else if overdue+reminded > 0 {
			a.log.Info("notices overdue", "new_overdue", overdue, "reminders_due", reminded)
		}
		if time.Since(lastPurge) >= h.Retention.Every {
			lastPurge = time.Now()
			if res, err := a.st.PurgeHotline(ctx, clock(), h.Retention); err != nil {
				if ctx.Err() == nil {
					a.log.Warn("hotline purge failed", "err", err)
				}
			} else {
				a.log.Debug("hotline purge", "result", fmt.Sprintf("%+v", res))
			}
			if _, err := am.PurgeSessions(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("session purge failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func keySource(cfg *config.Config) string {
	switch {
	case os.Getenv(seal.EnvKeys) != "":
		return seal.EnvKeys
	case cfg.Hotline.DataKeysFile != "":
		return cfg.Hotline.DataKeysFile
	case len(cfg.Hotline.DataKeys) > 0:
		return "hotline.data_keys"
	}
	return filepath.Join(cfg.DataDir, seal.KeysFileName)
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
