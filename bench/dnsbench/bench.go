package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/bench/internal/benchrun"
)

type bench struct {
	o        *options
	bins     binaries
	files    *queryFiles
	env      machine
	upstream *proc

	results []*serverResult
	empty   map[string]emptyResult // memory of each server without the list
	reload  *reloadResult
	perf    map[workload]string // perf report of kidshield per workload (-perf)
}

// server is one measured server process and what is measured of it.
type server struct {
	kind    string // staticdns, kidshield, unbound
	p       *proc
	r       *serverResult
	metrics string // kidshield's /metrics URL

	empty        *proc // kidshield: the instance without lists, kept until the GC reading
	emptyMetrics string
	emptyReady   time.Duration
	readyAt      time.Time
}

// serverResult is everything measured for one server.
type serverResult struct {
	name      string
	ready     time.Duration // process start → first correct answer (NXDOMAIN for a listed name)
	readyLog  string        // kidshield's own "filter ready after=" (its clock starts in main)
	memLoaded memory        // after the first filtered answer + settle
	memAfter  memory        // after every run
	rounds    map[workload][]perfResult
	latency   map[workload]perfResult
	counters  map[workload]map[string]float64 // kidshield's metric deltas over each workload (all rounds)
	listBytes int64                           // kidshield: bytes of the compiled 1M list ("list loaded")
	listRules int64
	heap      float64 // kidshield: go_memstats_heap_inuse_bytes after load
	memGC     memory  // kidshield: after Go's periodic GC (-gc-wait)
	heapGC    float64
}

// median returns the round with the median queries/s (the lower middle for an even count).
func (r *serverResult) median(w workload) (perfResult, bool) {
	rs := slices.Clone(r.rounds[w])
	if len(rs) == 0 {
		return perfResult{}, false
	}
	slices.SortFunc(rs, func(a, b perfResult) int { return cmp.Compare(a.qps, b.qps) })
	return rs[(len(rs)-1)/2], true
}

type emptyResult struct {
	ready  time.Duration
	mem    memory
	heap   float64 // kidshield: go_memstats_heap_inuse_bytes
	memGC  memory  // kidshield: after Go's periodic GC (-gc-wait)
	heapGC float64
}

type reloadResult struct {
	smallPolicy, smallVisible time.Duration // SIGHUP → "policy loaded"; SIGHUP → the added name answers NXDOMAIN
	smallLoaded               []string      // lists logged "list loaded" after that SIGHUP
	bigPolicy                 time.Duration // the same with the 1M list touched instead
	bigLoaded                 []string
	err                       string
}

