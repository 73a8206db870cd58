// Command feedbench measures the network list feed (issue 4) at the size of a large network
// list: a zone of -entries (default 1,000,000) imported domains, published by the real
// `kidshield serve` as an RPZ primary, and pulled by a real Unbound as a secondary.
//
//   - load: the entries are generated (filter/lists.Generate, deterministic) and imported into a
//     fresh SQLite store with store.ImportList (one import source), timed.
//   - publisher: `kidshield serve` built from this checkout, with a feed section (two members:
//     one with a TSIG key, for this program's transfers; one allow-listed for unsigned
//     transfers from 127.0.0.1 with NOTIFY to the Unbound below, which cannot sign):
//     time from process start to "feed listening" (the zone built), and RSS (VmRSS, VmHWM).
//   - AXFR: a miekg/dns client, TSIG-signed, over TCP: time, messages, records, bytes on the
//     wire. Baseline, same run: the same records (rpz.Build of the same snapshot, collected in a
//     []dns.RR beforehand) served by a bare miekg/dns server with dns.Transfer.Out in messages
//     of the same 16 KiB, signed the same way: the ceiling of the library. The ratio is printed.
//   - IXFR: -changes changes (half additions, half removals) by re-importing the source while
//     the server runs; the time until the primary serves the new serial; then an IXFR from the
//     old serial: time, size, and a check that it is incremental (a difference sequence, not
//     the whole zone).
//   - subscriber: Unbound (`unbound -d`, rpz: primary ..., as in RPZ-CONSUMERS.md) on loopback:
//     time from its start to blocking a listed name (its initial AXFR and load); then, -reps
//     times, one new domain proposed and approved by two different accounts (hotline service,
//     the same path as `kidshield list add` / `list approve`), and the time from the approval's
//     commit to Unbound answering NXDOMAIN for it (polled every 20 ms with a UDP query).
//
// Output as markdown (-out FILE too). See bench/README.md.
//
//	go run ./bench/feedbench -entries 1000000 -changes 1000 -out /tmp/feed.md
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/bench/internal/benchenv"
	"github.com/kidshield/kidshield/bench/internal/benchrun"
	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/feed/rpz"
	"github.com/kidshield/kidshield/filter/lists"
	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/store"
)

type options struct {
	entries, changes, reps int
	seed                   int64
	out, work              string
	keep, unbound          bool
}

const (
	zoneName   = "rpz.kidshield.bench."
	memberName = "bench-member."
	category   = "adult"
	sourceName = "bench"
)

