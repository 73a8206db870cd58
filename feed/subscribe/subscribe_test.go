package subscribe

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/feed/rpz"
	"github.com/kidshield/kidshield/store"
)

const (
	testZone   = "rpz.kidshield.test."
	testKey    = "filter-node"
	testSecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="
)

// fakeList is an in-memory published list with its serial.
type fakeList struct {
	mu      sync.Mutex
	serial  int64
	entries map[string]string // value → kind
}

func newFakeList() *fakeList { return &fakeList{entries: map[string]string{}} }

func (f *fakeList) set(kind, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.serial++
	if kind == "" {
		delete(f.entries, value)
	} else {
		f.entries[value] = kind
	}
}

func (f *fakeList) serialOf(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.serial, nil
}

func (f *fakeList) snapshot(context.Context) (int64, []*store.ListEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*store.ListEntry
	for v, k := range f.entries {
		out = append(out, &store.ListEntry{Kind: k, Value: v, Category: "adult", State: "active"})
	}
	return f.serial, out, nil
}

// want is the list as a subscriber must hold it: every name in category hotline.
func (f *fakeList) want() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.entries)
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func startPrimary(t *testing.T, src *fakeList, listen string) *rpz.Server {
	t.Helper()
	s := rpz.New(rpz.Options{
		Serial: src.serialOf, Snapshot: src.snapshot, Listen: []string{listen}, Poll: 10 * time.Millisecond,
		Params:  rpz.Params{Origin: testZone, Target: ".", TTL: 300, Refresh: 3600, Retry: 600, Expire: 604800},
		Members: []rpz.Member{{Name: testKey, Secret: testSecret}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func waitServed(t *testing.T, s *rpz.Server, f *fakeList) {
	t.Helper()
	serial, _ := f.serialOf(nil)
	s.Changed()
	for i := 0; i < 500 && s.Zone().Serial != serial; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if s.Zone().Serial != serial {
		t.Fatalf("primary never served serial %d", serial)
	}
}

func newSub(t *testing.T, addr, dir, secret string) *Subscriber {
	t.Helper()
	s, err := New(Options{
		Subscribe: config.Subscribe{Source: "rpz://" + addr + "/" + testZone, TSIGName: testKey, TSIGSecret: secret, Refresh: time.Hour},
		Dir:       dir, Logger: testLog(t), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hotline(l *List) map[string]string {
	if l == nil {
		return nil
	}
	return l.Cats[RPZCategory]
}

func checkSame(t *testing.T, s *Subscriber, f *fakeList, what string) {
	t.Helper()
	got, want := hotline(s.Current()), f.want()
	if !maps.Equal(got, want) {
		t.Fatalf("%s: subscriber holds %v, primary lists %v", what, got, want)
	}
	if serial, _ := f.serialOf(nil); s.Current().Serial != serial {
		t.Fatalf("%s: subscriber at serial %d, primary at %d", what, s.Current().Serial, serial)
	}
}

func TestRPZAXFRThenIXFR(t *testing.T) {
	f := newFakeList()
	f.set("domain", "bad.example")
	f.set("host", "cdn.shared.example")
	f.set("domain", "gone.example")
	// The canary's records are A local data, not CNAME: the copy holds it all the same.
	f.set("domain", "canary.kidshield.example")
	p := startPrimary(t, f, "127.0.0.1:0")
	addr := p.Addrs()[0].TCP
	dir := t.TempDir()
	s := newSub(t, addr, dir, testSecret)
	if s.Current() != nil {
		t.Fatal("a copy before any transfer")
	}
	if changed, err := s.Refresh(t.Context()); err != nil || !changed {
		t.Fatalf("AXFR: changed %v, %v", changed, err)
	}
	checkSame(t, s, f, "after AXFR")
	gen0 := s.Current().Gen[RPZCategory]

	// Current: nothing changes, the generation stays.
	if changed, err := s.Refresh(t.Context()); err != nil || changed {
		t.Fatalf("current: changed %v, %v", changed, err)
	}
	f.set("", "gone.example")
	f.set("domain", "new.example")
	f.set("domain", "cdn.shared.example") // host → domain: the wildcard record is added
	waitServed(t, p, f)
	if changed, err := s.Refresh(t.Context()); err != nil || !changed {
		t.Fatalf("IXFR: changed %v, %v", changed, err)
	}
	checkSame(t, s, f, "after IXFR")
	if s.Current().Gen[RPZCategory] == gen0 {
		t.Error("the category's generation did not move with its set")
	}

	// The primary stops: the copy stays.
	p.Close()
	if _, err := s.Refresh(t.Context()); err == nil {
		t.Fatal("refresh from a stopped primary succeeded")
	}
	checkSame(t, s, f, "primary down")

	// A restart while the primary is down filters from the disk copy.
	s2 := newSub(t, addr, dir, testSecret)
	checkSame(t, s2, f, "restart from disk")
	if _, err := os.Stat(filepath.Join(dir, CopyFile)); err != nil {
		t.Fatal(err)
	}
	// It resumes with IXFR from the disk copy's serial once the primary is back.
	p2 := startPrimary(t, f, addr)
	f.set("host", "later.example")
	waitServed(t, p2, f)
	if _, err := s2.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkSame(t, s2, f, "after the primary came back")
}

func TestRPZWrongTSIG(t *testing.T) {
	f := newFakeList()
	f.set("domain", "bad.example")
	p := startPrimary(t, f, "127.0.0.1:0")
	dir := t.TempDir()
	s := newSub(t, p.Addrs()[0].TCP, dir, testSecret)
	if _, err := s.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.set("domain", "more.example")
	waitServed(t, p, f)
	bad := newSub(t, p.Addrs()[0].TCP, dir, "d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmch")
	before := hotline(bad.Current())
	if _, err := bad.Refresh(t.Context()); err == nil {
		t.Fatal("a transfer with the wrong TSIG secret succeeded")
	} else if !strings.Contains(err.Error(), "tsig_name and tsig_secret") {
		t.Errorf("the error does not say what to check: %v", err)
	}
	if got := hotline(bad.Current()); !maps.Equal(got, before) || len(got) != 1 {
		t.Errorf("copy after a bad TSIG: %v, want %v", got, before)
	}
	// Another zone name than the publisher's: REFUSED, and the error says what to check.
	s2, err := New(Options{
		Subscribe: config.Subscribe{Source: "rpz://" + p.Addrs()[0].TCP + "/rpz.other.test.", TSIGName: testKey, TSIGSecret: testSecret, Refresh: time.Hour},
		Logger:    testLog(t), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Refresh(t.Context()); err == nil || !strings.Contains(err.Error(), "zone name") {
		t.Errorf("a wrong zone name: %v, want an error naming the zone name", err)
	}
}

// fakePrimary answers transfers with what the test says: whole messages, or a stream cut
// after some bytes.
type fakePrimary struct {
	ln     net.Listener
	mu     sync.Mutex
	answer func(q *dns.Msg) (msgs []*dns.Msg, cut int)
}

func startFake(t *testing.T) *fakePrimary {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fp := &fakePrimary{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go fp.serve(c)
		}
	}()
	return fp
}

func (fp *fakePrimary) serve(c net.Conn) {
	defer c.Close()
	dc := &dns.Conn{Conn: c}
	q, err := dc.ReadMsg()
	if err != nil {
		return
	}
	fp.mu.Lock()
	msgs, cut := fp.answer(q)
	fp.mu.Unlock()
	var raw []byte
	for _, m := range msgs {
		m.SetReply(q)
		b, _ := m.Pack()
		raw = append(raw, byte(len(b)>>8), byte(len(b)))
		raw = append(raw, b...)
	}
	if cut > 0 && cut < len(raw) {
		raw = raw[:cut]
	}
	c.Write(raw)
}

func rr(s string) dns.RR {
	r, err := dns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return r
}

func soa(serial int) dns.RR {
	return rr(testZone + " 300 IN SOA localhost. hostmaster.localhost. " + itoa(serial) + " 3600 600 604800 300")
}

func itoa(i int) string { return strconv.Itoa(i) }

func msg(rrs ...dns.RR) *dns.Msg { m := new(dns.Msg); m.Answer = rrs; return m }

func TestRPZBrokenTransfersKeepTheCopy(t *testing.T) {
	fp := startFake(t)
	good := []*dns.Msg{msg(soa(5), rr(testZone+" 300 IN NS localhost."), rr("a.example."+testZone+" 300 IN CNAME ."), rr("*.a.example."+testZone+" 300 IN CNAME ."), rr("h.example."+testZone+" 300 IN CNAME ."), soa(5))}
	fp.answer = func(*dns.Msg) ([]*dns.Msg, int) { return good, 0 }
	s := newSub(t, fp.ln.Addr().String(), t.TempDir(), "")
	if _, err := s.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a.example": KindDomain, "h.example": KindHost}
	if !maps.Equal(hotline(s.Current()), want) || s.Current().Serial != 5 {
		t.Fatalf("after AXFR: %v at %d", hotline(s.Current()), s.Current().Serial)
	}
	var asked []uint16
	for _, c := range []struct {
		name   string
		answer func(q *dns.Msg) ([]*dns.Msg, int)
	}{
		{"a delta deleting a name never added, then a cut AXFR", func(q *dns.Msg) ([]*dns.Msg, int) {
			if q.Question[0].Qtype == dns.TypeIXFR {
				return []*dns.Msg{msg(soa(6), soa(5), rr("never.example."+testZone+" 300 IN CNAME ."), soa(6), rr("b.example."+testZone+" 300 IN CNAME ."), soa(6))}, 0
			}
			return []*dns.Msg{msg(soa(6), rr("a.example."+testZone+" 300 IN CNAME ."), rr("b.example."+testZone+" 300 IN CNAME .")), msg(soa(6))}, 40
		}},
		{"a delta adding a name already held, then an AXFR without its closing SOA", func(q *dns.Msg) ([]*dns.Msg, int) {
			if q.Question[0].Qtype == dns.TypeIXFR {
				return []*dns.Msg{msg(soa(6), soa(5), soa(6), rr("a.example."+testZone+" 300 IN CNAME ."), soa(6))}, 0
			}
			return []*dns.Msg{msg(soa(6), rr("b.example."+testZone+" 300 IN CNAME ."))}, 0
		}},
		{"a delta from another serial, then an AXFR of another zone", func(q *dns.Msg) ([]*dns.Msg, int) {
			if q.Question[0].Qtype == dns.TypeIXFR {
				return []*dns.Msg{msg(soa(6), soa(4), soa(6), rr("b.example."+testZone+" 300 IN CNAME ."), soa(6))}, 0
			}
			return []*dns.Msg{msg(rr("other. 300 IN SOA localhost. h.localhost. 6 1 1 1 1"), rr("b.other. 300 IN CNAME ."), rr("other. 300 IN SOA localhost. h.localhost. 6 1 1 1 1"))}, 0
		}},
		{"a serial going backwards, then a cut AXFR", func(q *dns.Msg) ([]*dns.Msg, int) {
			if q.Question[0].Qtype == dns.TypeIXFR {
				return []*dns.Msg{msg(soa(3), soa(5), soa(3), soa(3))}, 0
			}
			return good, 30
		}},
	} {
		asked = nil
		fp.mu.Lock()
		fp.answer = func(q *dns.Msg) ([]*dns.Msg, int) { asked = append(asked, q.Question[0].Qtype); return c.answer(q) }
		fp.mu.Unlock()
		s.setForce(false)
		if _, err := s.Refresh(t.Context()); err == nil {
			t.Errorf("%s: refresh succeeded", c.name)
		}
		if !maps.Equal(hotline(s.Current()), want) || s.Current().Serial != 5 {
			t.Errorf("%s: copy %v at %d, want the last good one", c.name, hotline(s.Current()), s.Current().Serial)
		}
		if len(asked) != 2 || asked[0] != dns.TypeIXFR || asked[1] != dns.TypeAXFR {
			t.Errorf("%s: asked %v, want IXFR then AXFR", c.name, asked)
		}
		// A restart reads the last good copy too.
		if l, err := s.loadCopy(); err != nil || !maps.Equal(hotline(l), want) {
			t.Errorf("%s: disk copy %v, %v", c.name, l, err)
		}
	}
	// After a failure the next refresh asks for the whole zone straight away.
	asked = nil
	fp.mu.Lock()
	fp.answer = func(q *dns.Msg) ([]*dns.Msg, int) { asked = append(asked, q.Question[0].Qtype); return good, 0 }
	fp.mu.Unlock()
	if _, err := s.Refresh(t.Context()); err != nil || len(asked) != 1 || asked[0] != dns.TypeAXFR {
		t.Errorf("after failures: %v, asked %v", err, asked)
	}
	if !errors.Is(func() error {
		_, err := s.applyIXFR(s.Current(), []dns.RR{soa(9), soa(5), rr("zz.example." + testZone + " 300 IN CNAME ."), soa(9), soa(9)})
		return err
	}(), ErrDelta) {
		t.Error("a delete of an unknown name applied")
	}
}

func TestRPZNotify(t *testing.T) {
	f := newFakeList()
	f.set("domain", "bad.example")
	p := startPrimary(t, f, "127.0.0.1:0")
	changed := make(chan *List, 10)
	s, err := New(Options{
		Subscribe: config.Subscribe{Source: "rpz://" + p.Addrs()[0].TCP + "/" + testZone, TSIGName: testKey, TSIGSecret: testSecret,
			Refresh: time.Hour, ListenNotify: "127.0.0.1:0"},
		Dir: t.TempDir(), Logger: testLog(t), OnChange: func(l *List) { changed <- l },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-changed // the first AXFR
	naddr := <-s.notifyAddr
	f.set("domain", "notified.example")
	waitServed(t, p, f)
	m := new(dns.Msg)
	m.SetNotify(testZone)
	m.SetTsig(dns.CanonicalName(testKey), dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{Net: "udp", TsigSecret: map[string]string{dns.CanonicalName(testKey): testSecret}}
	if in, _, err := c.Exchange(m, naddr); err != nil || in.Rcode != dns.RcodeSuccess {
		t.Fatalf("NOTIFY: %v %v", in, err)
	}
	select {
	case l := <-changed:
		if hotline(l)["notified.example"] != KindDomain {
			t.Errorf("after NOTIFY: %v", hotline(l))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("NOTIFY did not refresh the list (the poll is 1h)")
	}
}
