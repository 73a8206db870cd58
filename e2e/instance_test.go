package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Generous bounds: the machine is shared and the binary may be built with -race. They bound
// waiting; no test asserts how long anything took.
const (
	startTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
	pollEvery    = 25 * time.Millisecond
)

// options describe one kidshield instance.
type options struct {
	// Upstream is the resolver the instance forwards to (nil: a closed loopback port).
	Upstream *upstream
	// Body is YAML appended to the generated header (which sets data_dir, log, dns, http,
	// upstreams and upstream_timeout on loopback with port 0): lists, profiles, access, tls,
	// cache, stats, admin.
	Body string
	// Env is added to the environment, e.g. KIDSHIELD_FAKE_NOW=2026-11-25T22:00:00+07:00.
	Env []string
	// NoWaitReady returns as soon as the listeners are up, before the policy is loaded.
	NoWaitReady bool
}

// instance is one running `kidshield serve` subprocess.
type instance struct {
	t       *testing.T
	dir     string
	dataDir string
	cfgPath string
	header  string
	log     *logBuffer

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error

	dnsAddr, dotAddr, httpAddr, httpsAddr string
	token                                 string
}

// start writes the configuration, starts the binary, waits for its listeners (addresses parsed
// from its log: every port is 0) and, unless NoWaitReady, for GET /readyz = 200. Cleanup sends
// SIGTERM and fails the test unless the process exits 0; on failure the log is shown.
func start(t *testing.T, o options) *instance {
	t.Helper()
	for attempt := 1; ; attempt++ {
		in, retry := startOnce(t, o)
		if !retry {
			return in
		}
		// Known product limitation (see the e2e report): with port 0 the DNS TCP listener
		// binds the port the kernel gave the UDP socket, which a TCP socket may already hold.
		t.Logf("attempt %d: kidshield could not bind DNS TCP on its UDP port (address already in use); starting again", attempt)
		if attempt == 5 {
			t.Fatal("kidshield could not bind its DNS TCP port in 5 attempts")
		}
	}
}

// startOnce is start; retry reports a start that failed only because the TCP port matching
// the UDP port was taken.
func startOnce(t *testing.T, o options) (in *instance, retry bool) {
	t.Helper()
	dir := t.TempDir()
	in = &instance{t: t, dir: dir, dataDir: filepath.Join(dir, "data"), cfgPath: filepath.Join(dir, "kidshield.yaml"), exited: make(chan struct{})}
	up := "127.0.0.1:1"
	if o.Upstream != nil {
		up = o.Upstream.addr
	}
	in.header = fmt.Sprintf(`data_dir: %q
log:
  level: debug
dns:
  listen: ["127.0.0.1:0"]
  tls_listen: ["127.0.0.1:0"]
  udp_sockets: 2
http:
  listen: "127.0.0.1:0"
  tls_listen: "127.0.0.1:0"
upstreams: [%q]
upstream_timeout: 1s
`, in.dataDir, up)
	in.writeConfig(o.Body)
	logPath := filepath.Join(dir, "kidshield.log")
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	in.log = &logBuffer{f: lf, path: logPath}

	in.cmd = exec.Command(kidshieldBin, "serve", "--config", in.cfgPath)
	in.cmd.Env = append(cleanEnv(), o.Env...)
	in.cmd.Stdout = in.log
	in.cmd.Stderr = in.log
	// The server dies with the test process even if the test binary is killed.
	in.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		in.waitErr = in.cmd.Wait()
		close(in.exited)
	}()

	if !in.waitListeners() {
		<-in.exited
		_ = in.log.f.Close()
		if reTCPInUse.MatchString(in.log.String()) {
			return nil, true
		}
		t.Fatalf("kidshield exited before listening: %v\n%s", in.waitErr, in.log.String())
	}
	t.Cleanup(in.stop)
	if !o.NoWaitReady {
		in.waitReady()
	}
	b, err := os.ReadFile(filepath.Join(in.dataDir, "admin-token"))
	if err != nil {
		t.Fatalf("admin token: %v", err)
	}
	in.token = strings.TrimSpace(string(b))
	return in, false
}

var reTCPInUse = regexp.MustCompile(`dns listen tcp 127\.0\.0\.1:0: listen tcp 127\.0\.0\.1:\d+: bind: address already in use`)

// cleanEnv is the test's environment without anything that changes the server's behaviour.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KIDSHIELD_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// writeConfig (re)writes the configuration file: the generated header and body.
func (in *instance) writeConfig(body string) {
	in.t.Helper()
	writeFile(in.t, in.cfgPath, in.header+body)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	reDNSListen   = regexp.MustCompile(`msg="dns listening" udp=(\S+) tcp=(\S+)`)
	reDoTListen   = regexp.MustCompile(`msg="dns-over-tls listening" addr=(\S+)`)
	reHTTPListen  = regexp.MustCompile(`msg="http listening" addr=(\S+)`)
	reHTTPSListen = regexp.MustCompile(`msg="https listening" addr=(\S+)`)
)

