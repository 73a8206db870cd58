package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kidshield/kidshield/auth"
	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/feed/rpz"
	"github.com/kidshield/kidshield/filter"
	"github.com/kidshield/kidshield/filter/cache"
	"github.com/kidshield/kidshield/filter/lists"
	"github.com/kidshield/kidshield/filter/stats"
	"github.com/kidshield/kidshield/filter/upstream"
	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// flags are the quick-start overrides; the configuration file sets everything.
type flags struct {
	config, dataDir, httpAddr, httpsAddr, logLevel string
	roles                                          string
	dnsAddr, dotAddr, upstreams, lists             multiFlag
}

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "", "configuration file (YAML); without it, a family filter on loopback")
	fs.StringVar(&f.dataDir, "data-dir", "", "data directory (default ./kidshield-data)")
	fs.Var(&f.dnsAddr, "dns-addr", "DNS address for UDP and TCP, repeatable (default 127.0.0.1:5353)")
	fs.Var(&f.dotAddr, "dot-addr", "DNS-over-TLS address, repeatable (off by default)")
	fs.StringVar(&f.httpAddr, "http-addr", "", "HTTP address for DoH, metrics and the API (default 127.0.0.1:8080; \"off\" disables)")
	fs.StringVar(&f.httpsAddr, "https-addr", "", "HTTPS address (HTTP/2) for DoH (off by default)")
	fs.Var(&f.upstreams, "upstream", "upstream resolver, repeatable: host:port, tls://host:port, https://host/dns-query")
	fs.Var(&f.lists, "list", "CATEGORY=PATH_OR_URL, repeatable: a list the default profile blocks (without --config, replaces the default downloads)")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error")
	fs.StringVar(&f.roles, "roles", "", "what this node runs, comma-separated: filter, hotline, feed (default: the configuration's roles, or all)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	return f, nil
}

// loadConfig reads the file (or the defaults) and applies the flags over it.
func (f *flags) loadConfig() (*config.Config, error) {
	var c *config.Config
	if f.config != "" {
		var err error
		if c, err = config.LoadFile(f.config); err != nil {
			return nil, err
		}
	} else {
		c = config.Default()
		if len(f.lists) == 0 {
			c.Lists = config.DefaultLists()
		}
	}
	if f.dataDir != "" {
		c.DataDir = f.dataDir
	}
	if len(f.dnsAddr) > 0 {
		c.DNS.Listen = f.dnsAddr
	}
	if len(f.dotAddr) > 0 {
		c.DNS.TLSListen = f.dotAddr
	}
	if f.httpAddr != "" {
		c.HTTP.Listen = f.httpAddr
	}
	if f.httpsAddr != "" {
		c.HTTP.TLSListen = f.httpsAddr
	}
	if len(f.upstreams) > 0 {
		c.Upstreams = f.upstreams
	}
	if f.logLevel != "" {
		c.Log.Level = f.logLevel
	}
	if f.roles != "" {
		c.Roles = strings.Split(f.roles, ",")
	}
	if _, err := config.RoleSet(c.Roles); err != nil {
		return nil, fmt.Errorf("roles: %w", err)
	}
	for i, l := range f.lists {
		cat, src, ok := strings.Cut(l, "=")
		if !ok || cat == "" || src == "" {
			return nil, fmt.Errorf("--list %q: want CATEGORY=PATH_OR_URL", l)
		}
		c.Lists = append(c.Lists, config.List{Name: fmt.Sprintf("flag-%d-%s", i+1, cat), Category: cat, Source: src})
		for j := range c.Profiles {
			if c.Profiles[j].ID == c.DefaultProfile && !slices.Contains(c.Profiles[j].BlockCategories, cat) {
				c.Profiles[j].BlockCategories = append(c.Profiles[j].BlockCategories, cat)
			}
		}
	}
	if err := c.Finish(); err != nil {
		return nil, err
	}
	return c, nil
}

