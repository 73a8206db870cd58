package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

func (b *bench) result(prefix string) *serverResult {
	for _, r := range b.results {
		if strings.HasPrefix(r.name, prefix) {
			return r
		}
	}
	return nil
}

func qps(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func ms(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}

func mib(n int64) string {
	if n == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func secs(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	return fmt.Sprintf("%.3f s", d.Seconds())
}

// cpuPerQuery is the server's CPU time per answered query, in µs.
func cpuPerQuery(x perfResult) float64 {
	if x.qps == 0 {
		return 0
	}
	return x.serverCPU / x.qps * 1e6
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// verdict says whether a ratio meets a floor: ≥ floor met; within 3% below: noise.
func verdict(v, floor float64) string {
	switch {
	case v >= floor:
		return "**met**"
	case v >= floor*0.97:
		return "within 3% (run-to-run noise): not shown to be met"
	default:
		return "**not met**"
	}
}

func (b *bench) markdown() string {
	var sb strings.Builder
	o, e := b.o, b.env
	p := func(format string, a ...any) { fmt.Fprintf(&sb, format, a...) }

	p("### Run\n\n")
	p("    %s\n\n", e.Command)
	p("- date: %s (%.0f s)\n", e.Started.Format("2006-01-02 15:04 MST"), e.Finished.Sub(e.Started).Seconds())
	p("- machine: %d CPUs (%s), %s RAM, Linux %s\n", e.NProc, e.CPU, e.MemTotal, e.Kernel)
	p("- versions: %s; Unbound %s; dnsperf %s\n", e.GoVersion, e.unbound, e.dnsperf)
	if e.Commit != "" {
		p("- kidshield built from commit %s\n", e.Commit)
	}
	p("- load average (1, 5, 15 min): %s at the start", e.loadQuiet)
	if o.quietLoad > 0 {
		p(" (after waiting for the 1-minute value to drop below %.2f)", o.quietLoad)
	}
	p("; %s after building and generating the files; %s at the end", e.LoadBefore, e.LoadAfter)
	if e.quietNote != "" {
		p(" (%s)", e.quietNote)
	}
	p("\n")
	p("- list: %d generated names (`lists.Generate`, seed %d, %d bytes); kidshield blocks them as category adult in profile `kids`; Unbound has each as `local-zone: \"NAME.\" always_nxdomain`\n", o.domains, o.seed, b.files.listBytes)
	p("- load: dnsperf -c %d -T %d -q %d, UDP, %s; %d rounds of %v throughput runs: in each round every workload runs on every server in turn (the order rotates), and the **median round** is reported; p50/p99 from one separate `dnsperf -v` run of %v per server and workload (every response's latency; a lost query counts as slower than any answer)\n",
		o.clients, o.threads, o.outstanding, map[bool]string{true: "EDNS0 (-e)", false: "no EDNS"}[o.edns], o.rounds, o.duration, o.latDuration)
	p("- workloads: **blocked** = %d names sampled from the list, repeated (all NXDOMAIN); **cache hits** = %d names in no list, primed once, then repeated (NOERROR); **cache misses** = unique names in no list, %d per round, each asked once (`-n 1`) and forwarded to the upstream (the ceiling, which has no cache, answers the same file, looping over it)\n", o.blockedLines, o.hitNames, o.missNames)
	if !o.ksStats || o.ksSockets != 0 {
		p("- **diagnostic settings**: kidshield statistics %v, udp_sockets %d (the targets are for statistics on and the default sockets)\n", map[bool]string{true: "on", false: "OFF"}[o.ksStats], o.ksSockets)
	}
	p("- upstream of kidshield and Unbound: bench/staticdns (%d SO_REUSEPORT sockets) in its own process; the ceiling is another bench/staticdns process (%d socket(s): miekg/dns defaults)\n", o.upSockets, o.ceilSockets)
	p("- all the servers run at once (each was started and measured for readiness and memory while the others were idle); only the one under load is busy\n\n")

	p("### Throughput and latency\n\n")
	p("| server | workload | queries/s (median) | each round | avg latency | p50 | p99 | lost | server CPU | CPU per query | answers |\n|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|\n")
	var notes []string
	for _, r := range b.results {
		for _, w := range workloads {
			x, ok := r.median(w)
			if !ok {
				continue
			}
			var each []string
			var lost int64
			for _, y := range r.rounds[w] {
				each = append(each, qps(y.qps))
				lost += y.lost
				if n := y.note(); n != "" {
					notes = append(notes, fmt.Sprintf("round %d, %s, %s: %s q/s%s", y.round, w, r.name, qps(y.qps), n))
				}
			}
			l := r.latency[w]
			if n := l.note(); n != "" {
				notes = append(notes, fmt.Sprintf("latency run, %s, %s%s", w, r.name, n))
			}
			p99 := ms(l.p99)
			if l.p99Timeout {
				p99 = "lost (>1%)"
			}
			p("| %s | %s | **%s** | %s | %s | %s | %s | %d | %.2f cores | %.1f µs | %s |\n", r.name, w, qps(x.qps), strings.Join(each, " / "), ms(x.avg), ms(l.p50), p99, lost, x.serverCPU, cpuPerQuery(x), x.rcodes)
		}
	}
	p("\n")
	if len(notes) > 0 {
		p("Runs that may not be clean (dnsperf stopped early, or CPU used by other processes or stolen by the hypervisor):\n\n")
		for _, n := range notes {
			p("- %s\n", n)
		}
		p("\n")
	} else {
		p("No run saw other processes use 0.2 cores or more, or hypervisor steal of 0.1 cores or more.\n\n")
	}

	k, c, u := b.result("kidshield"), b.result("staticdns"), b.result("unbound")
	get := func(r *serverResult, w workload) float64 {
		if r == nil {
			return 0
		}
		x, _ := r.median(w)
		return x.qps
	}
	perRound := func(a, z *serverResult, w workload) string {
		if a == nil || z == nil {
			return "—"
		}
		var out []string
		for i := range min(len(a.rounds[w]), len(z.rounds[w])) {
			out = append(out, ratio(a.rounds[w][i].qps, z.rounds[w][i].qps))
		}
		return strings.Join(out, " / ")
	}
	cpu := func(r *serverResult, w workload) float64 {
		if r == nil {
			return 0
		}
		var v []float64
		for _, x := range r.rounds[w] {
			v = append(v, cpuPerQuery(x))
		}
		slices.Sort(v)
		if len(v) == 0 {
			return 0
		}
		return v[(len(v)-1)/2]
	}
	p("### Ratios (queries/s: of the medians; in brackets, round by round)\n\n")
	p("| workload | kidshield / Go ceiling | kidshield / Unbound | Unbound / Go ceiling | CPU per query, kidshield / Unbound (medians) |\n|---|---:|---:|---:|---:|\n")
	for _, w := range workloads {
		p("| %s | %s (%s) | %s (%s) | %s (%s) | %s |\n", w,
			ratio(get(k, w), get(c, w)), perRound(k, c, w),
			ratio(get(k, w), get(u, w)), perRound(k, u, w),
			ratio(get(u, w), get(c, w)), perRound(u, c, w),
			ratio(cpu(k, w), cpu(u, w)))
	}
	p("\nThe server and dnsperf share the 2 cores, so queries/s also depends on how much CPU dnsperf gets; CPU per query (the server's CPU time over the run / queries answered) does not, and varies less from round to round.\n")
	p("\n")

	p("### Start and memory\n\n")
	gc := "—"
	if o.gcWait > 0 {
		gc = "+" + o.gcWait.String()
	}
	p("| server | first filtered answer after process start | RSS after load (+%v) | RSS after Go's periodic GC (%s) | RSS after the runs | peak RSS (VmHWM) |\n|---|---:|---:|---:|---:|---:|\n", o.settle, gc)
	for _, r := range b.results {
		ready := secs(r.ready)
		if r.readyLog != "" {
			ready += fmt.Sprintf(" (its log: %s)", r.readyLog)
		}
		p("| %s | %s | %s | %s | %s | %s |\n", r.name, ready, mib(r.memLoaded.rss), mib(r.memGC.rss), mib(r.memAfter.rss), mib(r.memAfter.hwm))
	}
	for _, n := range slices.Sorted(maps.Keys(b.empty)) {
		x := b.empty[n]
		p("| %s without the list (idle) | %s | %s | %s | — | %s |\n", n, secs(x.ready), mib(x.mem.rss), mib(x.memGC.rss), mib(x.mem.hwm))
	}
	p("\n")
	perDomain := func(a, b int64) float64 { return float64(a-b) / float64(o.domains) }
	// steady is the list's RSS cost per domain the target is judged on: after Go's periodic GC
	// when it was measured (the garbage of compiling the list is gone), else right after load.
	var steady float64
	var steadyOK bool
	if e, ok := b.empty["kidshield"]; ok && k != nil {
		p("- kidshield, RSS with the list − RSS without: **%.1f bytes per domain** at +%v (%s − %s)",
			perDomain(k.memLoaded.rss, e.mem.rss), o.settle, mib(k.memLoaded.rss), mib(e.mem.rss))
		steady, steadyOK = perDomain(k.memLoaded.rss, e.mem.rss), true
		if k.memGC.rss > 0 && e.memGC.rss > 0 {
			steady = perDomain(k.memGC.rss, e.memGC.rss)
			p("; **%.1f bytes per domain** after Go's periodic GC (%s − %s)", steady, mib(k.memGC.rss), mib(e.memGC.rss))
		}
		p("\n")
		if k.heap > 0 && e.heap > 0 {
			p("- kidshield, Go heap in use (go_memstats_heap_inuse_bytes) with − without: %.1f bytes per domain at +%v (%s − %s)",
				(k.heap-e.heap)/float64(o.domains), o.settle, mib(int64(k.heap)), mib(int64(e.heap)))
			if k.heapGC > 0 && e.heapGC > 0 {
				p("; %.1f bytes per domain after the GC (%s − %s)", (k.heapGC-e.heapGC)/float64(o.domains), mib(int64(k.heapGC)), mib(int64(e.heapGC)))
			}
			p("\n")
		}
		if k.listBytes > 0 {
			p("- kidshield, the compiled list itself (`list loaded ... bytes=`): %d bytes for %d rules = %.1f bytes per domain\n", k.listBytes, k.listRules, float64(k.listBytes)/float64(max(k.listRules, 1)))
		}
	}
	if e, ok := b.empty["unbound"]; ok && u != nil {
		p("- Unbound, RSS with the local zones − RSS without: %.1f bytes per domain (%s − %s)\n", perDomain(u.memLoaded.rss, e.mem.rss), mib(u.memLoaded.rss), mib(e.mem.rss))
	}
	p("\n")

	if rr := b.reload; rr != nil {
		p("### Reload of one changed list (kidshield, SIGHUP)\n\n")
		if rr.err != "" {
			p("failed: %s\n\n", rr.err)
		} else {
			p("| change | SIGHUP → `policy loaded` | lists logged `list loaded` |\n|---|---:|---|\n")
			p("| small list (1,000 names) gains a name | %s (the new name answers NXDOMAIN %s after SIGHUP) | %s |\n", ms(rr.smallPolicy), ms(rr.smallVisible), strings.Join(rr.smallLoaded, ", "))
			p("| the 1M list touched (for comparison) | %s | %s |\n\n", ms(rr.bigPolicy), strings.Join(rr.bigLoaded, ", "))
		}
	}

	if k != nil && len(k.counters) > 0 {
		p("### kidshield's own counters over each workload (/metrics deltas over all its runs of that workload)\n\n")
		p("| workload | kidshield_dns_queries_total by result | statistics events flushed (every flush_every, 10 s: lags) / dropped |\n|---|---|---|\n")
		for _, w := range workloads {
			d := k.counters[w]
			var res []string
			var flushed, dropped float64
			for _, key := range slices.Sorted(maps.Keys(d)) {
				switch {
				case strings.HasPrefix(key, "kidshield_dns_queries_total"):
					r := key[strings.Index(key, "result=\"")+8:]
					r = r[:strings.IndexByte(r, '"')]
					res = append(res, fmt.Sprintf("%s %s", r, qps(d[key])))
				case strings.HasPrefix(key, "kidshield_filter_stats_events_flushed_total"):
					flushed += d[key]
				case strings.HasPrefix(key, "kidshield_filter_stats_events_dropped_total"):
					dropped += d[key]
				}
			}
			p("| %s | %s | %s / %s |\n", w, strings.Join(res, ", "), qps(flushed), qps(dropped))
		}
		p("\n")
	}

	if k != nil {
		p("### Targets\n\n| target | measured | |\n|---|---|---|\n")
		for _, w := range workloads {
			if u != nil {
				v := get(k, w) / max(get(u, w), 1)
				p("| %s: match Unbound | %s / %s q/s = %.2f | %s |\n", w, qps(get(k, w)), qps(get(u, w)), v, verdict(v, 1))
			}
		}
		for _, w := range workloads {
			if c != nil {
				v := get(k, w) / max(get(c, w), 1)
				note := ""
				if w == wMisses {
					note = " (the ceiling does not forward: strict reading)"
				}
				p("| %s: ≥ 0.80 of the Go ceiling%s | %.2f | %s |\n", w, note, v, verdict(v, 0.80))
			}
		}
		if steadyOK {
			when := "after Go's periodic GC"
			if k.memGC.rss == 0 {
				when = "+" + o.settle.String() + " after load"
			}
			p("| the list adds ≤ 40 bytes per domain | %.1f bytes of RSS (%s) | %s |\n", steady, when, map[bool]string{true: "**met**", false: "**not met**"}[steady <= 40])
		}
		p("| ready ≤ 1 s after start with %d domains | %s | %s |\n", o.domains, secs(k.ready), map[bool]string{true: "**met**", false: "**not met**"}[k.ready <= time.Second])
		if rr := b.reload; rr != nil && rr.err == "" {
			only := len(rr.smallLoaded) == 1 && rr.smallLoaded[0] == "bench-small"
			p("| a reload of one changed list does not rebuild the others | loaded: %s; %s vs %s for the 1M list | %s |\n",
				strings.Join(rr.smallLoaded, ", "), ms(rr.smallPolicy), ms(rr.bigPolicy), map[bool]string{true: "**met**", false: "**not met**"}[only])
		}
		p("\n")
	}

	if len(b.perf) > 0 {
		p("### perf profiles of kidshield (separate, unmeasured runs)\n\n")
		for _, w := range workloads {
			if s, ok := b.perf[w]; ok {
				p("```\n%s```\n\n", s)
			}
		}
	}
	return sb.String()
}
