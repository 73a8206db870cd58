package filter

import (
	"context"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkQueryPath measures the whole per-query pipeline from wire bytes to wire bytes (parse,
// profile, schedule, decision, cache, statistics hook), without sockets, for the two answers an
// ISP resolver serves most: blocked names and cache hits. The baseline is what a responder on
// miekg/dns's message API does for one static answer (unpack the query, build a reply, pack it),
// measured in the same run so the ratio is visible.
func BenchmarkQueryPath(b *testing.B) {
	fx := newFixture(b)
	fx.srv.SetPolicy(compileTestPolicy(b, testConfig, testLists))
	ci := clientInfo{addr: netip.MustParseAddr("127.0.0.1"), transport: transUDP}
	// Warm the cache.
	hit := packQuery(b, "cached.example.", dns.TypeA, true, false)
	var q query
	if out, _ := fx.srv.answer(context.Background(), nil, hit, &ci, &q, 0, true); len(out) == 0 {
		b.Fatal("no answer")
	}
	cases := []struct {
		name string
		msg  []byte
	}{
		{"blocked", packQuery(b, "www.porn.example.", dns.TypeA, true, false)},
		{"cache-hit", hit},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			out := make([]byte, 0, 1500)
			var q query
			b.ReportAllocs()
			for b.Loop() {
				r, pending := fx.srv.answer(context.Background(), out[:0], c.msg, &ci, &q, 0, false)
				if pending || len(r) == 0 {
					b.Fatal("not answered on the fast path")
				}
			}
		})
	}
	b.Run("baseline-miekg-static", func(b *testing.B) {
		a := mustRR(b, "cached.example. 300 IN A 192.0.2.1")
		b.ReportAllocs()
		for b.Loop() {
			m := new(dns.Msg)
			if err := m.Unpack(hit); err != nil {
				b.Fatal(err)
			}
			r := new(dns.Msg)
			r.SetReply(m)
			r.Answer = []dns.RR{a}
			if _, err := r.Pack(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
