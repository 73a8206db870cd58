package upstream

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeUpstream answers through fn and counts calls.
type fakeUpstream struct {
	name  string
	calls atomic.Int32
	mu    sync.Mutex
	fn    func(ctx context.Context, m *dns.Msg) (*dns.Msg, error)
}

func (f *fakeUpstream) String() string { return f.name }

func (f *fakeUpstream) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	f.calls.Add(1)
	f.mu.Lock()
	fn := f.fn
	f.mu.Unlock()
	return fn(ctx, m)
}

func (f *fakeUpstream) set(fn func(ctx context.Context, m *dns.Msg) (*dns.Msg, error)) {
	f.mu.Lock()
	f.fn = fn
	f.mu.Unlock()
}

func okFn(addr string) func(context.Context, *dns.Msg) (*dns.Msg, error) {
	return func(_ context.Context, m *dns.Msg) (*dns.Msg, error) { return replyA(m, addr), nil }
}

var errDown = errors.New("connection refused")

func failFn(context.Context, *dns.Msg) (*dns.Msg, error) { return nil, errDown }

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestPoolFailoverRealServers(t *testing.T) {
	good := udpServer(t, answer("192.0.2.20", nil))
	servfail := udpServer(t, rcode(dns.RcodeServerFailure))
	refused := udpServer(t, rcode(dns.RcodeRefused))
	closed := closedPort(t)
	tcpClosed := closedPort(t)

	mk := func(specs ...string) *Pool {
		var ups []Upstream
		for _, s := range specs {
			u, err := Parse(s, Options{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ups = append(ups, u)
		}
		p := NewPool(ups, PoolOptions{})
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
	for _, tc := range []struct {
		name  string
		specs []string
	}{
		{"closed udp port", []string{closed, good}},
		{"closed tcp port", []string{"tcp://" + tcpClosed, good}},
		{"servfail", []string{servfail, good}},
		{"refused", []string{refused, good}},
		{"all three", []string{closed, servfail, refused, good}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mk(tc.specs...)
			r, err := p.Exchange(context.Background(), query("www.example.com", dns.TypeA))
			if err != nil {
				t.Fatal(err)
			}
			wantA(t, r, "192.0.2.20")
			st := p.Status()
			for i := range len(st) - 1 {
				if st[i].ConsecutiveFailures != 1 || st[i].LastError == "" || st[i].Failures != 1 {
					t.Errorf("status[%d] = %+v, want one failure", i, st[i])
				}
			}
			last := st[len(st)-1]
			if !last.Healthy || last.Queries != 1 || last.Failures != 0 {
				t.Errorf("status of the good upstream = %+v", last)
			}
		})
	}

	t.Run("all fail", func(t *testing.T) {
		p := mk(closed, servfail)
		_, err := p.Exchange(context.Background(), query("www.example.com", dns.TypeA))
		var pe *PoolError
		if !errors.As(err, &pe) || len(pe.Errs) != 2 {
			t.Fatalf("err = %v, want a PoolError with 2 errors", err)
		}
		for _, name := range []string{"udp://" + closed, "udp://" + servfail, "answered SERVFAIL", "all 2 upstreams"} {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not mention %q", err, name)
			}
		}
		var re *RcodeError
		if !errors.As(err, &re) || re.Rcode != dns.RcodeServerFailure {
			t.Errorf("error does not unwrap to the SERVFAIL: %v", err)
		}
	})
}

func TestPoolMarksDownAndRetriesAfterBackoff(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	a := &fakeUpstream{name: "a", fn: failFn}
	b := &fakeUpstream{name: "b", fn: okFn("192.0.2.2")}
	p := NewPool([]Upstream{a, b}, PoolOptions{FailThreshold: 2, Backoff: 10 * time.Second, Clock: clk.Now})
	ex := func() {
		t.Helper()
		r, err := p.Exchange(context.Background(), query("x.example", dns.TypeA))
		if err != nil {
			t.Fatal(err)
		}
		wantA(t, r, "192.0.2.2")
	}

	ex()
	ex() // second consecutive failure: a is down
	if st := p.Status()[0]; st.Healthy || st.ConsecutiveFailures != 2 || st.LastError != errDown.Error() {
		t.Fatalf("a = %+v, want down after 2 failures", st)
	}
	ex()
	ex()
	if n := a.calls.Load(); n != 2 {
		t.Fatalf("a called %d times while down, want 2 (skipped)", n)
	}

	clk.Advance(9 * time.Second)
	ex()
	if n := a.calls.Load(); n != 2 {
		t.Fatalf("a probed before the backoff ended")
	}
	clk.Advance(time.Second)
	ex() // probe: fails, backoff restarts
	if n := a.calls.Load(); n != 3 {
		t.Fatalf("a not probed after the backoff (calls %d)", n)
	}
	ex()
	if n := a.calls.Load(); n != 3 {
		t.Fatalf("a probed again right after a failed probe")
	}

	a.set(okFn("192.0.2.1"))
	clk.Advance(10 * time.Second)
	r, err := p.Exchange(context.Background(), query("x.example", dns.TypeA))
	if err != nil {
		t.Fatal(err)
	}
	wantA(t, r, "192.0.2.1") // the probe's answer is used
	if st := p.Status()[0]; !st.Healthy || st.ConsecutiveFailures != 0 {
		t.Errorf("a = %+v, want healthy after a good probe", st)
	}
	r, _ = p.Exchange(context.Background(), query("x.example", dns.TypeA))
	wantA(t, r, "192.0.2.1")
}

func TestPoolOneProbeAtATime(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	release := make(chan struct{})
	a := &fakeUpstream{name: "a", fn: failFn}
	b := &fakeUpstream{name: "b", fn: okFn("192.0.2.2")}
	p := NewPool([]Upstream{a, b}, PoolOptions{FailThreshold: 1, Backoff: time.Second, Clock: clk.Now})
	_, _ = p.Exchange(context.Background(), query("x.example", dns.TypeA)) // a down
	clk.Advance(time.Second)
	started := make(chan struct{})
	a.set(func(_ context.Context, m *dns.Msg) (*dns.Msg, error) {
		close(started)
		<-release
		return nil, errDown
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = p.Exchange(context.Background(), query("x.example", dns.TypeA))
	}()
	<-started
	// While the probe is in flight other queries go straight to b.
	for range 3 {
		r, err := p.Exchange(context.Background(), query("x.example", dns.TypeA))
		if err != nil {
			t.Fatal(err)
		}
		wantA(t, r, "192.0.2.2")
	}
	close(release)
	<-done
	if n := a.calls.Load(); n != 2 {
		t.Errorf("a called %d times, want 2 (one failure, one probe)", n)
	}
}

func TestPoolAllDownStillTries(t *testing.T) {
	a := &fakeUpstream{name: "a", fn: failFn}
	b := &fakeUpstream{name: "b", fn: failFn}
	clk := &fakeClock{now: time.Unix(1000, 0)}
	p := NewPool([]Upstream{a, b}, PoolOptions{FailThreshold: 1, Clock: clk.Now})
	if _, err := p.Exchange(context.Background(), query("x.example", dns.TypeA)); err == nil {
		t.Fatal("want an error")
	}
	b.set(okFn("192.0.2.2"))
	r, err := p.Exchange(context.Background(), query("x.example", dns.TypeA))
	if err != nil {
		t.Fatalf("all down: %v", err)
	}
	wantA(t, r, "192.0.2.2")
	if a.calls.Load() != 2 || !p.Status()[1].Healthy || p.Status()[0].Healthy {
		t.Errorf("calls %d status %+v", a.calls.Load(), p.Status())
	}
}

func TestPoolCallerCancelIsNotAFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	a := &fakeUpstream{name: "a", fn: func(ctx context.Context, _ *dns.Msg) (*dns.Msg, error) {
		cancel()
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	b := &fakeUpstream{name: "b", fn: okFn("192.0.2.2")}
	p := NewPool([]Upstream{a, b}, PoolOptions{FailThreshold: 1})
	_, err := p.Exchange(ctx, query("x.example", dns.TypeA))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if st := p.Status()[0]; !st.Healthy || st.ConsecutiveFailures != 0 || b.calls.Load() != 0 {
		t.Errorf("a = %+v, b calls %d: cancellation counted against the upstream", st, b.calls.Load())
	}
}

func TestPoolTimeoutFailsOver(t *testing.T) {
	slow, err := Parse(blackhole(t), Options{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := Parse(udpServer(t, answer("192.0.2.21", nil)), Options{})
	p := NewPool([]Upstream{slow, good}, PoolOptions{})
	r, err := p.Exchange(context.Background(), query("x.example", dns.TypeA))
	if err != nil {
		t.Fatal(err)
	}
	wantA(t, r, "192.0.2.21")
	if !strings.Contains(p.Status()[0].LastError, "timeout") {
		t.Errorf("last error %q", p.Status()[0].LastError)
	}
}

func TestPoolAvgRTT(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	rtt := 80 * time.Millisecond
	a := &fakeUpstream{name: "a", fn: func(_ context.Context, m *dns.Msg) (*dns.Msg, error) {
		clk.Advance(rtt)
		return replyA(m, "192.0.2.1"), nil
	}}
	p := NewPool([]Upstream{a}, PoolOptions{Clock: clk.Now})
	_, _ = p.Exchange(context.Background(), query("x.example", dns.TypeA))
	if got := p.Status()[0].AvgRTT; got != 80*time.Millisecond {
		t.Errorf("AvgRTT = %v after one exchange, want 80ms", got)
	}
	rtt = 0
	_, _ = p.Exchange(context.Background(), query("x.example", dns.TypeA))
	if got := p.Status()[0].AvgRTT; got != 70*time.Millisecond {
		t.Errorf("AvgRTT = %v, want 70ms (1/8 weight)", got)
	}
}

func TestPoolMisc(t *testing.T) {
	p := NewPool(nil, PoolOptions{})
	if _, err := p.Exchange(context.Background(), query("x.example", dns.TypeA)); err == nil {
		t.Error("empty pool: no error")
	}
	a, _ := Parse("1.2.3.4", Options{})
	b, _ := Parse("tls://9.9.9.9#dns.quad9.net", Options{})
	p = NewPool([]Upstream{a, b}, PoolOptions{})
	if got := p.String(); got != "pool(udp://1.2.3.4:53, tls://9.9.9.9:853#dns.quad9.net)" {
		t.Errorf("String() = %q", got)
	}
	if err := p.Close(); err != nil {
		t.Error(err)
	}
}

func TestPoolConcurrent(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	var n atomic.Int32
	flaky := &fakeUpstream{name: "flaky", fn: func(_ context.Context, m *dns.Msg) (*dns.Msg, error) {
		if n.Add(1)%3 == 0 {
			return nil, errDown
		}
		return replyA(m, "192.0.2.1"), nil
	}}
	good := &fakeUpstream{name: "good", fn: okFn("192.0.2.2")}
	p := NewPool([]Upstream{flaky, good}, PoolOptions{FailThreshold: 2, Backoff: time.Millisecond, Clock: clk.Now})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				clk.Advance(time.Millisecond)
				if _, err := p.Exchange(context.Background(), query("x.example", dns.TypeA)); err != nil {
					t.Error(err)
					return
				}
				_ = p.Status()
			}
		})
	}
	wg.Wait()
}
