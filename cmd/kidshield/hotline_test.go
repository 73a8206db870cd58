package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// A data directory restored without its key file (or a node with keys of its own) must not
// start: it would seal new data with a key the old data does not match.
func TestHotlineRefusesForeignDataKeys(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(dir, "kidshield.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	views, err := web.LoadViews()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = dir
	newApp := func() *app {
		a := &app{st: st, views: views, log: slog.New(slog.NewTextHandler(io.Discard, nil)), netChanged: make(chan struct{}, 1)}
		a.cfgPtr.Store(cfg)
		return a
	}
	run := func(a *app) error {
		ctx, cancel := context.WithCancel(t.Context())
		var bg sync.WaitGroup
		defer func() { cancel(); bg.Wait() }()
		if _, _, err := a.startHotline(ctx, &bg, time.Now); err != nil {
			return err
		}
		_, err := a.hotline.Submit(ctx, hotline.Submission{Channel: "web", Language: "vi", Harm: "OTHER", Description: "mô tả đủ dài"}, hotline.Actor{Label: "anonymous"})
		return err
	}
	if err := run(newApp()); err != nil {
		t.Fatal(err)
	}
	// Same keys: starts again.
	if err := run(newApp()); err != nil {
		t.Fatalf("restart with the same keys: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "data-keys")); err != nil {
		t.Fatal(err)
	}
	err = run(newApp())
	if err == nil || !strings.Contains(err.Error(), "do not open the data already in the store") {
		t.Fatalf("start with a new key over sealed data: %v", err)
	}
}
