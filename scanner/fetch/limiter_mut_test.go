package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A wait for the interval that is cancelled gives its slot back.
func TestLimiterCancelledWaitFreesSlot(t *testing.T) {
	l, _ := newFakeLimiter(1, time.Minute)
	ctx := context.Background()
	r, err := l.acquire(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	r()
	// The next start is a minute away: make the sleep fail as a cancellation would.
	l.sleep = func(context.Context, time.Duration) error { return context.Canceled }
	if _, err := l.acquire(ctx, "h"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	l.sleep = func(context.Context, time.Duration) error { return nil }
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r, err = l.acquire(tctx, "h")
	if err != nil {
		t.Fatalf("after a cancelled wait, the only slot is lost: %v", err)
	}
	r()
}

// The sweep forgets idle hosts only: a host with a request in flight keeps its slot, so a
// second request to it still waits however many other hosts were seen meanwhile.
func TestLimiterSweepKeepsBusyHosts(t *testing.T) {
	l, _ := newFakeLimiter(1, 0)
	ctx := context.Background()
	held, err := l.acquire(ctx, "busy.example")
	if err != nil {
		t.Fatal(err)
	}
	defer held()
	var others []func()
	for i := range sweepAbove + 1 {
		r, err := l.acquire(ctx, fmt.Sprintf("h%d.example", i))
		if err != nil {
			t.Fatal(err)
		}
		others = append(others, r)
	}
	for _, r := range others {
		r()
	}
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if r, err := l.acquire(tctx, "busy.example"); err == nil {
		r()
		t.Fatal("a second slot on busy.example with the limit at 1 and the first still held")
	}
}

// The per-host limit is per host name: two ports of one host share it.
func TestLimiterKeyIsTheHostNotThePort(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) })
	a, b := httptest.NewServer(h), httptest.NewServer(h)
	defer a.Close()
	defer b.Close()
	c := newTestClient(t, Options{HostInterval: time.Minute}, a, b)
	fc := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c.limiter.now, c.limiter.sleep = fc.now, fc.sleep
	ctx := context.Background()
	for _, u := range []string{a.URL, b.URL} {
		if _, err := c.Fetch(ctx, u+"/", FetchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if len(fc.sleeps) != 2 || fc.sleeps[1] != time.Minute {
		t.Errorf("waits %v: the second port of 127.0.0.1 should wait the host's interval", fc.sleeps)
	}
}
