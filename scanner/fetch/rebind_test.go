package fetch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// flipDNS is a DNS server on loopback whose A answer for every name is first (the first
// query) and then second (every later query); AAAA queries get no answer. second may hold
// several addresses, answered together.
type flipDNS struct {
	first    netip.Addr
	second   []netip.Addr
	aQueries atomic.Int32
	resolver *net.Resolver
}

func startFlipDNS(t *testing.T, first string, second ...string) *flipDNS {
	t.Helper()
	f := &flipDNS{first: netip.MustParseAddr(first)}
	for _, s := range second {
		f.second = append(f.second, netip.MustParseAddr(s))
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if len(q.Question) == 1 && q.Question[0].Qtype == dns.TypeA {
			as := f.second
			if f.aQueries.Add(1) == 1 {
				as = []netip.Addr{f.first}
			}
			for _, a := range as {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 0},
					A:   a.AsSlice(),
				})
			}
		}
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	addr := pc.LocalAddr().String()
	f.resolver = &net.Resolver{
		PreferGo: true, // so that Dial below is the only way the resolver asks
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr)
		},
	}
	return f
}

// TestDNSRebindingRefusedAtDial: the name's answer changes between a check and the
// connection. A guard that resolved the name, checked the answer and then let the
// transport resolve again would be fooled: its check sees a public address and the
// connection goes to 127.0.0.1. (The public address is 93.184.215.14, not a TEST-NET one:
// those are on the deny list, so a check would refuse them. It is never dialled: only the
// first query gets it, and the test makes that query itself.)
//
// What the test proves: (1) the resolver really does change its answer: the test's own
// look-up, standing for such an earlier check, gets the public address, and the guard's
// address check accepts it; (2) the fetch then asks the resolver again (the count of A
// queries grows), is handed 127.0.0.1, and is refused with a BlockedError naming
// 127.0.0.1 — the address being connected — by the production guard; (3) the loopback
// server listening there receives no request. The decision is the dial-time one: nothing
// else in the client saw 127.0.0.1.
func TestDNSRebindingRefusedAtDial(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := serverPort(t, srv)
	f := startFlipDNS(t, "93.184.215.14", "127.0.0.1")

	c, err := New(Options{Ports: []int{80, 443, port}, Resolver: f.resolver, HostInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// (1) the "earlier check".
	addrs, err := f.resolver.LookupNetIP(context.Background(), "ip4", "rebind.test")
	if err != nil || len(addrs) != 1 || addrs[0] != f.first {
		t.Fatalf("first look-up: %v %v", addrs, err)
	}
	if err := c.guard.check(netip.AddrPortFrom(addrs[0], uint16(port))); err != nil {
		t.Fatalf("the first answer should pass a check: %v", err)
	}
	before := f.aQueries.Load()

	// (2) the fetch.
	_, err = c.Fetch(context.Background(), fmt.Sprintf("http://rebind.test:%d/", port), FetchOptions{})
	var be *BlockedError
	if !errors.As(err, &be) || be.Addr != fmt.Sprintf("127.0.0.1:%d", port) {
		t.Fatalf("fetch after the answer changed: %v, want a refusal of 127.0.0.1:%d", err, port)
	}
	if f.aQueries.Load() <= before {
		t.Errorf("the fetch did not resolve the name itself")
	}
	// (3)
	if hits.Load() != 0 {
		t.Errorf("the loopback server was reached")
	}
}

// TestDialDecidesNotEarlierAnswers is the converse, with the test-only loopback allowance:
// the first answer (10.0.0.1) would be refused, the one the connection uses (127.0.0.1) is
// allowed. The fetch succeeds and its capture names 127.0.0.1: no refusal was carried over
// from an earlier answer, so the connected address is what the guard judges.
func TestDialDecidesNotEarlierAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	port := serverPort(t, srv)
	f := startFlipDNS(t, "10.0.0.1", "127.0.0.1")
	c := newTestClient(t, Options{Resolver: f.resolver}, srv)

	addrs, err := f.resolver.LookupNetIP(context.Background(), "ip4", "flip.test")
	if err != nil || len(addrs) != 1 || c.guard.checkAddr(addrs[0], "") == nil {
		t.Fatalf("first look-up should give a refused address: %v %v", addrs, err)
	}
	capt, err := c.Fetch(context.Background(), fmt.Sprintf("http://flip.test:%d/", port), FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("127.0.0.1:%d", port); capt.RemoteAddr != want || string(capt.Body) != "ok" {
		t.Errorf("remote %s body %q, want %s", capt.RemoteAddr, capt.Body, want)
	}
}

// TestEveryAddressOfAnAnswerChecked: a name with several addresses is dialled address by
// address, and each attempt passes the guard. With the test allowance, 10.0.0.1 is refused
// and 127.0.0.1 used (whatever order the resolver sorts them in); with the production
// guard both are refused. An allowed address does not open the others, and a refused one
// does not stop the dialer from trying the next.
func TestEveryAddressOfAnAnswerChecked(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := serverPort(t, srv)

	f := startFlipDNS(t, "10.0.0.1", "10.0.0.1", "127.0.0.1")
	f.aQueries.Store(1) // every query gets both addresses
	c := newTestClient(t, Options{Resolver: f.resolver}, srv)
	capt, err := c.Fetch(context.Background(), fmt.Sprintf("http://multi.test:%d/", port), FetchOptions{})
	if err != nil || capt.RemoteAddr != fmt.Sprintf("127.0.0.1:%d", port) {
		t.Fatalf("allowance: %v, remote %v", err, capt)
	}

	prod, err := New(Options{Ports: []int{80, 443, port}, Resolver: f.resolver, HostInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	before := hits.Load()
	if _, err := prod.Fetch(context.Background(), fmt.Sprintf("http://multi.test:%d/", port), FetchOptions{}); !errors.Is(err, ErrBlocked) {
		t.Errorf("production: %v, want ErrBlocked", err)
	}
	if hits.Load() != before {
		t.Error("production guard let a request through")
	}
}
