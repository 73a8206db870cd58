package filter

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func packQuery(t testing.TB, name string, qtype uint16, edns bool, do bool) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 0x1234
	if edns {
		m.SetEdns0(4096, do)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseQuery(t *testing.T) {
	var q query
	b := packQuery(t, "WWW.Example.COM.", dns.TypeAAAA, true, true)
	if err := parseQuery(b, &q); err != nil {
		t.Fatal(err)
	}
	if string(q.nameBytes()) != "www.example.com" || q.qtype != dns.TypeAAAA || q.qclass != dns.ClassINET || q.id != 0x1234 {
		t.Fatalf("parsed %q type %d class %d id %x", q.nameBytes(), q.qtype, q.qclass, q.id)
	}
	if !q.edns || !q.do || q.udpSize != 4096 || q.maxUDP() != ednsSize {
		t.Fatalf("edns %v do %v size %d", q.edns, q.do, q.udpSize)
	}
	b = packQuery(t, ".", dns.TypeNS, false, false)
	if err := parseQuery(b, &q); err != nil || q.nameLen != 0 || q.maxUDP() != 512 {
		t.Fatalf("root: %v %q", err, q.nameBytes())
	}
}

func TestParseQueryHostile(t *testing.T) {
	valid := packQuery(t, "a.example.", dns.TypeA, false, false)
	var q query
	cases := map[string][]byte{
		"empty":            {},
		"header only":      valid[:12],
		"cut in name":      valid[:15],
		"cut in type":      valid[:len(valid)-2],
		"label past end":   append(append([]byte{}, valid[:12]...), 63, 'a'),
		"response":         func() []byte { b := append([]byte{}, valid...); b[2] |= 0x80; return b }(),
		"compression loop": append(append([]byte{}, valid[:12]...), 0xC0, 12, 0, 1, 0, 1),
		"two questions":    func() []byte { b := append([]byte{}, valid...); b[5] = 2; return b }(),
		"trailing garbage": append(append([]byte{}, valid...), 1, 2, 3),
		"name over 255": func() []byte {
			b := append([]byte{}, valid[:12]...)
			for i := 0; i < 5; i++ {
				b = append(b, 63)
				b = append(b, strings.Repeat("x", 63)...)
			}
			return append(b, 0, 0, 1, 0, 1)
		}(),
	}
	for name, msg := range cases {
		if err := parseQuery(msg, &q); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzParseQuery checks the fast parser against miekg/dns: whatever it accepts, miekg/dns reads
// the same question from.
func FuzzParseQuery(f *testing.F) {
	f.Add(packQuery(f, "www.example.com.", dns.TypeA, true, false))
	f.Add(packQuery(f, "x.", dns.TypeHTTPS, false, false))
	f.Add(packQuery(f, "a\\.b.example.", dns.TypeTXT, true, true))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var q query
		if err := parseQuery(msg, &q); err != nil {
			return
		}
		m := new(dns.Msg)
		if err := m.Unpack(msg); err != nil {
			t.Fatalf("fast parser accepted what miekg/dns rejects: %v", err)
		}
		if len(m.Question) != 1 || m.Question[0].Qtype != q.qtype || m.Question[0].Qclass != q.qclass {
			t.Fatalf("question differs: %v vs %q/%d", m.Question, q.nameBytes(), q.qtype)
		}
		if m.IsEdns0() != nil != q.edns {
			t.Fatalf("edns differs")
		}
	})
}

func TestAppendOPTAndTruncate(t *testing.T) {
	msg := packQuery(t, "blocked.example.", dns.TypeA, true, true)
	var q query
	if err := parseQuery(msg, &q); err != nil {
		t.Fatal(err)
	}
	out := errorAnswer(nil, msg, &q, rcodeNXDomain, edeFiltered, "kidshield: blocked (adult)")
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeNameError || !r.Response || r.Id != 0x1234 {
		t.Fatalf("bad answer: %v", r)
	}
	opt := r.IsEdns0()
	if opt == nil || !opt.Do() {
		t.Fatalf("no OPT with DO: %v", r)
	}
	ede, ok := opt.Option[0].(*dns.EDNS0_EDE)
	if !ok || ede.InfoCode != edeFiltered || ede.ExtraText != "kidshield: blocked (adult)" {
		t.Fatalf("EDE: %v", opt.Option)
	}
	tr := truncate(out, 0, msg, &q)
	if err := r.Unpack(tr); err != nil || !r.Truncated || len(r.Answer) != 0 || r.IsEdns0() == nil {
		t.Fatalf("truncate: %v %v", err, r)
	}
}

func TestFormErrEchoesID(t *testing.T) {
	msg := []byte{0xAB, 0xCD, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 'a'}
	out := formErr(nil, msg)
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		t.Fatal(err)
	}
	if r.Id != 0xABCD || r.Rcode != dns.RcodeFormatError || !r.Response || !r.RecursionDesired {
		t.Fatalf("%v", r)
	}
}
