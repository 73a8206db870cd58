package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Real RPZ consumers for the feed's interoperability tests: Unbound 1.17 and BIND 9.18 from
// Debian, run in the foreground on loopback with the working configurations of
// docs RPZ-CONSUMERS.md (each in its own temporary data folder, on free ports, logs kept and
// shown when the test fails). Both run as the test's user: Unbound with `username: ""` (no
// privilege drop), BIND without -u, so the temporary folders need no chown. Unbound runs at
// verbosity 4, its lowest level that logs each transfer and whether it was AXFR or IXFR.

// rpzZone is the RPZ zone of the interoperability tests.
const rpzZone = "rpz.kidshield.test."

// rpzConsumer says how a resolver reaches the primary and the rest of the DNS.
type rpzConsumer struct {
	Primary  string // host:port of the RPZ primary (UDP and TCP)
	Upstream string // host:port of a resolver for every other name (forwarder for "example.")
	Zone     string // the RPZ zone, fully qualified
	// KeyName and Secret: BIND signs its SOA queries and transfers with this hmac-sha256 key
	// (Unbound 1.17 cannot).
	KeyName, Secret string
}

// resolver is one running Unbound or BIND.
type resolver struct {
	t      *testing.T
	kind   string // "unbound" or "bind"
	addr   string // 127.0.0.1:port, UDP and TCP
	dir    string // data folder
	conf   string
	ctlArg []string // unbound-control / rndc arguments naming the configuration
	log    *logBuffer

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// freeDNSPort returns a port that was free on 127.0.0.1 for both UDP and TCP a moment ago.
func freeDNSPort(t *testing.T) string {
	t.Helper()
	for try := 0; try < 50; try++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		pc.Close()
		if err != nil {
			continue
		}
		ln.Close()
		return port(pc.LocalAddr().String())
	}
	t.Fatal("no port free for both UDP and TCP")
	return ""
}

// freeTCPPort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freeTCPPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return port(ln.Addr().String())
}

// newTSIGSecret is a fresh hmac-sha256 secret as tsig-keygen prints it: 32 random bytes, base64.
func newTSIGSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// startUnbound runs Unbound on 127.0.0.1:dnsPort (pick it with freeDNSPort) as an RPZ consumer
// of c.Primary, unsigned (Unbound 1.17 has no TSIG for transfers), accepting NOTIFY from
// 127.0.0.1. It returns once Unbound answers queries; the zone may not be transferred yet.
func startUnbound(t *testing.T, dnsPort string, c rpzConsumer) *resolver {
	t.Helper()
	requireTool(t, "unbound", "unbound-control", "unbound-checkconf")
	dir := t.TempDir()
	ctlPort := freeTCPPort(t)
	host, pport, err := net.SplitHostPort(c.Primary)
	if err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`server:
    interface: 127.0.0.1
    port: %[1]s
    do-ip6: no
    username: ""
    chroot: ""
    directory: %[2]q
    pidfile: %[3]q
    use-syslog: no
    logfile: ""
    log-time-ascii: yes
    verbosity: 4
    access-control: 127.0.0.0/8 allow
    module-config: "respip validator iterator"
    do-not-query-localhost: no
    domain-insecure: "example."

forward-zone:
    name: "example."
    forward-addr: %[4]s

rpz:
    name: %[5]q
    primary: %[6]s@%[7]s
    zonefile: "rpz.zone"
    allow-notify: 127.0.0.1
    rpz-log: yes
    rpz-log-name: "kidshield"

remote-control:
    control-enable: yes
    control-interface: 127.0.0.1
    control-port: %[8]s
    control-use-cert: no
`, dnsPort, dir, filepath.Join(dir, "unbound.pid"), strings.Replace(c.Upstream, ":", "@", 1), c.Zone, host, pport, ctlPort)
	r := &resolver{t: t, kind: "unbound", addr: net.JoinHostPort("127.0.0.1", dnsPort), dir: dir, conf: filepath.Join(dir, "unbound.conf")}
	r.ctlArg = []string{"-c", r.conf}
	writeFile(t, r.conf, conf)
	if out, err := exec.Command("unbound-checkconf", r.conf).CombinedOutput(); err != nil {
		t.Fatalf("unbound-checkconf: %v\n%s\n%s", err, out, conf)
	}
	r.run("unbound", "-d", "-c", r.conf)
	return r
}

