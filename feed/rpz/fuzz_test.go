package rpz

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/store"
)

// fuzzWriter is a dns.ResponseWriter that keeps what the server writes.
type fuzzWriter struct {
	local, remote net.Addr
	out           []*dns.Msg
	raw           [][]byte
}

func (w *fuzzWriter) LocalAddr() net.Addr       { return w.local }
func (w *fuzzWriter) RemoteAddr() net.Addr      { return w.remote }
func (w *fuzzWriter) WriteMsg(m *dns.Msg) error { w.out = append(w.out, m.Copy()); return nil }
func (w *fuzzWriter) Write(b []byte) (int, error) {
	w.raw = append(w.raw, append([]byte(nil), b...))
	return len(b), nil
}
func (w *fuzzWriter) Close() error        { return nil }
func (w *fuzzWriter) TsigStatus() error   { return nil }
func (w *fuzzWriter) TsigTimersOnly(bool) {}
func (w *fuzzWriter) Hijack()             {}

// FuzzServeDNS sends hostile queries (any message that unpacks) to the primary, over UDP and
// TCP, from a member's address and from a stranger's. Nothing may panic; every answer is a
// response to the query's id; a stranger gets REFUSED and no records; records go only to the
// zone's member, for the zone's own name.
func FuzzServeDNS(f *testing.F) {
	fl := newFakeList()
	fl.add(store.ListDomain, "bad.example")
	fl.add(store.ListHost, "host.example")
	s := New(Options{Serial: fl.ListSerial, Snapshot: fl.ListSnapshot, Params: testParams(),
		Members: []Member{{Name: "unbound", Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}}})
	s.ctx = context.Background()
	if _, err := s.refresh(s.ctx); err != nil {
		f.Fatal(err)
	}
	for _, q := range []*dns.Msg{axfrQ(), ixfrQ(2), ixfrQ(4000000000), new(dns.Msg).SetQuestion(testZone, dns.TypeSOA),
		new(dns.Msg).SetQuestion("other.test.", dns.TypeAXFR), new(dns.Msg).SetNotify(testZone)} {
		b, _ := q.Pack()
		f.Add(b, true, true)
	}
	f.Fuzz(func(t *testing.T, wire []byte, tcp, member bool) {
		r := new(dns.Msg)
		if r.Unpack(wire) != nil || r.IsTsig() != nil {
			return // signed queries are verified by the library before ServeDNS
		}
		w := &fuzzWriter{local: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}, remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 5353}}
		if tcp {
			w.local, w.remote = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 5353}
		}
		if member {
			w.remote = map[bool]net.Addr{false: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}, true: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}[tcp]
		}
		s.ServeDNS(w, r)
		for _, raw := range w.raw {
			m := new(dns.Msg)
			if err := m.Unpack(raw); err != nil {
				t.Fatalf("wrote a message that does not unpack: %v", err)
			}
			w.out = append(w.out, m)
		}
		if len(w.out) == 0 {
			t.Fatalf("no answer to %v", r)
		}
		for _, m := range w.out {
			if m.Id != r.Id || !m.Response {
				t.Fatalf("answer id %d response %v to query %d", m.Id, m.Response, r.Id)
			}
			if !member && (m.Rcode != dns.RcodeRefused || len(m.Answer) > 0) {
				t.Fatalf("a stranger got %s with %d records", dns.RcodeToString[m.Rcode], len(m.Answer))
			}
			if len(m.Answer) > 0 && (len(r.Question) != 1 || dns.CanonicalName(r.Question[0].Name) != testZone) {
				t.Fatalf("records for %v", r.Question)
			}
		}
	})
}