// app is one running kidshield.
type app struct {
	flags   *flags
	log     *slog.Logger
	reg     *prometheus.Registry
	dns     *filter.Server
	loader  *filter.Loader
	pool    *upstream.Pool
	cache   *cache.Cache
	st      *store.Store
	rec     *stats.Recorder
	started time.Time
	views   *web.Views
	hotline *hotline.Service
	// scan is the scanner's hook on a node with the scanner role (nil elsewhere), for SIGHUP.
	scan atomic.Pointer[scanHook]
	// roles are what this node runs (config.AllRoles; fixed at start: a reload does not change them).
	roles map[string]bool

	mu      sync.Mutex // serialises reloads
	cfgPtr  atomic.Pointer[config.Config]
	version uint64
	current map[string]*lists.List
	// net is the hotline's network list (nil before it is read); netChanged wakes the watcher.
	net        *netList
	netChanged chan struct{}
	// firstList wakes the first policy load when a subscribed node takes its first copy of the
	// network list; notReady says why the filter is not ready yet (GET /readyz).
	firstList chan struct{}
	notReady  atomic.Pointer[string]
	// feed is the RPZ primary (nil when feed.listen is empty).
	feed *rpz.Server
	// sub is the network-list subscription of a filter node (nil unless subscribe: is set).
	sub atomic.Pointer[subState]
	// local follows the store's network list by its changes (netlist.go).
	local localList
	// pol is the profile subscription of a filter node (policy.go).
	pol policyState
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	// SIGHUP is caught from the first moment: a reload asked for during start-up is done once
	// the server is up, instead of killing it (SIGHUP's default action).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	f, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := f.loadConfig()
	if err != nil {
		return err
	}
	a := &app{flags: f, started: time.Now(), reg: prometheus.NewRegistry(), netChanged: make(chan struct{}, 1), firstList: make(chan struct{}, 1)}
	a.cfgPtr.Store(cfg)
	a.log = newLogger(cfg, stderr)
	if a.roles, err = config.RoleSet(cfg.Roles); err != nil {
		return err
	}
	slog.SetDefault(a.log)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	clock := time.Now
	if v := os.Getenv("KIDSHIELD_FAKE_NOW"); v != "" {
		// For end-to-end tests of schedules only: the clock starts at this instant and runs.
		t0, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return fmt.Errorf("KIDSHIELD_FAKE_NOW: %w", err)
		}
		real0 := time.Now()
		clock = func() time.Time { return t0.Add(time.Since(real0)) }
		a.log.Warn("clock is faked for testing", "now", t0)
	}

	dsn := cfg.Store.DSN
	if dsn == "" {
		dsn = "sqlite:" + cfg.DataDir + "/kidshield.db"
	}
	if a.st, err = store.Open(ctx, dsn); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer a.st.Close()

	var tlsConf *tls.Config
	if !a.has("filter") {
		// No DNS on a hotline or feed node: its DNS addresses are ignored.
		cfg.DNS.Listen, cfg.DNS.TLSListen = nil, nil
	}
	if len(cfg.DNS.TLSListen) > 0 || cfg.HTTP.TLSListen != "" {
		if tlsConf, err = loadTLS(cfg); err != nil {
			return err
		}
	}

	var ups []upstream.Upstream
	for _, spec := range cfg.Upstreams {
		u, err := upstream.Parse(spec, upstream.Options{Timeout: cfg.UpstreamTimeout})
		if err != nil {
			return fmt.Errorf("upstream %q: %w", spec, err)
		}
		ups = append(ups, u)
	}
	a.pool = upstream.NewPool(ups, upstream.PoolOptions{})
	defer a.pool.Close()
	a.cache = cache.New(cache.Options{
		MaxEntries: cfg.Cache.MaxEntries, MinTTL: cfg.Cache.MinTTL, MaxTTL: cfg.Cache.MaxTTL,
		NegativeMaxTTL: cfg.Cache.NegativeMaxTTL, ServeStale: *cfg.Cache.ServeStale,
		StaleAnswerTTL: 30 * time.Second, StaleMaxAge: cfg.Cache.StaleMaxAge, PrefetchHits: cfg.Cache.PrefetchHits,
	})

	var rec filter.Recorder
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var bg sync.WaitGroup
	if *cfg.Stats.Enabled && a.has("filter") {
		a.rec = stats.New(a.st, stats.Options{
			QueueSize: cfg.Stats.QueueSize, FlushEvery: cfg.Stats.FlushEvery,
			QueryLog: cfg.Stats.QueryLog, AnonymizeClient: *cfg.Stats.Anonymize, Logger: a.log,
		})
		rec = a.rec
		bg.Add(2)
		go func() { defer bg.Done(); _ = a.rec.Run(runCtx) }()
		go func() { defer bg.Done(); a.retention(runCtx) }()
	}

	access, err := config.Prefixes(cfg.Access.Allow)
	if err != nil {
		return err
	}
	a.dns = filter.New(filter.Options{
		Cache: a.cache, Upstream: a.pool, Stats: rec, Access: access,
		RateLimit: *cfg.Access.RateLimit, RateBurst: cfg.Access.RateBurst,
		ServerName: cfg.TLS.ServerName, UpstreamTimeout: cfg.UpstreamTimeout,
		Clock: clock, Logger: a.log, Metrics: filter.NewMetrics(a.reg),
	})
	a.loader = filter.NewLoader(cfg.DataDir, a.log)
	a.registerMetrics()

	// Listeners first, policy second: until the policy is loaded every query gets SERVFAIL,
	// never an unfiltered answer.
	sockets := cfg.DNS.UDPSockets
	if sockets == 0 {
		sockets = runtime.GOMAXPROCS(0)
	}
	dnsCtx, stopDNS := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDNS()
	for _, addr := range cfg.DNS.Listen {
		bound, ln, err := a.listenDNS(dnsCtx, addr, sockets)
		if err != nil {
			return err
		}
		go a.dns.ServeTCP(dnsCtx, ln, false, cfg.DNS.MaxTCPConnections, cfg.DNS.IdleTimeout)
		a.log.Info("dns listening", "udp", bound.String(), "tcp", ln.Addr().String())
	}
	for _, addr := range cfg.DNS.TLSListen {
		ln, err := tls.Listen("tcp", addr, tlsConf)
		if err != nil {
			return fmt.Errorf("dns-over-tls listen %s: %w", addr, err)
		}
		go a.dns.ServeTCP(dnsCtx, ln, true, cfg.DNS.MaxTCPConnections, cfg.DNS.IdleTimeout)
		a.log.Info("dns-over-tls listening", "addr", ln.Addr().String())
	}
	if a.has("feed") {
		if err := a.startFeed(runCtx, &bg); err != nil {
			return err
		}
	}

	token, err := web.AdminToken(cfg.Admin.Token, cfg.Admin.TokenFile, cfg.DataDir)
	if err != nil {
		return err
	}
	metricsNets, err := config.Prefixes(cfg.Admin.MetricsAllow)
	if err != nil {
		return err
	}
	if a.views, err = web.LoadViews(); err != nil {
		return err
	}
	proxies, err := config.Prefixes(cfg.HTTP.TrustedProxies)
	if err != nil {
		return err
	}
	wo := web.Options{AdminToken: token, MetricsAllow: metricsNets, TrustedProxies: proxies, Logger: a.log}
	var hotlineRoutes []web.Route
	if *cfg.Hotline.Enabled && a.has("hotline") {
		am, routes, err := a.startHotline(runCtx, &bg, clock)
		if err != nil {
			return err
		}
		wo.Auth, wo.LoginPath, hotlineRoutes = am, auth.LoginPath, routes
	}
	if a.has("feed") {
		routes, err := a.feedRoutes(clock)
		if err != nil {
			return err
		}
		hotlineRoutes = append(hotlineRoutes, routes...)
		if wo.Auth == nil {
			// A feed node without the hotline: its members' tokens (kidshield token add, or
			// the control node's /admin/tokens over a shared store) and nothing else.
			wo.Auth = auth.TokenOnly(a.st, a.log)
		}
	}
	ws := web.New(wo)
	a.routes(ws)
	ws.Handle(hotlineRoutes...)
	var servers []*http.Server
	if cfg.HTTP.Listen != "" && cfg.HTTP.Listen != "off" {
		srv := &http.Server{Addr: cfg.HTTP.Listen, Handler: ws, ErrorLog: serverErrorLog(a.log.Handler(), slog.LevelWarn)}
		web.Timeouts(srv)
		// HTTP/2 without TLS too: reverse proxies and `dig +http-plain` speak it to DoH backends.
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
		ln, err := net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("http listen %s: %w", cfg.HTTP.Listen, err)
		}
		servers = append(servers, srv)
		go func() { _ = srv.Serve(ln) }()
		a.log.Info("http listening", a.dohArgs("http", ln.Addr().String())...)
	}
	if cfg.HTTP.TLSListen != "" {
		srv := &http.Server{Addr: cfg.HTTP.TLSListen, Handler: ws, TLSConfig: tlsConf, ErrorLog: serverErrorLog(a.log.Handler(), slog.LevelWarn)}
		web.Timeouts(srv)
		ln, err := net.Listen("tcp", cfg.HTTP.TLSListen)
		if err != nil {
			return fmt.Errorf("https listen %s: %w", cfg.HTTP.TLSListen, err)
		}
		servers = append(servers, srv)
		go func() { _ = srv.ServeTLS(ln, "", "") }()
		a.log.Info("https listening", a.dohArgs("https", ln.Addr().String())...)
	}

	a.log.Info("roles", "filter", a.has("filter"), "hotline", a.has("hotline"), "feed", a.has("feed"))
	if a.has("filter") {
		if err := a.startPolicy(runCtx, &bg); err != nil {
			return err
		}
		a.startFilter(runCtx, &bg)
	}

	for {
		select {
		case <-hup:
			if !a.has("filter") {
				a.reloadWithoutFilter(runCtx)
			} else if err := a.reload(runCtx, true, true); err != nil {
				a.log.Error("reload failed; keeping the previous policy", "err", err)
			}
			// After the configuration's own reload, so that hash-list paths it changed apply.
			a.reloadScannerLists(runCtx)
		case <-ctx.Done():
			a.log.Info("shutting down")
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			for _, s := range servers {
				_ = s.Shutdown(sctx)
			}
			scancel()
			stopDNS()
			cancel()
			bg.Wait() // the statistics recorder flushes what it holds
			return nil
		}
	}
}