// startBIND runs BIND (named) on 127.0.0.1:dnsPort as an RPZ consumer of c.Primary, its SOA
// queries and transfers signed with c.KeyName/c.Secret, with min-update-interval 0 (the default
// 60 s delays new policy) and qname-wait-recurse no. It returns once named answers queries.
func startBIND(t *testing.T, dnsPort string, c rpzConsumer) *resolver {
	t.Helper()
	requireTool(t, "named", "rndc", "named-checkconf")
	dir := t.TempDir()
	rndcPort := freeTCPPort(t)
	host, pport, err := net.SplitHostPort(c.Primary)
	if err != nil {
		t.Fatal(err)
	}
	uhost, uport, err := net.SplitHostPort(c.Upstream)
	if err != nil {
		t.Fatal(err)
	}
	zone := strings.TrimSuffix(c.Zone, ".")
	keyName := strings.TrimSuffix(c.KeyName, ".")
	rndcKey := filepath.Join(dir, "rndc-key.conf")
	writeFile(t, rndcKey, fmt.Sprintf("key \"rndc-key\" {\n    algorithm hmac-sha256;\n    secret %q;\n};\n", newTSIGSecret()))
	conf := fmt.Sprintf(`key %[1]q {
    algorithm hmac-sha256;
    secret %[2]q;
};

options {
    directory %[3]q;
    pid-file %[4]q;
    session-keyfile %[5]q;
    listen-on port %[6]s { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion yes;
    allow-query { 127.0.0.1; };
    allow-recursion { 127.0.0.1; };
    dnssec-validation no;
    notify no;
    max-cache-size 32m;
    empty-zones-enable no;
    response-policy {
        zone %[7]q min-update-interval 0;
    } qname-wait-recurse no;
};

zone %[7]q {
    type secondary;
    file "rpz.db";
    masterfile-format text;
    primaries { %[8]s port %[9]s key %[1]q; };
    allow-notify { 127.0.0.1; };
    allow-query { 127.0.0.1; };
    allow-transfer { none; };
};

zone "example" {
    type forward;
    forward only;
    forwarders { %[10]s port %[11]s; };
};

include %[12]q;
controls { inet 127.0.0.1 port %[13]s allow { 127.0.0.1; } keys { "rndc-key"; }; };
`, keyName, c.Secret, dir, filepath.Join(dir, "named.pid"), filepath.Join(dir, "session.key"), dnsPort, zone, host, pport,
		uhost, uport, rndcKey, rndcPort)
	r := &resolver{t: t, kind: "bind", addr: net.JoinHostPort("127.0.0.1", dnsPort), dir: dir, conf: filepath.Join(dir, "named.conf")}
	writeFile(t, r.conf, conf)
	rndcConf := filepath.Join(dir, "rndc.conf")
	writeFile(t, rndcConf, fmt.Sprintf("include %q;\noptions { default-key \"rndc-key\"; default-server 127.0.0.1; default-port %s; };\n", rndcKey, rndcPort))
	r.ctlArg = []string{"-c", rndcConf}
	if out, err := exec.Command("named-checkconf", r.conf).CombinedOutput(); err != nil {
		t.Fatalf("named-checkconf: %v\n%s\n%s", err, out, conf)
	}
	// -g: foreground, everything logged to stderr; no -u: the test's user owns the folder.
	r.run("named", "-g", "-c", r.conf)
	return r
}

