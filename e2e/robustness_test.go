package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// seed returns the random seed for garbage generation: E2E_SEED, or a fresh one (logged, so a
// failure can be replayed).
func seed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("E2E_SEED"); v != "" {
		var err error
		if s, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("E2E_SEED: %v", err)
		}
	}
	t.Logf("garbage seed %d (replay with E2E_SEED=%d)", s, s)
	return s
}

// validQuery is a well-formed query to mutate.
func validQuery(name string, qtype uint16, edns bool) []byte {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	if edns {
		m.SetEdns0(1232, true)
	}
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return b
}

// crafted are hand-made malformed messages that reach specific parser corners.
func crafted() [][]byte {
	hdr := func(flags uint16, qd, an, ns, ar uint16) []byte {
		b := make([]byte, 12)
		binary.BigEndian.PutUint16(b[0:], 0xbeef)
		binary.BigEndian.PutUint16(b[2:], flags)
		binary.BigEndian.PutUint16(b[4:], qd)
		binary.BigEndian.PutUint16(b[6:], an)
		binary.BigEndian.PutUint16(b[8:], ns)
		binary.BigEndian.PutUint16(b[10:], ar)
		return b
	}
	q := validQuery("example.org", dns.TypeA, false)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	return [][]byte{
		{},
		{0},
		hdr(0x0100, 0, 0, 0, 0)[:11], // short header
		hdr(0x0100, 0, 0, 0, 0),      // no question
		hdr(0x0100, 2, 0, 0, 0),      // claims two, has none
		cat(hdr(0x0100, 2, 0, 0, 0), q[12:], q[12:]),                                                                             // two questions
		cat(hdr(0x8180, 1, 0, 0, 0), q[12:]),                                                                                     // a response (QR set)
		cat(hdr(0x2800, 1, 0, 0, 0), q[12:]),                                                                                     // UPDATE opcode
		cat(hdr(0x2000, 1, 0, 0, 0), q[12:]),                                                                                     // NOTIFY opcode
		cat(hdr(0x0100, 1, 0, 0, 0), []byte{0xc0, 0x0c, 0, 1, 0, 1}),                                                             // pointer to itself
		cat(hdr(0x0100, 1, 0, 0, 0), []byte{0xc0, 0xff, 0, 1, 0, 1}),                                                             // pointer past the end
		cat(hdr(0x0100, 1, 0, 0, 0), []byte{63}, bytes.Repeat([]byte{'a'}, 10)),                                                  // label longer than the message
		cat(hdr(0x0100, 1, 0, 0, 0), []byte{0x40, 'a', 0, 0, 1, 0, 1}),                                                           // reserved label type
		cat(hdr(0x0100, 1, 0, 0, 0), bytes.Repeat([]byte{63}, 300)),                                                              // name longer than 255
		cat(hdr(0x0100, 1, 0, 0, 0), []byte{1, 'a', 0, 0, 1}),                                                                    // question cut in its class
		cat(hdr(0x0100, 1, 0, 0, 0), []byte{1, 'a', 0, 0, 252, 0, 1}),                                                            // AXFR over UDP
		cat(hdr(0x0100, 1, 0, 0, 0), []byte{1, 'a', 0, 0, 255, 0, 1}),                                                            // ANY over UDP
		cat(hdr(0x0100, 1, 0, 0, 0), []byte{1, 'a', 0, 0, 1, 0, 3}),                                                              // class CHAOS
		cat(hdr(0x0100, 1, 0, 0, 1), q[12:], []byte{0, 0, 41, 0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff}),                               // OPT claiming 64 KiB of options
		cat(hdr(0x0100, 1, 0, 0, 1), q[12:], []byte{0, 0, 41, 4, 0, 0, 1, 0, 0, 0, 0}),                                           // EDNS version 1
		cat(hdr(0x0100, 1, 0, 0, 2), q[12:], []byte{0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0}, []byte{0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0}), // two OPTs
		cat(hdr(0x0100, 1, 0xffff, 0xffff, 0xffff), q[12:]),                                                                      // counts far beyond the data
		bytes.Repeat([]byte{0xff}, 512),
		make([]byte, 4096),
	}
}

