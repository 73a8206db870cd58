package subscribe

import (
	"maps"
	"testing"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/config"
)

// FuzzApplyTransfer feeds hostile transfer answers (a DNS message's records, as a primary would
// stream them) to the RPZ subscriber's AXFR and IXFR parsers. Nothing may panic; an answer that
// applies must give a consistent copy (every name of the category has a record bit, and the
// reverse), at the serial of the answer's first SOA, and an answer that does not apply must
// leave the copy it was applied to as it was.
func FuzzApplyTransfer(f *testing.F) {
	soa := func(n uint32) dns.RR {
		return &dns.SOA{Hdr: dns.RR_Header{Name: testZone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 300},
			Ns: "localhost.", Mbox: "hostmaster.localhost.", Serial: n, Refresh: 3600, Retry: 600, Expire: 604800, Minttl: 300}
	}
	seed := func(rrs ...dns.RR) {
		m := new(dns.Msg)
		m.Answer = rrs
		if b, err := m.Pack(); err == nil {
			f.Add(b)
		}
	}
	seed(soa(6), soa(5), rr("a.example."+testZone+" 300 IN CNAME ."), soa(6), rr("b.example."+testZone+" 300 IN CNAME ."), soa(6))
	seed(soa(7), rr(testZone+" 300 IN NS localhost."), rr("b.example."+testZone+" 300 IN CNAME ."), rr("*.b.example."+testZone+" 300 IN CNAME ."),
		rr("canary.kidshield.example."+testZone+" 300 IN A 192.0.2.1"), soa(7))
	seed(soa(5))
	seed(soa(3), soa(5), soa(3), soa(3))
	s, err := New(Options{Subscribe: config.Subscribe{Source: "rpz://127.0.0.1:1/" + testZone}})
	if err != nil {
		f.Fatal(err)
	}
	base := listOf(5, map[string]uint8{"a.example": recExact | recWild, "h.example": recExact})
	f.Fuzz(func(t *testing.T, wire []byte) {
		m := new(dns.Msg)
		if m.Unpack(wire) != nil || len(m.Answer) == 0 {
			return
		}
		before := maps.Clone(base.Records)
		check := func(l *List, what string) {
			if l == nil {
				return
			}
			names := l.Cats[RPZCategory]
			if len(names) != len(l.Records) {
				t.Fatalf("%s: %d names, %d record sets", what, len(names), len(l.Records))
			}
			for n, b := range l.Records {
				if b == 0 || names[n] == "" {
					t.Fatalf("%s: %s with bits %d, kind %q", what, n, b, names[n])
				}
			}
			if first, ok := s.soa(m.Answer[0]); !ok || uint32(l.Serial) != first.Serial {
				t.Fatalf("%s: copy at serial %d, answer starts with %v", what, l.Serial, m.Answer[0])
			}
		}
		if len(m.Answer) >= 2 {
			if l, err := s.parseAXFR(m.Answer); err == nil {
				check(l, "AXFR")
			}
		}
		l, err := s.applyIXFR(base, m.Answer)
		if err == nil {
			check(l, "IXFR")
		}
		if !maps.Equal(base.Records, before) {
			t.Fatal("applying an answer changed the copy it was applied to")
		}
	})
}
