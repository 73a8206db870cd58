package upstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dohServer is an RFC 8484 server over HTTP/2 with TLS; h answers the
// unpacked query. It records request details.
type dohServer struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []dohReq
	reply func(w http.ResponseWriter, q *dns.Msg)
}

type dohReq struct {
	method, contentType, accept string
	protoMajor                  int
	id                          uint16
	len                         int
}

func newDoHServer(t *testing.T, h dns.HandlerFunc) *dohServer {
	t.Helper()
	s := &dohServer{}
	s.reply = func(w http.ResponseWriter, q *dns.Msg) {
		rw := &msgWriter{}
		h(rw, q)
		b, _ := rw.m.Pack()
		w.Header().Set("Content-Type", "application/dns-message")
		_, _ = w.Write(b)
	}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 65536))
		q := new(dns.Msg)
		if err := q.Unpack(body); err != nil {
			http.Error(w, "bad query", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, dohReq{r.Method, r.Header.Get("Content-Type"), r.Header.Get("Accept"), r.ProtoMajor, q.Id, len(body)})
		reply := s.reply
		s.mu.Unlock()
		reply(w, q)
	}))
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *dohServer) options() Options {
	return Options{TLSConfig: s.Client().Transport.(*http.Transport).TLSClientConfig}
}

// msgWriter captures what a dns.Handler writes.
type msgWriter struct {
	dns.ResponseWriter
	m *dns.Msg
}

func (w *msgWriter) WriteMsg(m *dns.Msg) error { w.m = m; return nil }

func TestTransportsRoundTrip(t *testing.T) {
	rec := &seen{}
	h := answer("192.0.2.7", rec)
	udpAddr := udpServer(t, h)
	tcpAddr, _ := tcpServer(t, h, nil)
	serverTLS, clientTLS := selfSigned(t, "dns.example")
	dotAddr, _ := tcpServer(t, h, serverTLS)
	doh := newDoHServer(t, h)

	for _, tc := range []struct {
		spec string
		o    Options
		pad  bool
	}{
		{spec: udpAddr},
		{spec: "udp://" + udpAddr},
		{spec: "tcp://" + tcpAddr},
		{spec: "tls://" + dotAddr + "#dns.example", o: Options{TLSConfig: clientTLS}, pad: true},
		{spec: "tls://" + dotAddr, o: Options{TLSConfig: clientTLS}, pad: true}, // IP SAN
		{spec: doh.URL + "/dns-query", o: doh.options(), pad: true},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			u, err := Parse(tc.spec, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			defer u.(io.Closer).Close()
			for _, do := range []bool{false, true} {
				q := query("www.Example.com", dns.TypeA)
				if do {
					q.SetEdns0(4096, true)
				}
				orig := q.Copy()
				r, err := u.Exchange(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				wantA(t, r, "192.0.2.7")
				if r.Id != 4242 {
					t.Errorf("response id %d, want the query's 4242", r.Id)
				}
				if q.String() != orig.String() {
					t.Errorf("Exchange modified the query")
				}
				got := rec.last(t)
				opt := got.IsEdns0()
				if opt == nil || opt.UDPSize() != 1232 || opt.Do() != do {
					t.Fatalf("upstream saw OPT %v, want size 1232 DO %v", opt, do)
				}
				if tc.pad {
					padded := false
					for _, o := range opt.Option {
						_, padded = o.(*dns.EDNS0_PADDING)
					}
					if b, _ := got.Pack(); !padded || len(b)%128 != 0 {
						t.Errorf("query not padded to 128: %d bytes, option %v", len(b), opt.Option)
					}
				}
			}
		})
	}

	doh.mu.Lock()
	defer doh.mu.Unlock()
	for _, r := range doh.reqs {
		if r.method != http.MethodPost || r.contentType != "application/dns-message" ||
			r.accept != "application/dns-message" || r.protoMajor != 2 || r.id != 0 {
			t.Errorf("doh request %+v, want POST of application/dns-message over HTTP/2 with ID 0", r)
		}
	}
}

func TestTruncationFallsBackToTCP(t *testing.T) {
	udpH := func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Truncated = true
		_ = w.WriteMsg(m)
	}
	addr := udpTCPServer(t, dns.HandlerFunc(udpH), answer("192.0.2.8", nil))
	u, err := Parse(addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := u.Exchange(context.Background(), query("big.example", dns.TypeA))
	if err != nil {
		t.Fatal(err)
	}
	wantA(t, r, "192.0.2.8")
	if r.Truncated {
		t.Errorf("TC still set")
	}
}