// startFilter loads the first policy (retried until it loads; the resolver answers SERVFAIL
// meanwhile), then refreshes the lists and follows the network list, until ctx ends.
func (a *app) startFilter(runCtx context.Context, bg *sync.WaitGroup) {
	bg.Add(2)
	go func() { defer bg.Done(); a.watchNetList(runCtx) }()
	go func() {
		defer bg.Done()
		for {
			err := a.reload(runCtx, false, false)
			if err == nil {
				a.notReady.Store(nil)
				a.log.Info("filter ready", "after", time.Since(a.started).Round(time.Millisecond))
				break
			}
			reason := err.Error()
			a.notReady.Store(&reason)
			if errors.Is(err, errNoCopy) {
				a.log.Error("policy not loaded yet; answering SERVFAIL until the first copy of the network list arrives (see the subscription's errors above, and the control node's log)", "source", a.cfg().Subscribe.Source)
			} else {
				a.log.Error("policy not loaded yet; answering SERVFAIL until it is (offline? give lists with --list CATEGORY=FILE or a configuration file)", "err", err)
			}
			select {
			case <-runCtx.Done():
				return
			case <-a.firstList:
			case <-time.After(10 * time.Second):
			}
		}
		a.refreshLoop(runCtx)
	}()
}

// listenDNS opens UDP and TCP on the same address. With port 0 the kernel picks the UDP port,
// which TCP may already have in use elsewhere: then both are closed and picked again.
func (a *app) listenDNS(ctx context.Context, addr string, sockets int) (netip.AddrPort, net.Listener, error) {
	_, port, _ := net.SplitHostPort(addr)
	for try := 0; ; try++ {
		uctx, cancel := context.WithCancel(ctx)
		bound, err := a.dns.ServeUDP(uctx, addr, sockets)
		if err != nil {
			cancel()
			return bound, nil, fmt.Errorf("dns listen udp %s: %w", addr, err)
		}
		ln, err := net.Listen("tcp", bound.String())
		if err == nil {
			context.AfterFunc(ctx, cancel) // the UDP sockets live as long as ctx
			return bound, ln, nil
		}
		cancel()
		if port != "0" || try == 20 {
			return bound, nil, fmt.Errorf("dns listen tcp %s: %w", bound, err)
		}
	}
}

