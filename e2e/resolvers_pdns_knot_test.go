package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/auth"
	"github.com/kidshield/kidshield/feed/rpz"
)

// The two other resolvers of docs/feed.md "Subscribing" (issue 4, must-show 5), run with the
// snippets of that page: PowerDNS Recursor 4.8 transfers the zone (TSIG, AXFR then IXFR, polled
// with rpzPrimary's refresh: 4.8 does not act on NOTIFY for an RPZ); Knot Resolver 5.6 cannot
// transfer and reads rpz.zone, fetched over HTTP with `kidshield feed verify --out` and
// watched by kresd. Each runs as the test's user in its own temporary folder on a free loopback
// port, forwarding "example." to the local upstream. What each answers for the canary is logged
// (docs/feed.md "Verifying with the canary" quotes it) and asserted.

// TestRPZInteropPowerDNS: kidshield's primary, a real pdns_recursor consuming it.
func TestRPZInteropPowerDNS(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts kidshield and PowerDNS Recursor, ~20 s")
	}
	requireTool(t, "dig", "pdns_recursor")
	up := startUpstream(t, 60)
	s := &feedSession{kind: "pdns", feedAddr: "127.0.0.1:" + freeDNSPort(t), secret: newTSIGSecret()}
	// The member signs with its key; no notify: 4.8 does not act on it (docs/feed.md), it polls.
	s.in = start(t, options{Upstream: up, Body: fmt.Sprintf(`
feed:
  zone: %s
  listen: [%q]
  members:
    - name: pdns
      tsig_secret: %q
`, rpzZone, s.feedAddr, s.secret) + hotlineBody})
	s.st = openStore(t, s.in.sqliteDSN())
	serial0 := s.soaKey(t, "pdns")

	r, dump := startPowerDNS(t, freeDNSPort(t), rpzConsumer{Primary: s.feedAddr, Upstream: up.addr, Zone: rpzZone, KeyName: "pdns", Secret: s.secret})
	s.res = r
	got := waitFileSerial(t, r, dump, serial0)
	t.Logf("pdns loaded %s serial %d (dumpFile)", rpzZone, got)
	// The member has a key and no address list: the primary only transfers signed requests.
	if !strings.Contains(s.in.log.String(), "member=pdns type=AXFR") {
		t.Errorf("kidshield logged no AXFR by member pdns")
	}
	checkCanary(t, r, up)
	rpzListDelist(t, s, func() {
		// PowerDNS polls the SOA every `refresh` seconds; the dumpFile follows each transfer.
		waitFileSerial(t, r, dump, uint32(s.listSerial(t)))
	})
	if !r.log.contains("RPZ mutations") {
		t.Errorf("PowerDNS logged no incremental RPZ update (RPZ mutations): the changes did not come by IXFR")
	}
	if !strings.Contains(s.in.log.String(), "type=IXFR style=incremental") {
		t.Errorf("kidshield logged no incremental IXFR")
	}
}

