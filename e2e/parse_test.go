package e2e

import "testing"

// TestParseReply pins the parsers on dig's and kdig's output, so a parser that silently finds
// nothing cannot make the end-to-end checks pass.
func TestParseReply(t *testing.T) {
	t.Parallel()
	digOut := `
; <<>> DiG 9.18.49-1~deb12u3-Debian <<>> @127.0.0.1 -p 42384 www.adult.example
;; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 34401
;; flags: qr rd ra; QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 1

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags:; udp: 1232
; EDE: 17 (Filtered): (kidshield: blocked (adult))
;; QUESTION SECTION:
;www.adult.example.		IN	A
`
	r, err := parseReply(digOut, reDigEDE)
	if err != nil || r.Status != "NXDOMAIN" || r.EDE != 17 || r.EDEText != "kidshield: blocked (adult)" || len(r.Answer) != 0 {
		t.Errorf("dig NXDOMAIN: %v %s", err, r)
	}
	digAnswer := `;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1
;; flags: qr rd ra; QUERY: 1, ANSWER: 2, AUTHORITY: 0, ADDITIONAL: 1

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags:; udp: 1232
; EDE: 3 (Stale Answer): (upstream unreachable: stale answer)
;; QUESTION SECTION:
;WWW.Google.com.			IN	A

;; ANSWER SECTION:
WWW.Google.com.		300	IN	CNAME	forcesafesearch.google.com.
forcesafesearch.google.com. 30	IN	A	192.0.2.1

;; Query time: 0 msec
`
	r, err = parseReply(digAnswer, reDigEDE)
	if err != nil || r.Status != "NOERROR" || r.EDE != 3 || len(r.Answer) != 2 ||
		r.Answer[0] != (record{"www.google.com.", 300, "CNAME", "forcesafesearch.google.com."}) ||
		r.Answer[1] != (record{"forcesafesearch.google.com.", 30, "A", "192.0.2.1"}) {
		t.Errorf("dig answer: %v %s", err, r)
	}
	kdigOut := `;; ->>HEADER<<- opcode: QUERY; status: SERVFAIL; id: 20659
;; Flags: qr rd ra; QUERY: 1; ANSWER: 0; AUTHORITY: 0; ADDITIONAL: 1

;; EDNS PSEUDOSECTION:
;; Version: 0; flags: ; UDP size: 1232 B; ext-rcode: NOERROR
;; EDE: 14 (Not Ready): 'filter policy is loading'

;; QUESTION SECTION:
;; adult.example.      		IN	A

;; Received 69 B
`
	r, err = parseReply(kdigOut, reKdigEDE)
	if err != nil || r.Status != "SERVFAIL" || r.EDE != 14 || r.EDEText != "filter policy is loading" {
		t.Errorf("kdig SERVFAIL: %v %s", err, r)
	}
	kdigNoEDE := `;; ->>HEADER<<- opcode: QUERY; status: NOERROR; id: 1
;; ANSWER SECTION:
a.example.          	300	IN	AAAA	2001:db8::1
`
	r, err = parseReply(kdigNoEDE, reKdigEDE)
	if err != nil || r.EDE != -1 || len(r.data("AAAA")) != 1 || r.data("AAAA")[0] != "2001:db8::1" {
		t.Errorf("kdig AAAA: %v %s", err, r)
	}
	if _, err := parseReply(";; communications error to 127.0.0.1#53: connection refused\n;; no servers could be reached\n", reDigEDE); err == nil {
		t.Error("no reply parsed as a reply")
	}
}
