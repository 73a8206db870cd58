package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kidshield/kidshield/bench/internal/benchenv"
	"github.com/kidshield/kidshield/bench/internal/benchrun"
	"github.com/kidshield/kidshield/filter/lists"
)

// ensureTools installs dnsperf (and Unbound, the C anchor) with apt-get when they are missing.
func ensureTools() error {
	var missing []string
	if _, err := exec.LookPath("dnsperf"); err != nil {
		missing = append(missing, "dnsperf")
	}
	if _, err := lookUnbound(); err != nil {
		missing = append(missing, "unbound")
	}
	if len(missing) == 0 {
		return nil
	}
	log.Printf("installing %s with apt-get", strings.Join(missing, " "))
	sudo := []string{}
	if os.Geteuid() != 0 {
		sudo = []string{"sudo"}
	}
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	install := func() error {
		cmd := exec.Command(first(sudo, "apt-get"), rest(sudo, "apt-get", "install", "-y", "--no-install-recommends")...)
		cmd.Args = append(cmd.Args, missing...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, os.Stderr, os.Stderr
		return cmd.Run()
	}
	if err := install(); err != nil {
		upd := exec.Command(first(sudo, "apt-get"), rest(sudo, "apt-get", "update")...)
		upd.Env, upd.Stdout, upd.Stderr = env, os.Stderr, os.Stderr
		if err := upd.Run(); err != nil {
			return fmt.Errorf("apt-get update: %w", err)
		}
		if err := install(); err != nil {
			return fmt.Errorf("apt-get install %s: %w", strings.Join(missing, " "), err)
		}
	}
	if _, err := exec.LookPath("dnsperf"); err != nil {
		return errors.New("dnsperf still not found after apt-get install")
	}
	return nil
}

func first(sudo []string, cmd string) string {
	if len(sudo) > 0 {
		return sudo[0]
	}
	return cmd
}

func rest(sudo []string, cmd string, args ...string) []string {
	if len(sudo) > 0 {
		return append([]string{cmd}, args...)
	}
	return args
}

func lookUnbound() (string, error) {
	if p, err := exec.LookPath("unbound"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/unbound", "/sbin/unbound"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("unbound not found")
}

type binaries struct{ kidshield, staticdns, unbound string }

func build(ctx context.Context, root, work string) (binaries, error) {
	var b binaries
	var err error
	if b.kidshield, err = benchrun.BuildKidshield(ctx, root, work); err != nil {
		return b, err
	}
	b.staticdns = filepath.Join(work, "staticdns")
	if err := benchrun.Build(ctx, root, b.staticdns, "./bench/staticdns"); err != nil {
		return b, err
	}
	b.unbound, err = lookUnbound()
	return b, err
}

// queryFiles are the generated list and the dnsperf input files.
type queryFiles struct {
	list, small string   // the 1M block list (category adult) and a small one (gambling)
	blocked     string   // names sampled from the list: every answer NXDOMAIN
	hits        string   // names in no list, primed once, then repeated: cache hits
	misses      []string // per round: names in no list, each once: cache misses
	missLat     string   // more such names for the latency run
	missProf    string   // and for the profiling runs (-perf)
	blockedName string   // one listed name, for the readiness probe
	reloadName  string   // a name added to the small list by the reload test
	listBytes   int64
}

// prepareFiles generates the list and the query files. Everything depends only on the flags.
func prepareFiles(o *options) (*queryFiles, error) {
	t0 := time.Now()
	f := &queryFiles{
		list: filepath.Join(o.work, "blocklist-1m.txt"), small: filepath.Join(o.work, "blocklist-small.txt"),
		blocked: filepath.Join(o.work, "q-blocked.txt"), hits: filepath.Join(o.work, "q-hits.txt"),
		missLat: filepath.Join(o.work, "q-misses-latency.txt"), missProf: filepath.Join(o.work, "q-misses-profile.txt"),
	}
	var buf bytes.Buffer
	if err := lists.Generate(&buf, o.domains, o.seed); err != nil {
		return nil, err
	}
	f.listBytes = int64(buf.Len())
	if err := os.WriteFile(f.list, buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	names := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	listed := make(map[string]struct{}, len(names))
	for _, n := range names {
		listed[n] = struct{}{}
	}
	// A list entry covers the name and every subdomain, in kidshield as in Unbound's local-zone.
	covered := func(n string) bool {
		for {
			if _, ok := listed[n]; ok {
				return true
			}
			i := strings.IndexByte(n, '.')
			if i < 0 {
				return false
			}
			n = n[i+1:]
		}
	}
	f.blockedName = names[0]

	rng := rand.New(rand.NewPCG(uint64(o.seed), 0xb10c))
	w, err := newLineFile(f.blocked)
	if err != nil {
		return nil, err
	}
	for range o.blockedLines {
		w.query(names[rng.IntN(len(names))])
	}
	if err := w.close(); err != nil {
		return nil, err
	}

	// Names in no list come from the same generator with another seed, minus any the list covers.
	unlisted := func(seed int64, n int, skip map[string]struct{}) ([]string, error) {
		var out []string
		for extra := n/20 + 100; len(out) < n; extra *= 2 {
			out = out[:0]
			var b bytes.Buffer
			if err := lists.Generate(&b, n+extra, seed); err != nil {
				return nil, err
			}
			sc := bufio.NewScanner(&b)
			for sc.Scan() && len(out) < n {
				s := sc.Text()
				if _, dup := skip[s]; dup || covered(s) {
					continue
				}
				out = append(out, s)
			}
		}
		return out, nil
	}
	// The small list of the reload test (category gambling): names the 1M list does not cover.
	// The hit and miss names below must not be covered by either list.
	small, err := unlisted(o.seed+3000, 1000, nil)
	if err != nil {
		return nil, err
	}
	for _, n := range small {
		listed[n] = struct{}{}
	}
	f.reloadName = "reload-" + strconv.FormatInt(o.seed, 10) + ".kidshield-bench.example"
	if err := os.WriteFile(f.small, []byte(strings.Join(small, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}

	hit, err := unlisted(o.seed+1000, o.hitNames, nil)
	if err != nil {
		return nil, err
	}
	hitSet := make(map[string]struct{}, len(hit))
	for _, n := range hit {
		hitSet[n] = struct{}{}
	}
	if err := writeQueries(f.hits, hit); err != nil {
		return nil, err
	}
	// Every throughput round, the latency run and the profiling runs need their own
	// never-asked names: -miss-names per round, half that for the others.
	half := o.missNames / 2
	nMiss := o.rounds*o.missNames + half
	if o.perf {
		nMiss += half
	}
	miss, err := unlisted(o.seed+2000, nMiss, hitSet)
	if err != nil {
		return nil, err
	}
	for r := range o.rounds {
		f.misses = append(f.misses, filepath.Join(o.work, fmt.Sprintf("q-misses-%d.txt", r+1)))
		if err := writeQueries(f.misses[r], miss[r*o.missNames:(r+1)*o.missNames]); err != nil {
			return nil, err
		}
	}
	rest := miss[o.rounds*o.missNames:]
	if err := writeQueries(f.missLat, rest[:half]); err != nil {
		return nil, err
	}
	if o.perf {
		if err := writeQueries(f.missProf, rest[half:]); err != nil {
			return nil, err
		}
	}

	log.Printf("generated %d-name list (%d bytes), %d blocked queries, %d hit names, %d miss names in %v",
		len(names), f.listBytes, o.blockedLines, len(hit), len(miss), time.Since(t0).Round(time.Millisecond))
	return f, nil
}

type lineFile struct {
	f *os.File
	w *bufio.Writer
}

func newLineFile(path string) (*lineFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &lineFile{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (l *lineFile) query(name string) {
	l.w.WriteString(name)
	l.w.WriteString(" A\n")
}

func (l *lineFile) close() error {
	if err := l.w.Flush(); err != nil {
		l.f.Close()
		return err
	}
	return l.f.Close()
}

func writeQueries(path string, names []string) error {
	w, err := newLineFile(path)
	if err != nil {
		return err
	}
	for _, n := range names {
		w.query(n)
	}
	return w.close()
}

// machine describes where and with what the benchmark ran: the shared description, the
// versions of the other servers and dnsperf, and the load average while waiting for quiet.
type machine struct {
	benchenv.Machine
	unbound, dnsperf     string
	loadQuiet, quietNote string
}

func describeMachine(root string) machine {
	m := machine{Machine: benchenv.Describe(root)}
	if p, err := lookUnbound(); err == nil {
		out, _ := exec.Command(p, "-V").CombinedOutput()
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "Version ") {
				m.unbound = strings.TrimPrefix(l, "Version ")
				break
			}
		}
	}
	out, _ := exec.Command("dnsperf", "-h").CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Version ") {
			m.dnsperf = strings.TrimPrefix(l, "Version ")
		}
	}
	return m
}

func load1() float64 {
	f, _ := strconv.ParseFloat(strings.Fields(benchenv.LoadAvg() + " 0")[0], 64)
	return f
}

// waitQuiet polls the 1-minute load average every 30 s until it is below limit.
func waitQuiet(limit float64, maxWait time.Duration) (load, note string) {
	if limit <= 0 {
		return benchenv.LoadAvg(), ""
	}
	deadline := time.Now().Add(maxWait)
	for load1() >= limit {
		if time.Now().After(deadline) {
			return benchenv.LoadAvg(), fmt.Sprintf("the load average stayed at or above %.2f for %v; measured anyway", limit, maxWait)
		}
		log.Printf("load average %s: waiting for the 1-minute value to drop below %.2f", benchenv.LoadAvg(), limit)
		time.Sleep(30 * time.Second)
	}
	return benchenv.LoadAvg(), ""
}
