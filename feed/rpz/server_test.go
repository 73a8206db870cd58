package rpz

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/store"
)

// fakeList is an in-memory network list with its serial, as the store keeps it.
type fakeList struct {
	mu      sync.Mutex
	serial  int64
	nextID  int64
	entries map[int64]*store.ListEntry
}

func newFakeList() *fakeList { return &fakeList{entries: map[int64]*store.ListEntry{}} }

func (f *fakeList) log(e *store.ListEntry, op string) {
	f.serial++
}

// add proposes and approves (two serials); it returns the entry's id.
func (f *fakeList) add(kind, value string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	e := &store.ListEntry{ID: f.nextID, Kind: kind, Value: value, Category: "hotline", State: "proposed"}
	f.entries[e.ID] = e
	f.log(e, "propose")
	e.State = "active"
	f.log(e, "approve")
	return e.ID
}

func (f *fakeList) remove(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.entries[id]
	e.State = "delisted"
	f.log(e, "delisted")
}

func (f *fakeList) ListSerial(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.serial, nil
}

func (f *fakeList) ListSnapshot(context.Context) (int64, []*store.ListEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*store.ListEntry
	for _, e := range f.entries {
		if e.State == "active" {
			c := *e
			out = append(out, &c)
		}
	}
	return f.serial, out, nil
}

func TestBehind(t *testing.T) {
	for _, c := range []struct {
		serial int64
		have   uint32
		n      int64
		ok     bool
	}{
		{10, 10, 0, true}, {10, 7, 3, true}, {10, 11, 0, false},
		{1 << 32, 4294967295, 1, true}, {1<<32 + 1, 4294967294, 3, true}, {1<<32 + 1, 2, 0, false},
		{1 << 31, 0, 0, false}, {1<<31 - 1, 0, 1<<31 - 1, true},
	} {
		n, ok := (&Zone{Serial: c.serial}).Behind(c.have)
		if n != c.n || ok != c.ok {
			t.Errorf("serial %d have %d: %d %v, want %d %v", c.serial, c.have, n, ok, c.n, c.ok)
		}
	}
}

const (
	testZone   = "rpz.kidshield.test."
	testKey    = "kidshield-feed."
	testSecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==" // 28 bytes
)

