package config

import (
	"encoding/base64"
	"net"
	"net/url"
	"strings"
	"time"
)

// Subscribe configures a filter node that takes the network list from a remote publisher
// (another kidshield's feed) instead of its own store.
type Subscribe struct {
	// Source is "rpz://host:port/ZONE" (AXFR/IXFR from the RPZ primary) or
	// "https://host/feed/v1" (the signed HTTP feed). Empty: the list is read from the store.
	Source string `yaml:"source"`
	// TSIGName and TSIGSecret sign RPZ transfers (hmac-sha256; the member's name and base64
	// secret in the publisher's feed.members).
	TSIGName   string `yaml:"tsig_name"`
	TSIGSecret string `yaml:"tsig_secret"`
	// Token is the API token (scope feed:read) for an https source.
	Token string `yaml:"token"`
	// PublicKey is the publisher's Ed25519 feed key (PEM, as GET /feed/v1/key serves it, or the
	// base64 of the 32 bytes): an https source's manifests must verify with it.
	PublicKey string `yaml:"public_key"`
	// Refresh is how often the source is polled (default 1m).
	Refresh time.Duration `yaml:"refresh"`
	// ListenNotify is an optional host:port where NOTIFY from the RPZ primary is accepted; each
	// one refreshes at once.
	ListenNotify string `yaml:"listen_notify"`
}

// Enabled reports whether a source is configured.
func (s *Subscribe) Enabled() bool { return s.Source != "" }

func (s *Subscribe) finish() {
	s.Source = strings.TrimSpace(s.Source)
	if s.Refresh == 0 {
		s.Refresh = time.Minute
	}
}

func (s *Subscribe) validate(add func(field, format string, args ...any)) {
	if s.Source == "" {
		return
	}
	u, err := url.Parse(s.Source)
	if err != nil || u.Host == "" {
		add("subscribe.source", "want rpz://host:port/ZONE or https://host/feed/v1, got %s", quote(s.Source))
		return
	}
	switch u.Scheme {
	case "rpz":
		if _, _, err := net.SplitHostPort(u.Host); err != nil {
			add("subscribe.source", "an rpz source needs host:port, got %s", quote(u.Host))
		}
		zone := strings.ToLower(strings.Trim(u.Path, "/"))
		if zone == "" || !nameRE.MatchString(zone) {
			add("subscribe.source", "an rpz source needs the zone as its path (rpz://host:port/rpz.example.), got %s", quote(u.Path))
		}
		if (s.TSIGName == "") != (s.TSIGSecret == "") {
			add("subscribe", "tsig_name and tsig_secret go together")
		}
		if s.TSIGSecret != "" {
			if b, err := base64.StdEncoding.DecodeString(s.TSIGSecret); err != nil || len(b) < 16 {
				add("subscribe.tsig_secret", "want the base64 of at least 16 random bytes")
			}
		}
	case "https", "http":
		if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
			add("subscribe.source", "the token would travel in clear: use https (http only to a loopback address)")
		}
		if s.PublicKey == "" {
			add("subscribe.public_key", "an https source needs the publisher's feed public key: manifests must verify")
		}
		if s.Token == "" {
			add("subscribe.token", "an https source needs an API token with scope feed:read")
		}
	default:
		add("subscribe.source", "want scheme rpz or https, got %s", quote(u.Scheme))
	}
	if s.Refresh < time.Second {
		add("subscribe.refresh", "at least 1s, got %s", s.Refresh)
	}
	if s.ListenNotify != "" {
		if _, _, err := net.SplitHostPort(s.ListenNotify); err != nil {
			add("subscribe.listen_notify", "want host:port, got %s", quote(s.ListenNotify))
		}
	}
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
