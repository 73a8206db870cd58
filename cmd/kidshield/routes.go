package main

import (
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// routes is the route table of the filter and its admin API. Every route names its access.
func (a *app) routes(ws *web.Server) {
	if a.has("filter") {
		// DoH is the filter role's: a hotline or feed node has no policy to answer with.
		doh := a.dns.DoHHandler()
		ws.Handle(
			web.Route{Pattern: "/dns-query", Access: web.Public, Handler: doh},
			web.Route{Pattern: "/dns-query/{profile}", Access: web.Public, Handler: doh},
			web.Route{Pattern: "/dns-query/{profile}/{device}", Access: web.Public, Handler: doh},
		)
	}
	ws.Handle(
		web.Route{Method: "GET", Pattern: "/healthz", Access: web.Public, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			web.JSON(w, 200, map[string]string{"status": "ok"})
		})},
		web.Route{Method: "GET", Pattern: "/readyz", Access: web.Public, Handler: http.HandlerFunc(a.ready)},
		web.Route{Method: "GET", Pattern: "/metrics", Access: web.Metrics, Handler: promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{})},
		web.Route{Method: "POST", Pattern: "/api/v1/reload", Access: web.Admin, Handler: http.HandlerFunc(a.apiReload)},
		web.Route{Method: "GET", Pattern: "/api/v1/lists", Access: web.Admin, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			web.JSON(w, 200, a.loader.Status())
		})},
		web.Route{Method: "GET", Pattern: "/api/v1/upstreams", Access: web.Admin, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			web.JSON(w, 200, a.pool.Status())
		})},
		web.Route{Method: "GET", Pattern: "/api/v1/stats", Access: web.Admin, Handler: http.HandlerFunc(a.apiStats)},
		// The route table itself, so the end-to-end authorization matrix tests every route the
		// binary really serves.
		web.Route{Method: "GET", Pattern: "/api/v1/routes", Access: web.Admin, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			type entry struct{ Method, Pattern, Access string }
			var out []entry
			for _, rt := range ws.Routes() {
				out = append(out, entry{rt.Method, rt.Pattern, rt.Access.String()})
			}
			web.JSON(w, 200, out)
		})},
		web.Route{Method: "GET", Pattern: "/setup/apple/{profile}", Access: web.Public, Handler: http.HandlerFunc(a.appleProfile)},
		web.Route{Method: "GET", Pattern: "/static/", Access: web.Public, Handler: web.Static()},
		web.Route{Pattern: "/", Access: web.Public, Handler: http.HandlerFunc(a.root)},
		// Profiling under load, for operators chasing a number: admin only.
		web.Route{Method: "GET", Pattern: "/debug/pprof/", Access: web.Admin, Handler: http.HandlerFunc(pprof.Index)},
		web.Route{Method: "GET", Pattern: "/debug/pprof/profile", Access: web.Admin, Handler: http.HandlerFunc(pprof.Profile)},
	)
}

// root serves the status page on kidshield's own host names, and the block page on any other
// host: with block_mode address, browsers opening a blocked site land here and are told why.
func (a *app) root(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if a.ownHost(host) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		cfg := a.cfg()
		srv := cfg.TLS.ServerName
		a.render(w, r, 200, "home", map[string]any{
			"Ready": a.dns.Policy() != nil,
			"DoH":   "https://" + srv + "/dns-query/" + cfg.DefaultProfile,
			"DoT":   cfg.DefaultProfile + "." + srv,
		})
		return
	}
	var profile, category string
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		profile, category, _ = a.dns.Explain(ap.Addr(), host)
	}
	a.render(w, r, http.StatusForbidden, "block", map[string]any{"Host": host, "Profile": profile, "Category": category})
}

func (a *app) ownHost(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil || host == "localhost" || host == "" {
		return true
	}
	srv := strings.ToLower(a.cfg().TLS.ServerName)
	return host == srv || strings.HasSuffix(host, "."+srv)
}

func (a *app) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	if err := a.views.Render(w, r, status, name, data); err != nil {
		web.Error(w, r, a.log, http.StatusInternalServerError, err)
	}
}

func (a *app) ready(w http.ResponseWriter, r *http.Request) {
	if !a.has("filter") {
		// Nothing to load before serving: the hotline and the feed are ready once listening.
		web.JSON(w, 200, map[string]any{"status": "ready", "roles": a.roleNames()})
		return
	}
	if p := a.dns.Policy(); p != nil {
		web.JSON(w, 200, map[string]any{"status": "ready", "policy_version": p.Version})
		return
	}
	// Not an error to log: load balancers ask every few seconds while a node starts.
	body := map[string]any{"status": "not ready", "error": errNotReady.Error()}
	if reason := a.notReady.Load(); reason != nil {
		body["reason"] = *reason
	}
	web.JSON(w, http.StatusServiceUnavailable, body)
}