// garbage returns a random malformed (or accidentally valid) message.
func garbage(r *rand.Rand, craft [][]byte, seeds [][]byte) []byte {
	switch r.IntN(4) {
	case 0: // random bytes
		b := make([]byte, r.IntN(700))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	case 1: // a crafted case
		return craft[r.IntN(len(craft))]
	default: // a valid query with a few bytes flipped, cut or extended
		b := bytes.Clone(seeds[r.IntN(len(seeds))])
		for n := 1 + r.IntN(4); n > 0; n-- {
			b[r.IntN(len(b))] = byte(r.Uint32())
		}
		switch r.IntN(4) {
		case 0:
			b = b[:r.IntN(len(b))]
		case 1:
			b = append(b, make([]byte, r.IntN(64))...)
		}
		return b
	}
}

// TestGarbage: thousands of malformed UDP datagrams, TCP frames, TLS handshakes and DoH bodies
// leave the server running and answering; it never answers a response (no reflection loops).
func TestGarbage(t *testing.T) {
	requireTool(t, "dig", "kdig")
	t.Parallel()
	up := startUpstream(t, 300)
	in := start(t, options{Upstream: up, Body: `
access:
  rate_limit: 1000000
  rate_burst: 1000000
profiles:
  - id: kid
default_profile: kid
`})
	rnd := rand.New(rand.NewPCG(seed(t), 0x6b696473))
	craft := crafted()
	seeds := [][]byte{
		validQuery("www.example.org", dns.TypeA, false),
		validQuery("www.example.org", dns.TypeAAAA, true),
		validQuery("a.b.c.d.example", dns.TypeHTTPS, true),
		validQuery("_dns.resolver.arpa", dns.TypeSVCB, true),
	}
	raddr, err := net.ResolveUDPAddr("udp", in.dnsAddr)
	if err != nil {
		t.Fatal(err)
	}

	// UDP: a bounded burst from one socket; the replies are not read.
	uc, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	for _, b := range craft {
		_, _ = uc.Write(b)
	}
	for range 4000 {
		_, _ = uc.Write(garbage(rnd, craft, seeds))
	}

	// No reflection: responses sent to the server get no answer. They ask for names the
	// filter answers itself, at once, from the socket's read loop; the probe after them needs
	// the upstream, so any answer to them would arrive before the probe's.
	rc, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for i := range 50 {
		m := new(dns.Msg)
		m.SetQuestion([]string{"use-application-dns.net.", "_dns.resolver.arpa."}[i%2], dns.TypeA)
		m.Id = uint16(1000 + i)
		m.Response = true
		if i%3 == 0 {
			m.SetEdns0(1232, false)
		}
		b, _ := m.Pack()
		_, _ = rc.Write(b)
	}
	probe := new(dns.Msg)
	probe.SetQuestion("probe.example.", dns.TypeA)
	probe.Id = 7
	pb, _ := probe.Pack()
	gotProbe := false
	buf := make([]byte, 65535)
	for attempt := 0; attempt < 3 && !gotProbe; attempt++ {
		_, _ = rc.Write(pb)
		_ = rc.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			n, err := rc.Read(buf)
			if err != nil {
				break
			}
			var m dns.Msg
			if m.Unpack(buf[:n]) == nil && m.Id == 7 && len(m.Question) == 1 && m.Question[0].Name == "probe.example." {
				gotProbe = true
				break
			}
			t.Errorf("the server answered a response it was sent (reflection): %x", buf[:min(n, 64)])
		}
	}
	if !gotProbe {
		t.Error("no answer to a normal query after the responses")
	}

	// TCP: malformed frames on short connections.
	frames := func() [][]byte {
		g := garbage(rnd, craft, seeds)
		frame := func(b []byte) []byte {
			return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
		}
		switch rnd.IntN(8) {
		case 0:
			return [][]byte{{0, 0}} // empty frame
		case 1:
			return [][]byte{{0, 1, 0}} // one byte
		case 2:
			return [][]byte{{0xff, 0xff}, g} // announces 64 KiB, sends less, closes
		case 3:
			return [][]byte{{0x00}} // half a length prefix
		case 4:
			return [][]byte{g} // no framing at all
		default: // several framed garbage messages, then a valid query
			out := [][]byte{frame(g), frame(garbage(rnd, craft, seeds)), frame(validQuery("tcp.example", dns.TypeA, true))}
			return out
		}
	}
	// TCP, then DoT: garbage instead of a TLS handshake, and TLS sessions carrying garbage
	// frames. The connections run on a few workers; everything random is drawn up front.
	type conn struct {
		addr   string
		tls    bool
		frames [][]byte
	}
	var conns []conn
	for range 300 {
		conns = append(conns, conn{addr: in.dnsAddr, frames: frames()})
	}
	for range 50 {
		conns = append(conns, conn{addr: in.dotAddr, frames: [][]byte{garbage(rnd, craft, seeds)}})
	}
	for range 30 {
		conns = append(conns, conn{addr: in.dotAddr, tls: true, frames: frames()})
	}
	work := make(chan conn)
	var wg sync.WaitGroup
	var failures atomic.Int32
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cn := range work {
				d := &net.Dialer{Timeout: 10 * time.Second}
				var c net.Conn
				var err error
				if cn.tls {
					c, err = tls.DialWithDialer(d, "tcp", cn.addr, &tls.Config{InsecureSkipVerify: true})
				} else {
					c, err = d.Dial("tcp", cn.addr)
				}
				if err != nil {
					if failures.Add(1) == 1 {
						t.Errorf("connect to %s during the garbage run: %v", cn.addr, err)
					}
					continue
				}
				_ = c.SetDeadline(time.Now().Add(300 * time.Millisecond))
				for _, f := range cn.frames {
					if _, err := c.Write(f); err != nil {
						break
					}
				}
				_, _ = c.Read(make([]byte, 512))
				c.Close()
			}
		}()
	}
	for _, cn := range conns {
		work <- cn
	}
	close(work)
	wg.Wait()

	// DoH: garbage bodies and parameters are client errors, never server errors.
	for i := range 200 {
		b := garbage(rnd, craft, seeds)
		var st int
		if i%2 == 0 {
			st, _, _ = in.request(http.MethodPost, in.httpURL("/dns-query"), "", b, map[string]string{"Content-Type": "application/dns-message"})
		} else {
			st, _, _ = in.get(in.httpURL("/dns-query?dns="+base64URL(b)), "")
		}
		if st == 0 || st >= 500 {
			t.Fatalf("DoH with a garbage message %x: HTTP %d", b, st)
		}
	}

	// Still alive, still answering, still filtering correctly.
	in.mustBeRunning()
	wantAddress(t, "dig after the garbage", digUDP.ask(t, in, "after.example", "A"), "A", upstreamA)
	wantAddress(t, "dig +tcp after the garbage", digTCP.ask(t, in, "after.example", "A"), "A", upstreamA)
	wantAddress(t, "kdig +tls after the garbage", kdigTLS.ask(t, in, "after.example", "AAAA"), "AAAA", upstreamAAAA)
	if r := digUDP.ask(t, in, "use-application-dns.net", "A"); r.Status != "NXDOMAIN" {
		t.Errorf("bypass canary after the garbage: %s", r)
	}
	if st, _, _ := in.get(in.httpURL("/healthz"), ""); st != http.StatusOK {
		t.Errorf("GET /healthz after the garbage: %d", st)
	}
	m := scrapeMetrics(t, in)
	if v := m.sum("kidshield_dns_queries_total", map[string]string{"result": "formerr"}); v == 0 {
		t.Error("no FORMERR counted: did the garbage reach the parser?")
	}
	if v := m.sum("kidshield_dns_queries_total", map[string]string{"result": "ratelimited"}); v != 0 {
		t.Errorf("%v queries were rate limited: the garbage did not all reach the parser", v)
	}
}
