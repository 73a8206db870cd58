// Package config is kidshield's configuration: the YAML file, its defaults, and its validation.
//
// Everything a deployment sets lives in one Config. Load returns errors that name the line and
// the field, so `kidshield check-config` can point a parent or an ISP engineer at the mistake.
// The package imports nothing of the project: every part reads the same Config.
package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Config is the whole configuration. Field comments are the reference documented in docs/filter.md.
type Config struct {
	DataDir string `yaml:"data_dir"`
	Log     Log    `yaml:"log"`
	DNS     DNS    `yaml:"dns"`
	HTTP    HTTP   `yaml:"http"`
	TLS     TLS    `yaml:"tls"`
	// Upstreams are the resolvers the filter forwards to: "host:port", "tls://host:port",
	// "https://host/dns-query".
	Upstreams       []string      `yaml:"upstreams"`
	UpstreamTimeout time.Duration `yaml:"upstream_timeout"`
	Cache           Cache         `yaml:"cache"`
	Access          Access        `yaml:"access"`
	// Categories lists the category names lists and profiles may use, beyond the built-in ones.
	Categories []string `yaml:"categories"`
	Lists      []List   `yaml:"lists"`
	// ListRefresh is how often lists loaded from URLs are refreshed (per list override: refresh).
	ListRefresh    time.Duration `yaml:"list_refresh"`
	Profiles       []Profile     `yaml:"profiles"`
	DefaultProfile string        `yaml:"default_profile"`
	Stats          Stats         `yaml:"stats"`
	Admin          Admin         `yaml:"admin"`
	Store          Store         `yaml:"store"`
	Hotline        Hotline       `yaml:"hotline"`
	Scanner        Scanner       `yaml:"scanner"`
	Feed           Feed          `yaml:"feed"`
	Subscribe      Subscribe     `yaml:"subscribe"`
	// Roles are what this node runs: "filter" (DNS, DoH, the policy and lists, the
	// subscriber), "hotline" (its pages, API, jobs and logins), "feed" (the RPZ primary and the
	// HTTP downloads). Empty: all three. `kidshield serve --roles=...` overrides it.
	Roles []string `yaml:"roles"`
}

// AllRoles are the roles a node can run, in their documented order.
var AllRoles = []string{"filter", "hotline", "feed"}

// RoleSet returns the roles of roles (all of them when empty), refusing an unknown one.
func RoleSet(roles []string) (map[string]bool, error) {
	set := map[string]bool{}
	for _, r := range roles {
		r = strings.ToLower(strings.TrimSpace(r))
		if r == "" {
			continue
		}
		if !slices.Contains(AllRoles, r) {
			err := fmt.Errorf("unknown role %q: want one or more of %s", r, strings.Join(AllRoles, ", "))
			if r == "scanner" {
				// The scanner is part of the hotline, not a role of its own (docs/scanner.md).
				err = fmt.Errorf("%w (the scanner runs with the hotline role: configure it under scanner:)", err)
			}
			return nil, err
		}
		set[r] = true
	}
	if len(set) == 0 {
		for _, r := range AllRoles {
			set[r] = true
		}
	}
	return set, nil
}