func (b *bench) startStatic(role string, sockets int) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p, err := start("staticdns-"+role, addr, filepath.Join(b.o.work, "staticdns-"+role+".log"),
		b.bins.staticdns, "-addr", addr, "-sockets", strconv.Itoa(sockets))
	if err != nil {
		return nil, err
	}
	if _, err := p.waitAnswer("ready.example", dns.RcodeSuccess, 20*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// measureAll starts the servers one at a time (each measured for readiness and memory while
// the others are idle), then drives them in rounds: in each round, each workload, each server
// in turn (the order rotates), so a disturbance from outside hits one round of every server
// rather than all rounds of one. The median round is reported. Latency runs follow.
func (b *bench) measureAll(kinds []string) error {
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.p.stop()
			s.empty.stop()
		}
	}()
	for _, k := range kinds {
		var s *server
		var err error
		switch k {
		case "staticdns":
			s, err = b.startCeiling()
		case "kidshield":
			s, err = b.startKidshield()
		case "unbound":
			s, err = b.startUnbound()
		default:
			err = fmt.Errorf("unknown server %q (want staticdns, kidshield, unbound)", k)
		}
		if err != nil {
			return err
		}
		servers = append(servers, s)
		b.results = append(b.results, s.r)
	}
	for _, s := range servers {
		if s.kind == "kidshield" {
			b.gcReading(s)
		}
	}
	for _, s := range servers {
		s.r.rounds = map[workload][]perfResult{}
		s.r.latency = map[workload]perfResult{}
		s.r.counters = map[workload]map[string]float64{}
		if s.kind != "staticdns" { // prime the cache-hit names: one pass
			if _, err := b.dnsperf(s, b.files.hits, 60*time.Second, true, false); err != nil {
				return err
			}
		}
	}
	for round := range b.o.rounds {
		for _, w := range workloads {
			for i := range servers {
				s := servers[(i+round)%len(servers)]
				file, once := b.files.blocked, false
				switch {
				case w == wHits:
					file = b.files.hits
				case w == wMisses && s.kind == "staticdns":
					file = b.files.misses[round] // it has no cache: it may loop over the file
				case w == wMisses:
					file, once = b.files.misses[round], true
				}
				before := scrape(s.metrics)
				res, err := b.dnsperf(s, file, b.o.duration, once, false)
				if err != nil {
					return fmt.Errorf("%s %s: %w", s.r.name, w, err)
				}
				res.round = round + 1
				addCounters(s.r, w, before, scrape(s.metrics))
				s.r.rounds[w] = append(s.r.rounds[w], res)
				log.Printf("round %d, %s, %s: %.0f q/s, avg %v, lost %d, %s; server CPU %.2f cores (%.1f µs/query), other CPU %.2f cores, steal %.2f%s",
					round+1, w, s.r.name, res.qps, res.avg, res.lost, res.rcodes, res.serverCPU, cpuPerQuery(res), res.otherCPU, res.steal, res.note())
				if s.p.exited() {
					return fmt.Errorf("%s exited during %s", s.r.name, w)
				}
			}
		}
	}
	if b.o.latDuration > 0 {
		for _, w := range workloads {
			for _, s := range servers {
				file, once := b.files.blocked, false
				switch {
				case w == wHits:
					file = b.files.hits
				case w == wMisses:
					file, once = b.files.missLat, s.kind != "staticdns"
				}
				before := scrape(s.metrics)
				res, err := b.dnsperf(s, file, b.o.latDuration, once, true)
				if err != nil {
					return fmt.Errorf("%s %s latency: %w", s.r.name, w, err)
				}
				addCounters(s.r, w, before, scrape(s.metrics))
				s.r.latency[w] = res
				log.Printf("latency, %s, %s: p50 %v, p99 %v (%.0f q/s during the -v run)%s", w, s.r.name, res.p50, res.p99, res.qps, res.note())
			}
		}
	}
	for _, s := range servers {
		s.r.memAfter = s.p.memory()
	}
	for _, s := range servers {
		if s.kind == "kidshield" {
			b.reload = b.reloadTest(s.p)
			if b.o.perf {
				b.profile(s)
			}
		}
	}
	return nil
}

func addCounters(r *serverResult, w workload, before, after map[string]float64) {
	if after == nil {
		return
	}
	d := r.counters[w]
	if d == nil {
		d = map[string]float64{}
		r.counters[w] = d
	}
	for k, v := range after {
		if v != before[k] {
			d[k] += v - before[k]
		}
	}
}

func (b *bench) startCeiling() (*server, error) {
	log.Printf("staticdns (the Go ceiling, %d socket(s))", b.o.ceilSockets)
	p, err := b.startStatic("ceiling", b.o.ceilSockets)
	if err != nil {
		return nil, err
	}
	s := &server{kind: "staticdns", p: p, r: &serverResult{name: "staticdns (Go ceiling)"}}
	s.r.ready = time.Since(p.Started) // startStatic waited for the first answer
	time.Sleep(b.o.settle)
	s.r.memLoaded = p.memory()
	return s, nil
}

// kidshieldConfig writes a configuration: a profile that blocks the list's category (and the
// small list's), a second profile, statistics on (the default), the static upstream, loopback
// only, and a rate limit too high to matter.
func (b *bench) kidshieldConfig(name string, withLists bool) (path, dnsAddr, httpAddr string, err error) {
	dp, err := freePort()
	if err != nil {
		return
	}
	hp, err := freePort()
	if err != nil {
		return
	}
	dnsAddr = "127.0.0.1:" + strconv.Itoa(dp)
	httpAddr = "127.0.0.1:" + strconv.Itoa(hp)
	var sb strings.Builder
	fmt.Fprintf(&sb, "# written by bench/dnsbench\ndata_dir: %s\nlog:\n  level: info\n", filepath.Join(b.o.work, name+"-data"))
	fmt.Fprintf(&sb, "dns:\n  listen: [%q]\n  udp_sockets: %d\nhttp:\n  listen: %q\nupstreams: [%q]\n", dnsAddr, b.o.ksSockets, httpAddr, b.upstream.addr)
	sb.WriteString("access:\n  allow: [\"127.0.0.0/8\", \"::1/128\"]\n  rate_limit: 10000000\n")
	if withLists {
		fmt.Fprintf(&sb, "lists:\n  - name: bench-1m\n    category: adult\n    format: domains\n    source: %s\n", b.files.list)
		fmt.Fprintf(&sb, "  - name: bench-small\n    category: gambling\n    format: domains\n    source: %s\n", b.files.small)
	}
	sb.WriteString(`profiles:
  - id: kids
    name: Kids
    block_categories: [adult, gambling, bypass, malware, hotline]
    allow: [khanacademy.org]
    deny: [deny.kidshield-bench.example]
    safesearch: all
    youtube: moderate
    clients: ["127.0.0.0/8"]
    timezone: Asia/Ho_Chi_Minh
    schedule:
      - name: homework
        days: [weekdays]
        from: "17:00"
        to: "19:00"
        block_categories: [games, video]
  - id: parents
    name: Parents
    block_categories: [malware, hotline]
    bypass_prevention: false
    clients: ["10.0.0.0/8"]
default_profile: kids
`)
	fmt.Fprintf(&sb, "stats:\n  enabled: %v\n", b.o.ksStats)
	path, err = benchrun.WriteConfig(b.o.work, name, sb.String())
	return
}

