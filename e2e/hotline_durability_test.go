package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/kidshield/kidshield/internal/pgtest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create the test database
)

// TestHotlineDurability: a report is acknowledged to the child only once it is committed.
// Eight clients submit reports through the public form without pause; the server is killed
// with SIGKILL in the middle of it (no shutdown, no flush: as a crash or the OOM killer would);
// every reference a receipt showed must then be in the store. The binary then starts again on
// the same data and takes reports. On SQLite always, on PostgreSQL when KIDSHIELD_TEST_POSTGRES
// names a server (required under CI=true).
func TestHotlineDurability(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testDurability(t, "")
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testDurability(t, postgresTestDSN(t))
	})
}

const (
	durabilityClients = 8
	durabilityRun     = 1500 * time.Millisecond
)

// testDurability runs the test on SQLite in the data directory (dsn "") or on dsn.
func testDurability(t *testing.T, dsn string) {
	body := hotlineBody
	if dsn != "" {
		body += fmt.Sprintf("store:\n  dsn: %q\n", dsn)
	}
	in := start(t, options{Body: body})
	if dsn == "" {
		dsn = in.sqliteDSN()
	}
	base := in.httpURL("")
	run := make([]byte, 4)
	_, _ = rand.Read(run)
	tag := hex.EncodeToString(run)

	type ack struct{ ref, desc string }
	var (
		mu       sync.Mutex
		acked    []ack
		failures []string // answers other than a receipt before the kill
		killed   atomic.Bool
		wg       sync.WaitGroup
	)
	for c := range durabilityClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !killed.Load(); i++ {
				desc := fmt.Sprintf("Durability test %s: client %d, report %d. Có người trêu chọc em trên mạng.", tag, c, i)
				ref, st, err := submitReport(base, desc)
				if err != nil {
					if !killed.Load() {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("client %d report %d (HTTP %d): %v", c, i, st, err))
						mu.Unlock()
					}
					continue
				}
				mu.Lock()
				acked = append(acked, ack{ref, desc})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(durabilityRun)
	killed.Store(true) // before the signal: a request failing after this point may be the kill's
	in.kill()
	wg.Wait()

	for i, f := range failures {
		if i == 10 {
			t.Errorf("... and %d more failures", len(failures)-10)
			break
		}
		t.Errorf("before the kill: %s", f)
	}
	if len(acked) < durabilityClients {
		t.Fatalf("only %d report(s) acknowledged in %v by %d clients: the test proves nothing", len(acked), durabilityRun, durabilityClients)
	}

	st := openStore(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lost := 0
	seen := map[string]bool{}
	for _, a := range acked {
		if seen[a.ref] {
			t.Errorf("reference %s was given to two reports", a.ref)
		}
		seen[a.ref] = true
		r, err := st.ReportByRef(ctx, a.ref)
		if err != nil || r == nil || r.Ref != a.ref {
			lost++
			if lost <= 10 {
				t.Errorf("report %s was acknowledged (receipt shown) but is not in the store after SIGKILL: %v", a.ref, err)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged reports lost by SIGKILL", lost, len(acked))
	}
	t.Logf("%d reports acknowledged in %v before SIGKILL; all of them are in the store", len(acked), durabilityRun)
	_ = st.Close()

	// The binary starts again on the same data (SQLite recovers its WAL) and takes reports.
	in.restart()
	ref := in.mustSubmitReport(t, "Durability test "+tag+": after the restart.")
	st = openStore(t, dsn)
	if r, err := st.ReportByRef(ctx, ref); err != nil || r.Ref != ref {
		t.Fatalf("report %s submitted after the restart is not in the store: %v", ref, err)
	}
	for _, a := range acked[:min(len(acked), 5)] {
		if _, err := st.ReportByRef(ctx, a.ref); err != nil {
			t.Errorf("report %s is gone after the restart: %v", a.ref, err)
		}
	}
}

// postgresTestDSN: a PostgreSQL database of the test's own (package pgtest).
func postgresTestDSN(t *testing.T) string { return pgtest.DSN(t) }
