package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/store"
)

// The network list reaches ISPs' resolvers (issue 4, must-show 1): kidshield's RPZ primary
// (feed.listen) serves the list to a real Unbound 1.17 (unsigned, allowed by address) and a
// real BIND 9.18 (TSIG); a domain confirmed on the list is answered NXDOMAIN by the resolver,
// with its subdomains, within seconds of the approval (NOTIFY, then IXFR), and resolves again
// after it is delisted. The zone's serial survives a restart of kidshield.

func TestRPZInteropUnbound(t *testing.T) { rpzInterop(t, "unbound") }

func TestRPZInteropBIND(t *testing.T) { rpzInterop(t, "bind") }

// feedSession is a running kidshield with a feed and a resolver consuming it.
type feedSession struct {
	in       *instance
	st       *store.Store
	feedAddr string
	res      *resolver
	kind     string
	secret   string // BIND's TSIG secret (member "bind")
	proposer int64  // user id of the analyst who proposes
	approver session
}

func rpzInterop(t *testing.T, kind string) {
	requireTool(t, "dig")
	up := startUpstream(t, 60)
	resPort, feedPort := freeDNSPort(t), freeDNSPort(t)
	s := &feedSession{kind: kind, feedAddr: "127.0.0.1:" + feedPort}
	var member string
	switch kind {
	case "unbound":
		// Unbound 1.17 cannot sign transfers: the member is allowed by source address and sent
		// unsigned NOTIFYs.
		member = fmt.Sprintf(`
    - name: unbound
      allow: [127.0.0.1/32]
      notify: ["127.0.0.1:%s"]`, resPort)
	case "bind":
		// BIND signs: no address is allowed unsigned, so every transfer must carry the key.
		s.secret = newTSIGSecret()
		member = fmt.Sprintf(`
    - name: bind
      tsig_secret: %q
      notify: ["127.0.0.1:%s"]`, s.secret, resPort)
	}
	body := fmt.Sprintf(`
feed:
  zone: %s
  listen: [%q]
  members:%s
`, rpzZone, s.feedAddr, member) + hotlineBody
	s.in = start(t, options{Upstream: up, Body: body})
	s.st = openStore(t, s.in.sqliteDSN())

	// The primary answers SOA over UDP and TCP before any consumer asks.
	serial0 := s.soa(t, false)
	if got := s.soa(t, true); got != serial0 {
		t.Errorf("SOA serial over TCP %d, over UDP %d", got, serial0)
	}
	if listSerial := s.listSerial(t); uint32(listSerial) != serial0 {
		t.Errorf("the zone's serial is %d, the list serial %d", serial0, listSerial)
	}

	c := rpzConsumer{Primary: s.feedAddr, Upstream: up.addr, Zone: rpzZone, KeyName: "bind", Secret: s.secret}
	if kind == "unbound" {
		s.res = startUnbound(t, resPort, c)
	} else {
		s.res = startBIND(t, resPort, c)
		s.checkTransferAccess(t)
	}
	got := s.res.waitSerial(t, rpzZone, serial0)
	t.Logf("%s loaded %s serial %d", kind, rpzZone, got)
	s.checkFirstTransferAXFR(t)
	if r := s.res.dig(t, "bad.example", "A"); r.Status != "NOERROR" || len(r.data("A")) == 0 {
		t.Fatalf("bad.example before it is listed: %s, want an address", r)
	}
	// The canary: a member self-certifies with it. Under .example every resolver says NXDOMAIN,
	// so the zone answers it with an address only a resolver applying the zone gives.
	for _, name := range []string{"canary.kidshield.example", "www.canary.kidshield.example"} {
		if r := s.res.dig(t, name, "A"); r.Status != "NOERROR" || !slices.Equal(r.data("A"), []string{"192.0.2.1"}) || up.asked(name) != 0 {
			t.Errorf("%s: %s is %s (upstream asked %d times), want 192.0.2.1 from the zone (the canary's local data)", kind, name, r, up.asked(name))
		}
	}

	// Two analysts: one proposes, the other approves (the list's two-person rule).
	s.in.addUser(t, "e2e-proposer", "analyst", 0)
	u, err := s.st.UserByLogin(context.Background(), "e2e-proposer")
	if err != nil {
		t.Fatal(err)
	}
	s.proposer = u.ID
	s.approver = s.in.login(t, "e2e-approver", s.in.addUser(t, "e2e-approver", "analyst", 0))

	// Listed: the domain and its subdomains are NXDOMAIN at the resolver.
	id := s.list(t, "bad.example")
	took := s.res.waitRcode(t, "bad.example.", dns.RcodeNameError)
	t.Logf("%s: bad.example NXDOMAIN %s after the approval", kind, took.Round(time.Millisecond))
	for _, name := range []string{"bad.example", "www.bad.example", "a.b.bad.example"} {
		if r := s.res.dig(t, name, "A"); r.Status != "NXDOMAIN" {
			t.Errorf("%s: %s is %s, want NXDOMAIN", kind, name, r)
		}
	}
	if r := s.res.dig(t, "good.example", "A"); r.Status != "NOERROR" || len(r.data("A")) == 0 {
		t.Errorf("%s: an unlisted name: %s, want an address", kind, r)
	}
	listed := s.res.waitSerial(t, rpzZone, uint32(s.listSerial(t)))

	// Delisted: the names resolve again, by an incremental transfer.
	s.act(t, id, "delist")
	took = s.res.waitRcode(t, "bad.example.", dns.RcodeSuccess)
	t.Logf("%s: bad.example resolves %s after the delisting", kind, took.Round(time.Millisecond))
	if r := s.res.dig(t, "www.bad.example", "A"); r.Status != "NOERROR" || len(r.data("A")) == 0 {
		t.Errorf("%s: www.bad.example after the delisting: %s, want an address", kind, r)
	}
	delisted := s.res.waitSerial(t, rpzZone, uint32(s.listSerial(t)))
	if delisted <= listed {
		t.Errorf("%s: serial %d after the delisting, %d before", kind, delisted, listed)
	}
	s.checkIXFR(t)

	// A restart keeps the serial: the zone comes back at the same serial, and the next change
	// gets a higher one, which the resolver accepts.
	before := s.soa(t, false)
	s.in.signal(syscall.SIGTERM)
	<-s.in.exited
	if s.in.waitErr != nil {
		t.Fatalf("kidshield did not exit cleanly on SIGTERM: %v", s.in.waitErr)
	}
	s.in.restart()
	var after uint32
	eventually(t, "SOA after the restart", func() error {
		var err error
		after, err = s.trySOA(false)
		return err
	})
	if after != before {
		t.Errorf("after a restart the primary serves serial %d, before it %d", after, before)
	}
	s.approver = s.in.login(t, s.approver.login, s.approver.password)
	s.list(t, "worse.example")
	took = s.res.waitRcode(t, "worse.example.", dns.RcodeNameError)
	t.Logf("%s: worse.example NXDOMAIN %s after an approval following the restart", kind, took.Round(time.Millisecond))
	if got := s.res.waitSerial(t, rpzZone, after+1); got <= after {
		t.Errorf("%s: serial %d after the restart's first change, want > %d", kind, got, after)
	}
	if r := s.res.dig(t, "bad.example", "A"); r.Status != "NOERROR" {
		t.Errorf("%s: the delisted bad.example after the restart: %s, want NOERROR", kind, r)
	}

	// The action changes by SIGHUP (nxdomain → blockpage): the zone gets a new serial, the
	// resolver transfers it (NOTIFY) with nothing done on its side, and the listed name is sent
	// to the block page.
	serial := s.soa(t, false)
	s.in.writeConfig(strings.Replace(body, "\nfeed:\n", "\nfeed:\n  action: blockpage\n  block_page: block.kidshield.example\n", 1))
	sighup := time.Now()
	s.in.signal(syscall.SIGHUP)
	eventually(t, "the resolver sends worse.example to the block page", func() error {
		r := s.res.dig(t, "worse.example", "A")
		if !slices.Contains(r.data("CNAME"), "block.kidshield.example.") {
			return fmt.Errorf("worse.example: %s", r)
		}
		return nil
	})
	t.Logf("%s: the new action in force %s after the SIGHUP", kind, time.Since(sighup).Round(time.Millisecond))
	if got := s.soa(t, false); got <= serial {
		t.Errorf("%s: serial %d after the action changed, %d before", kind, got, serial)
	}
	if r := s.res.dig(t, "x.canary.kidshield.example", "A"); !slices.Equal(r.data("A"), []string{"192.0.2.1"}) {
		t.Errorf("%s: the canary after the action changed: %s", kind, r)
	}
}

