package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// syncBuffer is a log destination the scanner's goroutines and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// SIGHUP's reload of the scanner's hash lists (reloadScannerLists, called from serve's SIGHUP
// branch): a list changed on disk is in use after it; a list that no longer loads leaves the
// previous set in use and says so.
func TestReloadScannerLists(t *testing.T) {
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
	list := filepath.Join(dir, "known.pdq")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(list, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("pdq " + strings.Repeat("0f", 32) + "\n")
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Scanner.HashLists = []string{list}
	var logs syncBuffer
	a := &app{st: st, views: views, log: slog.New(slog.NewTextHandler(&logs, nil)), netChanged: make(chan struct{}, 1)}
	a.cfgPtr.Store(cfg)
	ctx, cancel := context.WithCancel(t.Context())
	var bg sync.WaitGroup
	defer func() { cancel(); bg.Wait() }()
	if _, _, err := a.startHotline(ctx, &bg, time.Now); err != nil {
		t.Fatal(err)
	}
	h := a.scan.Load()
	if h == nil {
		t.Fatal("no scanner hook registered for the app")
	}
	sc := h.sc.Load()
	if sc == nil || sc.Known().Len() != 1 {
		t.Fatalf("scanner at start: %v", sc)
	}
	// An administrator adds hashes to the list and sends SIGHUP.
	write("pdq " + strings.Repeat("0f", 32) + "\npdq " + strings.Repeat("f0", 32) + "\n" + strings.Repeat("ab", 32) + "\n")
	a.reloadScannerLists(ctx)
	if n := sc.Known().Len(); n != 3 {
		t.Fatalf("known hashes after SIGHUP: %d, want 3", n)
	}
	if !strings.Contains(logs.String(), "scanner: known hashes reloaded") {
		t.Errorf("no reload line in the log: %s", logs.String())
	}
	// A broken list: the previous set stays, and the log says so.
	write("pdq 123\n")
	a.reloadScannerLists(ctx)
	if n := sc.Known().Len(); n != 3 {
		t.Fatalf("known hashes after a failed reload: %d, want the previous 3", n)
	}
	if !strings.Contains(logs.String(), "known hashes not reloaded, keeping the previous ones") {
		t.Errorf("no warning for the failed reload: %s", logs.String())
	}
}