func (b *bench) runKidshield(name string, withLists bool) (*proc, string, error) {
	cfg, dnsAddr, httpAddr, err := b.kidshieldConfig(name, withLists)
	if err != nil {
		return nil, "", err
	}
	p, err := start(name, dnsAddr, filepath.Join(b.o.work, name+".log"), b.bins.kidshield, "serve", "--config", cfg)
	if err != nil {
		return nil, "", err
	}
	return p, "http://" + httpAddr + "/metrics", nil
}

var (
	reAfter  = regexp.MustCompile(`after=(\S+)`)
	reList   = regexp.MustCompile(`list=(\S+)`)
	reRules  = regexp.MustCompile(`rules=(\d+)`)
	reBytes  = regexp.MustCompile(`bytes=(\d+)`)
	reMetric = regexp.MustCompile(`^(kidshield_dns_queries_total\{[^}]*\}|kidshield_filter_stats_[a-z_]+(\{[^}]*\})?|go_memstats_heap_inuse_bytes) (\S+)$`)
)

func (b *bench) startKidshield() (*server, error) {
	if b.empty == nil {
		b.empty = map[string]emptyResult{}
	}
	// Without any list: the memory baseline, kept running (idle) next to the measured instance
	// so both are read at the same moments. Bypass prevention answers NXDOMAIN once the policy
	// is loaded.
	log.Printf("kidshield without lists (memory baseline)")
	pe, emptyMetrics, err := b.runKidshield("kidshield-empty", false)
	if err != nil {
		return nil, err
	}
	eready, err := pe.waitAnswer("use-application-dns.net", dns.RcodeNameError, 60*time.Second)
	if err != nil {
		pe.stop()
		return nil, err
	}

	log.Printf("kidshield with the %d-name list", b.o.domains)
	p, metrics, err := b.runKidshield("kidshield", true)
	if err != nil {
		pe.stop()
		return nil, err
	}
	s := &server{kind: "kidshield", p: p, metrics: metrics, empty: pe, emptyMetrics: emptyMetrics, emptyReady: eready,
		r: &serverResult{name: "kidshield"}}
	r := s.r
	if r.ready, err = p.waitAnswer(b.files.blockedName, dns.RcodeNameError, 120*time.Second); err != nil {
		p.stop()
		pe.stop()
		return nil, err
	}
	s.readyAt = time.Now()
	if l, ok := p.waitLog(p.Started, 5*time.Second, "filter ready"); ok {
		if m := reAfter.FindStringSubmatch(l.text); m != nil {
			r.readyLog = m[1]
		}
	}
	for _, l := range p.logSince(p.Started) {
		if strings.Contains(l.text, "list loaded") && strings.Contains(l.text, "list=bench-1m") {
			if m := reBytes.FindStringSubmatch(l.text); m != nil {
				r.listBytes, _ = strconv.ParseInt(m[1], 10, 64)
			}
			if m := reRules.FindStringSubmatch(l.text); m != nil {
				r.listRules, _ = strconv.ParseInt(m[1], 10, 64)
			}
		}
	}
	log.Printf("kidshield: first NXDOMAIN %v after start (its log: ready after %s)", r.ready.Round(time.Millisecond), r.readyLog)
	time.Sleep(b.o.settle)
	r.memLoaded, r.heap = p.memory(), scrape(metrics)[heapMetric]
	b.empty["kidshield"] = emptyResult{ready: eready, mem: pe.memory(), heap: scrape(emptyMetrics)[heapMetric]}
	return s, nil
}

