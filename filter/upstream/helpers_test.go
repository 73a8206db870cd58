package upstream

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"io"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// seen records what a test server received.
type seen struct {
	mu   sync.Mutex
	msgs []*dns.Msg
}

func (s *seen) add(m *dns.Msg) {
	s.mu.Lock()
	s.msgs = append(s.msgs, m.Copy())
	s.mu.Unlock()
}

func (s *seen) last(t *testing.T) *dns.Msg {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) == 0 {
		t.Fatal("server saw no query")
	}
	return s.msgs[len(s.msgs)-1]
}

// answer replies with an A record for the question, addr as given.
func answer(addr string, rec *seen) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		if rec != nil {
			rec.add(r)
		}
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		a, _ := dns.NewRR(r.Question[0].Name + " 300 IN A " + addr)
		m.Answer = append(m.Answer, a)
		if o := r.IsEdns0(); o != nil {
			m.SetEdns0(1232, o.Do())
		}
		_ = w.WriteMsg(m)
	}
}

func rcode(rc int) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, rc)
		_ = w.WriteMsg(m)
	}
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.Id = 4242
	return m
}

func serveDNS(t *testing.T, s *dns.Server) {
	t.Helper()
	started := make(chan struct{})
	s.NotifyStartedFunc = func() { close(started) }
	go func() { _ = s.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = s.Shutdown() })
}

// udpServer serves h over UDP on 127.0.0.1:0.
func udpServer(t *testing.T, h dns.Handler) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveDNS(t, &dns.Server{PacketConn: pc, Handler: h})
	return pc.LocalAddr().String()
}

// tcpServer serves h over TCP (or TLS) on 127.0.0.1:0 and counts accepted
// connections.
func tcpServer(t *testing.T, h dns.Handler, tc *tls.Config) (string, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return streamServerOn(t, l, h, tc)
}

func streamServerOn(t *testing.T, l net.Listener, h dns.Handler, tc *tls.Config) (string, *atomic.Int32) {
	cl := &countingListener{Listener: l}
	var sl net.Listener = cl
	if tc != nil {
		sl = tls.NewListener(cl, tc)
	}
	serveDNS(t, &dns.Server{Listener: sl, Handler: h})
	return l.Addr().String(), &cl.n
}

type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// udpTCPServer serves udpH and tcpH on the same 127.0.0.1 port.
func udpTCPServer(t *testing.T, udpH, tcpH dns.Handler) string {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			continue
		}
		serveDNS(t, &dns.Server{PacketConn: pc, Handler: udpH})
		streamServerOn(t, l, tcpH, nil)
		return pc.LocalAddr().String()
	}
	t.Fatal("no port free for both UDP and TCP")
	return ""
}

// closedPort returns an address on which nothing listens (UDP or TCP).
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// selfSigned returns a server TLS config for names/127.0.0.1 and a client
// config trusting it.
func selfSigned(t *testing.T, names ...string) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kidshield test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: roots}
	return server, client
}

// rawStreamServer accepts connections and calls handle for each; it counts
// accepted connections.
func rawStreamServer(t *testing.T, tc *tls.Config, handle func(net.Conn)) (string, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			if tc != nil {
				c = tls.Server(c, tc)
			}
			wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	})
	return l.Addr().String(), &n
}

// readStreamMsg reads one length-prefixed message.
func readStreamMsg(c net.Conn) (*dns.Msg, error) {
	var lb [2]byte
	if _, err := io.ReadFull(c, lb[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(lb[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	return m, m.Unpack(b)
}

func writeStreamMsg(c net.Conn, m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	out := binary.BigEndian.AppendUint16(nil, uint16(len(b)))
	_, err = c.Write(append(out, b...))
	return err
}

func replyA(q *dns.Msg, addr string) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(q)
	a, _ := dns.NewRR(q.Question[0].Name + " 60 IN A " + addr)
	m.Answer = []dns.RR{a}
	return m
}

func wantA(t *testing.T, r *dns.Msg, addr string) {
	t.Helper()
	if r == nil || len(r.Answer) != 1 {
		t.Fatalf("answer = %v, want one A %s", r, addr)
	}
	a, ok := r.Answer[0].(*dns.A)
	if !ok || a.A.String() != addr {
		t.Fatalf("answer = %v, want A %s", r.Answer[0], addr)
	}
}
