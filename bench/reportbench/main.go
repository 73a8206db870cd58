// Command reportbench measures how many reports per second kidshield acknowledges — commits and
// answers with a receipt — when many reporters submit at once, and compares it with the fsync
// ceiling of the same disk measured in the same run:
//
//   - kidshield: the real binary (`kidshield serve`), built from this checkout, on SQLite in a
//     fresh data directory, then on PostgreSQL when -pg or KIDSHIELD_TEST_POSTGRES names a server
//     (a fresh database, dropped afterwards); intake rate limit out of the way. The load is
//     -clients concurrent HTTP clients for -duration, each sending one report after another:
//     the public form (POST /report, urlencoded, -mode form) or the partner API (POST
//     /api/v1/reports, JSON with an API token of scope reports:submit, -mode api). A report
//     counts as accepted when the answer carries its reference (form: the receipt page, 200;
//     API: 201 with "ref").
//   - baseline: a minimal net/http server inside this process that commits one INSERT per
//     request into its own SQLite file (WAL, synchronous=FULL, one writer connection: what
//     kidshield's store does), driven by the same clients with the same bodies. It does no
//     validation, canonicalisation, dedup, sealing or templates: it is the cost of the commit.
//
// Each run prints accepted reports/s, p50/p99 latency and errors, and the ratio of kidshield to
// the baseline. -pprof takes a CPU profile of kidshield during its SQLite run (through
// /debug/pprof/profile with the admin token) and prints its top functions. See bench/README.md.
//
//	go run ./bench/reportbench -clients 32 -duration 20s -mode form
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the baseline's driver: the one kidshield's store uses

	"github.com/kidshield/kidshield/auth"
	"github.com/kidshield/kidshield/bench/internal/benchenv"
	"github.com/kidshield/kidshield/bench/internal/benchrun"
	"github.com/kidshield/kidshield/store"
)

type options struct {
	clients  int
	duration time.Duration
	warmup   time.Duration
	mode     string
	pg       string
	out      string
	work     string
	keep     bool
	pprof    time.Duration
	baseline bool
}

// target is the floor: acknowledged (committed) reports per second on SQLite.
const target = 500

func main() {
	var o options
	flag.IntVar(&o.clients, "clients", 32, "concurrent HTTP clients, each sending one report after another")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "length of each measured run")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each run")
	flag.StringVar(&o.mode, "mode", "form", "form: POST /report (urlencoded, the public form); api: POST /api/v1/reports (JSON, API token)")
	flag.StringVar(&o.pg, "pg", os.Getenv("KIDSHIELD_TEST_POSTGRES"), "PostgreSQL server (postgres://...) on which to create a fresh database for a second run; default $KIDSHIELD_TEST_POSTGRES; empty: SQLite only")
	flag.StringVar(&o.out, "out", "", "write the results as markdown to this file")
	flag.StringVar(&o.work, "work", "", "working directory (default: a new temporary directory)")
	flag.BoolVar(&o.keep, "keep", false, "keep the working directory (binary, data, logs, profile)")
	flag.DurationVar(&o.pprof, "pprof", 0, "take a CPU profile of kidshield for this long during its SQLite run and print its top (0: none)")
	flag.BoolVar(&o.baseline, "baseline", true, "measure the baseline (net/http + one SQLite INSERT per request)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	log.SetPrefix("reportbench: ")
	if o.mode != "form" && o.mode != "api" {
		log.Fatalf("-mode %q: want form or api", o.mode)
	}
	if o.clients < 1 {
		log.Fatal("-clients must be at least 1")
	}
	if err := run(&o); err != nil {
		log.Fatal(err)
	}
}

// result is one measured run.
type result struct {
	name             string
	accepted, errors int64
	elapsed          time.Duration
	p50, p99, max    time.Duration
	firstErrors      []string
	note             string
}

func (r *result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.accepted) / r.elapsed.Seconds()
}

func run(o *options) error {
	ctx := context.Background()
	work, cleanup, err := benchrun.WorkDir(o.work, "reportbench", o.keep)
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
	env.Command = "go run ./bench/reportbench " + strings.Join(os.Args[1:], " ")
	bin, err := benchrun.BuildKidshield(ctx, root, o.work)
	if err != nil {
		return err
	}

	var results []*result
	var profileTop string
	if o.baseline {
		r, err := runBaseline(o)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		results = append(results, r)
	}
	r, top, err := runKidshield(ctx, o, bin, "sqlite", "")
	if err != nil {
		return fmt.Errorf("kidshield on SQLite: %w", err)
	}
	results = append(results, r)
	profileTop = top
	if o.pg != "" {
		dsn, drop, err := freshPostgres(o.pg)
		if err != nil {
			return fmt.Errorf("PostgreSQL: %w", err)
		}
		r, _, err := runKidshield(ctx, o, bin, "postgres", dsn)
		drop()
		if err != nil {
			return fmt.Errorf("kidshield on PostgreSQL: %w", err)
		}
		results = append(results, r)
	}
	env.Finished = time.Now()
	env.LoadAfter = benchenv.LoadAvg()
	md := markdown(o, env, results, profileTop)
	if err := benchrun.WriteResults(md, o.out); err != nil {
		return err
	}
	return nil
}

