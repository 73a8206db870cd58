package e2e

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// dohQuery packs a question as a DoH client does (ID 0, EDNS so EDEs come back).
func dohQuery(t *testing.T, name string, qtype uint16) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.Id = 0
	m.SetEdns0(1232, false)
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goDoH asks over DoH with Go's HTTP client (HTTP/1.1 on the plain listener, HTTP/2 over TLS):
// method GET or POST, url the full /dns-query… URL. It returns the HTTP status and, for 200,
// the DNS answer as a reply.
func goDoH(t *testing.T, in *instance, method, url, name string, qtype uint16) (int, reply) {
	t.Helper()
	q := dohQuery(t, name, qtype)
	var st int
	var body []byte
	switch method {
	case http.MethodGet:
		st, body, _ = in.request(method, url+"?dns="+base64.RawURLEncoding.EncodeToString(q), "", nil, map[string]string{"Accept": "application/dns-message"})
	default:
		st, body, _ = in.request(method, url, "", q, map[string]string{"Content-Type": "application/dns-message", "Accept": "application/dns-message"})
	}
	if st != http.StatusOK {
		return st, reply{EDE: -1, Out: string(body)}
	}
	m := new(dns.Msg)
	if err := m.Unpack(body); err != nil {
		t.Fatalf("%s %s: answer is not a DNS message: %v", method, url, err)
	}
	return st, msgReply(m)
}

// msgReply turns a miekg/dns message into the reply dig would print.
func msgReply(m *dns.Msg) reply {
	r := reply{Status: dns.RcodeToString[m.Rcode], EDE: -1, Out: m.String()}
	for _, rr := range m.Answer {
		h := rr.Header()
		data := strings.TrimPrefix(rr.String(), h.String())
		r.Answer = append(r.Answer, record{Name: strings.ToLower(h.Name), TTL: int(h.Ttl), Type: dns.TypeToString[h.Rrtype], Data: strings.ToLower(strings.TrimSpace(data))})
	}
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				r.EDE, r.EDEText = int(e.InfoCode), e.ExtraText
			}
		}
	}
	return r
}

func base64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