// waitListeners waits for the log lines of every listener; false means the process exited.
func (in *instance) waitListeners() bool {
	in.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		text := in.log.String()
		if m := reDNSListen.FindStringSubmatch(text); m != nil {
			in.dnsAddr = m[1]
			if m[2] != m[1] {
				in.t.Fatalf("DNS UDP %s and TCP %s listen on different addresses", m[1], m[2])
			}
		}
		if m := reDoTListen.FindStringSubmatch(text); m != nil {
			in.dotAddr = m[1]
		}
		if m := reHTTPListen.FindStringSubmatch(text); m != nil {
			in.httpAddr = m[1]
		}
		if m := reHTTPSListen.FindStringSubmatch(text); m != nil {
			in.httpsAddr = m[1]
		}
		if in.dnsAddr != "" && in.dotAddr != "" && in.httpAddr != "" && in.httpsAddr != "" {
			return true
		}
		if !in.running() {
			return false
		}
		if time.Now().After(deadline) {
			_ = in.cmd.Process.Kill()
			in.t.Fatalf("kidshield did not log all its listeners within %s:\n%s", startTimeout, in.log.String())
		}
		time.Sleep(pollEvery)
	}
}

func (in *instance) waitReady() {
	in.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		st, _, _ := in.get(in.httpURL("/readyz"), "")
		if st == http.StatusOK {
			return
		}
		in.mustBeRunning()
		if time.Now().After(deadline) {
			in.t.Fatalf("GET /readyz did not answer 200 within %s (last %d)", startTimeout, st)
		}
		time.Sleep(pollEvery)
	}
}

// running reports whether the process has not exited.
func (in *instance) running() bool {
	select {
	case <-in.exited:
		return false
	default:
		return true
	}
}

func (in *instance) mustBeRunning() {
	in.t.Helper()
	if !in.running() {
		in.t.Fatalf("kidshield exited unexpectedly: %v", in.waitErr)
	}
}

// signal sends sig to the process.
func (in *instance) signal(sig os.Signal) {
	in.t.Helper()
	in.mustBeRunning()
	if err := in.cmd.Process.Signal(sig); err != nil {
		in.t.Fatal(err)
	}
}

// stop ends the instance with SIGTERM and checks that it shut down gracefully (exit status 0).
func (in *instance) stop() {
	t := in.t
	if in.running() {
		_ = in.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-in.exited:
			if in.waitErr != nil {
				t.Errorf("kidshield did not shut down cleanly on SIGTERM: %v", in.waitErr)
			}
		case <-time.After(stopTimeout):
			_ = in.cmd.Process.Kill()
			<-in.exited
			t.Errorf("kidshield did not exit within %s of SIGTERM; killed", stopTimeout)
		}
	} else {
		t.Errorf("kidshield had exited before the end of the test: %v", in.waitErr)
	}
	if in.log.contains("WARNING: DATA RACE") {
		t.Errorf("the race detector reported a data race in kidshield (see the log)")
	}
	_ = in.log.f.Close()
	if t.Failed() {
		t.Logf("kidshield log %s (last 200 lines):\n%s", in.log.path, lastLines(in.log.String(), 200))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logBuffer keeps the server's output in memory (for waiting on log lines) and in a file.
type logBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	f    *os.File
	path string
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	_, _ = l.f.Write(p)
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) contains(s string) bool { return strings.Contains(l.String(), s) }

func (l *logBuffer) count(s string) int { return strings.Count(l.String(), s) }

// waitLog waits until the log holds at least n occurrences of s.
func (in *instance) waitLog(s string, n int) {
	in.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for in.log.count(s) < n {
		in.mustBeRunning()
		if time.Now().After(deadline) {
			in.t.Fatalf("the log did not show %q %d time(s) within %s", s, n, startTimeout)
		}
		time.Sleep(pollEvery)
	}
}

// eventually polls f until it returns nil or the deadline passes, then fails with its last error.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, startTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// HTTP helpers.

func (in *instance) httpURL(path string) string  { return "http://" + in.httpAddr + path }
func (in *instance) httpsURL(path string) string { return "https://" + in.httpsAddr + path }

var httpClient = &http.Client{
	Timeout: 15 * time.Second,
	Transport: &http.Transport{
		Proxy:             nil, // loopback only, whatever HTTP_PROXY says
		ForceAttemptHTTP2: true,
		// The binary's self-signed certificate; the tests check what it serves, not the PKI.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		DialContext:     (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	},
}

// request sends one HTTP request; token "" sends no Authorization header.
func (in *instance) request(method, url, token string, body []byte, header map[string]string) (int, []byte, http.Header) {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		in.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, io.EOF) || strings.Contains(err.Error(), "connection refused") {
			return 0, nil, nil
		}
		in.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		in.t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, b, resp.Header
}

func (in *instance) get(url, token string) (int, []byte, http.Header) {
	in.t.Helper()
	return in.request(http.MethodGet, url, token, nil, nil)
}

// getJSON GETs an admin URL with the right token and decodes the 200 answer into v.
func (in *instance) getJSON(path string, v any) {
	in.t.Helper()
	st, b, _ := in.get(in.httpURL(path), in.token)
	if st != http.StatusOK {
		in.t.Fatalf("GET %s: %d %s", path, st, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		in.t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

// port returns the port of host:port.
func port(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		panic(err)
	}
	return p
}
