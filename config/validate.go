package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

type valueError struct{ msg string }

func (e *valueError) Error() string { return e.msg }

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strconv.Quote(s)
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// AllCategories returns the built-in categories followed by the configured ones, deduplicated.
// A category's index is its bit in the matcher, so at most 64.
func (c *Config) AllCategories() []string {
	out := slices.Clone(BuiltinCategories)
	for _, n := range c.Categories {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// ParseClock parses "HH:MM" into minutes after midnight.
func ParseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		if s == "24:00" {
			return 24 * 60, nil
		}
		return 0, fmt.Errorf("want a time of day like 21:00, got %s", quote(s))
	}
	return t.Hour()*60 + t.Minute(), nil
}

// ParseDays expands day names into a weekday set.
func ParseDays(days []string) ([7]bool, error) {
	var set [7]bool
	names := map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}
	if len(days) == 0 {
		days = []string{"daily"}
	}
	for _, d := range days {
		d = strings.ToLower(strings.TrimSpace(d))
		switch d {
		case "daily", "all", "everyday":
			for i := range set {
				set[i] = true
			}
		case "weekdays":
			for i := time.Monday; i <= time.Friday; i++ {
				set[i] = true
			}
		case "weekend", "weekends":
			set[time.Saturday], set[time.Sunday] = true, true
		default:
			key := d
			if len(key) > 3 && strings.HasSuffix(key, "day") { // "monday" → "mon"
				key = key[:3]
			}
			wd, ok := names[key]
			if !ok {
				return set, fmt.Errorf("unknown day %s (want mon..sun, daily, weekdays or weekend)", quote(d))
			}
			set[wd] = true
		}
	}
	return set, nil
}