// TestRPZInteropKnot: kidshield's HTTP feed, `kidshield feed verify --out` keeping rpz.zone
// fresh, a real kresd watching it.
func TestRPZInteropKnot(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts kidshield and Knot Resolver, a few seconds")
	}
	requireTool(t, "dig", "kresd")
	up := startUpstream(t, 60)
	s := &feedSession{kind: "knot"}
	// No transfers: the zone's name and action are what rpz.zone over HTTP carries.
	s.in = start(t, options{Upstream: up, Body: fmt.Sprintf(`
feed:
  zone: %s
`, rpzZone) + hotlineBody})
	s.st = openStore(t, s.in.sqliteDSN())
	token, _, err := auth.CreateToken(context.Background(), s.st, auth.NewToken{Name: "knot resolver", Scopes: []string{"feed:read"}}, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	st, key, _ := s.in.get(s.in.httpURL("/feed/v1/key"), "")
	if st != http.StatusOK {
		t.Fatalf("GET /feed/v1/key: %d", st)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "kidshield-feed.pem")
	writeFile(t, keyFile, string(key))
	rpzDir := filepath.Join(dir, "rpz")
	if err := os.Mkdir(rpzDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// fetch is the doc's cron job: the file is replaced only when it matches the signed manifest.
	fetch := func() uint32 {
		t.Helper()
		cmd := exec.Command(kidshieldBin, "feed", "verify", "--url", s.in.httpURL("/feed/v1"), "--key", keyFile, "--out", rpzDir, "rpz.zone")
		cmd.Env = append(cleanEnv(), "KIDSHIELD_FEED_TOKEN="+token)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kidshield feed verify: %v\n%s", err, out)
		}
		m := regexp.MustCompile(`ok: manifest serial (\d+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("kidshield feed verify printed no serial:\n%s", out)
		}
		n, _ := strconv.ParseUint(string(m[1]), 10, 32)
		return uint32(n)
	}
	zoneFile := filepath.Join(rpzDir, "rpz.zone")
	serial0 := fetch()
	if got := fileSerial(t, zoneFile); got != serial0 {
		t.Fatalf("rpz.zone has serial %d, the manifest %d", got, serial0)
	}

	r := startKnot(t, freeDNSPort(t), up.addr, zoneFile)
	s.res = r
	checkCanary(t, r, up)
	rpzListDelist(t, s, func() {
		// The doc runs the fetch every minute; the test runs it once the list has changed.
		want := uint32(s.listSerial(t))
		deadline := time.Now().Add(20 * time.Second)
		for fetch() < want {
			if time.Now().After(deadline) {
				t.Fatalf("the HTTP feed did not reach serial %d within 20 s", want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}

// rpzListDelist runs the common part: two analysts list bad.example, the resolver answers it
// and its subdomains NXDOMAIN while an unlisted name resolves, and after the delisting the
// names resolve again. refresh brings the resolver's copy up to date after each change.
func rpzListDelist(t *testing.T, s *feedSession, refresh func()) {
	t.Helper()
	r := s.res
	// Asked before it is listed: a positive answer is then in the resolver's cache, which the
	// policy must override.
	if a := r.dig(t, "bad.example", "A"); a.Status != "NOERROR" || len(a.data("A")) == 0 {
		t.Fatalf("%s: bad.example before it is listed: %s, want an address", s.kind, a)
	}
	s.in.addUser(t, "e2e-proposer", "analyst", 0)
	u, err := s.st.UserByLogin(context.Background(), "e2e-proposer")
	if err != nil {
		t.Fatal(err)
	}
	s.proposer = u.ID
	s.approver = s.in.login(t, "e2e-approver", s.in.addUser(t, "e2e-approver", "analyst", 0))

	id := s.list(t, "bad.example")
	approved := time.Now()
	refresh()
	waitDig(t, r, "bad.example", "NXDOMAIN")
	t.Logf("%s: bad.example NXDOMAIN %s after the approval", s.kind, time.Since(approved).Round(time.Millisecond))
	for _, name := range []string{"bad.example", "www.bad.example", "a.b.bad.example"} {
		a := r.dig(t, name, "A")
		if a.Status != "NXDOMAIN" {
			t.Errorf("%s: %s is %s, want NXDOMAIN", s.kind, name, a)
		}
		// docs/feed.md: policy.DENY marks Knot's blocked answers with EDE 15 (Blocked).
		if s.kind == "knot" && a.EDE != 15 {
			t.Errorf("knot: %s answered without EDE 15 (Blocked): %s", name, a)
		}
		if name == "www.bad.example" {
			t.Logf("%s answers a listed name: %s\n%s", s.kind, a, a.Out)
		}
	}
	if a := r.dig(t, "good.example", "A"); a.Status != "NOERROR" || len(a.data("A")) == 0 {
		t.Errorf("%s: an unlisted name: %s, want an address", s.kind, a)
	}

	s.act(t, id, "delist")
	delisted := time.Now()
	refresh()
	waitDig(t, r, "bad.example", "NOERROR")
	t.Logf("%s: bad.example resolves %s after the delisting", s.kind, time.Since(delisted).Round(time.Millisecond))
	for _, name := range []string{"bad.example", "www.bad.example"} {
		if a := r.dig(t, name, "A"); a.Status != "NOERROR" || len(a.data("A")) == 0 {
			t.Errorf("%s: %s after the delisting: %s, want an address", s.kind, name, a)
		}
	}
}

// waitDig asks name (A) with dig every 200 ms until the resolver answers status, or fails after
// 30 s. dig's query (EDNS, AD) is the one asked before the change: PowerDNS 4.8 keeps a packet
// cache keyed on the whole query that an RPZ update does not clear, so only this query shows
// when a user who asked before would see the change.
func waitDig(t *testing.T, r *resolver, name, status string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		a, err := runTool("dig", append([]string{"+tries=1", "+time=2"}, append(server(r.addr), name, "A")...)...)
		if err == nil && a.Status == status {
			return
		}
		if !r.running() {
			t.Fatalf("%s exited: %v", r.kind, r.waitErr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s still answers %s (err %v) after 30 s, want %s", r.kind, name, a, err, status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkCanary asks for the canary and a name under it. The zone publishes them as local data,
// A rpz.CanaryAddr (192.0.2.1; the local upstream answers upstreamA, another address), and the
// answer must have come without asking the upstream for the name (an RPZ QNAME trigger is
// applied before recursion).
func checkCanary(t *testing.T, r *resolver, up *upstream) {
	t.Helper()
	want := rpz.CanaryAddr.String()
	for _, name := range []string{"canary.kidshield.example", "x.canary.kidshield.example"} {
		a := r.dig(t, name, "A")
		t.Logf("%s answers %s A: %s\n%s", r.kind, name, a, a.Out)
		// Both support RPZ local data: the address comes from the zone, and the upstream is not asked.
		if asked := up.asked(name); a.Status != "NOERROR" || !slices.Equal(a.data("A"), []string{want}) || asked != 0 {
			t.Errorf("%s: %s is %s (upstream asked %d times), want A %s from the zone", r.kind, name, a, asked, want)
		}
	}
}

// startPowerDNS runs pdns_recursor on 127.0.0.1:dnsPort with docs/feed.md's rpz.lua (address,
// zone, key, paths and refresh changed for the test) and returns it and its dumpFile.
func startPowerDNS(t *testing.T, dnsPort string, c rpzConsumer) (*resolver, string) {
	t.Helper()
	dir := t.TempDir()
	dump := filepath.Join(dir, "rpz.kidshield.test.zone")
	lua := fmt.Sprintf(`rpzPrimary(%q, %q, {
  policyName = "kidshield",
  refresh    = 1,       -- the test: a SOA check every second (docs/feed.md: 60)
  tsigname   = %q,
  tsigalgo   = "hmac-sha256",
  tsigsecret = %q,
  dumpFile   = %q,
  seedFile   = %q
})
`, c.Primary, c.Zone, c.KeyName, c.Secret, dump, dump)
	luaPath := filepath.Join(dir, "rpz.lua")
	writeFile(t, luaPath, lua)
	// lua-config-file and packetcache-ttl are the doc's: 4.8's packet cache is not cleared by an
	// RPZ update, so an answer cached before a change is served until it expires (default up to
	// 3600 s); packetcache-ttl bounds that. The rest is the test's: loopback port, no privilege
	// drop, control socket in the folder, logs on stderr, "example." forwarded to the local
	// upstream, no DNSSEC validation (dig sets AD, and the local upstream's answers are unsigned).
	conf := fmt.Sprintf(`lua-config-file=%s
packetcache-ttl=10
local-address=127.0.0.1
local-port=%s
socket-dir=%s
daemon=no
disable-syslog=yes
log-timestamp=yes
loglevel=6
dnssec=off
forward-zones=example=%s
`, luaPath, dnsPort, dir, c.Upstream)
	r := &resolver{t: t, kind: "pdns", addr: net.JoinHostPort("127.0.0.1", dnsPort), dir: dir, conf: filepath.Join(dir, "recursor.conf")}
	writeFile(t, r.conf, conf)
	r.run("pdns_recursor", "--config-dir="+dir)
	return r, dump
}

// startKnot runs kresd on 127.0.0.1:dnsPort with docs/feed.md's policy.rpz line (path changed)
// and returns once it answers.
func startKnot(t *testing.T, dnsPort, upstream, zoneFile string) *resolver {
	t.Helper()
	dir := t.TempDir()
	uhost, uport, err := net.SplitHostPort(upstream)
	if err != nil {
		t.Fatal(err)
	}
	// The policy.rpz line is the doc's; the rest replaces Debian's kresd.conf for the test:
	// loopback port, cache in the folder, no root trust anchor (the local upstream's answers are
	// unsigned), everything forwarded to the local upstream. Rules apply in order: the RPZ first.
	conf := fmt.Sprintf(`net.listen('127.0.0.1', %s, { kind = 'dns' })
cache.open(10 * MB, 'lmdb://%s')
trust_anchors.remove('.')
policy.add(policy.rpz(policy.DENY, %q, true))   -- true: reload on change
policy.add(policy.all(policy.FORWARD('%s@%s')))
`, dnsPort, filepath.Join(dir, "cache"), zoneFile, uhost, uport)
	r := &resolver{t: t, kind: "knot", addr: net.JoinHostPort("127.0.0.1", dnsPort), dir: dir, conf: filepath.Join(dir, "kresd.conf")}
	writeFile(t, r.conf, conf)
	r.run("kresd", "-n", "-c", r.conf, dir)
	return r
}

// fileSerial reads the SOA serial of a zone file (PowerDNS's dumpFile, the fetched rpz.zone).
func fileSerial(t *testing.T, path string) uint32 {
	t.Helper()
	s, err := readFileSerial(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readFileSerial(path string) (uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zp := dns.NewZoneParser(f, "", path)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if soa, isSOA := rr.(*dns.SOA); isSOA {
			return soa.Serial, nil
		}
	}
	if err := zp.Err(); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return 0, fmt.Errorf("%s: no SOA", path)
}

// waitFileSerial waits until PowerDNS has written its dumpFile at a serial ≥ want (it writes it
// after each transfer) and returns the serial.
func waitFileSerial(t *testing.T, r *resolver, path string, want uint32) uint32 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := readFileSerial(path)
		if err == nil && s >= want {
			return s
		}
		if !r.running() {
			t.Fatalf("%s exited: %v", r.kind, r.waitErr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not write %s at serial ≥ %d within 30 s (now %d, %v)", r.kind, path, want, s, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// soaKey asks the primary for its SOA signed with the member's key and returns the serial.
func (s *feedSession) soaKey(t *testing.T, key string) uint32 {
	t.Helper()
	a := dig(t, append([]string{"-y", "hmac-sha256:" + key + ":" + s.secret}, append(server(s.feedAddr), "+norec", rpzZone, "SOA")...)...)
	soa := a.data("SOA")
	if a.Status != "NOERROR" || len(soa) != 1 {
		t.Fatalf("SOA from the primary: %s", a)
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
