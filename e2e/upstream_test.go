package e2e

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Addresses every name resolves to at the local upstream.
const (
	upstreamA    = "192.0.2.44" // not 192.0.2.1, the RPZ canary's address (feed/rpz.CanaryAddr)
	upstreamAAAA = "2001:db8::1"
)

// upstreamCNAMEs are the names the local upstream answers with an alias (and the target's A
// record, as a recursive resolver would).
var upstreamCNAMEs = map[string]string{
	"alias-ok.example.":    "target.example.",
	"alias-adult.example.": "cdn.adult.example.", // an allowed name that leads into a blocked one
}

// upstream is a recursive resolver stand-in on loopback: UDP and TCP on one port, A upstreamA
// and AAAA 2001:db8::1 for any name, CNAMEs for upstreamCNAMEs, NXDOMAIN for names under nx.
type upstream struct {
	addr string
	ttl  atomic.Uint32
	down atomic.Bool // silent: questions are read and never answered, like a dead resolver

	mu      sync.Mutex
	queries map[string]int // lower-case name → questions received

	udp, tcp  *dns.Server
	closeOnce sync.Once
}

func startUpstream(t *testing.T, ttl uint32) *upstream {
	t.Helper()
	u := &upstream{queries: map[string]int{}}
	u.ttl.Store(ttl)
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		if try == 20 {
			t.Fatalf("no port free for both UDP and TCP: %v", err)
		}
	}
	u.addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(u.serveDNS)
	u.udp = &dns.Server{PacketConn: pc, Handler: h}
	u.tcp = &dns.Server{Listener: ln, Handler: h}
	started := make(chan struct{}, 2)
	u.udp.NotifyStartedFunc = func() { started <- struct{}{} }
	u.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go func() { _ = u.udp.ActivateAndServe() }()
	go func() { _ = u.tcp.ActivateAndServe() }()
	for range 2 {
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("local upstream did not start")
		}
	}
	t.Cleanup(u.close)
	return u
}

// close shuts the upstream down for good: its port answers ICMP unreachable / RST.
func (u *upstream) close() {
	u.closeOnce.Do(func() {
		_ = u.udp.Shutdown()
		_ = u.tcp.Shutdown()
	})
}

// asked returns how many questions for name (any type) reached the upstream.
func (u *upstream) asked(name string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.queries[dns.Fqdn(strings.ToLower(name))]
}

// total returns how many questions reached the upstream.
func (u *upstream) total() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, c := range u.queries {
		n += c
	}
	return n
}

func (u *upstream) serveDNS(w dns.ResponseWriter, r *dns.Msg) {
	if len(r.Question) != 1 {
		return
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	u.mu.Lock()
	u.queries[name]++
	u.mu.Unlock()
	if u.down.Load() {
		return
	}
	ttl := u.ttl.Load()
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	hdr := func(owner string, typ uint16) dns.RR_Header {
		return dns.RR_Header{Name: owner, Rrtype: typ, Class: dns.ClassINET, Ttl: ttl}
	}
	owner := q.Name
	switch {
	case strings.HasPrefix(name, "nx."):
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{&dns.SOA{Hdr: hdr("example.", dns.TypeSOA), Ns: "ns.example.", Mbox: "host.example.", Serial: 1, Refresh: 60, Retry: 60, Expire: 60, Minttl: ttl}}
	default:
		if target, ok := upstreamCNAMEs[name]; ok {
			m.Answer = append(m.Answer, &dns.CNAME{Hdr: hdr(owner, dns.TypeCNAME), Target: target})
			owner = target
		}
		switch q.Qtype {
		case dns.TypeA:
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(owner, dns.TypeA), A: net.ParseIP(upstreamA)})
		case dns.TypeAAAA:
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(owner, dns.TypeAAAA), AAAA: net.ParseIP(upstreamAAAA)})
		}
	}
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(1232, opt.Do())
	}
	_ = w.WriteMsg(m)
}
