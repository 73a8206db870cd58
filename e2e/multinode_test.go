package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/auth"
)

// Several nodes on loopback (issue 4, must-show 2): a control node (`roles: [hotline, feed]`,
// on PostgreSQL, no DNS) publishes the network list as an RPZ primary; two filter nodes
// (`roles: [filter]`, SQLite data directories of their own) subscribe to it with a TSIG key.
// A domain confirmed on the control node is NXDOMAIN on both filter nodes within seconds; with
// the control node down they keep blocking it (a restarted filter node too, from its disk
// copy); the control node restarted on the same database publishes a second domain, which the
// filter nodes take by IXFR.
//
// The filter nodes also take their profiles from the control node (`subscribe: policy:`): the
// control node's default profile "family" denies a name the filter nodes' own configuration
// does not; both block it, follow a change of it made on the control node with SIGHUP, keep
// it through their own SIGHUP, and keep it with the control node down (a restart included).
func TestMultiNode(t *testing.T) {
	dsn := postgresTestDSN(t)
	up := startUpstream(t, 60)
	feedAddr := "127.0.0.1:" + freeDNSPort(t)
	secret := newTSIGSecret()

	// The control node's profiles: "ads" is a category the filter nodes have no list for.
	controlBody := func(deny string) string {
		return fmt.Sprintf(`roles: [hotline, feed]
store:
  dsn: %q
feed:
  zone: %s
  listen: [%q]
  members:
    - name: node
      tsig_secret: %q
categories: [ads]
profiles:
  - id: family
    block_categories: [hotline, ads]
    deny: [%s]
default_profile: family
`, dsn, rpzZone, feedAddr, secret, deny) + hotlineBody
	}
	ctl := startControl(t, controlBody("policy-deny.example"))
	if ctl.log.contains(`msg="dns listening"`) {
		t.Errorf("the control node (roles hotline, feed) opened DNS listeners")
	}
	s := &feedSession{in: ctl, st: openStore(t, dsn), feedAddr: feedAddr}
	feedToken, _, err := auth.CreateToken(context.Background(), s.st, auth.NewToken{Name: "filter nodes", Scopes: []string{"feed:read", "policy:read"}}, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	st, feedKey, _ := ctl.get(ctl.httpURL("/feed/v1/key"), "")
	if st != http.StatusOK {
		t.Fatalf("GET /feed/v1/key: %d", st)
	}

	filterBody := fmt.Sprintf(`roles: [filter]
profiles:
  - id: home
    block_categories: [hotline]
default_profile: home
subscribe:
  source: rpz://%s/%s
  tsig_name: node
  tsig_secret: %q
  refresh: 1s
  policy: %s
  token: %q
  public_key: %q
`, feedAddr, rpzZone, secret, ctl.httpURL("/feed/v1"), feedToken, feedKey)
	nodes := []*instance{start(t, options{Upstream: up, Body: filterBody}), start(t, options{Upstream: up, Body: filterBody})}
	for i, n := range nodes {
		if st, _, _ := n.get(n.httpURL("/desk/list"), ""); st != http.StatusNotFound {
			t.Errorf("filter node %d serves the hotline's /desk/list: %d, want 404", i+1, st)
		}
	}
	if out, err := exec.Command(kidshieldBin, "check-config", nodes[0].cfgPath).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "profiles and default_profile come from the control node "+ctl.httpURL("/feed/v1")) {
		t.Errorf("check-config of a filter node with policy: %v\n%s", err, out)
	}

	// The control node's profile, not the filter nodes' own, is in force on both.
	for i, n := range nodes {
		waitNX(t, n, "policy-deny.example.", time.Now(), 10*time.Second)
		n.waitLog(`msg="profiles applied" digest=`, 1)
		if rc := rcode(t, n, "good.example."); rc != dns.RcodeSuccess {
			t.Errorf("filter node %d: good.example is %s under the control node's profile, want NOERROR", i+1, dns.RcodeToString[rc])
		}
	}

	ctl.addUser(t, "e2e-proposer", "analyst", 0)
	u, err := s.st.UserByLogin(context.Background(), "e2e-proposer")
	if err != nil {
		t.Fatal(err)
	}
	s.proposer = u.ID
	pw := ctl.addUser(t, "e2e-approver", "analyst", 0)
	s.approver = ctl.login(t, "e2e-approver", pw)

	for i, n := range nodes {
		if rc := rcode(t, n, "bad.example."); rc != dns.RcodeSuccess {
			t.Fatalf("filter node %d: bad.example before it is listed: %s", i+1, dns.RcodeToString[rc])
		}
	}

	// Confirmed on the control node: NXDOMAIN on both filter nodes within 5 s.
	s.list(t, "bad.example")
	approved := time.Now()
	for i, n := range nodes {
		took := waitNX(t, n, "bad.example.", approved, 5*time.Second)
		t.Logf("filter node %d: bad.example NXDOMAIN %s after the approval", i+1, took.Round(time.Millisecond))
		if rc := rcode(t, n, "www.bad.example."); rc != dns.RcodeNameError {
			t.Errorf("filter node %d: www.bad.example is %s, want NXDOMAIN", i+1, dns.RcodeToString[rc])
		}
	}

	// The control node's profile changes (SIGHUP): both filter nodes follow within seconds.
	ctl.writeConfig(controlBody("policy-deny2.example"))
	ctl.signal(syscall.SIGHUP)
	changed := time.Now()
	for i, n := range nodes {
		took := waitNX(t, n, "policy-deny2.example.", changed, 10*time.Second)
		t.Logf("filter node %d: the control node's new deny list in force %s after its SIGHUP", i+1, took.Round(time.Millisecond))
		waitRcode(t, n, "policy-deny.example.", dns.RcodeSuccess, 10*time.Second)
		n.waitLog(`msg="profiles applied" digest=`, 2)
	}
	// A SIGHUP on a filter node re-reads its own file and keeps the control node's profiles.
	loaded := nodes[0].log.count(`msg="policy loaded"`)
	nodes[0].signal(syscall.SIGHUP)
	nodes[0].waitLog(`msg="policy loaded"`, loaded+1)
	for _, name := range []string{"policy-deny2.example.", "bad.example."} {
		if rc := rcode(t, nodes[0], name); rc != dns.RcodeNameError {
			t.Errorf("filter node 1 after its own SIGHUP: %s is %s, want NXDOMAIN", name, dns.RcodeToString[rc])
		}
	}

	// The control node goes down: the filter nodes keep blocking, a restarted one from its copy.
	ctl.signal(syscall.SIGTERM)
	<-ctl.exited
	if ctl.waitErr != nil {
		t.Fatalf("the control node did not exit cleanly on SIGTERM: %v", ctl.waitErr)
	}
	time.Sleep(2 * time.Second) // a few failed refreshes (refresh: 1s)
	nodes[1].signal(syscall.SIGTERM)
	<-nodes[1].exited
	if nodes[1].waitErr != nil {
		t.Fatalf("filter node 2 did not exit cleanly on SIGTERM: %v", nodes[1].waitErr)
	}
	nodes[1].restart()
	for i, n := range nodes {
		waitNX(t, n, "bad.example.", time.Now(), 10*time.Second) // the restarted node applies its copy
		if rc := rcode(t, n, "policy-deny2.example."); rc != dns.RcodeNameError {
			t.Errorf("filter node %d with the control node down: policy-deny2.example is %s, want NXDOMAIN (the last profiles)", i+1, dns.RcodeToString[rc])
		}
		if rc := rcode(t, n, "good.example."); rc != dns.RcodeSuccess {
			t.Errorf("filter node %d with the control node down: good.example is %s, want NOERROR", i+1, dns.RcodeToString[rc])
		}
	}

	// The control node comes back on the same database; a second domain reaches both filter
	// nodes by IXFR (the feed's journal is in the store).
	restartControl(t, ctl)
	s.approver = ctl.login(t, "e2e-approver", pw)
	s.list(t, "worse.example")
	approved = time.Now()
	for i, n := range nodes {
		took := waitNX(t, n, "worse.example.", approved, 5*time.Second)
		t.Logf("filter node %d: worse.example NXDOMAIN %s after the approval following the control node's restart", i+1, took.Round(time.Millisecond))
		if rc := rcode(t, n, "bad.example."); rc != dns.RcodeNameError {
			t.Errorf("filter node %d: bad.example after the control node's restart: %s", i+1, dns.RcodeToString[rc])
		}
	}
	reIXFR := regexp.MustCompile(`msg="feed transfer" member=node type=IXFR style=incremental`)
	eventually(t, "two incremental transfers after the control node's restart", func() error {
		if n := len(reIXFR.FindAllString(ctl.log.String(), -1)); n < 2 {
			return fmt.Errorf("%d IXFR with style=incremental in the control node's log", n)
		}
		return nil
	})
	if ctl.log.contains(`msg="feed transfer" member=node type=AXFR`) {
		t.Errorf("a filter node caught up by AXFR after the control node's restart, want IXFR")
	}
}

