package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/bench/internal/benchrun"
)

// proc is one server process under test, with its output kept line by line.
type proc struct {
	*benchrun.Process
	name string
	addr string // DNS address (127.0.0.1:PORT)
	logf *os.File

	mu    sync.Mutex
	lines []logLine
}

type logLine struct {
	at   time.Time
	text string
}

// start runs the command with its stderr and stdout captured line by line (with the time each
// line arrived) and copied to logPath.
func start(name, addr, logPath string, argv ...string) (*proc, error) {
	p := &proc{name: name, addr: addr}
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p.logf = lf
	cmd := exec.Command(argv[0], argv[1:]...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			now := time.Now()
			p.mu.Lock()
			p.lines = append(p.lines, logLine{now, sc.Text()})
			p.mu.Unlock()
			fmt.Fprintf(lf, "%s %s\n", now.Format("15:04:05.000"), sc.Text())
		}
	}()
	if p.Process, err = benchrun.StartProcess(cmd, func() { pw.Close() }); err != nil {
		pw.Close()
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return p, nil
}

func (p *proc) pid() int { return p.PID() }

func (p *proc) exited() bool { return !p.Running() }

// stop sends SIGTERM, then SIGKILL after 15 s.
func (p *proc) stop() {
	if p == nil || p.exited() {
		return
	}
	p.Stop(15 * time.Second)
	p.logf.Close()
}

// logSince returns the log lines that arrived after t.
func (p *proc) logSince(t time.Time) []logLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []logLine
	for _, l := range p.lines {
		if !l.at.Before(t) {
			out = append(out, l)
		}
	}
	return out
}

// waitLog waits until a line containing every one of subs arrived after t.
func (p *proc) waitLog(t time.Time, timeout time.Duration, subs ...string) (logLine, bool) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, l := range p.logSince(t) {
			ok := true
			for _, s := range subs {
				ok = ok && strings.Contains(l.text, s)
			}
			if ok {
				return l, true
			}
		}
		if p.exited() {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return logLine{}, false
}

// memory is what /proc/PID/status says about a process.
type memory struct{ rss, hwm int64 } // bytes

func (p *proc) memory() memory {
	rss, hwm := benchrun.Memory(p.pid())
	return memory{rss << 10, hwm << 10}
}

// waitAnswer polls the server with a tiny UDP client until it answers name with want
// (dns.RcodeSuccess with an answer, or dns.RcodeNameError), and returns the time from process
// start to that answer.
func (p *proc) waitAnswer(name string, want int, timeout time.Duration) (time.Duration, error) {
	c := &dns.Client{Net: "udp", Timeout: 100 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	deadline := p.Started.Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		if p.exited() {
			return 0, fmt.Errorf("%s exited before answering (see its log)", p.name)
		}
		r, _, err := c.Exchange(m, p.addr)
		if err == nil {
			if r.Rcode == want && (want != dns.RcodeSuccess || len(r.Answer) > 0) {
				return time.Since(p.Started), nil
			}
			last = dns.RcodeToString[r.Rcode]
		} else {
			last = err.Error()
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s did not answer %s with %s within %v (last: %s)", p.name, name, dns.RcodeToString[want], timeout, last)
}

// query asks once and returns the rcode (-1 on error).
func query(addr, name string) int {
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return -1
	}
	return r.Rcode
}

// freePort returns a port free for both UDP and TCP on 127.0.0.1.
func freePort() (int, error) {
	for range 50 {
		l, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.LocalAddr().(*net.UDPAddr).Port
		t, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		l.Close()
		if err != nil {
			continue
		}
		t.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free port")
}