// gcReading reads kidshield's memory again after Go's periodic GC: Go collects the garbage of
// the list's compilation at the next GC, which an idle process gets from the runtime every 2
// minutes; the scavenger then returns the pages. The instance without lists is stopped after.
func (b *bench) gcReading(s *server) {
	defer func() { s.empty.stop(); s.empty = nil }()
	if b.o.gcWait <= 0 {
		return
	}
	log.Printf("kidshield: waiting until %v after its first filtered answer (Go's periodic GC) to read memory again", b.o.gcWait)
	time.Sleep(time.Until(s.readyAt.Add(b.o.gcWait)))
	s.r.memGC, s.r.heapGC = s.p.memory(), scrape(s.metrics)[heapMetric]
	e := b.empty["kidshield"]
	e.memGC, e.heapGC = s.empty.memory(), scrape(s.emptyMetrics)[heapMetric]
	b.empty["kidshield"] = e
}

// reloadTest changes the small list, sends SIGHUP and checks from the log that only the small
// list was loaded again; then does the same with the 1M list touched, for comparison.
func (b *bench) reloadTest(p *proc) *reloadResult {
	rr := &reloadResult{}
	f, err := os.OpenFile(b.files.small, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		rr.err = err.Error()
		return rr
	}
	_, err = fmt.Fprintln(f, b.files.reloadName)
	f.Close()
	if err != nil {
		rr.err = err.Error()
		return rr
	}
	loaded := func(t time.Time) []string {
		var out []string
		for _, l := range p.logSince(t) {
			if strings.Contains(l.text, "list loaded") {
				if m := reList.FindStringSubmatch(l.text); m != nil {
					out = append(out, m[1])
				}
			}
		}
		return out
	}
	t0 := time.Now()
	_ = p.Cmd.Process.Signal(syscall.SIGHUP)
	l, ok := p.waitLog(t0, 60*time.Second, "policy loaded", "version=2")
	if !ok {
		rr.err = "no \"policy loaded version=2\" in the log within 60 s of SIGHUP"
		return rr
	}
	rr.smallPolicy = l.at.Sub(t0)
	for query(p.addr, b.files.reloadName) != dns.RcodeNameError && time.Since(t0) < 60*time.Second {
		time.Sleep(time.Millisecond)
	}
	rr.smallVisible = time.Since(t0)
	rr.smallLoaded = loaded(t0)

	now := time.Now()
	if err := os.Chtimes(b.files.list, now, now); err != nil {
		rr.err = err.Error()
		return rr
	}
	t1 := time.Now()
	_ = p.Cmd.Process.Signal(syscall.SIGHUP)
	l, ok = p.waitLog(t1, 120*time.Second, "policy loaded", "version=3")
	if !ok {
		rr.err = "no \"policy loaded version=3\" in the log within 120 s of SIGHUP"
		return rr
	}
	rr.bigPolicy = l.at.Sub(t1)
	rr.bigLoaded = loaded(t1)
	log.Printf("reload: small list changed → policy in %v, lists loaded %v; 1M list touched → %v, %v",
		rr.smallPolicy.Round(time.Millisecond), rr.smallLoaded, rr.bigPolicy.Round(time.Millisecond), rr.bigLoaded)
	return rr
}

// profile records kidshield with perf during each workload (a run that is not measured: perf
// costs throughput) and keeps the top of each report.
func (b *bench) profile(s *server) {
	p := s.p
	if _, err := exec.LookPath("perf"); err != nil {
		log.Printf("perf not installed: no profiles")
		return
	}
	b.perf = map[workload]string{}
	for _, w := range workloads {
		file, once := b.files.blocked, false
		switch w {
		case wHits:
			file = b.files.hits
		case wMisses:
			file, once = b.files.missProf, true
		}
		data := filepath.Join(b.o.work, "perf-"+strings.ReplaceAll(string(w), " ", "-")+".data")
		secs := strconv.Itoa(int(b.o.perfDuration / time.Second))
		rec := exec.Command("perf", "record", "-F", "999", "-g", "-p", strconv.Itoa(p.pid()), "-o", data, "--", "sleep", secs)
		rec.Stdout, rec.Stderr = io.Discard, io.Discard
		if err := rec.Start(); err != nil {
			log.Printf("perf record: %v", err)
			return
		}
		time.Sleep(200 * time.Millisecond)
		if _, err := b.dnsperf(s, file, b.o.perfDuration, once, false); err != nil {
			log.Printf("perf run %s: %v", w, err)
		}
		_ = rec.Wait()
		var sb strings.Builder
		for _, mode := range []string{"--no-children", "--children"} {
			out, err := exec.Command("perf", "report", "-i", data, "--stdio", mode, "-g", "none",
				"--sort", "symbol", "--percent-limit", "1").Output()
			if err != nil {
				log.Printf("perf report: %v", err)
				continue
			}
			fmt.Fprintf(&sb, "perf report %s (%s):\n", mode, w)
			n := 0
			sc := bufio.NewScanner(strings.NewReader(string(out)))
			for sc.Scan() && n < 30 {
				t := strings.TrimRight(sc.Text(), " ")
				if t == "" || strings.HasPrefix(t, "#") {
					continue
				}
				sb.WriteString(strings.TrimRight(t, " -") + "\n") // "-g none" leaves "-  -" columns
				n++
			}
			sb.WriteString("\n")
		}
		b.perf[w] = sb.String()
		log.Printf("perf %s:\n%s", w, sb.String())
	}
}

