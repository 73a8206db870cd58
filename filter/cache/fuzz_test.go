package cache

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzStore feeds arbitrary packets through miekg/dns into Store and checks
// that what AppendTo serves is the stored message: same records, TTLs as
// clamped at store time and decremented by the age after. The wire walker is
// also run on the raw input, where it must not panic.
func FuzzStore(f *testing.F) {
	seed := func(m *dns.Msg) {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed(response(f, "www.example.com.", dns.TypeA, 0, []string{
		"www.example.com. 300 IN CNAME web.example.com.",
		"web.example.com. 200 IN A 192.0.2.1",
	}, []string{"example.com. 3600 IN NS ns1.example.com."}, []string{"ns1.example.com. 3600 IN A 192.0.2.53"}))
	seed(response(f, "neg.example.", dns.TypeA, dns.RcodeNameError, nil,
		[]string{"example. 3600 IN SOA ns.example. host.example. 1 7200 900 1209600 300"}, nil))
	seed(response(f, "mx.example.", dns.TypeMX, 0, []string{"mx.example. 60 IN MX 10 mail.mx.example."}, nil,
		[]string{"mail.mx.example. 60 IN AAAA 2001:db8::1"}))
	seed(response(f, "txt.example.", dns.TypeTXT, 0, []string{`txt.example. 2147483648 IN TXT "a" "b"`}, nil, nil))
	f.Add([]byte{0, 0, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xC0, 12})

	c := New(Options{ServeStale: true, NegativeNoSOATTL: 10 * time.Second, MinTTL: time.Second, MaxTTL: time.Hour})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = walk(data)

		m := new(dns.Msg)
		if err := m.Unpack(data); err != nil || len(m.Question) != 1 {
			return
		}
		q := m.Question[0]
		k := AppendKey(nil, []byte(strings.ToLower(q.Name)), q.Qtype, q.Qclass, false)
		c.Purge()
		c.Store(k, m, t0)
		e, st, _ := c.Lookup(k, t0)
		if st == Miss {
			return
		}

		// What miekg makes of the message without OPT/TSIG is the reference.
		ref := *m
		ref.Extra = nil
		for _, r := range m.Extra {
			if ty := r.Header().Rrtype; ty != dns.TypeOPT && ty != dns.TypeTSIG {
				ref.Extra = append(ref.Extra, r)
			}
		}
		refWire, err := ref.Pack()
		if err != nil {
			t.Fatalf("stored a message that does not pack: %v", err)
		}
		want := new(dns.Msg)
		if err := want.Unpack(refWire); err != nil {
			return // miekg cannot round-trip this message itself
		}

		out := e.AppendTo(nil, 0xABCD, t0, st)
		if binary.BigEndian.Uint16(out) != 0xABCD {
			t.Fatalf("id not set")
		}
		got := new(dns.Msg)
		if err := got.Unpack(out); err != nil {
			t.Fatalf("AppendTo output does not unpack: %v\n%v", err, want)
		}
		later := new(dns.Msg)
		if err := later.Unpack(e.AppendTo(nil, 1, t0.Add(2500*time.Millisecond), Fresh)); err != nil {
			t.Fatalf("AppendTo output does not unpack: %v", err)
		}
		gs, ws, ls := sections(got), sections(want), sections(later)
		if len(gs) != len(ws) || len(ls) != len(ws) {
			t.Fatalf("%d records served, want %d", len(gs), len(ws))
		}
		for i := range gs {
			g, w, l := gs[i].Header(), ws[i].Header(), ls[i].Header()
			if g.Name != w.Name || g.Rrtype != w.Rrtype || g.Class != w.Class {
				t.Fatalf("record %d = %v, want %v", i, gs[i], ws[i])
			}
			if g.Ttl > 3600 {
				t.Fatalf("record %d: ttl %d not clamped", i, g.Ttl)
			}
			if wantLater := max(int64(g.Ttl)-2, 0); int64(l.Ttl) != wantLater {
				t.Fatalf("record %d: ttl %d after 2.5s, want %d", i, l.Ttl, wantLater)
			}
		}
	})
}

func sections(m *dns.Msg) []dns.RR {
	var out []dns.RR
	out = append(out, m.Answer...)
	out = append(out, m.Ns...)
	for _, r := range m.Extra {
		if r.Header().Rrtype != dns.TypeOPT {
			out = append(out, r)
		}
	}
	return out
}
