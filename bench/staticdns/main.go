// Command staticdns is the bare static DNS responder of the benchmark: a plain miekg/dns
// dns.Server over UDP that answers every query with one fixed A record (NOERROR).
//
// It plays two roles in bench/dnsbench, always as separate processes:
//
//   - the Go ceiling: what a responder on the same DNS library as kidshield does with no
//     filtering, no cache and no statistics. The baseline is miekg/dns's defaults: one UDP
//     socket read by one goroutine, one goroutine per packet (-sockets 1).
//   - the local upstream of kidshield and Unbound: it answers any name, so every cache miss
//     gets an answer without leaving the machine.
//
// -sockets N > 1 opens N SO_REUSEPORT sockets on the same address, each served by its own
// dns.Server (what kidshield does with one socket per CPU); it is not the baseline.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/miekg/dns"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5300", "UDP address to answer on")
	sockets := flag.Int("sockets", 1, "UDP sockets (1: miekg/dns defaults, the baseline; >1: SO_REUSEPORT sockets, one dns.Server each)")
	answer := flag.String("answer", "192.0.2.1", "the IPv4 address of the A record in every answer")
	ttl := flag.Uint("ttl", 3600, "TTL of the answer record")
	flag.Parse()

	ip := net.ParseIP(*answer).To4()
	if ip == nil {
		log.Fatalf("staticdns: -answer %q is not an IPv4 address", *answer)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.RecursionAvailable = true
		if len(req.Question) == 1 {
			q := req.Question[0]
			m.Answer = []dns.RR{&dns.A{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: uint32(*ttl)},
				A:   ip,
			}}
		}
		_ = w.WriteMsg(m)
	})

	n := max(*sockets, 1)
	errc := make(chan error, n)
	started := make(chan struct{}, n)
	servers := make([]*dns.Server, n)
	for i := range servers {
		s := &dns.Server{Addr: *addr, Net: "udp", Handler: h, ReusePort: n > 1,
			NotifyStartedFunc: func() { started <- struct{}{} }}
		servers[i] = s
		go func() { errc <- s.ListenAndServe() }()
	}
	for range n {
		select {
		case <-started:
		case err := <-errc:
			log.Fatalf("staticdns: %v", err)
		}
	}
	fmt.Fprintf(os.Stderr, "staticdns: answering on %s (udp, %d socket(s)) with A %s\n", *addr, n, ip)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case err := <-errc:
		log.Fatalf("staticdns: %v", err)
	}
	for _, s := range servers {
		_ = s.Shutdown()
	}
}