func testParams() Params {
	return Params{Origin: testZone, Target: ".", TTL: 300, Refresh: 3600, Retry: 600, Expire: 604800}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func startServer(t *testing.T, src *fakeList, mod func(*Options)) (*Server, string, *syncBuf) {
	t.Helper()
	logs := &syncBuf{}
	opt := Options{
		Serial: src.ListSerial, Snapshot: src.ListSnapshot, Params: testParams(), Listen: []string{"127.0.0.1:0"}, Poll: 20 * time.Millisecond,
		Members: []Member{
			{Name: "kidshield-feed", Secret: testSecret},
			{Name: "unbound", Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}},
		},
		NotifyTimeout: 300 * time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&opt)
	}
	s := New(opt)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, s.Addrs()[0].TCP, logs
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// logged waits for a log line holding want: a transfer is logged once the client has it all,
// so the line may come just after the client returns.
func logged(logs *syncBuf, want string) bool {
	for i := 0; i < 200; i++ {
		if strings.Contains(logs.String(), want) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// waitSerial waits until the server serves the list's serial.
func waitSerial(t *testing.T, s *Server, serial int64) {
	t.Helper()
	s.Changed()
	for i := 0; i < 500; i++ {
		if s.Zone().Serial == serial {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("serial %d never served (at %d)", serial, s.Zone().Serial)
}

func signed(m *dns.Msg) *dns.Msg {
	m.SetTsig(testKey, dns.HmacSHA256, 300, time.Now().Unix())
	return m
}

// xfr runs a transfer (signed unless secret is empty) and returns its records as strings.
func xfr(t *testing.T, addr string, q *dns.Msg, secret string) ([]string, error) {
	t.Helper()
	tr := &dns.Transfer{}
	if secret != "" {
		tr.TsigSecret = map[string]string{testKey: secret}
		signed(q)
	}
	ch, err := tr.In(q, addr)
	if err != nil {
		return nil, err
	}
	var out []string
	for env := range ch {
		if env.Error != nil {
			return out, env.Error
		}
		for _, rr := range env.RR {
			out = append(out, rr.String())
		}
	}
	return out, nil
}

func soaStr(serial uint32) string {
	return fmt.Sprintf("%s\t300\tIN\tSOA\tlocalhost. hostmaster.localhost. %d 3600 600 604800 300", testZone, serial)
}

func cname(owner string) string { return owner + "." + testZone + "\t300\tIN\tCNAME\t." }

func axfrQ() *dns.Msg { m := new(dns.Msg); m.SetAxfr(testZone); return m }

func ixfrQ(serial uint32) *dns.Msg {
	m := new(dns.Msg)
	m.SetIxfr(testZone, serial, "localhost.", "hostmaster.localhost.")
	return m
}

func TestSOA(t *testing.T) {
	f := newFakeList()
	f.add(store.ListDomain, "bad.example")
	s, _, _ := startServer(t, f, nil)
	a := s.Addrs()[0]
	for _, netw := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: netw, TsigSecret: map[string]string{testKey: testSecret}}
		q := new(dns.Msg)
		q.SetQuestion(testZone, dns.TypeSOA)
		addr := a.UDP
		if netw == "tcp" {
			addr = a.TCP
		}
		in, _, err := c.Exchange(signed(q), addr)
		if err != nil || in.Rcode != dns.RcodeSuccess || !in.Authoritative || len(in.Answer) != 1 || in.Answer[0].String() != soaStr(2) || in.IsTsig() == nil {
			t.Fatalf("%s SOA: %v %v", netw, in, err)
		}
		// Another qtype or zone is refused.
		for _, qq := range []struct {
			name string
			typ  uint16
		}{{testZone, dns.TypeA}, {"example.", dns.TypeSOA}} {
			q := new(dns.Msg)
			q.SetQuestion(qq.name, qq.typ)
			in, _, err := c.Exchange(signed(q), addr)
			if err != nil || in.Rcode != dns.RcodeRefused || len(in.Answer) != 0 {
				t.Errorf("%s %s %d: %v %v", netw, qq.name, qq.typ, in, err)
			}
		}
	}
}

func TestAXFRAndIXFR(t *testing.T) {
	f := newFakeList()
	bad := f.add(store.ListDomain, "bad.example")
	f.add(store.ListHost, "host.example")
	f.add(store.ListURL, "https://u.example/x")
	f.add(store.ListHash, "sha256:"+strings.Repeat("ab", 32))
	old := f.add(store.ListHost, "old.example")
	s, addr, logs := startServer(t, f, nil)
	if s.Zone().Serial != 10 {
		t.Fatalf("serial %d", s.Zone().Serial)
	}
	got, err := xfr(t, addr, axfrQ(), testSecret)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{soaStr(10), testZone + "\t300\tIN\tNS\tlocalhost.",
		cname("bad.example"), cname("*.bad.example"), cname("host.example"), cname("old.example"), soaStr(10)}
	if !slices.Equal(got, want) {
		t.Fatalf("AXFR\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !logged(logs, `msg="feed transfer" member=kidshield-feed type=AXFR style=full serial=10 records=7`) {
		t.Errorf("transfer not logged:\n%s", logs)
	}

	// Changes: add a domain, remove a domain and a host, list a host under a listed domain,
	// list a name both as domain and host, then remove the domain again.
	f.add(store.ListDomain, "new.example") // 11, 12
	f.remove(bad)                          // 13
	waitSerial(t, s, 13)
	f.remove(old) // 14
	both := f.add(store.ListDomain, "both.example")
	f.add(store.ListHost, "both.example")
	f.remove(both) // 19
	waitSerial(t, s, 19)

	got, err = xfr(t, addr, ixfrQ(10), testSecret)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{soaStr(19), soaStr(10),
		cname("bad.example"), cname("*.bad.example"), cname("old.example"),
		soaStr(19),
		cname("both.example"), cname("new.example"), cname("*.new.example"),
		soaStr(19)}
	if !slices.Equal(got, want) {
		t.Fatalf("IXFR\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// From an intermediate serial (after bad.example was removed).
	got, _ = xfr(t, addr, ixfrQ(13), testSecret)
	want = []string{soaStr(19), soaStr(13), cname("old.example"), soaStr(19), cname("both.example"), soaStr(19)}
	if !slices.Equal(got, want) {
		t.Fatalf("IXFR from 13\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Current: one SOA.
	got, err = xfr(t, addr, ixfrQ(19), testSecret)
	if err != nil || !slices.Equal(got, []string{soaStr(19)}) {
		t.Fatalf("IXFR current: %v %v", got, err)
	}
	full := []string{soaStr(19), testZone + "\t300\tIN\tNS\tlocalhost.",
		cname("both.example"), cname("host.example"), cname("new.example"), cname("*.new.example"), soaStr(19)}
	if got, _ = xfr(t, addr, axfrQ(), testSecret); !slices.Equal(got, full) {
		t.Fatalf("AXFR after\n%s", strings.Join(got, "\n"))
	}
	// Ahead of the primary (unknown serial): the whole zone.
	if got, _ = xfr(t, addr, ixfrQ(500), testSecret); !slices.Equal(got, full) {
		t.Fatalf("IXFR from an unknown serial\n%s", strings.Join(got, "\n"))
	}
	// A serial the list never had (below 0: another primary's): the whole zone.
	if got, _ = xfr(t, addr, ixfrQ(4294967290), testSecret); !slices.Equal(got, full) {
		t.Fatalf("IXFR from a foreign serial\n%s", strings.Join(got, "\n"))
	}
	// Over UDP: the current SOA only.
	c := &dns.Client{Net: "udp", TsigSecret: map[string]string{testKey: testSecret}}
	in, _, err := c.Exchange(signed(ixfrQ(10)), s.Addrs()[0].UDP)
	if err != nil || len(in.Answer) != 1 || in.Answer[0].String() != soaStr(19) {
		t.Fatalf("IXFR over UDP: %v %v", in, err)
	}
}

// IXFR from a version the history does not hold (built before this process started, or
// dropped from a full history) is answered with the whole zone.
func TestIXFRTooOld(t *testing.T) {
	f := newFakeList()
	f.add(store.ListDomain, "a.example")
	f.add(store.ListDomain, "b.example")
	s, addr, _ := startServer(t, f, func(o *Options) { o.MaxJournal = 2 }) // at 4
	full := func(got []string) bool { return len(got) > 2 && got[1] == testZone+"\t300\tIN\tNS\tlocalhost." }
	if got, err := xfr(t, addr, ixfrQ(2), testSecret); err != nil || !full(got) {
		t.Fatalf("IXFR from before the start: %v %v", got, err)
	}
	f.add(store.ListHost, "c.example") // one name
	waitSerial(t, s, 6)
	f.add(store.ListHost, "d.example") // one name: the history holds 2
	waitSerial(t, s, 8)
	got, _ := xfr(t, addr, ixfrQ(4), testSecret)
	if want := []string{soaStr(8), soaStr(4), soaStr(8), cname("c.example"), cname("d.example"), soaStr(8)}; !slices.Equal(got, want) {
		t.Fatalf("IXFR within the history: %v", got)
	}
	f.add(store.ListHost, "e.example") // 3 names: the version at 4 is dropped
	waitSerial(t, s, 10)
	if got, _ := xfr(t, addr, ixfrQ(4), testSecret); !full(got) || len(got) != 10 {
		t.Fatalf("IXFR from a dropped version: %v", got)
	}
	got, _ = xfr(t, addr, ixfrQ(6), testSecret)
	if want := []string{soaStr(10), soaStr(6), soaStr(10), cname("d.example"), cname("e.example"), soaStr(10)}; !slices.Equal(got, want) {
		t.Fatalf("IXFR from a kept version: %v", got)
	}
}

// rawExchange sends q (already packed) and reads one reply.
func rawExchange(t *testing.T, netw, addr string, buf []byte, local net.Addr) *dns.Msg {
	t.Helper()
	d := net.Dialer{LocalAddr: local, Timeout: 2 * time.Second}
	conn, err := d.Dial(netw, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	co := &dns.Conn{Conn: conn}
	if _, err := co.Write(buf); err != nil {
		t.Fatal(err)
	}
	co.SetReadDeadline(time.Now().Add(2 * time.Second))
	raw, err := co.ReadMsgHeader(nil) // unverified: the reply to a bad signature is unsigned
	if err != nil {
		t.Fatal(err)
	}
	in := new(dns.Msg)
	if err := in.Unpack(raw); err != nil {
		t.Fatal(err)
	}
	return in
}

func TestAccess(t *testing.T) {
	f := newFakeList()
	f.add(store.ListDomain, "bad.example")
	s, addr, logs := startServer(t, f, nil)
	a := s.Addrs()[0]
	wrong := "d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmch"
	for _, netw := range []string{"udp", "tcp"} {
		target := a.UDP
		q := new(dns.Msg)
		q.SetQuestion(testZone, dns.TypeSOA)
		if netw == "tcp" {
			target = a.TCP
			q = axfrQ()
		}
		// Bad signature: NOTAUTH with the TSIG error, no data.
		signed(q)
		buf, _, err := dns.TsigGenerate(q, wrong, "", false)
		if err != nil {
			t.Fatal(err)
		}
		in := rawExchange(t, netw, target, buf, nil)
		ts := in.IsTsig()
		if in.Rcode != dns.RcodeNotAuth || len(in.Answer) != 0 || ts == nil || ts.Error != dns.RcodeBadSig || ts.MAC != "" {
			t.Errorf("%s bad signature: %v", netw, in)
		}
		// Unknown key: BADKEY.
		q.Extra = nil
		q.SetTsig("nobody.", dns.HmacSHA256, 300, time.Now().Unix())
		buf, _, _ = dns.TsigGenerate(q, testSecret, "", false)
		in = rawExchange(t, netw, target, buf, nil)
		if ts := in.IsTsig(); in.Rcode != dns.RcodeNotAuth || ts == nil || ts.Error != dns.RcodeBadKey || len(in.Answer) != 0 {
			t.Errorf("%s unknown key: %v", netw, in)
		}
		// Unsigned from an address no member allows: REFUSED.
		q.Extra = nil
		buf, _ = q.Pack()
		if in = rawExchange(t, netw, target, buf, nil); in.Rcode != dns.RcodeRefused || len(in.Answer) != 0 {
			t.Errorf("%s unsigned from 127.0.0.1: %v", netw, in)
		}
		// Logged with its reason, once a minute per address: the second refusal (TCP) is not.
		want := `msg="feed query refused (logged once a minute per address)" from=127.0.0.1 reason="no member has this address or key"`
		if n := strings.Count(logs.String(), want); n != 1 {
			t.Errorf("%s: the refusal logged %d times, want once:\n%s", netw, n, logs)
		}
		// Unsigned from the Allow address: answered.
		var local net.Addr = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}
		if netw == "tcp" {
			local = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
		}
		if in = rawExchange(t, netw, target, buf, local); in.Rcode != dns.RcodeSuccess || len(in.Answer) == 0 || in.Answer[0].Header().Rrtype != dns.TypeSOA {
			t.Errorf("%s unsigned from 127.0.0.2: %v", netw, in)
		}
	}
	// A whole unsigned AXFR from the Allow address.
	tr := &dns.Transfer{}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tr.Conn = &dns.Conn{Conn: conn}
	ch, err := tr.In(axfrQ(), addr)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for env := range ch {
		if env.Error != nil {
			t.Fatal(env.Error)
		}
		n += len(env.RR)
	}
	if n != 5 {
		t.Fatalf("unsigned AXFR from allowed address: %d records", n)
	}
}

type notifySeen struct {
	mu      sync.Mutex
	serials []uint32
	signed  []bool
}

// saw reports whether a NOTIFY of serial came, and whether it was signed. (The start's NOTIFY
// of an older serial may still arrive after it: the order is not checked.)
func (n *notifySeen) saw(serial uint32) (bool, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	i := slices.Index(n.serials, serial)
	return i >= 0, i >= 0 && n.signed[i]
}

// notifyListener records NOTIFYs; it drops the first `drop` of them unanswered.
func notifyListener(t *testing.T, secret string, drop int) (string, *notifySeen) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := &notifySeen{}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if r.Opcode != dns.OpcodeNotify || len(r.Answer) != 1 {
			return
		}
		ts := r.IsTsig()
		seen.mu.Lock()
		if drop > 0 {
			drop--
			seen.mu.Unlock()
			return
		}
		seen.serials = append(seen.serials, r.Answer[0].(*dns.SOA).Serial)
		seen.signed = append(seen.signed, ts != nil && w.TsigStatus() == nil)
		seen.mu.Unlock()
		m := new(dns.Msg)
		m.SetReply(r)
		if ts != nil {
			m.SetTsig(ts.Hdr.Name, ts.Algorithm, 300, time.Now().Unix())
		}
		w.WriteMsg(m)
	})}
	if secret != "" {
		srv.TsigSecret = map[string]string{testKey: secret}
	}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String(), seen
}

func TestNotify(t *testing.T) {
	f := newFakeList()
	f.add(store.ListDomain, "bad.example")
	keyed, keyedSeen := notifyListener(t, testSecret, 1) // the first try is lost
	plain, plainSeen := notifyListener(t, "", 0)
	s, _, _ := startServer(t, f, func(o *Options) {
		o.Members[0].Notify = []string{keyed}
		o.Members[1].Notify = []string{plain}
	})
	f.add(store.ListHost, "new.example")
	waitSerial(t, s, 4)
	for _, c := range []struct {
		name   string
		seen   *notifySeen
		signed bool
	}{{"keyed", keyedSeen, true}, {"plain", plainSeen, false}} {
		var ok, sig bool
		for i := 0; i < 300 && !ok; i++ {
			time.Sleep(10 * time.Millisecond)
			ok, sig = c.seen.saw(4)
		}
		if !ok || sig != c.signed {
			t.Errorf("%s NOTIFY: serial 4 seen %v signed %v", c.name, ok, sig)
		}
	}
}

func TestLargeZone(t *testing.T) {
	if testing.Short() {
		t.Skip("large zone")
	}
	f := newFakeList()
	const n = 100000
	for i := range n {
		f.add(store.ListDomain, fmt.Sprintf("d%06d.example", i))
	}
	t0 := time.Now()
	s, addr, _ := startServer(t, f, nil)
	t.Logf("zone of %d names built in %v", s.Zone().Names(), time.Since(t0))
	t0 = time.Now()
	tr := &dns.Transfer{TsigSecret: map[string]string{testKey: testSecret}}
	ch, err := tr.In(signed(axfrQ()), addr)
	if err != nil {
		t.Fatal(err)
	}
	records, msgs := 0, 0
	for env := range ch {
		if env.Error != nil {
			t.Fatal(env.Error)
		}
		records += len(env.RR)
		msgs++
	}
	t.Logf("AXFR of %d records in %d messages took %v", records, msgs, time.Since(t0))
	if records != 2*n+3 {
		t.Fatalf("%d records", records)
	}
}