// run starts the daemon, registers its cleanup and waits until it answers a query for a name
// the upstream resolves.
func (r *resolver) run(name string, args ...string) {
	t := r.t
	t.Helper()
	logPath := filepath.Join(r.dir, r.kind+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	r.log = &logBuffer{f: lf, path: logPath}
	r.cmd = exec.Command(name, args...)
	r.cmd.Dir = r.dir
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	r.exited = make(chan struct{})
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		r.waitErr = r.cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(r.stop)
	deadline := time.Now().Add(startTimeout)
	for {
		if m, err := r.exchange("ready.example.", dns.TypeA, false); err == nil && m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0 {
			return
		}
		if !r.running() {
			t.Fatalf("%s exited at start: %v\n%s", r.kind, r.waitErr, r.log.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer queries within %s\n%s", r.kind, startTimeout, r.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r *resolver) running() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM (both daemons exit cleanly on it), kills after 15 s, and shows the log
// when the test failed.
func (r *resolver) stop() {
	if r.running() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(15 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.exited
			r.t.Errorf("%s did not exit within 15 s of SIGTERM; killed", r.kind)
		}
	}
	_ = r.log.f.Close()
	if r.t.Failed() {
		r.t.Logf("%s log %s (last 150 lines):\n%s", r.kind, r.log.path, lastLines(r.log.String(), 150))
	}
}

// exchange sends one recursive query to the resolver (UDP, or TCP when tcp).
func (r *resolver) exchange(name string, qtype uint16, tcp bool) (*dns.Msg, error) {
	c := &dns.Client{Timeout: 2 * time.Second}
	if tcp {
		c.Net = "tcp"
	}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	m, _, err := c.Exchange(q, r.addr)
	return m, err
}

// dig asks the resolver with dig, as an operator would.
func (r *resolver) dig(t *testing.T, name, qtype string) reply {
	t.Helper()
	return dig(t, append(server(r.addr), name, qtype)...)
}

// control runs unbound-control or rndc against the resolver.
func (r *resolver) control(args ...string) (string, error) {
	tool := "unbound-control"
	if r.kind == "bind" {
		tool = "rndc"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tool, append(append([]string{}, r.ctlArg...), args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", tool, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

var (
	reUnboundSerial = regexp.MustCompile(`(?m)^(\S+)\s+serial (\d+)`)
	reBINDSerial    = regexp.MustCompile(`(?m)^serial: (\d+)`)
)

// serial returns the serial of zone the resolver holds, as its control tool reports it; ok is
// false while it has none (never transferred).
func (r *resolver) serial(zone string) (serial uint32, ok bool, err error) {
	if r.kind == "unbound" {
		out, err := r.control("list_auth_zones")
		if err != nil {
			return 0, false, err
		}
		for _, m := range reUnboundSerial.FindAllStringSubmatch(out, -1) {
			if strings.EqualFold(dns.Fqdn(m[1]), dns.Fqdn(zone)) {
				n, err := strconv.ParseUint(m[2], 10, 32)
				return uint32(n), err == nil, err
			}
		}
		return 0, false, nil
	}
	out, err := r.control("zonestatus", strings.TrimSuffix(zone, "."))
	if err != nil {
		return 0, false, err
	}
	m := reBINDSerial.FindStringSubmatch(out)
	if m == nil {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(m[1], 10, 32)
	return uint32(n), err == nil, err
}

// waitSerial waits until the resolver holds zone with a serial at least want (RFC 1982 order
// is not needed: the tests start far from the wrap) and returns it.
func (r *resolver) waitSerial(t *testing.T, zone string, want uint32) uint32 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for {
		s, ok, err := r.serial(zone)
		if ok && s >= want {
			return s
		}
		last = fmt.Sprintf("serial %d (loaded %v, err %v)", s, ok, err)
		if !r.running() {
			t.Fatalf("%s exited: %v", r.kind, r.waitErr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not load %s serial ≥ %d within 30 s: %s", r.kind, zone, want, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitRcode polls name (A) every 100 ms until the resolver answers rcode, or fails after
// 20 s; it returns the time taken.
func (r *resolver) waitRcode(t *testing.T, name string, rcode int) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for {
		m, err := r.exchange(name, dns.TypeA, false)
		if err == nil && m.Rcode == rcode {
			return time.Since(start)
		}
		if err != nil {
			last = err.Error()
		} else {
			last = dns.RcodeToString[m.Rcode]
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("%s: %s still answers %s after 20 s, want %s", r.kind, name, last, dns.RcodeToString[rcode])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// staticPrimary is a tiny RPZ primary for testing the harness itself: one zone whose content
// the test sets, SOA over UDP and TCP, AXFR and IXFR (answered with the whole zone), TSIG
// for one key, NOTIFY on demand.
type staticPrimary struct {
	addr    string
	zone    string
	keyName string // fully qualified
	secret  string
	serial  chan uint32 // current serial (a one-slot mailbox)
	names   chan []string
	udp     *dns.Server
	tcp     *dns.Server
}

func startStaticPrimary(t *testing.T, zone, keyName, secret string) *staticPrimary {
	t.Helper()
	p := &staticPrimary{zone: zone, keyName: dns.Fqdn(keyName), secret: secret, serial: make(chan uint32, 1), names: make(chan []string, 1)}
	p.serial <- 1
	p.names <- nil
	dnsPort := freeDNSPort(t)
	p.addr = net.JoinHostPort("127.0.0.1", dnsPort)
	secrets := map[string]string{p.keyName: secret}
	p.udp = &dns.Server{Addr: p.addr, Net: "udp", Handler: dns.HandlerFunc(p.serve), TsigSecret: secrets}
	p.tcp = &dns.Server{Addr: p.addr, Net: "tcp", Handler: dns.HandlerFunc(p.serve), TsigSecret: secrets}
	started := make(chan struct{}, 2)
	p.udp.NotifyStartedFunc = func() { started <- struct{}{} }
	p.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	errs := make(chan error, 2)
	go func() { errs <- p.udp.ListenAndServe() }()
	go func() { errs <- p.tcp.ListenAndServe() }()
	for range 2 {
		select {
		case <-started:
		case err := <-errs:
			t.Fatalf("static primary: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatal("static primary did not start")
		}
	}
	t.Cleanup(func() { _ = p.udp.Shutdown(); _ = p.tcp.Shutdown() })
	return p
}

// set publishes a new version: the listed names (each blocked with its subdomains) and serial.
func (p *staticPrimary) set(serial uint32, names ...string) {
	<-p.serial
	<-p.names
	p.names <- names
	p.serial <- serial
}

func (p *staticPrimary) records() []dns.RR {
	s := <-p.serial
	names := <-p.names
	p.names <- names
	p.serial <- s
	soa := &dns.SOA{Hdr: dns.RR_Header{Name: p.zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 300}, Ns: "ns.kidshield.test.",
		Mbox: "hostmaster.kidshield.test.", Serial: s, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 60}
	rrs := []dns.RR{soa, &dns.NS{Hdr: dns.RR_Header{Name: p.zone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 300}, Ns: "localhost."}}
	for _, n := range names {
		for _, owner := range []string{n + "." + p.zone, "*." + n + "." + p.zone} {
			rrs = append(rrs, &dns.CNAME{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 300}, Target: "."})
		}
	}
	return rrs
}

func (p *staticPrimary) serve(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	signed := r.IsTsig() != nil
	if signed && w.TsigStatus() != nil {
		m.SetRcode(r, dns.RcodeNotAuth)
		_ = w.WriteMsg(m)
		return
	}
	sign := func(m *dns.Msg) {
		if signed {
			m.SetTsig(p.keyName, dns.HmacSHA256, 300, time.Now().Unix())
		}
	}
	if len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, p.zone) {
		m.SetRcode(r, dns.RcodeRefused)
		sign(m)
		_ = w.WriteMsg(m)
		return
	}
	rrs := p.records()
	switch r.Question[0].Qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		ch := make(chan *dns.Envelope, 1)
		tr := new(dns.Transfer)
		done := make(chan error, 1)
		go func() { done <- tr.Out(w, r, ch) }()
		ch <- &dns.Envelope{RR: append(rrs, rrs[0])}
		close(ch)
		<-done
		_ = w.Close()
		return
	case dns.TypeSOA:
		m.Authoritative = true
		m.Answer = rrs[:1]
	default:
		m.Authoritative = true
	}
	sign(m)
	_ = w.WriteMsg(m)
}

// notify sends an unsigned NOTIFY with the current SOA to addr and waits for the answer.
func (p *staticPrimary) notify(t *testing.T, addr string) {
	t.Helper()
	m := new(dns.Msg)
	m.SetNotify(p.zone)
	m.Answer = p.records()[:1]
	c := &dns.Client{Timeout: 3 * time.Second}
	if _, _, err := c.Exchange(m, addr); err != nil {
		t.Errorf("NOTIFY to %s: %v", addr, err)
	}
}

// TestRPZInteropResolversStaticPrimary checks the harness without kidshield: each resolver
// transfers a static zone from a miekg/dns primary (Unbound unsigned, BIND with TSIG), blocks
// its names and their subdomains, and picks up a new version after a NOTIFY.
func TestRPZInteropResolversStaticPrimary(t *testing.T) {
	requireTool(t, "dig")
	up := startUpstream(t, 60)
	for _, kind := range []string{"unbound", "bind"} {
		t.Run(kind, func(t *testing.T) {
			secret := newTSIGSecret()
			p := startStaticPrimary(t, rpzZone, "bind", secret)
			p.set(1, "bad.example")
			c := rpzConsumer{Primary: p.addr, Upstream: up.addr, Zone: rpzZone, KeyName: "bind", Secret: secret}
			var r *resolver
			if kind == "unbound" {
				r = startUnbound(t, freeDNSPort(t), c)
			} else {
				r = startBIND(t, freeDNSPort(t), c)
			}
			r.waitSerial(t, rpzZone, 1)
			r.waitRcode(t, "bad.example.", dns.RcodeNameError)
			if got := r.dig(t, "x.bad.example", "A"); got.Status != "NXDOMAIN" {
				t.Errorf("x.bad.example: %s, want NXDOMAIN", got)
			}
			if got := r.dig(t, "worse.example", "A"); got.Status != "NOERROR" || len(got.data("A")) == 0 {
				t.Errorf("worse.example before it is listed: %s, want an address", got)
			}
			p.set(2, "bad.example", "worse.example")
			p.notify(t, r.addr)
			took := r.waitRcode(t, "worse.example.", dns.RcodeNameError)
			t.Logf("%s blocked worse.example %s after the NOTIFY", kind, took.Round(time.Millisecond))
			r.waitSerial(t, rpzZone, 2)
		})
	}
}
