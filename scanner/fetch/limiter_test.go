package fetch

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeClock lets the limiter's waits be read instead of slept.
type fakeClock struct {
	t      time.Time
	sleeps []time.Duration
}

func (f *fakeClock) now() time.Time { return f.t }
func (f *fakeClock) sleep(_ context.Context, d time.Duration) error {
	f.sleeps = append(f.sleeps, d)
	if d > 0 {
		f.t = f.t.Add(d)
	}
	return nil
}

func newFakeLimiter(conc int, interval time.Duration) (*hostLimiter, *fakeClock) {
	l := newHostLimiter(conc, interval)
	fc := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l.now, l.sleep = fc.now, fc.sleep
	return l, fc
}

func TestLimiterInterval(t *testing.T) {
	const iv = 3 * time.Second
	l, fc := newFakeLimiter(2, iv)
	ctx := context.Background()
	var releases []func()
	for range 2 {
		r, err := l.acquire(ctx, "a.example")
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, r)
	}
	r, err := l.acquire(ctx, "b.example") // another host does not wait for a.example
	if err != nil {
		t.Fatal(err)
	}
	r()
	want := []time.Duration{0, iv, 0}
	if len(fc.sleeps) != len(want) {
		t.Fatalf("sleeps %v, want %v", fc.sleeps, want)
	}
	for i := range want {
		if fc.sleeps[i] != want[i] {
			t.Fatalf("sleeps %v, want %v", fc.sleeps, want)
		}
	}
	for _, r := range releases {
		r()
		r() // a second release must not free a second slot
	}
	// Clock is at the second start; the next one is one interval later.
	fc.sleeps = nil
	r, err = l.acquire(ctx, "a.example")
	if err != nil {
		t.Fatal(err)
	}
	if len(fc.sleeps) != 1 || fc.sleeps[0] != iv {
		t.Errorf("after releases: sleeps %v, want [%v]", fc.sleeps, iv)
	}
	r()
	// Idle hosts are remembered until their interval has passed (so it still holds), and
	// forgotten by the sweep after that.
	l.mu.Lock()
	l.sweepLocked()
	l.mu.Unlock()
	// The clock now stands at b.example's next start: it is forgotten, a.example is not.
	if n := l.size(); n != 1 {
		t.Errorf("hosts within their interval after a sweep: %d, want 1", n)
	}
	fc.t = fc.t.Add(time.Hour)
	l.mu.Lock()
	l.sweepLocked()
	l.mu.Unlock()
	if n := l.size(); n != 0 {
		t.Errorf("idle hosts remembered after their interval: %d", n)
	}
}

func TestLimiterConcurrencyAndCancel(t *testing.T) {
	l, _ := newFakeLimiter(2, 0)
	ctx := context.Background()
	r1, _ := l.acquire(ctx, "h")
	r2, _ := l.acquire(ctx, "h")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.acquire(cctx, "h"); !errors.Is(err, context.Canceled) {
		t.Fatalf("third acquire with both slots held: %v, want canceled", err)
	}
	r1()
	r3, err := l.acquire(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	r2()
	r3()
	if n := l.size(); n != 0 {
		t.Errorf("hosts remembered: %d", n)
	}
}