// has reports whether the node runs role (an app built without roles, in tests, runs all).
func (a *app) has(role string) bool { return a.roles == nil || a.roles[role] }

// roleNames lists the node's roles in config.AllRoles order.
func (a *app) roleNames() []string {
	var out []string
	for _, r := range config.AllRoles {
		if a.has(r) {
			out = append(out, r)
		}
	}
	return out
}

func (a *app) apiReload(w http.ResponseWriter, r *http.Request) {
	if !a.has("filter") {
		web.JSON(w, http.StatusConflict, map[string]any{"error": "this node has no filter role: nothing to reload (restart it to change its configuration)"})
		return
	}
	if err := a.reload(r.Context(), true, true); err != nil {
		a.log.Error("reload failed; keeping the previous policy", "err", err)
		// The detail is for the administrator who asked: it names files and lines, not secrets.
		web.JSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "reload failed; the previous policy is still in use", "detail": err.Error()})
		return
	}
	web.JSON(w, 200, map[string]any{"status": "reloaded", "policy_version": a.dns.Policy().Version})
}

// apiStats answers GET /api/v1/stats?profile=&device=&from=&to= (RFC 3339 or YYYY-MM-DD; the
// default is the last 24 hours).
func (a *app) apiStats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to := time.Now()
	from := to.Add(-24 * time.Hour)
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			if t, err = time.Parse(time.DateOnly, v); err != nil {
				web.Error(w, r, a.log, http.StatusBadRequest, errBadTime(p.name, v))
				return
			}
		}
		*p.dst = t
	}
	if a.rec != nil {
		_ = a.rec.Flush(r.Context()) // a parent looking now sees the last seconds too
	}
	res, err := a.st.QueryStats(r.Context(), store.StatsQuery{Profile: q.Get("profile"), Device: q.Get("device"), From: from, To: to})
	if err != nil {
		web.Error(w, r, a.log, http.StatusInternalServerError, err)
		return
	}
	web.JSON(w, 200, res)
}

type badTimeError struct{ name, value string }

func (e badTimeError) Error() string {
	return "parameter " + e.name + "=" + strconv.Quote(e.value) + " is not a time (want 2026-11-26 or 2026-11-26T21:00:00+07:00)"
}

func errBadTime(name, value string) error { return badTimeError{name, value} }

// registerMetrics exports the state of the cache, upstreams, lists and statistics queue.
func (a *app) registerMetrics() {
	gauge := func(name, help string, f func() float64) {
		a.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		a.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	gauge("kidshield_dns_cache_entries", "Entries in the answer cache.", func() float64 { return float64(a.cache.Len()) })
	counter("kidshield_dns_cache_hits_total", "Cache lookups answered fresh.", func() float64 { return float64(a.cache.Stats().Hits) })
	counter("kidshield_dns_cache_misses_total", "Cache lookups that missed.", func() float64 { return float64(a.cache.Stats().Misses) })
	counter("kidshield_dns_cache_stale_total", "Stale answers served while upstreams failed (RFC 8767).", func() float64 { return float64(a.cache.Stats().Stale) })
	counter("kidshield_dns_cache_evictions_total", "Cache entries evicted for space.", func() float64 { return float64(a.cache.Stats().Evictions) })
	gauge("kidshield_dns_upstreams_healthy", "Upstreams currently considered healthy.", func() float64 {
		n := 0
		for _, s := range a.pool.Status() {
			if s.Healthy {
				n++
			}
		}
		return float64(n)
	})
	gauge("kidshield_filter_ready", "1 once the policy and lists are loaded (before that, queries get SERVFAIL).", func() float64 {
		if a.dns.Policy() != nil {
			return 1
		}
		return 0
	})
	gauge("kidshield_lists_rules", "Rules in all loaded lists.", func() float64 {
		n := 0
		for _, s := range a.loader.Status() {
			n += s.Rules
		}
		return float64(n)
	})
	gauge("kidshield_lists_bytes", "Memory held by the compiled lists.", func() float64 {
		n := 0
		for _, s := range a.loader.Status() {
			n += s.Bytes
		}
		return float64(n)
	})
	if a.rec != nil {
		a.reg.MustRegister(a.rec) // the recorder's own queue, flush and drop counters
	}
}