// rcode asks the filter node n for name's A record over UDP.
func rcode(t *testing.T, n *instance, name string) int {
	t.Helper()
	rc, err := tryRcode(n, name)
	if err != nil {
		t.Fatalf("query %s at %s: %v", name, n.dnsAddr, err)
	}
	return rc
}

func tryRcode(n *instance, name string) (int, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	m, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(q, n.dnsAddr)
	if err != nil {
		return 0, err
	}
	return m.Rcode, nil
}

// waitRcode polls n until name's answer has rcode want, failing after within.
func waitRcode(t *testing.T, n *instance, name string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rc, err := tryRcode(n, name)
		if err == nil && rc == want {
			return
		}
		n.mustBeRunning()
		if time.Now().After(deadline) {
			t.Fatalf("%s at %s: still %s (err %v) after %s, want %s", name, n.dnsAddr, dns.RcodeToString[rc], err, within, dns.RcodeToString[want])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitNX polls n until name is NXDOMAIN, failing after within; it returns the time since since.
func waitNX(t *testing.T, n *instance, name string, since time.Time, within time.Duration) time.Duration {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rc, err := tryRcode(n, name)
		if err == nil && rc == dns.RcodeNameError {
			return time.Since(since)
		}
		n.mustBeRunning()
		if time.Now().After(deadline) {
			t.Fatalf("%s at %s: still %s (err %v) %s after it was listed", name, n.dnsAddr, dns.RcodeToString[rc], err, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startControl runs a node without the filter role: it has no DNS listeners, so start's wait
// for them does not apply; it waits for HTTP and GET /readyz instead.
func startControl(t *testing.T, body string) *instance {
	t.Helper()
	dir := t.TempDir()
	in := &instance{t: t, dir: dir, dataDir: filepath.Join(dir, "data"), cfgPath: filepath.Join(dir, "kidshield.yaml")}
	in.header = fmt.Sprintf(`data_dir: %q
log:
  level: debug
dns:
  listen: ["127.0.0.1:0"]
http:
  listen: "127.0.0.1:0"
`, in.dataDir)
	in.writeConfig(body)
	runControl(t, in, "kidshield.log")
	t.Cleanup(in.stop)
	return in
}

// restartControl starts the control node again after it exited, on the same configuration.
func restartControl(t *testing.T, in *instance) {
	t.Helper()
	if in.running() {
		t.Fatal("restartControl: the control node is still running")
	}
	_ = in.log.f.Close()
	runControl(t, in, "kidshield-restart.log")
}

func runControl(t *testing.T, in *instance, logName string) {
	t.Helper()
	logPath := filepath.Join(in.dir, logName)
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	in.log = &logBuffer{f: lf, path: logPath}
	in.exited = make(chan struct{})
	in.waitErr = nil
	in.httpAddr = ""
	in.cmd = exec.Command(kidshieldBin, "serve", "--config", in.cfgPath)
	in.cmd.Env = cleanEnv()
	in.cmd.Stdout, in.cmd.Stderr = in.log, in.log
	in.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd, exited := in.cmd, in.exited
	go func() {
		err := cmd.Wait()
		in.waitErr = err
		close(exited)
	}()
	deadline := time.Now().Add(startTimeout)
	for in.httpAddr == "" {
		if m := reHTTPListen.FindStringSubmatch(in.log.String()); m != nil {
			in.httpAddr = m[1]
			break
		}
		if !in.running() {
			t.Fatalf("the control node exited: %v\n%s", in.waitErr, in.log.String())
		}
		if time.Now().After(deadline) {
			_ = in.cmd.Process.Kill()
			t.Fatalf("the control node did not listen within %s:\n%s", startTimeout, in.log.String())
		}
		time.Sleep(pollEvery)
	}
	in.waitReady()
}

// An unknown role is refused at start, from the flag and from the configuration alike.
func TestServeRolesUnknown(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kidshield.yaml")
	writeFile(t, cfg, fmt.Sprintf("data_dir: %q\nroles: [filter, resolver]\n", filepath.Join(dir, "data")))
	for _, args := range [][]string{
		{"serve", "--data-dir", filepath.Join(dir, "data"), "--roles=filter,dns"},
		{"serve", "--config", cfg},
	} {
		cmd := exec.Command(kidshieldBin, args...)
		cmd.Env = cleanEnv()
		out, err := cmd.CombinedOutput()
		if err == nil || !regexp.MustCompile(`unknown role "(dns|resolver)": want one or more of filter, hotline, feed`).Match(out) {
			t.Errorf("kidshield %v: %v, want a refusal naming the unknown role:\n%s", args, err, out)
		}
	}
}