func main() {
	var o options
	flag.IntVar(&o.entries, "entries", 1000000, "domains in the zone (imported as one source)")
	flag.IntVar(&o.changes, "changes", 1000, "changes for the IXFR (half additions, half removals)")
	flag.IntVar(&o.reps, "reps", 5, "confirmations timed on the subscriber")
	flag.Int64Var(&o.seed, "seed", 1, "seed of the generated names")
	flag.StringVar(&o.out, "out", "", "write the results as markdown to this file")
	flag.StringVar(&o.work, "work", "", "working directory (default: a new temporary directory)")
	flag.BoolVar(&o.keep, "keep", false, "keep the working directory (binary, data, logs)")
	flag.BoolVar(&o.unbound, "unbound", true, "measure the subscriber (needs unbound)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	log.SetPrefix("feedbench: ")
	if o.entries < 1 || o.changes < 2 || o.changes > o.entries {
		log.Fatal("want -entries ≥ 1 and 2 ≤ -changes ≤ -entries")
	}
	if err := run(&o); err != nil {
		log.Fatal(err)
	}
}

// results collects every measurement for the report.
type results struct {
	generate, load         time.Duration
	startToZone            time.Duration
	rss, hwm               int64 // kB
	axfr, axfrBase         xfrStat
	zoneRecords            int
	changeToServed         time.Duration
	ixfr                   xfrStat
	ixfrIncremental        bool
	ixfrAdded, ixfrRemoved int
	ubStart                time.Duration
	ubRSS                  int64
	confirm                []time.Duration
	steps                  []confirmSteps
	zoneHeap               int64 // bytes: one built zone (rpz.Build), in this process
	snapshot, build        time.Duration
	// An incremental version of one changed value, in the bench process: the changes read
	// (store.NetworkListChanges) and merged (rpz.Zone.Apply), against snapshot + build.
	changes, apply                 time.Duration
	noFeedRSS, noFeedHeap          int64 // kB, bytes: kidshield without the feed section
	heap, heapEnd, rssEnd          int64 // bytes, bytes, kB
	ubNote                         string
	serialBefore, serialAfter      uint32
	importAdded, importRemoved     int
	importTime                     time.Duration
	rssAfterXfr, hwmAfterXfr       int64
	unboundVersion, unboundSkipped string
}

type xfrStat struct {
	took     time.Duration
	messages int
	records  int
	bytes    int64
}

func run(o *options) error {
	ctx := context.Background()
	work, cleanup, err := benchrun.WorkDir(o.work, "feedbench", o.keep)
	if err != nil {
		return err
	}
	defer cleanup()
	o.work = work
	root, err := benchenv.ModuleRoot()
	if err != nil {
		return err
	}
	env := benchenv.Describe(root)
	env.Command = "go run ./bench/feedbench " + strings.Join(os.Args[1:], " ")
	bin, err := benchrun.BuildKidshield(ctx, root, o.work)
	if err != nil {
		return err
	}
	var r results

	// ---- generate and load ----
	t0 := time.Now()
	names, err := generate(o.entries+o.changes/2, o.seed)
	if err != nil {
		return err
	}
	base, extra := names[:o.entries], names[o.entries:]
	r.generate = time.Since(t0)
	dataDir := filepath.Join(o.work, "data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	dsn := "sqlite:" + filepath.Join(dataDir, "kidshield.db")
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer func() { st.Close() }()
	t0 = time.Now()
	res, err := st.ImportList(ctx, importOf(base))
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	r.load = time.Since(t0)
	log.Printf("imported %d domains in %v (serial %d)", res.Added, r.load.Round(time.Millisecond), res.Serial)
	var users [2]hotline.Actor
	for i := range users {
		login := fmt.Sprintf("analyst%d", i+1)
		id, err := st.CreateUser(ctx, store.User{Login: login, Name: login, Roles: []string{"analyst"}, PasswordHash: "x"})
		if err != nil {
			return fmt.Errorf("create user: %w", err)
		}
		users[i] = hotline.Actor{UserID: id, Label: fmt.Sprintf("user:%d:%s", id, login)}
	}

	// ---- the publisher ----
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	secretB64 := base64.StdEncoding.EncodeToString(secret)
	feedPort, err := freeDNSPort()
	if err != nil {
		return err
	}
	ubPort := ""
	if o.unbound {
		if _, err := exec.LookPath("unbound"); err != nil {
			r.unboundSkipped = "unbound not installed"
			o.unbound = false
		} else if ubPort, err = freeDNSPort(); err != nil {
			return err
		}
	}
	feedAddr := net.JoinHostPort("127.0.0.1", feedPort)
	// The same server without the feed, for the feed's share of the memory.
	{
		nf, err := startKidshield(ctx, bin, o.work, dataDir, "", "", "")
		if err != nil {
			return fmt.Errorf("kidshield without the feed: %w", err)
		}
		time.Sleep(3 * time.Second)
		r.noFeedRSS, _ = benchrun.Memory(nf.PID())
		r.noFeedHeap = scrapeHeap(nf.HTTPAddr)
		nf.Stop()
		log.Printf("kidshield without the feed: VmRSS %d MB, heap in use %d MB", r.noFeedRSS>>10, r.noFeedHeap>>20)
	}
	srv, err := startKidshield(ctx, bin, o.work, dataDir, feedAddr, secretB64, ubPort)
	if err != nil {
		return err
	}
	defer srv.Stop()
	r.startToZone = srv.ready
	log.Printf("kidshield: feed listening %v after start", srv.ready.Round(time.Millisecond))
	time.Sleep(3 * time.Second) // let the start's garbage settle into what a steady process holds
	r.rss, r.hwm = benchrun.Memory(srv.PID())
	r.heap = scrapeHeap(srv.HTTPAddr)
	log.Printf("kidshield: VmRSS %d MB, VmHWM %d MB", r.rss>>10, r.hwm>>10)

	tsig := map[string]string{memberName: secretB64}
	axfrQ := func() *dns.Msg {
		m := new(dns.Msg)
		m.SetAxfr(zoneName)
		m.SetTsig(memberName, dns.HmacSHA256, 300, time.Now().Unix())
		return m
	}
	// The baseline: the same records from a bare miekg/dns responder.
	t0 = time.Now()
	serial, entries, err := st.NetworkListSnapshot(ctx)
	if err != nil {
		return err
	}
	r.snapshot = time.Since(t0)
	// The zone's own size: the heap a built version holds (what the primary keeps per version,
	// two during a rebuild), measured here on the same snapshot.
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	t0 = time.Now()
	z := rpz.Build(rpz.Params{Origin: zoneName, Target: ".", TTL: 300, Refresh: 3600, Retry: 600, Expire: 604800}, serial, entries)
	r.build = time.Since(t0)
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	r.zoneHeap = int64(ms1.HeapAlloc) - int64(ms0.HeapAlloc)
	// What the primary does for a new serial instead: read the values changed since the
	// previous one (here the import's last change: one value) and merge them into the zone.
	t0 = time.Now()
	ch, ok, err := st.NetworkListChanges(ctx, serial-1, 50000)
	if err != nil || !ok {
		return fmt.Errorf("network list changes: ok %v, %v", ok, err)
	}
	r.changes = time.Since(t0)
	// The value read is unchanged; one more, new, makes the merge copy the zone as a real
	// confirmation does.
	ch.Entries["feedbench-apply.example"] = &store.ListEntry{Kind: store.ListDomain, Value: "feedbench-apply.example"}
	t0 = time.Now()
	if nz, _ := z.Apply(serial+1, ch.Entries); nz.Names() != z.Names()+1 {
		return fmt.Errorf("applying one new value: %d names, %d before", nz.Names(), z.Names())
	}
	r.apply = time.Since(t0)
	var rrs []dns.RR
	z.Records(func(rr dns.RR) bool { rrs = append(rrs, rr); return true })
	runtime.KeepAlive(entries)
	z, entries = nil, nil
	baseAddr, stopBase, err := startBaseline(rrs, tsig)
	if err != nil {
		return err
	}
	r.zoneRecords = len(rrs)
	// Alternate, best of 3 each: the machine is shared.
	for i := 0; i < 3; i++ {
		a, _, err := transfer(feedAddr, axfrQ(), tsig)
		if err != nil {
			return fmt.Errorf("AXFR from kidshield: %w", err)
		}
		if a.records != len(rrs) {
			return fmt.Errorf("AXFR from kidshield: %d records, the zone has %d", a.records, len(rrs))
		}
		if r.axfr.took == 0 || a.took < r.axfr.took {
			r.axfr = a
		}
		b, _, err := transfer(baseAddr, axfrQ(), tsig)
		if err != nil {
			return fmt.Errorf("AXFR from the baseline: %w", err)
		}
		if r.axfrBase.took == 0 || b.took < r.axfrBase.took {
			r.axfrBase = b
		}
		log.Printf("AXFR %d: kidshield %v, baseline %v", i+1, a.took.Round(time.Millisecond), b.took.Round(time.Millisecond))
	}
	stopBase()
	rrs = nil
	runtime.GC()
	r.rssAfterXfr, r.hwmAfterXfr = benchrun.Memory(srv.PID())

	// ---- 1,000 changes and IXFR ----
	soa, err := querySOA(feedAddr)
	if err != nil {
		return err
	}
	r.serialBefore = soa
	changed := slices.Concat(base[o.changes-o.changes/2:], extra) // drop the first changes-changes/2, add changes/2
	t0 = time.Now()
	res, err = st.ImportList(ctx, importOf(changed))
	if err != nil {
		return fmt.Errorf("re-import: %w", err)
	}
	r.importTime = time.Since(t0)
	r.importAdded, r.importRemoved = res.Added, res.Removed
	t1 := time.Now()
	for {
		s, err := querySOA(feedAddr)
		if err == nil && s == uint32(res.Serial) {
			break
		}
		if time.Since(t1) > 2*time.Minute {
			return fmt.Errorf("the primary did not serve serial %d within 2 minutes (last %d, %v)", res.Serial, s, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.changeToServed = time.Since(t1)
	r.serialAfter = uint32(res.Serial)
	ixfrQ := new(dns.Msg)
	ixfrQ.SetIxfr(zoneName, r.serialBefore, ".", ".")
	ixfrQ.SetTsig(memberName, dns.HmacSHA256, 300, time.Now().Unix())
	ix, recs, err := transfer(feedAddr, ixfrQ, tsig)
	if err != nil {
		return fmt.Errorf("IXFR: %w", err)
	}
	r.ixfr = ix
	r.ixfrIncremental, r.ixfrRemoved, r.ixfrAdded = incremental(recs, r.serialBefore, r.serialAfter)
	log.Printf("IXFR %d→%d: %v, %d records, %d bytes, incremental %v (-%d +%d records)", r.serialBefore, r.serialAfter,
		ix.took.Round(time.Millisecond), ix.records, ix.bytes, r.ixfrIncremental, r.ixfrRemoved, r.ixfrAdded)

	// ---- the subscriber ----
	if o.unbound {
		if err := subscriber(ctx, o, &r, st, srv, users, feedAddr, ubPort); err != nil {
			r.ubNote = err.Error()
			log.Printf("subscriber: %v", err)
		}
	}
	r.rssEnd, _ = benchrun.Memory(srv.PID())
	r.heapEnd = scrapeHeap(srv.HTTPAddr)
	srv.Stop()
	env.Finished = time.Now()
	env.LoadAfter = benchenv.LoadAvg()
	md := markdown(o, env, &r)
	if err := benchrun.WriteResults(md, o.out); err != nil {
		return err
	}
	return nil
}

func importOf(names []string) store.ListImport {
	li := store.ListImport{Source: sourceName, Category: category, Origin: "feedbench", Format: "domains", Digest: "sha256:-", Actor: "feedbench"}
	li.Entries = make([]store.ImportEntry, len(names))
	for i, n := range names {
		li.Entries[i] = store.ImportEntry{Kind: store.ListDomain, Value: n}
	}
	return li
}

// generate returns n distinct names from lists.Generate, in its order.
func generate(n int, seed int64) ([]string, error) {
	var buf bytes.Buffer
	if err := lists.Generate(&buf, n, seed); err != nil {
		return nil, err
	}
	out := make([]string, 0, n)
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	if len(out) != n {
		return nil, fmt.Errorf("generated %d names, want %d", len(out), n)
	}
	return out, nil
}

// ---- DNS clients ----

// countConn counts the bytes read from a connection.
type countConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// transfer runs one AXFR or IXFR over TCP and returns its statistics and records.
func transfer(addr string, q *dns.Msg, tsig map[string]string) (xfrStat, []dns.RR, error) {
	var st xfrStat
	t0 := time.Now()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return st, nil, err
	}
	cc := &countConn{Conn: c}
	tr := &dns.Transfer{Conn: &dns.Conn{Conn: cc}, TsigSecret: tsig, ReadTimeout: 60 * time.Second}
	ch, err := tr.In(q, addr)
	if err != nil {
		c.Close()
		return st, nil, err
	}
	var recs []dns.RR
	for env := range ch {
		if env.Error != nil {
			c.Close()
			return st, nil, env.Error
		}
		st.messages++
		st.records += len(env.RR)
		recs = append(recs, env.RR...)
	}
	st.took = time.Since(t0)
	c.Close()
	st.bytes = cc.n.Load()
	return st, recs, nil
}

// incremental checks recs is one RFC 1995 difference sequence from old to new: SOA new, SOA
// old, deletions, SOA new, additions, SOA new.
func incremental(recs []dns.RR, old, cur uint32) (ok bool, del, add int) {
	if len(recs) < 4 {
		return false, 0, 0
	}
	soaAt := func(i int) (uint32, bool) {
		s, ok := recs[i].(*dns.SOA)
		if !ok {
			return 0, false
		}
		return s.Serial, true
	}
	if s, ok := soaAt(0); !ok || s != cur {
		return false, 0, 0
	}
	if s, ok := soaAt(1); !ok || s != old {
		return false, 0, 0
	}
	mid := -1
	for i := 2; i < len(recs)-1; i++ {
		if _, ok := soaAt(i); ok {
			mid = i
			break
		}
	}
	if s, ok := soaAt(len(recs) - 1); mid < 0 || !ok || s != cur {
		return false, 0, 0
	}
	return true, mid - 2, len(recs) - 2 - mid
}

func querySOA(addr string) (uint32, error) {
	m := new(dns.Msg)
	m.SetQuestion(zoneName, dns.TypeSOA)
	c := &dns.Client{Timeout: time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return 0, err
	}
	for _, rr := range r.Answer {
		if s, ok := rr.(*dns.SOA); ok {
			return s.Serial, nil
		}
	}
	return 0, fmt.Errorf("no SOA in the answer (%s)", dns.RcodeToString[r.Rcode])
}

// startBaseline serves rrs as the zone's AXFR from a bare miekg/dns TCP server, in messages of
// up to 16 KiB (as kidshield), signed with TSIG.
func startBaseline(rrs []dns.RR, tsig map[string]string) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if len(r.Question) != 1 || r.Question[0].Qtype != dns.TypeAXFR || r.IsTsig() == nil || w.TsigStatus() != nil {
			m := new(dns.Msg)
			m.SetRcode(r, dns.RcodeRefused)
			_ = w.WriteMsg(m)
			return
		}
		ch := make(chan *dns.Envelope)
		errc := make(chan error, 1)
		go func() {
			errc <- new(dns.Transfer).Out(w, r, ch)
			for range ch {
			}
		}()
		var batch []dns.RR
		size := 0
		for _, rr := range rrs {
			l := dns.Len(rr)
			if size+l > 16<<10 && len(batch) > 0 {
				ch <- &dns.Envelope{RR: batch}
				batch, size = nil, 0
			}
			batch = append(batch, rr)
			size += l
		}
		if len(batch) > 0 {
			ch <- &dns.Envelope{RR: batch}
		}
		close(ch)
		<-errc
	})
	s := &dns.Server{Listener: ln, Net: "tcp", Handler: h, TsigSecret: tsig}
	go func() { _ = s.ActivateAndServe() }()
	return ln.Addr().String(), func() { _ = s.Shutdown() }, nil
}

// freeDNSPort returns a port free on 127.0.0.1 for both UDP and TCP a moment ago.
func freeDNSPort() (string, error) {
	for i := 0; i < 50; i++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		_, p, _ := net.SplitHostPort(pc.LocalAddr().String())
		ln, err := net.Listen("tcp", "127.0.0.1:"+p)
		pc.Close()
		if err == nil {
			ln.Close()
			return p, nil
		}
	}
	return "", errors.New("no port free for both UDP and TCP")
}