// ---- kidshield ----

// server is a running kidshield and its admin token.
type server struct {
	*benchrun.Kidshield
	token string
}

var reTCPInUse = regexp.MustCompile(`bind: address already in use`)

func startKidshield(ctx context.Context, bin, dir, dsn string) (*server, error) {
	dataDir := filepath.Join(dir, "data")
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
  intake:
    rate_per_hour: 1000000000
`, dataDir)
	if dsn != "" {
		cfg += fmt.Sprintf("store:\n  dsn: %q\n", dsn)
	}
	cfgPath, err := benchrun.WriteConfig(dir, "kidshield", cfg)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		k, err := benchrun.StartKidshield(ctx, bin, cfgPath, filepath.Join(dir, fmt.Sprintf("kidshield-%d.log", attempt)))
		if err != nil {
			return nil, err
		}
		s := &server{Kidshield: k}
		deadline := time.Now().Add(60 * time.Second)
		b, err := k.WaitLog(ctx, benchrun.HTTPListening, deadline)
		var exited *benchrun.ExitedError
		switch {
		case errors.As(err, &exited) && reTCPInUse.Match(b) && attempt < 5:
			continue // the DNS TCP port matching the UDP one was taken: start again
		case errors.Is(err, benchrun.ErrNotReady):
			s.Stop()
			return nil, fmt.Errorf("kidshield did not listen within 60 s\n%s", benchrun.Tail(b, 40))
		case err != nil:
			return nil, err
		}
		for {
			if st, _, _ := get(s, "/readyz", ""); st == http.StatusOK {
				break
			}
			if !s.Running() || time.Now().After(deadline) {
				b := s.Log()
				s.Stop()
				return nil, fmt.Errorf("kidshield did not become ready\n%s", benchrun.Tail(b, 40))
			}
			time.Sleep(20 * time.Millisecond)
		}
		tok, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
		if err != nil {
			s.Stop()
			return nil, err
		}
		s.token = strings.TrimSpace(string(tok))
		return s, nil
	}
}

func get(s *server, path, token string) (int, []byte, error) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.HTTPAddr+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := adminClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

var adminClient = &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{Proxy: nil}}

// runKidshield starts kidshield on a fresh store (SQLite in the data directory, or dsn), and
// drives it. With -pprof, on SQLite, it also takes a CPU profile during the run.
func runKidshield(ctx context.Context, o *options, bin, backend, dsn string) (*result, string, error) {
	dir := filepath.Join(o.work, "kidshield-"+backend)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	storeDSN := dsn
	if storeDSN == "" {
		storeDSN = "sqlite:" + filepath.Join(dir, "data", "kidshield.db")
	}
	var apiToken string
	if o.mode == "api" {
		// The token is made before the server starts, the way `kidshield` would store it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		st, err := store.Open(ctx, storeDSN)
		if err != nil {
			cancel()
			return nil, "", err
		}
		apiToken, _, err = auth.CreateToken(ctx, st, auth.NewToken{Name: "reportbench", Scopes: []string{"reports:submit"}}, "reportbench")
		st.Close()
		cancel()
		if err != nil {
			return nil, "", fmt.Errorf("create API token: %w", err)
		}
	}
	s, err := startKidshield(ctx, bin, dir, dsn)
	if err != nil {
		return nil, "", err
	}
	defer s.Stop()
	log.Printf("kidshield (%s) on %s, %s mode, %d clients", backend, s.HTTPAddr, o.mode, o.clients)
	name := "kidshield, " + map[string]string{"sqlite": "SQLite", "postgres": "PostgreSQL"}[backend]
	var top string
	var profWG sync.WaitGroup
	if o.pprof > 0 && backend == "sqlite" {
		profWG.Add(1)
		go func() {
			defer profWG.Done()
			time.Sleep(o.warmup + min(2*time.Second, o.duration/4))
			top = profile(s, o.pprof, filepath.Join(o.work, "kidshield-cpu.pprof"), bin)
		}()
	}
	target := load{url: "http://" + s.HTTPAddr, mode: o.mode, token: apiToken}
	r, err := drive(o, name, target)
	profWG.Wait()
	if err != nil {
		return nil, "", err
	}
	if !s.Running() {
		return nil, "", fmt.Errorf("kidshield exited during the run: %v", s.Err())
	}
	// Every acknowledged report must be in the store; count what is there.
	if n, err := countReports(storeDSN); err == nil {
		r.note = fmt.Sprintf("%d reports in the store after the run (warm-up included)", n)
	}
	return r, top, nil
}

// countReports counts the reports in a store (with the store's own driver registration).
func countReports(dsn string) (int64, error) {
	driver, target := "pgx", dsn
	if p, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		driver, target = "sqlite", p
	}
	db, err := sql.Open(driver, target)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	err = db.QueryRow("SELECT COUNT(*) FROM reports").Scan(&n)
	return n, err
}

// profile takes a CPU profile through the admin API and returns `go tool pprof -top` of it.
func profile(s *server, d time.Duration, path, bin string) string {
	secs := max(1, int(d.Seconds()))
	st, b, err := get(s, fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), s.token)
	if err != nil || st != http.StatusOK {
		return fmt.Sprintf("profile failed: %d %v %.200s", st, err, b)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err.Error()
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=35", bin, path).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("go tool pprof: %v\n%s", err, out)
	}
	cum, _ := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount=35", bin, path).CombinedOutput()
	return string(out) + "\n--- by cumulative time ---\n" + string(cum)
}

// ---- PostgreSQL ----

func freshPostgres(admin string) (dsn string, drop func(), err error) {
	u, err := url.Parse(admin)
	if err != nil {
		return "", nil, err
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "kidshield_bench_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	u.Path = "/" + name
	return u.String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			log.Printf("drop database %s: %v", name, err)
		}
		db.Close()
	}, nil
}

// ---- the baseline ----

// runBaseline serves POST /report from this process: parse the form, INSERT one row into
// SQLite (WAL, synchronous=FULL, one connection), answer a small page with the reference.
func runBaseline(o *options) (*result, error) {
	dir := filepath.Join(o.work, "baseline")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "baseline.db")
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE reports (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE, description TEXT NOT NULL, received_us INTEGER NOT NULL)`); err != nil {
		return nil, err
	}
	var mode, sync string
	_ = db.QueryRow("PRAGMA journal_mode").Scan(&mode)
	_ = db.QueryRow("PRAGMA synchronous").Scan(&sync)
	if mode != "wal" || sync != "2" {
		return nil, fmt.Errorf("baseline SQLite: journal_mode=%s synchronous=%s, want wal and 2 (FULL)", mode, sync)
	}
	mux := http.NewServeMux()
	handler := func(w http.ResponseWriter, r *http.Request) {
		var desc string
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			var v struct{ Description string }
			if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&v); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			desc = v.Description
		} else {
			if err := r.ParseForm(); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			desc = r.PostForm.Get("description")
		}
		ref := newRef()
		if _, err := db.ExecContext(r.Context(), "INSERT INTO reports (ref, description, received_us) VALUES (?, ?, ?)", ref, desc, time.Now().UnixMicro()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"ref":%q}`, ref)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!DOCTYPE html><p>Mã báo cáo: <strong>%s</strong></p>", html.EscapeString(ref))
	}
	mux.HandleFunc("POST /report", handler)
	mux.HandleFunc("POST /api/v1/reports", handler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	log.Printf("baseline on %s, %s mode, %d clients", ln.Addr(), o.mode, o.clients)
	r, err := drive(o, "baseline: net/http + 1 INSERT per request, SQLite WAL synchronous=FULL", load{url: "http://" + ln.Addr().String(), mode: o.mode, token: "-"})
	if err != nil {
		return nil, err
	}
	var n int64
	_ = db.QueryRow("SELECT COUNT(*) FROM reports").Scan(&n)
	r.note = fmt.Sprintf("%d rows after the run (warm-up included)", n)
	return r, nil
}

func newRef() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	for i := range b {
		b[i] = alphabet[int(b[i])%32]
	}
	return "KS-" + string(b[:4]) + "-" + string(b[4:])
}

// ---- the load ----

type load struct {
	url, mode, token string
}

var reRef = regexp.MustCompile(`KS-[0-9A-Z]{4}-[0-9A-Z]{4}`)

// drive runs -clients clients for -warmup (unmeasured), then for -duration, and measures.
func drive(o *options, name string, l load) (*result, error) {
	var tag [4]byte
	_, _ = rand.Read(tag[:])
	run := func(d time.Duration, measure bool) *result {
		var (
			accepted, errs atomic.Int64
			mu             sync.Mutex
			lats           []time.Duration
			firstErrs      []string
			wg             sync.WaitGroup
		)
		tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: o.clients, MaxConnsPerHost: o.clients}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 60 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		startAt := time.Now()
		stopAt := startAt.Add(d)
		for c := range o.clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				for i := 0; time.Now().Before(stopAt); i++ {
					desc := fmt.Sprintf("reportbench %x: client %d, report %d. Có người lạ nhắn tin làm quen và đòi gửi ảnh.", tag, c, i)
					t0 := time.Now()
					err := submit(client, l, desc)
					lat := time.Since(t0)
					if err != nil {
						if errs.Add(1) <= 5 {
							mu.Lock()
							firstErrs = append(firstErrs, err.Error())
							mu.Unlock()
						}
						continue
					}
					accepted.Add(1)
					mine = append(mine, lat)
				}
				mu.Lock()
				lats = append(lats, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		r := &result{name: name, accepted: accepted.Load(), errors: errs.Load(), elapsed: time.Since(startAt), firstErrors: firstErrs}
		if !measure {
			return r
		}
		slices.Sort(lats)
		if n := len(lats); n > 0 {
			r.p50, r.p99, r.max = lats[n/2], lats[min(n-1, n*99/100)], lats[n-1]
		}
		return r
	}
	if o.warmup > 0 {
		w := run(o.warmup, false)
		if w.errors > 0 {
			log.Printf("warm-up: %d errors, e.g. %s", w.errors, strings.Join(w.firstErrors, " | "))
		}
		if w.accepted == 0 {
			return nil, fmt.Errorf("%s: no report accepted during the warm-up (%d errors), e.g. %s", name, w.errors, strings.Join(w.firstErrors, " | "))
		}
	}
	r := run(o.duration, true)
	log.Printf("%s: %.0f accepted reports/s, p50 %v, p99 %v, %d errors", name, r.rate(), r.p50, r.p99, r.errors)
	for _, e := range r.firstErrors {
		log.Printf("  error: %s", e)
	}
	return r, nil
}

// submit sends one report and checks that the answer acknowledges it.
func submit(c *http.Client, l load, desc string) error {
	var req *http.Request
	if l.mode == "api" {
		body, _ := json.Marshal(map[string]any{"channel": "app", "choice": "stranger-asks", "description": desc})
		req, _ = http.NewRequest(http.MethodPost, l.url+"/api/v1/reports", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+l.token)
	} else {
		body := url.Values{"choice": {"stranger-asks"}, "description": {desc}, "consent": {"yes"}}.Encode()
		req, _ = http.NewRequest(http.MethodPost, l.url+"/report", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	want := http.StatusOK
	if l.mode == "api" {
		want = http.StatusCreated
	}
	if resp.StatusCode != want {
		return fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, bytes.TrimSpace(b))
	}
	if !reRef.Match(b) {
		return fmt.Errorf("HTTP %d without a reference: %.200s", resp.StatusCode, b)
	}
	return nil
}

// ---- the environment and the report ----

func ms(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func markdown(o *options, env benchenv.Machine, rs []*result, top string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Report submission (%s mode, %d clients, %v per run)\n\n", o.mode, o.clients, o.duration)
	b.WriteString("| | accepted reports/s | p50 | p99 | max | errors | accepted |\n|---|---:|---:|---:|---:|---:|---:|\n")
	var base, ks *result
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s | %d | %d |\n", r.name, r.rate(), ms(r.p50), ms(r.p99), ms(r.max), r.errors, r.accepted)
		switch {
		case strings.HasPrefix(r.name, "baseline"):
			base = r
		case strings.HasSuffix(r.name, "SQLite"):
			ks = r
		}
	}
	b.WriteString("\n")
	if ks != nil {
		verdict := "**met**"
		if ks.rate() < target {
			verdict = "**not met**"
		}
		fmt.Fprintf(&b, "Target ≥ %d acknowledged reports/s on SQLite: %.0f/s, %s.", target, ks.rate(), verdict)
		if base != nil && base.rate() > 0 {
			fmt.Fprintf(&b, " kidshield / baseline (SQLite): **%.2f**.", ks.rate()/base.rate())
		}
		b.WriteString("\n")
	}
	for _, r := range rs {
		if r.note != "" || len(r.firstErrors) > 0 {
			fmt.Fprintf(&b, "\n- %s: %s", r.name, r.note)
			for _, e := range r.firstErrors {
				fmt.Fprintf(&b, "\n  - error: `%s`", strings.ReplaceAll(e, "`", "'"))
			}
		}
	}
	fmt.Fprintf(&b, "\n\n### Run\n\n- command: `%s`\n- commit: %s\n- machine: %s, %d CPUs, %s RAM, kernel %s, temp dir on %s\n- %s\n- started %s, finished %s; load average before %s, after %s\n",
		env.Command, env.Commit, env.CPU, env.NProc, env.MemTotal, env.Kernel, env.Disk, env.GoVersion,
		env.Started.UTC().Format("2006-01-02 15:04 UTC"), env.Finished.UTC().Format("15:04 UTC"), env.LoadBefore, env.LoadAfter)
	if top != "" {
		fmt.Fprintf(&b, "\n### CPU profile of kidshield (SQLite run)\n\n```\n%s```\n", top)
	}
	return b.String()
}