func (c *Config) validate() Errors {
	var es Errors
	add := func(field, format string, args ...any) {
		es = append(es, Error{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	addr := func(field, s string) {
		_, port, err := net.SplitHostPort(s)
		if err != nil {
			add(field, "want host:port, got %s", quote(s))
			return
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			add(field, "port %s is not a number from 0 to 65535", quote(port))
		}
	}
	oneOf := func(field, v string, allowed ...string) {
		if !slices.Contains(allowed, v) {
			add(field, "%s is not one of %s", quote(v), strings.Join(allowed, ", "))
		}
	}
	oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf("log.format", c.Log.Format, "text", "json")
	for i, a := range c.DNS.Listen {
		addr(fmt.Sprintf("dns.listen[%d]", i), a)
	}
	for i, a := range c.DNS.TLSListen {
		addr(fmt.Sprintf("dns.tls_listen[%d]", i), a)
	}
	oneOf("dns.unknown_clients", c.DNS.UnknownClients, "default", "refuse")
	if c.DNS.UDPSockets < 0 || c.DNS.UDPSockets > 256 {
		add("dns.udp_sockets", "must be between 0 (one per CPU) and 256")
	}
	if c.HTTP.Listen != "" && c.HTTP.Listen != "off" {
		addr("http.listen", c.HTTP.Listen)
	}
	if c.HTTP.TLSListen != "" {
		addr("http.tls_listen", c.HTTP.TLSListen)
	}
	for i, p := range c.HTTP.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			add(fmt.Sprintf("http.trusted_proxies[%d]", i), "%v", err)
		}
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		add("tls", "cert_file and key_file go together: set both or neither")
	}
	for i, u := range c.Upstreams {
		if err := checkUpstream(u); err != nil {
			add(fmt.Sprintf("upstreams[%d]", i), "%v", err)
		}
	}
	if c.UpstreamTimeout < 0 {
		add("upstream_timeout", "must be positive")
	}
	if c.Cache.MaxEntries < 0 {
		add("cache.max_entries", "must not be negative")
	}
	if c.Cache.MaxTTL < 0 || c.Cache.MinTTL < 0 || c.Cache.NegativeMaxTTL < 0 {
		add("cache", "TTLs must not be negative")
	} else if c.Cache.MinTTL > c.Cache.MaxTTL {
		add("cache.min_ttl", "min_ttl %s is above max_ttl %s", c.Cache.MinTTL, c.Cache.MaxTTL)
	}
	for i, a := range c.Access.Allow {
		if _, err := ParsePrefix(a); err != nil {
			add(fmt.Sprintf("access.allow[%d]", i), "%v", err)
		}
	}
	if *c.Access.RateLimit < 0 {
		add("access.rate_limit", "must not be negative")
	}
	for i, a := range c.Admin.MetricsAllow {
		if _, err := ParsePrefix(a); err != nil {
			add(fmt.Sprintf("admin.metrics_allow[%d]", i), "%v", err)
		}
	}
	cats := c.AllCategories()
	if len(cats) > 64 {
		add("categories", "at most 64 categories in all (%d built in), got %d", len(BuiltinCategories), len(cats))
	}
	for i, n := range c.Categories {
		if !idRE.MatchString(n) {
			add(fmt.Sprintf("categories[%d]", i), "category names are lowercase letters, digits, - and _; got %s", quote(n))
		}
	}
	category := func(field, n string) {
		if !slices.Contains(cats, n) {
			add(field, "unknown category %s (declare it under categories:, or use one of %s)", quote(n), strings.Join(cats, ", "))
		}
	}
	names := map[string]bool{}
	for i, l := range c.Lists {
		f := fmt.Sprintf("lists[%d]", i)
		if names[l.Name] {
			add(f+".name", "duplicate list name %s", quote(l.Name))
		}
		names[l.Name] = true
		category(f+".category", l.Category)
		if l.Source == "" {
			add(f+".source", "a list needs a source: a file path or an http(s) URL")
		} else if strings.Contains(l.Source, "://") {
			if u, err := url.Parse(l.Source); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add(f+".source", "not a file path or an http(s) URL: %s", quote(l.Source))
			}
		}
		oneOf(f+".format", l.Format, "auto", "domains", "hosts", "adblock")
		if l.Refresh < time.Minute {
			add(f+".refresh", "refresh must be at least 1m, got %s", l.Refresh)
		}
	}
	ids := map[string]bool{}
	for i := range c.Profiles {
		p := &c.Profiles[i]
		f := fmt.Sprintf("profiles[%d]", i)
		if !idRE.MatchString(p.ID) {
			add(f+".id", "profile ids are lowercase letters, digits, - and _ (they appear in DoH paths and DoT names); got %s", quote(p.ID))
		}
		if ids[p.ID] {
			add(f+".id", "duplicate profile id %s", quote(p.ID))
		}
		ids[p.ID] = true
		for j, n := range p.BlockCategories {
			category(fmt.Sprintf("%s.block_categories[%d]", f, j), n)
		}
		for j, n := range p.Allow {
			checkName(add, fmt.Sprintf("%s.allow[%d]", f, j), n)
		}
		for j, n := range p.Deny {
			checkName(add, fmt.Sprintf("%s.deny[%d]", f, j), n)
		}
		for j, e := range p.SafeSearch {
			if !slices.Contains([]string{"google", "bing", "duckduckgo", "ecosia", "pixabay"}, e) {
				add(fmt.Sprintf("%s.safesearch[%d]", f, j), "%s is not an engine: use all, off, or a list of google, bing, duckduckgo, ecosia, pixabay", quote(e))
			}
		}
		oneOf(f+".youtube", p.YouTube, "off", "moderate", "strict")
		oneOf(f+".block_mode", p.BlockMode, "nxdomain", "null", "address")
		if p.BlockMode == "address" && len(p.BlockAddresses) == 0 {
			add(f+".block_addresses", "block_mode address needs block_addresses (the block page's IPv4 and/or IPv6 address)")
		}
		for j, a := range p.BlockAddresses {
			if _, err := netip.ParseAddr(a); err != nil {
				add(fmt.Sprintf("%s.block_addresses[%d]", f, j), "not an IP address: %s", quote(a))
			}
		}
		for j, a := range p.Clients {
			if _, err := ParsePrefix(a); err != nil {
				add(fmt.Sprintf("%s.clients[%d]", f, j), "%v", err)
			}
		}
		devs := map[string]bool{}
		for j, d := range p.Devices {
			df := fmt.Sprintf("%s.devices[%d]", f, j)
			if !idRE.MatchString(d.ID) {
				add(df+".id", "device ids are lowercase letters, digits, - and _; got %s", quote(d.ID))
			}
			if devs[d.ID] {
				add(df+".id", "duplicate device id %s", quote(d.ID))
			}
			devs[d.ID] = true
			for k, a := range d.Clients {
				if _, err := ParsePrefix(a); err != nil {
					add(fmt.Sprintf("%s.clients[%d]", df, k), "%v", err)
				}
			}
		}
		if _, err := time.LoadLocation(p.TimeZone); err != nil {
			add(f+".timezone", "unknown time zone %s (want an IANA name such as Asia/Ho_Chi_Minh)", quote(p.TimeZone))
		}
		for j, s := range p.Schedule {
			sf := fmt.Sprintf("%s.schedule[%d]", f, j)
			if _, err := ParseDays(s.Days); err != nil {
				add(sf+".days", "%v", err)
			}
			from, err1 := ParseClock(s.From)
			if err1 != nil {
				add(sf+".from", "%v", err1)
			}
			to, err2 := ParseClock(s.To)
			if err2 != nil {
				add(sf+".to", "%v", err2)
			}
			if err1 == nil && err2 == nil && from == to {
				add(sf+".to", "the window is empty: from and to are both %s", s.From)
			}
			oneOf(sf+".mode", s.Mode, "block", "allow_only")
			if s.Mode == "block" && len(s.BlockCategories) == 0 {
				add(sf+".block_categories", "a block window needs block_categories (or mode: allow_only for bedtime)")
			}
			for k, n := range s.BlockCategories {
				category(fmt.Sprintf("%s.block_categories[%d]", sf, k), n)
			}
			for k, n := range s.Allow {
				checkName(add, fmt.Sprintf("%s.allow[%d]", sf, k), n)
			}
		}
	}
	if !ids[c.DefaultProfile] {
		add("default_profile", "no profile has id %s", quote(c.DefaultProfile))
	}
	if c.Stats.Retention < time.Hour {
		add("stats.retention", "keep statistics at least 1h, got %s", c.Stats.Retention)
	}
	if c.Stats.QueueSize < 0 {
		add("stats.queue_size", "must not be negative")
	}
	c.Hotline.validate(add)
	c.Scanner.validate(add)
	c.Feed.validate(add)
	if len(c.Roles) > 0 {
		if _, err := RoleSet(c.Roles); err != nil {
			add("roles", "%v", err)
		}
	}
	c.Subscribe.validate(add)
	return es
}

var nameRE = regexp.MustCompile(`^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.?$`)

func checkName(add func(string, string, ...any), field, n string) {
	if len(n) > 253 || !nameRE.MatchString(strings.ToLower(n)) {
		add(field, "not a domain name: %s", quote(n))
	}
}

func checkUpstream(s string) error {
	switch {
	case strings.HasPrefix(s, "https://"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return fmt.Errorf("not a DoH URL: %s", quote(s))
		}
		return nil
	case strings.Contains(s, "://") && !strings.HasPrefix(s, "tls://") && !strings.HasPrefix(s, "tcp://") && !strings.HasPrefix(s, "udp://"):
		return fmt.Errorf("unsupported scheme in %s (want udp://, tcp://, tls:// or https://)", quote(s))
	case strings.HasPrefix(s, "tls://"), strings.HasPrefix(s, "tcp://"), strings.HasPrefix(s, "udp://"):
		s = s[6:]
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
	}
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return nil
	}
	if _, _, err := net.SplitHostPort(s); err != nil {
		return fmt.Errorf("want host:port, tls://host:port or https://host/dns-query, got %s", quote(s))
	}
	return nil
}