func TestOversizedUDPFallsBackToTCP(t *testing.T) {
	// A server that ignores our EDNS size and sends a 1.4 KB datagram.
	big := func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		for i := range 80 {
			a, _ := dns.NewRR(r.Question[0].Name + " 60 IN A 192.0.2." + string(rune('0'+i%10)))
			m.Answer = append(m.Answer, a)
		}
		_ = w.WriteMsg(m)
	}
	addr := udpTCPServer(t, dns.HandlerFunc(big), answer("192.0.2.9", nil))
	u, err := Parse(addr, Options{UDPSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	r, err := u.Exchange(context.Background(), query("big.example", dns.TypeA))
	if err != nil {
		t.Fatal(err)
	}
	wantA(t, r, "192.0.2.9")
}

// TestSpoofedUDPIgnored: answers with the wrong ID or question arrive first
// from the upstream's address; the client waits for the real one.
func TestSpoofedUDPIgnored(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil {
				continue
			}
			wrongID := replyA(q, "6.6.6.6")
			wrongID.Id = q.Id + 1
			wrongQ := replyA(q, "6.6.6.7")
			wrongQ.Question[0].Name = "evil.example."
			wrongQ.Answer[0].Header().Name = "evil.example."
			notResponse := replyA(q, "6.6.6.8")
			notResponse.Response = false
			for _, m := range []*dns.Msg{wrongID, wrongQ, notResponse, replyA(q, "192.0.2.10")} {
				b, _ := m.Pack()
				_, _ = pc.WriteTo(b, from)
			}
			_, _ = pc.WriteTo([]byte{1, 2, 3}, from) // garbage after the answer
		}
	}()
	u, err := Parse(pc.LocalAddr().String(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := u.Exchange(context.Background(), query("www.example.com", dns.TypeA))
	if err != nil {
		t.Fatal(err)
	}
	wantA(t, r, "192.0.2.10")
}

// blackhole is a UDP socket that reads queries and never answers.
func blackhole(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return pc.LocalAddr().String()
}

func TestTimeoutAndCancel(t *testing.T) {
	addr := blackhole(t)
	u, err := Parse(addr, Options{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = u.Exchange(context.Background(), query("slow.example", dns.TypeA))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("err = %v, want a timeout", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("err = %v is not a net.Error timeout", err)
	}

	u, _ = Parse(addr, Options{Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if _, err = u.Exchange(ctx, query("slow.example", dns.TypeA)); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestTCPReusesConnections(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t, "dns.example")
	for _, tc := range []struct {
		scheme string
		srv    *tlsPair
	}{{"tcp", nil}, {"tls", &tlsPair{serverTLS, clientTLS}}} {
		t.Run(tc.scheme, func(t *testing.T) {
			st, ct := tc.srv.configs()
			addr, conns := tcpServer(t, answer("192.0.2.11", nil), st)
			u, err := Parse(tc.scheme+"://"+addr, Options{TLSConfig: ct})
			if err != nil {
				t.Fatal(err)
			}
			defer u.(io.Closer).Close()
			for range 5 {
				r, err := u.Exchange(context.Background(), query("reuse.example", dns.TypeA))
				if err != nil {
					t.Fatal(err)
				}
				wantA(t, r, "192.0.2.11")
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("%d connections for 5 sequential queries, want 1", n)
			}
		})
	}
}

type tlsPair struct{ server, client *tls.Config }

func (p *tlsPair) configs() (server, client *tls.Config) {
	if p == nil {
		return nil, nil
	}
	return p.server, p.client
}

// TestRedialAfterServerClosedIdle: the server answers one query per
// connection and closes it, as servers do with idle connections; the
// second query finds the pooled connection dead and redials once.
func TestRedialAfterServerClosedIdle(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t, "dns.example")
	for _, tc := range []struct {
		scheme string
		srv    *tlsPair
	}{{"tcp", nil}, {"tls", &tlsPair{serverTLS, clientTLS}}} {
		t.Run(tc.scheme, func(t *testing.T) {
			st, ct := tc.srv.configs()
			addr, conns := rawStreamServer(t, st, func(c net.Conn) {
				q, err := readStreamMsg(c)
				if err != nil {
					return
				}
				_ = writeStreamMsg(c, replyA(q, "192.0.2.12"))
			})
			u, err := Parse(tc.scheme+"://"+addr, Options{TLSConfig: ct})
			if err != nil {
				t.Fatal(err)
			}
			defer u.(io.Closer).Close()
			for i := range 3 {
				r, err := u.Exchange(context.Background(), query("idle.example", dns.TypeA))
				if err != nil {
					t.Fatalf("query %d: %v", i, err)
				}
				wantA(t, r, "192.0.2.12")
			}
			if n := conns.Load(); n != 3 {
				t.Errorf("%d connections, want 3", n)
			}
		})
	}
}

func TestStreamRejectsMismatchedAnswer(t *testing.T) {
	addr, _ := rawStreamServer(t, nil, func(c net.Conn) {
		q, err := readStreamMsg(c)
		if err != nil {
			return
		}
		m := replyA(q, "6.6.6.6")
		m.Id++
		_ = writeStreamMsg(c, m)
	})
	u, _ := Parse("tcp://"+addr, Options{})
	if _, err := u.Exchange(context.Background(), query("x.example", dns.TypeA)); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("err = %v, want an id mismatch", err)
	}
}

func TestDoHErrors(t *testing.T) {
	doh := newDoHServer(t, answer("192.0.2.13", nil))
	u, err := Parse(doh.URL, doh.options()) // path defaults to /dns-query
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(u.String(), "/dns-query") {
		t.Errorf("String() = %q", u)
	}
	for _, tc := range []struct {
		name  string
		reply func(w http.ResponseWriter, q *dns.Msg)
		want  string
	}{
		{"status", func(w http.ResponseWriter, q *dns.Msg) {
			http.Error(w, "nope", http.StatusServiceUnavailable)
		}, "http status 503"},
		{"content type", func(w http.ResponseWriter, q *dns.Msg) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>"))
		}, "content type"},
		{"too large", func(w http.ResponseWriter, q *dns.Msg) {
			w.Header().Set("Content-Type", "application/dns-message")
			_, _ = w.Write(bytes.Repeat([]byte{0}, 70000))
		}, "larger than"},
		{"wrong question", func(w http.ResponseWriter, q *dns.Msg) {
			m := replyA(q, "6.6.6.6")
			m.Question[0].Name = "other.example."
			b, _ := m.Pack()
			w.Header().Set("Content-Type", "application/dns-message")
			_, _ = w.Write(b)
		}, "question does not match"},
		{"redirect", func(w http.ResponseWriter, q *dns.Msg) {
			http.Redirect(w, &http.Request{}, "https://elsewhere.example/", http.StatusFound)
		}, "http status 302"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doh.mu.Lock()
			doh.reply = tc.reply
			doh.mu.Unlock()
			_, err := u.Exchange(context.Background(), query("x.example", dns.TypeA))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