// Log configures structured logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// DNS configures the DNS listeners.
type DNS struct {
	// Listen addresses serve plain DNS over UDP and TCP.
	Listen []string `yaml:"listen"`
	// TLSListen addresses serve DNS over TLS (RFC 7858).
	TLSListen []string `yaml:"tls_listen"`
	// UDPSockets is the number of SO_REUSEPORT sockets per UDP address (0: one per CPU).
	UDPSockets int `yaml:"udp_sockets"`
	// UnknownClients says what a client that maps to no profile gets: "default" (the default
	// profile) or "refuse" (REFUSED).
	UnknownClients string `yaml:"unknown_clients"`
	// MaxTCPConnections bounds concurrent TCP and TLS connections.
	MaxTCPConnections int `yaml:"max_tcp_connections"`
	// IdleTimeout closes an idle TCP/TLS connection (RFC 7766 suggests seconds, not minutes).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// HTTP configures the web server (DoH, metrics, admin API).
type HTTP struct {
	Listen    string `yaml:"listen"`     // plain HTTP, for use behind a reverse proxy
	TLSListen string `yaml:"tls_listen"` // HTTPS with HTTP/2 (DoH for browsers and phones)
	// TrustedProxies lists the reverse proxies (addresses or CIDRs) whose X-Forwarded-For is
	// believed: behind them, rate limits, the access list and profiles by client address see
	// the real client instead of the proxy. Empty: the header is ignored (it is trivially
	// forged by anyone else).
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// TLS names the certificate for DoT and HTTPS. Without files, a self-signed certificate for
// ServerName is generated into the data directory (for development only).
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the DoT/DoH host name. Its first label is stripped to find the profile:
	// "anna.dns.example.org" with server_name "dns.example.org" selects profile "anna".
	ServerName string `yaml:"server_name"`
}

// Cache configures the shared answer cache.
type Cache struct {
	MaxEntries     int           `yaml:"max_entries"`
	MinTTL         time.Duration `yaml:"min_ttl"`
	MaxTTL         time.Duration `yaml:"max_ttl"`
	NegativeMaxTTL time.Duration `yaml:"negative_max_ttl"`
	ServeStale     *bool         `yaml:"serve_stale"`
	StaleMaxAge    time.Duration `yaml:"stale_max_age"`
	PrefetchHits   int           `yaml:"prefetch_hits"`
}

// Access keeps the resolver from being open to the Internet.
type Access struct {
	// Allow lists the client networks that may query. The default allows loopback and private
	// networks only.
	Allow []string `yaml:"allow"`
	// RateLimit is queries per second per client address (0: off); RateBurst the bucket size.
	RateLimit *float64 `yaml:"rate_limit"`
	RateBurst int      `yaml:"rate_burst"`
}

// List is one block list file or URL, in one category.
type List struct {
	Name     string `yaml:"name"`
	Category string `yaml:"category"`
	// Source is a file path or an http(s) URL.
	Source string `yaml:"source"`
	// Format is auto, domains, hosts or adblock.
	Format  string        `yaml:"format"`
	Refresh time.Duration `yaml:"refresh"`
}

// Profile is the policy for a child, a class or a household.
type Profile struct {
	ID              string   `yaml:"id"`
	Name            string   `yaml:"name"`
	BlockCategories []string `yaml:"block_categories"`
	Allow           []string `yaml:"allow"`
	Deny            []string `yaml:"deny"`
	// SafeSearch enforces SafeSearch per engine: google, bing, duckduckgo, ecosia, pixabay.
	// The shorthand "safesearch: all" is accepted in YAML as the list of every engine.
	SafeSearch StringList `yaml:"safesearch"`
	// YouTube restricted mode: "off", "moderate" or "strict".
	YouTube string `yaml:"youtube"`
	// BypassPrevention blocks the names devices use to route around the filter (Firefox's
	// DoH canary, iCloud Private Relay, designated-resolver discovery).
	BypassPrevention *bool `yaml:"bypass_prevention"`
	// BlockMode: "nxdomain", "null" (0.0.0.0 and ::) or "address" (BlockAddresses, a block page).
	BlockMode      string   `yaml:"block_mode"`
	BlockAddresses []string `yaml:"block_addresses"`
	// Clients maps plain-DNS client addresses or networks to this profile.
	Clients  []string   `yaml:"clients"`
	Devices  []Device   `yaml:"devices"`
	TimeZone string     `yaml:"timezone"`
	Schedule []Schedule `yaml:"schedule"`
}

// Device is one child's device inside a profile; DoH path /dns-query/{profile}/{device} or a
// client address selects it, so statistics can name it.
type Device struct {
	ID      string   `yaml:"id"`
	Name    string   `yaml:"name"`
	Clients []string `yaml:"clients"`
}

// Schedule is a weekly time window that changes a profile's policy while it is open.
type Schedule struct {
	Name string   `yaml:"name"`
	Days []string `yaml:"days"` // mon..sun, or "daily", "weekdays", "weekend"
	From string   `yaml:"from"` // "21:00"
	To   string   `yaml:"to"`   // "06:30"; earlier than From means the window crosses midnight
	// Mode "block" adds BlockCategories; "allow_only" (bedtime) answers only the profile's
	// allow list and Allow.
	Mode            string   `yaml:"mode"`
	BlockCategories []string `yaml:"block_categories"`
	Allow           []string `yaml:"allow"`
}

// Stats configures per-profile statistics and the optional query log.
type Stats struct {
	Enabled    *bool         `yaml:"enabled"`
	Retention  time.Duration `yaml:"retention"`
	FlushEvery time.Duration `yaml:"flush_every"`
	QueueSize  int           `yaml:"queue_size"`
	QueryLog   bool          `yaml:"query_log"`
	// Anonymize zeroes the host part of client addresses in the query log.
	Anonymize *bool `yaml:"anonymize"`
}

// Admin protects the admin API.
type Admin struct {
	// Token authorises admin API calls (Authorization: Bearer). Empty: a random token is
	// generated into DATA_DIR/admin-token on first start.
	Token string `yaml:"token"`
	// TokenFile reads the token from a file instead (for secrets managers).
	TokenFile string `yaml:"token_file"`
	// MetricsAllow lists the networks that may read /metrics without the token.
	MetricsAllow []string `yaml:"metrics_allow"`
}

// Store selects the database: empty DSN means SQLite in the data directory.
type Store struct {
	DSN string `yaml:"dsn"`
}

// StringList accepts a YAML sequence of strings or a single string.
type StringList []string

// Prefixes parses a list of addresses or CIDRs.
func Prefixes(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ParsePrefix accepts "10.0.0.0/8" or a single address "10.0.0.7".
func ParsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, &valueError{msg: "not an address or network (want 192.168.1.0/24 or 192.168.1.7): " + quote(s)}
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}