// ---- kidshield ----

// server is the publisher: kidshield and how long it took to be ready.
type server struct {
	*benchrun.Kidshield
	ready time.Duration
}

var (
	reFeedListen = regexp.MustCompile(`msg="feed listening"`)
	reListReady  = regexp.MustCompile(`msg="policy loaded"`)
)

func startKidshield(ctx context.Context, bin, dir, dataDir, feedAddr, secret, notifyPort string) (*server, error) {
	notify := ""
	if notifyPort != "" {
		notify = fmt.Sprintf("\n      notify: [\"127.0.0.1:%s\"]", notifyPort)
	}
	cfg := fmt.Sprintf(`data_dir: %q
log:
  level: info
dns:
  listen: ["127.0.0.1:0"]
http:
  listen: "127.0.0.1:0"
upstreams: ["127.0.0.1:1"]
hotline:
  auth:
    require_totp: false
`, dataDir)
	name, ready := "kidshield-nofeed", reListReady
	if feedAddr != "" {
		name, ready = "kidshield", reFeedListen
		cfg += fmt.Sprintf(`feed:
  zone: %q
  listen: [%q]
  members:
    - name: %q
      tsig_secret: %q
    - name: subscriber
      allow: ["127.0.0.1/32"]%s
`, zoneName, feedAddr, strings.TrimSuffix(memberName, "."), secret, notify)
	}
	cfgPath, err := benchrun.WriteConfig(dir, name, cfg)
	if err != nil {
		return nil, err
	}
	k, err := benchrun.StartKidshield(ctx, bin, cfgPath, filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	b, err := k.WaitLog(ctx, ready, time.Now().Add(5*time.Minute))
	if errors.Is(err, benchrun.ErrNotReady) {
		k.Stop()
		return nil, fmt.Errorf("kidshield's feed did not listen within 5 minutes\n%s", benchrun.Tail(b, 40))
	}
	if err != nil {
		return nil, err
	}
	return &server{Kidshield: k, ready: time.Since(k.Started)}, nil
}

// ---- the subscriber ----

func subscriber(ctx context.Context, o *options, r *results, st *store.Store, srv *server, users [2]hotline.Actor, feedAddr, ubPort string) error {
	if out, err := exec.Command("unbound", "-V").CombinedOutput(); err == nil {
		l, _, _ := strings.Cut(string(out), "\n")
		r.unboundVersion = strings.TrimSpace(l)
	}
	dir := filepath.Join(o.work, "unbound")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	host, pport, _ := net.SplitHostPort(feedAddr)
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
    verbosity: 1
    access-control: 127.0.0.0/8 allow
    module-config: "respip validator iterator"
    do-not-query-localhost: no

rpz:
    name: %[4]q
    primary: %[5]s@%[6]s
    zonefile: "rpz.zone"
    allow-notify: 127.0.0.1

remote-control:
    control-enable: no
`, ubPort, dir, filepath.Join(dir, "unbound.pid"), zoneName, host, pport)
	confPath := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return err
	}
	ubAddr := net.JoinHostPort("127.0.0.1", ubPort)
	lf, err := os.Create(filepath.Join(dir, "unbound.log"))
	if err != nil {
		return err
	}
	defer lf.Close()
	cmd := exec.Command("unbound", "-d", "-c", confPath)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	ub, err := benchrun.StartProcess(cmd, nil)
	if err != nil {
		return err
	}
	defer ub.Stop(20 * time.Second)
	t0, exited := ub.Started, ub.Done()
	// The canary is in every zone: answered with its local data once Unbound loaded its first
	// transfer. A listed name would do as well; the canary is what members check.
	if err := waitCanary(ubAddr, "x."+store.CanaryValue+".", 5*time.Minute, exited); err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, "unbound.log"))
		return fmt.Errorf("unbound never blocked the canary: %w\n%s", err, benchrun.Tail(b, 20))
	}
	r.ubStart = time.Since(t0)
	r.ubRSS, _ = benchrun.Memory(ub.PID())
	log.Printf("unbound: blocking %v after start (RSS %d MB)", r.ubStart.Round(time.Millisecond), r.ubRSS>>10)

	cfg := config.Default()
	svc := hotline.New(hotline.Options{Store: st, Config: func() *config.Hotline { return &cfg.Hotline }})
	type mark struct {
		serial          uint32
		commit, blocked time.Time
	}
	var marks []mark
	defer func() {
		// kidshield's own filter follows changes made by another process more slowly: give
		// it time to log them before reading the steps.
		time.Sleep(16 * time.Second)
		for _, m := range marks {
			r.steps = append(r.steps, steps(srv.LogPath, m.serial, m.commit, m.blocked))
		}
	}()
	for i := 0; i < o.reps; i++ {
		name := fmt.Sprintf("confirm-%d-%d.feedbench.example", time.Now().UnixNano(), i)
		id, err := svc.AddListEntry(ctx, users[0], store.ListDomain, name, category, "feedbench: time from confirmation to block")
		if err != nil {
			return fmt.Errorf("propose: %w", err)
		}
		// Not blocked before the approval: a proposal is not published.
		if r, err := query(ubAddr, name+"."); err == nil && r.Rcode == dns.RcodeNameError {
			return fmt.Errorf("%s blocked before its approval", name)
		}
		if _, err := svc.ApproveListEntry(ctx, users[1], id); err != nil {
			return fmt.Errorf("approve: %w", err)
		}
		t := time.Now() // the approval is committed
		serial, err := st.ListSerial(ctx)
		if err != nil {
			return err
		}
		if err := waitNX(ubAddr, name+".", 60*time.Second, exited); err != nil {
			return fmt.Errorf("confirmation %d: %w", i+1, err)
		}
		d := time.Since(t)
		r.confirm = append(r.confirm, d)
		cs := steps(srv.LogPath, uint32(serial), t, t.Add(d))
		marks = append(marks, mark{uint32(serial), t, t.Add(d)})
		log.Printf("confirmation %d: blocked by unbound %v after the approval (zone built +%v, build %v, IXFR sent +%v)", i+1,
			d.Round(time.Millisecond), cs.built, cs.build, cs.ixfr)
		time.Sleep(time.Duration(300+i*170) * time.Millisecond) // not in phase with the primary's 1 s poll
	}
	return nil
}

// confirmSteps are the publisher's steps of one confirmation, from its log (millisecond
// timestamps), as offsets from the approval's commit; 0: not found.
type confirmSteps struct {
	built, build, ixfr, filter time.Duration
	total                      time.Duration
}

var (
	reLogTime = regexp.MustCompile(`^time=(\S+) `)
	reTook    = regexp.MustCompile(` took=(\S+)`)
)

func steps(logPath string, serial uint32, commit, blocked time.Time) confirmSteps {
	cs := confirmSteps{total: blocked.Sub(commit)}
	b, err := os.ReadFile(logPath)
	if err != nil {
		return cs
	}
	ser := fmt.Sprintf(" serial=%d", serial)
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, ser+" ") && !strings.HasSuffix(l, ser) {
			continue
		}
		m := reLogTime.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			continue
		}
		off := at.Sub(commit).Round(time.Millisecond)
		switch {
		case strings.Contains(l, `msg="feed zone built"`) && cs.built == 0:
			cs.built = off
			if t := reTook.FindStringSubmatch(l); t != nil {
				cs.build, _ = time.ParseDuration(t[1])
			}
		case strings.Contains(l, `msg="feed transfer"`) && strings.Contains(l, "type=IXFR") && cs.ixfr == 0:
			cs.ixfr = off
		case strings.Contains(l, `msg="network list applied"`) && cs.filter == 0:
			cs.filter = off
		}
	}
	return cs
}

// scrapeHeap returns go_memstats_heap_inuse_bytes from kidshield's /metrics (0 if unknown).
func scrapeHeap(httpAddr string) int64 {
	if httpAddr == "" {
		return 0
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	resp, err := c.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int64(f)
		}
	}
	return 0
}

func query(addr, name string) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.RecursionDesired = true
	c := &dns.Client{Timeout: 500 * time.Millisecond}
	r, _, err := c.Exchange(m, addr)
	return r, err
}

func waitNX(addr, name string, limit time.Duration, exited <-chan struct{}) error {
	return waitUntil(addr, name, limit, exited, "NXDOMAIN", func(r *dns.Msg) bool { return r.Rcode == dns.RcodeNameError })
}

// waitCanary waits for the canary's local data: A rpz.CanaryAddr, which only the zone gives.
func waitCanary(addr, name string, limit time.Duration, exited <-chan struct{}) error {
	return waitUntil(addr, name, limit, exited, "A "+rpz.CanaryAddr.String(), func(r *dns.Msg) bool {
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok && a.A.String() == rpz.CanaryAddr.String() {
				return true
			}
		}
		return false
	})
}

func waitUntil(addr, name string, limit time.Duration, exited <-chan struct{}, what string, ok func(*dns.Msg) bool) error {
	deadline := time.Now().Add(limit)
	for {
		if r, err := query(addr, name); err == nil && ok(r) {
			return nil
		}
		select {
		case <-exited:
			return errors.New("unbound exited")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not %s within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---- the environment and the report ----

func sec(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	if d < time.Second {
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func mb(kb int64) string { return fmt.Sprintf("%.0f MB", float64(kb)/1024) }

func markdown(o *options, env benchenv.Machine, r *results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Network list feed: %d-entry zone\n\n", o.entries)
	fmt.Fprintf(&b, "| | value |\n|---|---:|\n")
	fmt.Fprintf(&b, "| load: generate %d names / store.ImportList on SQLite | %s / %s |\n", o.entries, sec(r.generate), sec(r.load))
	fmt.Fprintf(&b, "| publisher: start to zone built and listening | %s |\n", sec(r.startToZone))
	fmt.Fprintf(&b, "| publisher memory after start: VmRSS / VmHWM | %s / %s (%.0f / %.0f bytes per entry) |\n",
		mb(r.rss), mb(r.hwm), float64(r.rss*1024)/float64(o.entries), float64(r.hwm*1024)/float64(o.entries))
	fmt.Fprintf(&b, "| publisher memory after 3 AXFRs: VmRSS / VmHWM | %s / %s |\n", mb(r.rssAfterXfr), mb(r.hwmAfterXfr))
	fmt.Fprintf(&b, "| publisher memory at the end (after the changes and confirmations): VmRSS | %s |\n", mb(r.rssEnd))
	if r.noFeedRSS > 0 {
		fmt.Fprintf(&b, "| the same server without the feed section, after start: VmRSS | %s |\n", mb(r.noFeedRSS))
		fmt.Fprintf(&b, "| the feed's share after start: VmRSS with − without | %s (%.0f bytes per entry) |\n",
			mb(r.rss-r.noFeedRSS), float64((r.rss-r.noFeedRSS)*1024)/float64(o.entries))
	}
	fmt.Fprintf(&b, "| a whole rebuild's parts, timed in the bench process (idle server): store.NetworkListSnapshot / rpz.Build | %s / %s |\n", sec(r.snapshot), sec(r.build))
	fmt.Fprintf(&b, "| an incremental version (one value changed), same process: store.NetworkListChanges / rpz.Zone.Apply | %s / %s |\n", sec(r.changes), sec(r.apply))
	if inc := r.changes + r.apply; inc > 0 {
		fmt.Fprintf(&b, "| whole rebuild time / incremental version time | **%.0f×** |\n", float64(r.snapshot+r.build)/float64(inc))
	}
	if r.zoneHeap > 0 {
		fmt.Fprintf(&b, "| one built zone version (rpz.Build of the snapshot, heap after GC, measured in the bench process) | %s (%.0f bytes per entry) |\n",
			mb(r.zoneHeap>>10), float64(r.zoneHeap)/float64(o.entries))
	}
	fmt.Fprintf(&b, "| AXFR (TSIG, TCP, best of 3): kidshield | %s: %d messages, %d records, %.1f MB on the wire |\n",
		sec(r.axfr.took), r.axfr.messages, r.axfr.records, float64(r.axfr.bytes)/1e6)
	fmt.Fprintf(&b, "| AXFR baseline: bare miekg/dns, same records pre-built | %s: %d messages, %d records, %.1f MB |\n",
		sec(r.axfrBase.took), r.axfrBase.messages, r.axfrBase.records, float64(r.axfrBase.bytes)/1e6)
	if r.axfrBase.took > 0 {
		fmt.Fprintf(&b, "| AXFR time kidshield / baseline | **%.2f** |\n", float64(r.axfr.took)/float64(r.axfrBase.took))
	}
	fmt.Fprintf(&b, "| %d changes (re-import: %d added, %d removed) committed in | %s |\n", o.changes, r.importAdded, r.importRemoved, sec(r.importTime))
	fmt.Fprintf(&b, "| commit to the new serial served by the primary (1 s poll, zone rebuilt) | %s |\n", sec(r.changeToServed))
	inc := "**yes**"
	if !r.ixfrIncremental {
		inc = "**NO**"
	}
	fmt.Fprintf(&b, "| IXFR %d→%d: time, size | %s: %d messages, %d records, %.1f kB |\n", r.serialBefore, r.serialAfter,
		sec(r.ixfr.took), r.ixfr.messages, r.ixfr.records, float64(r.ixfr.bytes)/1e3)
	fmt.Fprintf(&b, "| IXFR incremental (one difference sequence: %d deleted, %d added records) | %s |\n", r.ixfrRemoved, r.ixfrAdded, inc)
	switch {
	case r.unboundSkipped != "":
		fmt.Fprintf(&b, "| subscriber | skipped: %s |\n", r.unboundSkipped)
	case !o.unbound:
		b.WriteString("| subscriber | skipped (-unbound=false) |\n")
	default:
		if r.ubStart > 0 {
			fmt.Fprintf(&b, "| Unbound: start to blocking (initial AXFR and load), RSS then | %s, %s |\n", sec(r.ubStart), mb(r.ubRSS))
		}
		if len(r.confirm) > 0 {
			s := slices.Clone(r.confirm)
			slices.Sort(s)
			var all []string
			for _, d := range r.confirm {
				all = append(all, sec(d))
			}
			fmt.Fprintf(&b, "| confirmation (approval committed) to NXDOMAIN from Unbound, median of %d | **%s** (all: %s) |\n",
				len(s), sec(s[len(s)/2]), strings.Join(all, ", "))
			for i, cs := range r.steps {
				fmt.Fprintf(&b, "| confirmation %d, from the approval: zone built (build took) / IXFR sent to Unbound / NXDOMAIN / kidshield's own filter applied | %s (%s) / %s / %s / %s |\n",
					i+1, sec(cs.built), sec(cs.build), sec(cs.ixfr), sec(cs.total), sec(cs.filter))
			}
		}
	}
	b.WriteString("\n")
	if len(r.steps) > 0 {
		b.WriteString("- Confirmation steps are offsets from the approval's commit, from kidshield's log (millisecond timestamps). The filter's column is when kidshield's own DNS filter applied that serial; — means it was not logged within 16 s after the last confirmation, or the filter went straight to a later serial.\n")
	}
	if r.ubNote != "" {
		fmt.Fprintf(&b, "- subscriber: %s\n", strings.ReplaceAll(r.ubNote, "\n", " "))
	}
	b.WriteString("- The publisher is the whole `kidshield serve`: its memory includes the DNS filter, which loads the same list (domain entries block in the filter too), the web server and the store.\n")
	b.WriteString("- AXFR: records are SOA, NS, and for each domain `name.ZONE CNAME .` and `*.name.ZONE CNAME .`, then SOA; messages of at most 16 KiB, each TSIG-signed (hmac-sha256). Bytes are counted on the client's TCP connection.\n")
	b.WriteString("- Confirmation: a proposal by one analyst, approved by another (hotline service, as `kidshield list add` / `list approve`); the primary reads the list serial every second, rebuilds the zone and sends NOTIFY; Unbound transfers (IXFR) and answers NXDOMAIN. Polled every 20 ms.\n")
	fmt.Fprintf(&b, "\n### Run\n\n- command: `%s`\n- commit: %s\n- machine: %s, %d CPUs, %s RAM, kernel %s\n- %s; %s\n- started %s, finished %s; load average before %s, after %s\n",
		env.Command, env.Commit, env.CPU, env.NProc, env.MemTotal, env.Kernel, env.GoVersion, dash(r.unboundVersion),
		env.Started.UTC().Format("2006-01-02 15:04 UTC"), env.Finished.UTC().Format("15:04 UTC"), env.LoadBefore, env.LoadAfter)
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