// dohArgs are a listening line's attributes: the DoH URL only where the filter serves it.
func (a *app) dohArgs(scheme, addr string) []any {
	if !a.has("filter") {
		return []any{"addr", addr}
	}
	return []any{"addr", addr, "doh", scheme + "://" + addr + "/dns-query"}
}

// cfg is the configuration in force (replaced by reloads; never modified in place).
func (a *app) cfg() *config.Config { return a.cfgPtr.Load() }

// reload re-reads the configuration (when fromFile) and the lists, and swaps in a new policy.
// Any failure keeps the previous policy: a parent never loses filtering to a typo.
func (a *app) reload(ctx context.Context, fromFile, force bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	cfg := a.cfg()
	if fromFile && a.flags.config != "" {
		c, err := a.flags.loadConfig()
		if err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
		cfg = c
	}
	cfg, err := a.remoteProfiles(cfg)
	if err != nil {
		return err
	}
	loaded, err := a.loader.Load(ctx, cfg.Lists, force)
	if err != nil {
		return err
	}
	if nl, err := a.loadNetList(ctx); err != nil {
		if a.net == nil {
			// Never an unfiltered answer: without the network list it is meant to enforce
			// (a subscribed node's first start with the control node unreachable or refusing
			// it), the filter stays not ready and answers SERVFAIL.
			return fmt.Errorf("network list: %w", err)
		}
		// The filter's own lists still load; the previous network list stays.
		a.log.Error("network list not read; keeping the previous one", "err", err)
	} else {
		a.net = nl
	}
	if err := a.swap(cfg, loaded); err != nil {
		return err
	}
	if fromFile {
		a.feedReloaded(ctx, cfg) // the RPZ zone's action and timers follow the file too
	}
	return nil
}

