package subscribe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/feed/httpfeed"
)

// endlessPrimary answers every transfer with the zone's SOA and then records without end (the
// closing SOA never comes), a message every pause.
func endlessPrimary(t *testing.T, pause time.Duration) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				dc := &dns.Conn{Conn: c}
				q, err := dc.ReadMsg()
				if err != nil {
					return
				}
				// The zone's SOA, then records for ever: the closing SOA never comes.
				first := new(dns.Msg).SetReply(q)
				first.Answer = []dns.RR{soa(1)}
				if dc.WriteMsg(first) != nil {
					return
				}
				for i := 0; ; i++ {
					m := new(dns.Msg).SetReply(q)
					for j := range 100 {
						m.Answer = append(m.Answer, rr("n"+itoa(i)+"-"+itoa(j)+".example."+testZone+" 300 IN CNAME ."))
					}
					if dc.WriteMsg(m) != nil {
						return
					}
					time.Sleep(pause)
				}
			}()
		}
	}()
	return ln
}

// A hostile primary streaming records without end must not fill the node's memory within the
// transfer's timeout: the transfer stops at MaxRecords.
func TestEndlessTransferRefusedSec(t *testing.T) {
	ln := endlessPrimary(t, 0)
	s, err := New(Options{
		Subscribe: config.Subscribe{Source: "rpz://" + ln.Addr().String() + "/" + testZone, Refresh: time.Hour},
		Dir:       t.TempDir(), Logger: testLog(t), Timeout: 20 * time.Second, MaxRecords: 5000,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Refresh(t.Context())
	if err == nil || !strings.Contains(err.Error(), "more than 5000 records") {
		t.Fatalf("endless transfer: %v, want it refused at 5000 records", err)
	}
	if s.Current() != nil {
		t.Error("a copy was taken from an endless transfer")
	}
}

// The transfer's Timeout must end a transfer that keeps arriving slowly (each message well
// within the per-read timeout) below MaxRecords.
func TestSlowEndlessTransferTimesOutSec(t *testing.T) {
	ln := endlessPrimary(t, 20*time.Millisecond)
	s, err := New(Options{
		Subscribe: config.Subscribe{Source: "rpz://" + ln.Addr().String() + "/" + testZone, Refresh: time.Hour},
		Dir:       t.TempDir(), Logger: testLog(t), Timeout: 2 * time.Second, MaxRecords: 1 << 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Refresh(t.Context()); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("an endless transfer succeeded")
		}
	case <-time.After(60 * time.Second): // generous: the timeout is 2s
		t.Fatal("a transfer that never ends outlived its 2s timeout by a minute")
	}
}

// The feed token must not follow a redirect: net/http forwards Authorization to the same host
// name on another port or scheme (http://, in clear) and to subdomains.
func TestNoRedirectWithTokenSec(t *testing.T) {
	var leaked atomic.Value
	leaked.Store("")
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			leaked.Store(a)
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(other.Close)
	pub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(pub.Close)
	signer, err := httpfeed.LoadSigner(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{
		Subscribe: config.Subscribe{Source: pub.URL + "/feed/v1", Token: "feed-token-secret", PublicKey: signer.PublicPEM(), Refresh: time.Hour},
		Dir:       t.TempDir(), Logger: testLog(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refresh(t.Context()); err == nil {
		t.Error("a redirected feed was taken")
	}
	if got := leaked.Load().(string); got != "" {
		t.Errorf("the token followed the redirect to another server: %q", got)
	}
	// The policy subscriber shares the fetch.
	ps, err := NewPolicy(PolicyOptions{URL: pub.URL + "/feed/v1", Token: "feed-token-secret", PublicKey: signer.PublicPEM(), Dir: t.TempDir(), Logger: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = ps.Refresh(t.Context())
	if got := leaked.Load().(string); got != "" {
		t.Errorf("the policy token followed the redirect to another server: %q", got)
	}
}

// Anyone who reaches listen_notify can send NOTIFY: a flood must not make the node ask the
// primary once per NOTIFY.
func TestNotifyFloodRateLimitedSec(t *testing.T) {
	var asked atomic.Int32
	fp := startFake(t)
	fp.answer = func(q *dns.Msg) ([]*dns.Msg, int) {
		asked.Add(1)
		if q.Question[0].Qtype == dns.TypeAXFR {
			return []*dns.Msg{msg(soa(1), rr("bad.example."+testZone+" 300 IN CNAME ."), soa(1))}, 0
		}
		return []*dns.Msg{msg(soa(1))}, 0 // current
	}
	changed := make(chan *List, 10)
	s, err := New(Options{
		Subscribe: config.Subscribe{Source: "rpz://" + fp.ln.Addr().String() + "/" + testZone, Refresh: time.Hour, ListenNotify: "127.0.0.1:0"},
		Dir:       t.TempDir(), Logger: testLog(t), OnChange: func(l *List) { changed <- l },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	<-changed
	naddr := <-s.notifyAddr
	asked.Store(0)
	start := time.Now()
	c := &dns.Client{Timeout: time.Second}
	const flood = 50
	for range flood {
		m := new(dns.Msg)
		m.SetNotify(testZone)
		if _, _, err := c.Exchange(m, naddr); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	// One refresh per notifyGap, plus the one scheduled at the end of the last gap.
	allowed := int32(elapsed/notifyGap) + 2
	time.Sleep(200 * time.Millisecond)
	if got := asked.Load(); got > allowed || got == 0 {
		t.Errorf("%d NOTIFYs in %s made %d refreshes; want 1..%d", flood, elapsed.Round(time.Millisecond), got, allowed)
	}
}
