package rpz

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/store"
)

// bigList is a list whose AXFR (~2 records a name) is far larger than the socket buffers of
// a loopback connection, so a consumer that does not read stalls the transfer.
func bigList(n int) *fakeList {
	fl := newFakeList()
	for i := range n {
		fl.add(store.ListDomain, fmt.Sprintf("name-%07d.example", i))
	}
	return fl
}

// stall opens a TCP connection, asks for the zone (signed, as a member) and never reads.
func stall(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A small receive window: the server's writes block once its send buffer is full.
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	co := &dns.Conn{Conn: c, TsigSecret: map[string]string{testKey: testSecret}}
	if err := co.WriteMsg(signed(axfrQ())); err != nil {
		t.Fatal(err)
	}
}

// waitSending waits until a transfer is being sent (the stalled one), so the next one is second.
func waitSending(t *testing.T, s *Server) {
	t.Helper()
	for range 2000 {
		s.xferMu.Lock()
		n := s.xfers
		s.xferMu.Unlock()
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the stalled transfer never started")
}

// axfrRcode runs a signed AXFR and returns the rcode of its first message and whether the whole
// transfer arrived.
func axfrRcode(t *testing.T, addr string) (int, bool) {
	t.Helper()
	got, err := xfr(t, addr, axfrQ(), testSecret)
	if err != nil {
		if strings.Contains(err.Error(), "xfr rcode: 5") {
			return dns.RcodeRefused, false
		}
		t.Logf("transfer: %v", err)
		return -1, false
	}
	return dns.RcodeSuccess, len(got) > 2
}

// A member (or its compromised resolver) opening transfers without reading them must not take
// every transfer slot and the memory of a zone version each: beyond the bounds it is REFUSED.
func TestTransferBoundsSec(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(*Options)
	}{
		{"per member", func(o *Options) { o.MaxMemberTransfers = 1 }},
		{"in all", func(o *Options) { o.MaxTransfers = 1 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, addr, logs := startServer(t, bigList(100000), func(o *Options) { c.mod(o); o.WriteTimeout = time.Minute })
			stall(t, addr)
			waitSending(t, s)
			deadline := time.Now().Add(20 * time.Second)
			for {
				rc, _ := axfrRcode(t, addr)
				if rc == dns.RcodeRefused {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("a second transfer was never refused while the first one stalled")
				}
			}
			if !logged(logs, "too many transfers at once") {
				t.Error("the refusal's reason was not logged")
			}
		})
	}
}

// A consumer that stops reading is cut off after WriteTimeout: its transfer slot comes back.
func TestStalledReaderReleasedSec(t *testing.T) {
	s, addr, _ := startServer(t, bigList(100000), func(o *Options) {
		o.MaxTransfers = 1
		o.WriteTimeout = 300 * time.Millisecond
	})
	stall(t, addr)
	waitSending(t, s)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if rc, whole := axfrRcode(t, addr); rc == dns.RcodeSuccess && whole {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the stalled transfer kept its slot: no other transfer could run")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// badSigWriter is a fuzzWriter whose query failed TSIG verification.
type badSigWriter struct{ fuzzWriter }

func (w *badSigWriter) TsigStatus() error { return dns.ErrSig }

// Refusals from many sources (spoofed UDP sources cost nothing) and queries with made-up
// signatures must not write a log line each.
func TestRefusalLogBoundedSec(t *testing.T) {
	fl := newFakeList()
	fl.add(store.ListDomain, "bad.example")
	s, _, logs := startServer(t, fl, nil)
	local := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	const n = 500
	for i := range n {
		remote := &net.UDPAddr{IP: net.IPv4(198, 18, byte(i>>8), byte(i)), Port: 4000}
		s.ServeDNS(&fuzzWriter{local: local, remote: remote}, axfrQ())
		bad := signed(axfrQ())
		remote = &net.UDPAddr{IP: net.IPv4(198, 19, byte(i>>8), byte(i)), Port: 4000}
		s.ServeDNS(&badSigWriter{fuzzWriter{local: local, remote: remote}}, bad)
	}
	lines := strings.Count(logs.String(), "feed query refused") + strings.Count(logs.String(), "bad signature refused")
	if lines == 0 || lines > maxRefusalLines {
		t.Errorf("%d refusal lines for %d refused queries from %d sources; want 1..%d", lines, 2*n, 2*n, maxRefusalLines)
	}
}

// An IXFR answered with the current SOA alone is every poll, and over UDP anyone can send it
// with a member's address as source: it must not write an Info line each.
func TestCurrentPollNotLoggedAtInfoSec(t *testing.T) {
	fl := newFakeList()
	fl.add(store.ListDomain, "bad.example")
	s, _, logs := startServer(t, fl, nil)
	local := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	member := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 4000} // "unbound", by address
	for range 100 {
		w := &fuzzWriter{local: local, remote: member}
		s.ServeDNS(w, ixfrQ(uint32(s.Zone().Serial)))
		if len(w.out) != 1 || len(w.out[0].Answer) != 1 {
			t.Fatalf("IXFR of the current serial: %v", w.out)
		}
	}
	if n := strings.Count(logs.String(), "level=INFO msg=\"feed transfer\""); n > 0 {
		t.Errorf("%d Info lines for 100 polls of the current serial", n)
	}
}

// Close right after Start must return: miekg/dns refuses to shut down a server that has not
// marked itself started yet, and the primary then waited for ever on its listener.
func TestCloseRightAfterStartSec(t *testing.T) {
	fl := newFakeList()
	fl.add(store.ListDomain, "bad.example")
	for range 50 {
		s := New(Options{Serial: fl.ListSerial, Snapshot: fl.ListSnapshot, Params: testParams(), Listen: []string{"127.0.0.1:0"},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err := s.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { s.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second): // generous: Close waits 5s at most for handlers
			t.Fatal("Close right after Start never returned")
		}
	}
}
