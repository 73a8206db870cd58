package fetch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mutClock is a clock for Client.now that moves only when a test handler says so.
type mutClock struct {
	mu sync.Mutex
	t  time.Time
}

func (m *mutClock) now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t
}

func (m *mutClock) advance(d time.Duration) {
	m.mu.Lock()
	m.t = m.t.Add(d)
	m.mu.Unlock()
}

// mutBudgetServer: /first takes "spend" of the fake clock and redirects to /second, which
// answers "ok" unless block is set: then it sends a first byte and waits for the client to give up.
func mutBudgetServer(t *testing.T, clk *mutClock, spend time.Duration, block bool, secondHits *atomic.Int32) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/first":
			clk.advance(spend)
			http.Redirect(w, r, "/second", http.StatusFound)
		case "/second":
			secondHits.Add(1)
			if block {
				// Headers and a first byte, then a stall: the header timeout does not
				// apply, only the time cap can end the fetch.
				w.Write([]byte("start"))
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
				case <-release:
				}
				return
			}
			w.Write([]byte("ok"))
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv
}

// The time cap is one budget for all hops (30 s by default): what the first hop used is
// not available to the second. The clock is fake, so nothing here depends on real time
// except the last case, where the second hop gets what is left of the budget.
func TestTimeCapIsSharedByAllHops(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		opts    Options
		spend   time.Duration
		timeout bool
	}{
		{"default cap, 25s used by the first hop", Options{}, 25 * time.Second, false},
		{"default cap, 30s used by the first hop", Options{}, 30 * time.Second, true},
		{"5s cap, 5s used", Options{Timeout: 5 * time.Second}, 5 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &mutClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			var second atomic.Int32
			srv := mutBudgetServer(t, clk, tc.spend, false, &second)
			c := newTestClient(t, tc.opts, srv)
			c.now = clk.now
			capt, err := c.Fetch(ctx, srv.URL+"/first", FetchOptions{})
			if tc.timeout {
				if !errors.Is(err, ErrTimeout) || second.Load() != 0 {
					t.Fatalf("err %v, second hop requested %d times: want ErrTimeout before it", err, second.Load())
				}
				return
			}
			if err != nil || string(capt.Body) != "ok" {
				t.Fatalf("err %v: want the second hop fetched", err)
			}
		})
	}
	// A second hop that never answers is cut at what is left of the budget (here 300 ms of
	// a 1 h cap), not at a fresh full cap: with a fresh cap the fetch would run into the
	// caller's own deadline, whose error is not ErrTimeout.
	clk := &mutClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var second atomic.Int32
	srv := mutBudgetServer(t, clk, time.Hour-300*time.Millisecond, true, &second)
	c := newTestClient(t, Options{Timeout: time.Hour}, srv)
	c.now = clk.now
	outer, stop := context.WithTimeout(ctx, 20*time.Second)
	defer stop()
	if _, err := c.Fetch(outer, srv.URL+"/first", FetchOptions{}); !errors.Is(err, ErrTimeout) || second.Load() != 1 {
		t.Fatalf("blocked second hop: %v (requested %d times), want ErrTimeout", err, second.Load())
	}
}

func mutGIFHeader(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	return append(b, 0, 0, 0)
}

// The pixel cap: one pixel over an explicit cap is refused; the default cap is 40 MP
// (docs/scanner.md), so 8000×5000 passes and 6325×6325 (40,005,625) does not.
func TestFetchImagePixelCaps(t *testing.T) {
	bodies := map[string][]byte{
		"/cap.gif":   mutGIFHeader(1000, 1000),
		"/cap1.gif":  mutGIFHeader(101, 9901), // 1,000,001
		"/40mp.gif":  mutGIFHeader(8000, 5000),
		"/40mp1.gif": mutGIFHeader(6325, 6325),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bodies[r.URL.Path])
	}))
	defer srv.Close()
	ctx := context.Background()
	c := newTestClient(t, Options{MaxPixels: 1_000_000}, srv)
	if _, err := c.FetchImage(ctx, srv.URL+"/cap.gif", false); err != nil {
		t.Errorf("exactly the cap: %v", err)
	}
	if _, err := c.FetchImage(ctx, srv.URL+"/cap1.gif", false); !errors.Is(err, ErrTooManyPixels) {
		t.Errorf("one pixel over the cap: %v, want ErrTooManyPixels", err)
	}
	d := newTestClient(t, Options{}, srv)
	if _, err := d.FetchImage(ctx, srv.URL+"/40mp.gif", false); err != nil {
		t.Errorf("40 MP with the default cap: %v", err)
	}
	if _, err := d.FetchImage(ctx, srv.URL+"/40mp1.gif", false); !errors.Is(err, ErrTooManyPixels) {
		t.Errorf("40,005,625 pixels with the default cap: %v, want ErrTooManyPixels", err)
	}
}

// The default page cap is 10 MiB (docs/scanner.md: max_page_bytes 10485760).
func TestDefaultPageCap(t *testing.T) {
	body := bytes.Repeat([]byte("a"), 10<<20+1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(body)
	}))
	defer srv.Close()
	c := newTestClient(t, Options{}, srv)
	capt, err := c.Fetch(context.Background(), srv.URL+"/", FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !capt.Truncated || capt.Bytes != 10<<20 {
		t.Errorf("10 MiB + 1 with the default cap: truncated %v, %d bytes; want cut at %d", capt.Truncated, capt.Bytes, 10<<20)
	}
}

// With no Ports configured only 80 and 443 may be used: any other port is refused by the
// URL policy, before any connection.
func TestDefaultPortsOnly80And443(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, u := range []string{"http://example.com:8080/", "https://example.com:8443/", "http://example.com:22/"} {
		if _, err := c.Fetch(context.Background(), u, FetchOptions{}); !errors.Is(err, ErrBlocked) {
			t.Errorf("%s: %v, want ErrBlocked", u, err)
		}
	}
}