// unboundConfig writes Unbound's configuration with the list as always_nxdomain local zones.
func (b *bench) unboundConfig(name string, withList bool) (path, dnsAddr string, err error) {
	port, err := freePort()
	if err != nil {
		return
	}
	dnsAddr = "127.0.0.1:" + strconv.Itoa(port)
	up := strings.Replace(b.upstream.addr, ":", "@", 1)
	path = filepath.Join(b.o.work, name+".conf")
	f, err := os.Create(path)
	if err != nil {
		return
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(w, `# written by bench/dnsbench
server:
	verbosity: 0
	interface: 127.0.0.1@%d
	port: %d
	do-ip6: no
	num-threads: 2
	so-reuseport: yes
	chroot: ""
	username: ""
	directory: %q
	pidfile: ""
	use-syslog: no
	logfile: ""
	do-daemonize: no
	do-not-query-localhost: no
	access-control: 127.0.0.0/8 allow
	module-config: "iterator"
	msg-cache-size: 64m
	rrset-cache-size: 128m
`, port, port, b.o.work)
	if withList {
		lf, err2 := os.Open(b.files.list)
		if err2 != nil {
			f.Close()
			return "", "", err2
		}
		sc := bufio.NewScanner(lf)
		for sc.Scan() {
			fmt.Fprintf(w, "\tlocal-zone: \"%s.\" always_nxdomain\n", sc.Text())
		}
		lf.Close()
	}
	fmt.Fprintf(w, "forward-zone:\n\tname: \".\"\n\tforward-addr: %s\n", up)
	if err = w.Flush(); err != nil {
		f.Close()
		return
	}
	err = f.Close()
	return
}

func (b *bench) startUnbound() (*server, error) {
	if b.empty == nil {
		b.empty = map[string]emptyResult{}
	}
	log.Printf("unbound without local zones (memory baseline)")
	cfg, addr, err := b.unboundConfig("unbound-empty", false)
	if err != nil {
		return nil, err
	}
	pe, err := start("unbound-empty", addr, filepath.Join(b.o.work, "unbound-empty.log"), b.bins.unbound, "-d", "-c", cfg)
	if err != nil {
		return nil, err
	}
	defer pe.stop()
	eready, err := pe.waitAnswer("ready.example", dns.RcodeSuccess, 60*time.Second)
	if err != nil {
		return nil, err
	}

	log.Printf("unbound with %d local zones", b.o.domains)
	if cfg, addr, err = b.unboundConfig("unbound", true); err != nil {
		return nil, err
	}
	p, err := start("unbound", addr, filepath.Join(b.o.work, "unbound.log"), b.bins.unbound, "-d", "-c", cfg)
	if err != nil {
		return nil, err
	}
	s := &server{kind: "unbound", p: p, r: &serverResult{name: "unbound (C anchor)"}}
	if s.r.ready, err = p.waitAnswer(b.files.blockedName, dns.RcodeNameError, 300*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	log.Printf("unbound: first NXDOMAIN %v after start", s.r.ready.Round(time.Millisecond))
	time.Sleep(b.o.settle)
	s.r.memLoaded = p.memory()
	b.empty["unbound"] = emptyResult{ready: eready, mem: pe.memory()}
	return s, nil
}

const heapMetric = "go_memstats_heap_inuse_bytes"

// scrape reads kidshield's query and statistics counters from /metrics.
func scrape(url string) map[string]float64 {
	if url == "" {
		return nil
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if m := reMetric.FindStringSubmatch(sc.Text()); m != nil {
			v, err := strconv.ParseFloat(m[3], 64)
			if err == nil {
				out[m[1]] = v
			}
		}
	}
	return out
}