func (a *app) swap(cfg *config.Config, loaded map[string]*lists.List) error {
	pol, err := filter.CompilePolicy(cfg, loaded, a.net.entries(cfg))
	if err != nil {
		return err
	}
	access, err := config.Prefixes(cfg.Access.Allow)
	if err != nil {
		return err
	}
	a.dns.SetAccess(access)
	a.version++
	pol.Version = a.version
	a.dns.SetPolicy(pol)
	a.cfgPtr.Store(cfg)
	changed := !sameLists(loaded, a.current)
	a.current = loaded
	if changed {
		// Compiling a list leaves its parse buffers behind as garbage, several times the
		// compiled size; give it back to the OS now rather than whenever the scavenger gets to
		// it, so a router's memory reflects what the lists really hold.
		go debug.FreeOSMemory()
	}
	a.log.Info("policy loaded", "version", pol.Version, "lists", len(loaded), "profiles", len(cfg.Profiles))
	a.profilesApplied(cfg)
	return nil
}

// sameLists reports whether two sets of compiled lists are the very same lists: the loader
// returns the same *List for a list whose source did not change.
func sameLists(a, b map[string]*lists.List) bool {
	if len(a) != len(b) {
		return false
	}
	for n, l := range a {
		if b[n] != l {
			return false
		}
	}
	return true
}

// refreshLoop re-checks lists whose refresh period passed; only changed lists are recompiled,
// and the policy is swapped only when one changed.
func (a *app) refreshLoop(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.mu.Lock()
		cfg := a.cfg()
		loaded, err := a.loader.Load(ctx, cfg.Lists, false)
		if err != nil {
			a.log.Warn("list refresh failed; keeping the previous lists", "err", err)
		} else if !sameLists(loaded, a.current) {
			if err := a.swap(cfg, loaded); err != nil {
				a.log.Error("policy rebuild failed", "err", err)
			}
		}
		a.mu.Unlock()
	}
}

// retention purges statistics and query log entries older than the configured retention.
func (a *app) retention(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		cut := time.Now().Add(-a.cfg().Stats.Retention)
		if _, err := a.st.PurgeStats(ctx, cut); err != nil && ctx.Err() == nil {
			a.log.Warn("statistics purge failed", "err", err)
		}
		if _, err := a.st.PurgeQueryLog(ctx, cut); err != nil && ctx.Err() == nil {
			a.log.Warn("query log purge failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func newLogger(c *config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Log.Level))
	o := &slog.HandlerOptions{Level: lvl}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

var errNotReady = errors.New("filter policy not loaded yet")
