package e2e

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// A feed node (`roles: [feed]`, no hotline, no DNS filter) serves the network list over RPZ and
// over HTTP: its members' tokens come from `kidshield token add`; /feed/v1 needs one with scope
// feed:read, and nothing of the hotline is served.
func TestFeedOnlyNode(t *testing.T) {
	feedAddr := "127.0.0.1:" + freeDNSPort(t)
	in := startControl(t, fmt.Sprintf(`roles: [feed]
feed:
  zone: %s
  listen: [%q]
  members:
    - name: isp
      allow: [127.0.0.1/32]
`, rpzZone, feedAddr))
	if in.log.contains(`msg="dns listening"`) {
		t.Errorf("the feed node opened DNS listeners")
	}
	token := func(scopes string) string {
		t.Helper()
		cmd := exec.Command(kidshieldBin, "token", "add", "--config", in.cfgPath, "--name", "isp "+scopes, "--scopes", scopes)
		cmd.Env = cleanEnv()
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kidshield token add: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	feedTok, otherTok := token("feed:read"), token("reports:submit")

	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/feed/v1/key", "", http.StatusOK},
		{"/feed/v1/manifest.json", feedTok, http.StatusOK},
		{"/feed/v1/all.domains.txt", feedTok, http.StatusOK},
		{"/feed/v1/manifest.json", "", http.StatusUnauthorized},
		{"/feed/v1/manifest.json", otherTok, http.StatusForbidden},
		{"/feed/v1/manifest.json", "ks_not-a-token", http.StatusUnauthorized},
		{"/report", "", http.StatusNotFound},
		{"/desk", "", http.StatusNotFound},
		{"/login", "", http.StatusNotFound},
	} {
		st, body, _ := in.get(in.httpURL(c.path), c.token)
		if st != c.want {
			t.Errorf("GET %s (token %v): %d, want %d\n%.300s", c.path, c.token != "", st, c.want, body)
		}
		if c.path == "/feed/v1/all.domains.txt" && !strings.Contains(string(body), "canary.kidshield.example") {
			t.Errorf("all.domains.txt without the canary:\n%.300s", body)
		}
	}
	// The RPZ listener answers the member's SOA.
	s := &feedSession{in: in, feedAddr: feedAddr}
	if serial, err := s.trySOA(false); err != nil || serial == 0 {
		t.Errorf("SOA from the feed node: %d, %v", serial, err)
	}
	// The tokens are listed (never their secrets) for the administrator.
	cmd := exec.Command(kidshieldBin, "token", "list", "--config", in.cfgPath)
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "isp feed:read") {
		t.Errorf("kidshield token list: %v\n%s", err, out)
	}
}

// A filter node subscribed to a publisher it has never reached (first start, control node down
// or refusing it) does not answer unfiltered: SERVFAIL and /readyz 503 saying why, until its
// first copy arrives; then it is ready at once and blocks the list.
func TestSubscribedFirstStartFailsClosed(t *testing.T) {
	up := startUpstream(t, 60)
	feedAddr := "127.0.0.1:" + freeDNSPort(t)
	secret := newTSIGSecret()
	node := start(t, options{Upstream: up, NoWaitReady: true, Body: fmt.Sprintf(`roles: [filter]
subscribe:
  source: rpz://%s/%s
  tsig_name: node
  tsig_secret: %q
  refresh: 1s
`, feedAddr, rpzZone, secret)})
	// Well past a first load that needs nothing but the node's own lists.
	node.waitLog(`msg="policy not loaded yet; answering SERVFAIL until the first copy of the network list arrives`, 1)
	for _, name := range []string{"good.example.", "canary.kidshield.example."} {
		if rc := rcode(t, node, name); rc != dns.RcodeServerFailure {
			t.Errorf("%s with no copy of the list: %s, want SERVFAIL", name, dns.RcodeToString[rc])
		}
	}
	st, body, _ := node.get(node.httpURL("/readyz"), "")
	if st != http.StatusServiceUnavailable || !strings.Contains(string(body), "no copy of the subscribed network list") {
		t.Errorf("/readyz with no copy: %d %s", st, body)
	}
	if node.log.contains(`"http error"`) && node.log.contains(`path=/readyz`) {
		t.Errorf("a not-ready /readyz was logged as an error")
	}

	// The publisher comes up: the node takes its copy, is ready, and blocks the canary.
	startControl(t, fmt.Sprintf(`roles: [feed]
feed:
  zone: %s
  listen: [%q]
  members:
    - name: node
      tsig_secret: %q
`, rpzZone, feedAddr, secret))
	waitRcode(t, node, "x.canary.kidshield.example.", dns.RcodeNameError, 15*time.Second)
	node.waitReady()
	if rc := rcode(t, node, "good.example."); rc != dns.RcodeSuccess {
		t.Errorf("good.example once ready: %s", dns.RcodeToString[rc])
	}
}