// trySOA asks the primary for the zone's SOA over UDP or TCP, as the member would: signed
// with BIND's key, unsigned from Unbound's allowed address.
func (s *feedSession) trySOA(tcp bool) (uint32, error) {
	c := &dns.Client{Timeout: 3 * time.Second}
	if tcp {
		c.Net = "tcp"
	}
	q := new(dns.Msg)
	q.SetQuestion(rpzZone, dns.TypeSOA)
	q.RecursionDesired = false
	if s.secret != "" {
		c.TsigSecret = map[string]string{"bind.": s.secret}
		q.SetTsig("bind.", dns.HmacSHA256, 300, time.Now().Unix())
	}
	m, _, err := c.Exchange(q, s.feedAddr)
	if err != nil {
		return 0, err
	}
	if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 {
		return 0, fmt.Errorf("SOA: %s with %d answers", dns.RcodeToString[m.Rcode], len(m.Answer))
	}
	soa, ok := m.Answer[0].(*dns.SOA)
	if !ok || !m.Authoritative {
		return 0, fmt.Errorf("SOA answer %v (AA %v)", m.Answer[0], m.Authoritative)
	}
	return soa.Serial, nil
}

// soa asks the primary for its SOA with dig (as an operator checks it), signed with the
// member's key when it has one, and returns the serial.
func (s *feedSession) soa(t *testing.T, tcp bool) uint32 {
	t.Helper()
	args := server(s.feedAddr)
	if tcp {
		args = append([]string{"+tcp"}, args...)
	}
	if s.secret != "" {
		args = append([]string{"-y", "hmac-sha256:bind:" + s.secret}, args...)
	}
	r := dig(t, append(args, "+norec", rpzZone, "SOA")...)
	soa := r.data("SOA")
	if r.Status != "NOERROR" || len(soa) != 1 {
		t.Fatalf("SOA from the primary (tcp %v): %s", tcp, r)
	}
	f := strings.Fields(soa[0])
	if len(f) != 7 {
		t.Fatalf("SOA %q", soa[0])
	}
	n, err := strconv.ParseUint(f[2], 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}

func (s *feedSession) listSerial(t *testing.T) int64 {
	t.Helper()
	n, err := s.st.ListSerial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// list puts domain on the network list: the proposal is stored directly (it changes nothing
// that blocks), the approval goes through the list page as the second analyst, so the running
// server learns of it at once (the hotline's OnListChange) as it does in production.
func (s *feedSession) list(t *testing.T, domain string) int64 {
	t.Helper()
	id, err := s.st.ProposeListEntry(context.Background(), store.ListProposal{Kind: store.ListDomain, Value: domain, Category: "hotline",
		Source: "e2e", Reason: "interop test", ActorID: s.proposer, Actor: "e2e-proposer"})
	if err != nil {
		t.Fatal(err)
	}
	s.act(t, id, "approve")
	return id
}

// act posts one decision on the list page (approve, delist) as the approving analyst.
func (s *feedSession) act(t *testing.T, id int64, what string) {
	t.Helper()
	st, b, _ := mustDo(t, call{method: "POST", url: s.in.httpURL(fmt.Sprintf("/desk/list/%d/%s", id, what)), cookie: s.approver.cookie,
		ctype: formType, body: form("csrf", s.approver.csrf, "reason", "interop test")})
	if st != http.StatusSeeOther {
		t.Fatalf("POST /desk/list/%d/%s: %d %.500s", id, what, st, b)
	}
}

// checkTransferAccess: with only a TSIG member configured, an unsigned AXFR is refused and a
// signed one succeeds (dig -y, as an ISP's operator would test their key).
func (s *feedSession) checkTransferAccess(t *testing.T) {
	t.Helper()
	out := digRaw(t, append(server(s.feedAddr), rpzZone, "AXFR")...)
	if !strings.Contains(out, "Transfer failed") {
		t.Errorf("an unsigned AXFR from an address not allowed was not refused:\n%s", out)
	}
	out = digRaw(t, append([]string{"-y", "hmac-sha256:bind:" + s.secret}, append(server(s.feedAddr), rpzZone, "AXFR")...)...)
	if !strings.Contains(out, ";; XFR size:") || strings.Contains(out, "Transfer failed") {
		t.Errorf("a signed AXFR failed:\n%s", out)
	}
}

func digRaw(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "dig", append([]string{"+tries=1", "+time=5"}, args...)...).CombinedOutput()
	return string(out)
}

// checkFirstTransferAXFR checks that the resolver's first load was a full transfer: BIND keeps
// no journal after an AXFR; Unbound logs the fetch at verbosity 4.
func (s *feedSession) checkFirstTransferAXFR(t *testing.T) {
	t.Helper()
	switch s.kind {
	case "bind":
		if !s.res.log.contains("transferred serial") {
			t.Errorf("BIND logged no transfer")
		}
		if !s.res.log.contains("TSIG 'bind'") {
			t.Errorf("BIND's transfer was not signed with the member's key")
		}
		if _, err := os.Stat(filepath.Join(s.res.dir, "rpz.db.jnl")); err == nil {
			t.Errorf("BIND has a journal after its first transfer: it was not an AXFR")
		}
	case "unbound":
		// Unbound may answer from the new zone a moment before its log line is written.
		eventually(t, "Unbound logs an AXFR for its first load", func() error {
			if !s.res.log.contains("transfer next AXFR fetch") || !s.res.log.contains("last AXFR packet") {
				return fmt.Errorf("no AXFR lines in its log")
			}
			return nil
		})
	}
}

// checkIXFR checks that the changes reached the resolver incrementally: BIND writes IXFRs to
// its journal (named-journalprint shows the added and deleted records); Unbound logs them.
func (s *feedSession) checkIXFR(t *testing.T) {
	t.Helper()
	switch s.kind {
	case "bind":
		jnl := filepath.Join(s.res.dir, "rpz.db.jnl")
		out, err := exec.Command("named-journalprint", jnl).CombinedOutput()
		if err != nil {
			t.Errorf("named-journalprint %s (no journal: BIND made no IXFR): %v\n%s", jnl, err, out)
			return
		}
		text := strings.ToLower(string(out))
		for _, want := range []string{"add bad.example." + rpzZone, "del bad.example." + rpzZone, "add *.bad.example." + rpzZone} {
			if !strings.Contains(text, want) {
				t.Errorf("BIND's journal lacks %q:\n%s", want, out)
			}
		}
	case "unbound":
		if !s.res.log.contains("last IXFR packet") {
			t.Errorf("Unbound logged no IXFR")
		}
		if s.res.log.contains("did not apply cleanly") {
			t.Errorf("an IXFR from the primary did not apply cleanly at Unbound")
		}
	}
}
