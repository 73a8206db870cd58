// Command dnsbench is kidshield's end-to-end DNS benchmark: kidshield with a 1,000,000-domain
// block list against two baselines measured in the same run on the same machine:
//
//   - the Go ceiling: bench/staticdns, a bare miekg/dns responder that answers every query with
//     a static A record (miekg/dns defaults);
//   - the C anchor: Debian's Unbound with the same names as `local-zone: "NAME."
//     always_nxdomain` and the same upstream.
//
// A separate bench/staticdns process is the upstream of kidshield and Unbound, so cache misses
// get answers without leaving loopback. Each server is driven by dnsperf (installed with apt-get
// when missing) through three workloads — blocked names, cache hits, cache misses — and the run
// reports queries/s, average and p99 latency, RSS, the time from process start to the first
// filtered answer, the list's memory per domain, a one-list reload, and the ratios of kidshield
// to both baselines. See bench/README.md.
//
//	go run ./bench/dnsbench -domains 1000000 -seed 1 -duration 20s -clients 4 -threads 2 -out /tmp/bench.md
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/kidshield/kidshield/bench/internal/benchenv"
	"github.com/kidshield/kidshield/bench/internal/benchrun"
)

type options struct {
	domains      int
	seed         int64
	duration     time.Duration
	latDuration  time.Duration
	clients      int
	threads      int
	outstanding  int
	blockedLines int
	hitNames     int
	missNames    int
	rounds       int
	settle       time.Duration
	gcWait       time.Duration
	out          string
	work         string
	keep         bool
	servers      string
	quietLoad    float64
	quietWait    time.Duration
	perf         bool
	perfDuration time.Duration
	edns         bool
	upSockets    int
	ksStats      bool
	ksSockets    int
	ceilSockets  int
}

func main() {
	var o options
	flag.IntVar(&o.domains, "domains", 1_000_000, "names in the generated block list")
	flag.Int64Var(&o.seed, "seed", 1, "seed of the generated list and query files (deterministic)")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "length of each throughput run (dnsperf -l)")
	flag.DurationVar(&o.latDuration, "latency-duration", 10*time.Second, "length of each latency run (dnsperf -v, for p99); 0 skips p99")
	flag.IntVar(&o.clients, "clients", 4, "dnsperf -c: simulated clients (source ports)")
	flag.IntVar(&o.threads, "threads", 2, "dnsperf -T: dnsperf threads")
	flag.IntVar(&o.outstanding, "outstanding", 100, "dnsperf -q: queries outstanding at most (dnsperf's default is 100)")
	flag.IntVar(&o.blockedLines, "blocked-queries", 100_000, "lines of the blocked query file, sampled from the list")
	flag.IntVar(&o.hitNames, "hit-names", 1000, "names (not in the list) of the cache-hit query file, primed once then repeated")
	flag.IntVar(&o.missNames, "miss-names", 1_500_000, "unique names (not in the list) per cache-miss throughput run, each asked once (dnsperf stops early, and it is noted, if they run out)")
	flag.IntVar(&o.rounds, "rounds", 3, "throughput rounds: each round runs every workload on every server in turn; the median round is reported")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "wait after the first filtered answer before reading RSS")
	flag.DurationVar(&o.gcWait, "gc-wait", 135*time.Second, "kidshield: read memory again this long after the first filtered answer, after Go's periodic (2-minute) GC; 0 skips")
	flag.StringVar(&o.out, "out", "", "write the results as markdown to this file")
	flag.StringVar(&o.work, "work", "", "working directory (default: a new temporary directory)")
	flag.BoolVar(&o.keep, "keep", false, "keep the working directory (lists, query files, configs, logs)")
	flag.StringVar(&o.servers, "servers", "staticdns,kidshield,unbound", "servers to measure, in order")
	flag.Float64Var(&o.quietLoad, "quiet-load", 0, "before measuring, wait until the 1-minute load average is below this (0: do not wait)")
	flag.DurationVar(&o.quietWait, "quiet-wait", 20*time.Minute, "give up waiting for -quiet-load after this long (and run anyway, noting it)")
	flag.BoolVar(&o.perf, "perf", false, "after kidshield's measured runs, profile it with perf record during each workload (not measured)")
	flag.DurationVar(&o.perfDuration, "perf-duration", 10*time.Second, "length of each perf profile")
	flag.BoolVar(&o.edns, "edns", false, "dnsperf -e: send EDNS0 (kidshield then adds an Extended DNS Error to blocked answers)")
	flag.IntVar(&o.upSockets, "upstream-sockets", 2, "UDP sockets of the staticdns upstream (SO_REUSEPORT)")
	flag.IntVar(&o.ceilSockets, "ceiling-sockets", 1, "UDP sockets of the staticdns ceiling (1: miekg/dns defaults, the baseline)")
	flag.BoolVar(&o.ksStats, "kidshield-stats", true, "kidshield's per-profile statistics (stats.enabled); the targets are for true, false is for diagnosis")
	flag.IntVar(&o.ksSockets, "kidshield-udp-sockets", 0, "kidshield's dns.udp_sockets (0: its default, one per CPU)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	log.SetPrefix("dnsbench: ")

	o.rounds = max(o.rounds, 1)
	if err := run(&o); err != nil {
		log.Fatal(err)
	}
}

func run(o *options) error {
	ctx := context.Background()
	work, cleanup, err := benchrun.WorkDir(o.work, "dnsbench", o.keep)
	if err != nil {
		return err
	}
	defer cleanup()
	o.work = work

	// Wait for other work on the machine to finish before building and generating files (our
	// own build and generation then raise the load average a little: it is recorded again just
	// before the first measurement).
	quietLoad, quietNote := waitQuiet(o.quietLoad, o.quietWait)
	if err := ensureTools(); err != nil {
		return err
	}
	root, err := benchenv.ModuleRoot()
	if err != nil {
		return err
	}
	env := describeMachine(root) // before building: the commit is the one built
	bins, err := build(ctx, root, o.work)
	if err != nil {
		return err
	}
	qf, err := prepareFiles(o)
	if err != nil {
		return err
	}

	b := &bench{o: o, bins: bins, files: qf, env: env}
	b.env.Command = "go run ./bench/dnsbench " + strings.Join(os.Args[1:], " ")
	b.env.loadQuiet, b.env.quietNote = quietLoad, quietNote
	b.env.LoadBefore = benchenv.LoadAvg()

	up, err := b.startStatic("upstream", o.upSockets)
	if err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	defer up.stop()
	b.upstream = up
	log.Printf("upstream staticdns on %s (%d sockets)", up.addr, o.upSockets)

	var kinds []string
	for _, k := range strings.Split(o.servers, ",") {
		if k = strings.TrimSpace(k); k != "" {
			kinds = append(kinds, k)
		}
	}
	if err := b.measureAll(kinds); err != nil {
		return err
	}
	b.env.LoadAfter = benchenv.LoadAvg()
	b.env.Finished = time.Now()

	md := b.markdown()
	if err := benchrun.WriteResults(md, o.out); err != nil {
		return err
	}
	if o.keep {
		log.Printf("kept %s", o.work)
	}
	return nil
}
