package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// perfResult is one dnsperf run, parsed from its summary.
type perfResult struct {
	sent, completed, lost int64
	qps                   float64
	avg, min, max         time.Duration
	rcodes                string // "NXDOMAIN 100000 (100.00%)"
	runTime               float64
	stopReason            string // "time limit" or "end of file"
	p50, p99, p999        time.Duration
	p99Timeout            bool // more than 1% of the latency run was lost
	latN                  int64
	round                 int
	// CPU, in cores, over the run: the server's own; other processes' (not the server, the
	// upstream, dnsperf or this driver: another engineer's tests); and the hypervisor's steal.
	serverCPU, otherCPU, steal float64
}

// note flags a run that may not be clean.
func (r perfResult) note() string {
	var n []string
	if r.stopReason != "" && r.stopReason != "time limit" {
		n = append(n, "dnsperf stopped: "+r.stopReason)
	}
	if r.otherCPU >= 0.2 {
		n = append(n, fmt.Sprintf("other processes used %.2f cores", r.otherCPU))
	}
	if r.steal >= 0.1 {
		n = append(n, fmt.Sprintf("steal %.2f cores", r.steal))
	}
	if len(n) == 0 {
		return ""
	}
	return " [" + strings.Join(n, "; ") + "]"
}

// cpuSample is /proc/stat's busy and steal time and our processes' CPU time, in clock ticks.
type cpuSample struct {
	busy, steal, total, ours, server uint64
}

const clockTick = 100 // USER_HZ: the unit of /proc/stat and /proc/PID/stat on Linux

func readCPU(pids []int) cpuSample {
	var c cpuSample
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
		for i := 1; i < len(f); i++ {
			v, _ := strconv.ParseUint(f[i], 10, 64)
			c.total += v
			switch i {
			case 1, 2, 3, 6, 7: // user nice system irq softirq
				c.busy += v
			case 8:
				c.steal += v
			}
		}
	}
	for i, pid := range pids {
		t := procTicks(pid)
		c.ours += t
		if i == 0 {
			c.server = t
		}
	}
	return c
}

// procTicks is a process's utime+stime (all its threads).
func procTicks(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state): utime is field 14, stime 15
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return u + st
}

// since returns the cores used over the interval by the server, by processes that are not ours
// (dnsperf's own time comes from its rusage), and stolen by the hypervisor.
func (c cpuSample) since(c0 cpuSample, ps *os.ProcessState) (server, other, steal float64) {
	dt := float64(c.total - c0.total)
	if dt <= 0 {
		return 0, 0, 0
	}
	ncpu := float64(runtime.NumCPU())
	var perf float64
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		perf = (time.Duration(ru.Utime.Nano()) + time.Duration(ru.Stime.Nano())).Seconds() * clockTick
	}
	o := float64(c.busy-c0.busy) - float64(c.ours-c0.ours) - perf
	return float64(c.server-c0.server) / dt * ncpu, max(o, 0) / dt * ncpu, float64(c.steal-c0.steal) / dt * ncpu
}

// dnsperf runs dnsperf against addr with file for d (one pass at most when once), and parses
// its summary. With verbose, every response's latency is read from dnsperf -v's output
// ("> NOERROR name A 0.000123") and the percentiles are computed from them; a lost query
// counts as slower than any answer.
func (b *bench) dnsperf(s *server, file string, d time.Duration, once, verbose bool) (perfResult, error) {
	host, port, _ := strings.Cut(s.p.addr, ":")
	secs := max(1, int(d.Round(time.Second)/time.Second))
	args := []string{"-s", host, "-p", port, "-d", file,
		"-c", strconv.Itoa(b.o.clients), "-T", strconv.Itoa(b.o.threads),
		"-q", strconv.Itoa(b.o.outstanding), "-l", strconv.Itoa(secs)}
	if once {
		args = append(args, "-n", "1")
	}
	if b.o.edns {
		args = append(args, "-e")
	}
	if verbose {
		args = append(args, "-v")
	}
	out, err := os.CreateTemp(b.o.work, "dnsperf-*.out")
	if err != nil {
		return perfResult{}, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.Command("dnsperf", args...)
	cmd.Stdout, cmd.Stderr = out, out
	pids := []int{s.p.pid(), b.upstream.pid(), os.Getpid()}
	c0 := readCPU(pids)
	if err := cmd.Run(); err != nil {
		return perfResult{}, fmt.Errorf("dnsperf %s: %w", strings.Join(args, " "), err)
	}
	c1 := readCPU(pids)
	var r perfResult
	r.serverCPU, r.otherCPU, r.steal = c1.since(c0, cmd.ProcessState)
	if _, err := out.Seek(0, 0); err != nil {
		return perfResult{}, err
	}
	var lats []float64
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if verbose && strings.HasPrefix(l, "> ") {
			f := strings.Fields(l)
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				lats = append(lats, v)
			}
			continue
		}
		k, v, ok := strings.Cut(strings.TrimSpace(l), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		num := func() float64 { x, _ := strconv.ParseFloat(strings.Fields(v + " 0")[0], 64); return x }
		switch k {
		case "Queries sent":
			r.sent = int64(num())
		case "Queries completed":
			r.completed = int64(num())
		case "Queries lost":
			r.lost = int64(num())
		case "Response codes":
			r.rcodes = v
		case "Run time (s)":
			r.runTime = num()
		case "Queries per second":
			r.qps = num()
		case "Average Latency (s)":
			r.avg = secsDur(num())
			// "0.000205 (min 0.000171, max 0.000223)"
			if i := strings.Index(v, "min "); i >= 0 {
				mm := strings.FieldsFunc(v[i:], func(c rune) bool { return c == ' ' || c == ',' || c == ')' })
				if len(mm) >= 4 {
					a, _ := strconv.ParseFloat(mm[1], 64)
					z, _ := strconv.ParseFloat(mm[3], 64)
					r.min, r.max = secsDur(a), secsDur(z)
				}
			}
		}
		if strings.HasPrefix(l, "[Status] Testing complete") {
			r.stopReason = strings.TrimSuffix(strings.TrimPrefix(l, "[Status] Testing complete ("), ")")
		}
	}
	if err := sc.Err(); err != nil {
		return r, err
	}
	if r.sent == 0 {
		return r, fmt.Errorf("dnsperf %s: no summary in its output", strings.Join(args, " "))
	}
	if verbose {
		slices.Sort(lats)
		total := int64(len(lats)) + r.lost
		pct := func(p float64) (time.Duration, bool) {
			i := int64(math.Ceil(p*float64(total))) - 1
			if i < 0 || total == 0 {
				return 0, false
			}
			if i >= int64(len(lats)) {
				return 0, true
			}
			return secsDur(lats[i]), false
		}
		r.p50, _ = pct(0.50)
		r.p99, r.p99Timeout = pct(0.99)
		r.p999, _ = pct(0.999)
		r.latN = total
	}
	return r, nil
}

func secsDur(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// workload is one of the three query mixes.
type workload string

const (
	wBlocked workload = "blocked"
	wHits    workload = "cache hits"
	wMisses  workload = "cache misses"
)

var workloads = []workload{wBlocked, wHits, wMisses}
