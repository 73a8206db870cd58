package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
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
	// Policy is the control node's signed HTTP feed ("https://host/feed/v1") whose policy.yaml
	// replaces this node's profiles and default profile; Token and PublicKey are used for it
	// too. Empty: the profiles are this node's own.
	Policy string `yaml:"policy"`
}

// PolicyEnabled reports whether the profiles come from a control node.
func (s *Subscribe) PolicyEnabled() bool { return s.Policy != "" }

// Enabled reports whether a source is configured.
func (s *Subscribe) Enabled() bool { return s.Source != "" }

func (s *Subscribe) finish() {
	s.Source = strings.TrimSpace(s.Source)
	s.Policy = strings.TrimSpace(s.Policy)
	if s.Refresh == 0 {
		s.Refresh = time.Minute
	}
}

func (s *Subscribe) validate(add func(field, format string, args ...any)) {
	// needKeys: an https source or a policy URL; the token and key are asked for once even
	// when both need them.
	needKeys := false
	if s.Policy != "" {
		u, err := url.Parse(s.Policy)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			add("subscribe.policy", "want the control node's feed URL https://host/feed/v1, got %s", quote(s.Policy))
		case u.Scheme == "http" && !loopbackHost(u.Hostname()):
			add("subscribe.policy", "the token would travel in clear: use https (http only to a loopback address)")
		}
		needKeys = true
		if s.Source == "" && s.Refresh < time.Second {
			add("subscribe.refresh", "at least 1s, got %s", s.Refresh)
		}
	}
	defer func() {
		if !needKeys {
			return
		}
		what := "an https source"
		if s.Policy != "" {
			what = "policy"
		}
		if s.PublicKey == "" {
			add("subscribe.public_key", "%s needs the publisher's feed public key: manifests must verify", what)
		}
		if s.Token == "" {
			scopes := "feed:read"
			if s.Policy != "" {
				scopes = "feed:read and policy:read"
			}
			add("subscribe.token", "%s needs an API token with scope %s", what, scopes)
		}
	}()
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
		needKeys = true
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

// Policy is what a control node shares with its filter nodes (policy.yaml of the HTTP feed): its
// profiles, its default profile and the categories it knows, in the configuration file's shape.
type Policy struct {
	DefaultProfile string    `yaml:"default_profile"`
	Profiles       []Profile `yaml:"profiles"`
	// Categories are every category the control node knows (built-in and declared): a profile
	// may block one this node has no list for; it then has nothing in it here.
	Categories []string `yaml:"categories"`
}

// PolicyYAML renders the policy c shares with filter nodes. The bytes depend only on the
// configuration, so their digest changes exactly when the profiles or categories do.
func (c *Config) PolicyYAML() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(Policy{DefaultProfile: c.DefaultProfile, Profiles: c.Profiles, Categories: c.AllCategories()}); err != nil {
		return nil, fmt.Errorf("config: policy: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: policy: %w", err)
	}
	return b.Bytes(), nil
}

// ParsePolicy decodes a policy document strictly (an unknown field is an error), applies the
// profiles' defaults and validates them with the rules of a configuration file. Errors are
// Errors naming the line and the field.
func ParsePolicy(data []byte) (*Policy, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlErrors(err)
	}
	var p Policy
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{Msg: "empty policy document"}}
		}
		return nil, yamlErrors(err)
	}
	if len(p.Profiles) == 0 {
		// Without this the defaults would invent a "default" profile the control node never
		// published.
		return nil, Errors{{Field: "profiles", Msg: "the policy has no profiles"}}
	}
	lines := map[string]int{}
	if len(root.Content) > 0 {
		walkLines(root.Content[0], "", lines)
	}
	c := &Config{Profiles: p.Profiles, DefaultProfile: p.DefaultProfile, Categories: p.Categories}
	c.applyDefaults()
	if es := c.validate(); len(es) > 0 {
		for i := range es {
			es[i].Line = lineFor(lines, es[i].Field)
		}
		return nil, es
	}
	p.Profiles, p.DefaultProfile = c.Profiles, c.DefaultProfile
	return &p, nil
}

// WithPolicy returns a copy of c whose profiles and default profile are p's (the profiles'
// clients and devices with them) and whose categories include p's, validated as a whole. c is
// not changed.
//
// On a node answering only mapped clients (dns.unknown_clients: refuse) the profiles' client
// addresses are also its access list: the control node's may then only map addresses the
// node's own profiles map, so a policy cannot open the resolver to more of the Internet than
// the node's administrator did.
func (c *Config) WithPolicy(p *Policy) (*Config, error) {
	if c.DNS.UnknownClients == "refuse" {
		if es := clientsWithin(p.Profiles, c.Profiles); len(es) > 0 {
			return nil, es
		}
	}
	m := *c
	m.Profiles = slices.Clone(p.Profiles)
	m.DefaultProfile = p.DefaultProfile
	m.Categories = slices.Clone(c.Categories)
	known := c.AllCategories()
	for _, n := range p.Categories {
		if !slices.Contains(known, n) {
			known = append(known, n)
			m.Categories = append(m.Categories, n)
		}
	}
	if es := m.validate(); len(es) > 0 {
		return nil, es
	}
	return &m, nil
}

// clientsWithin returns an error for each client address or network of theirs not inside a
// client network of own (profiles' and devices').
func clientsWithin(theirs, own []Profile) Errors {
	var allowed []netip.Prefix
	each := func(ps []Profile, fn func(field, c string)) {
		for i, pr := range ps {
			for _, c := range pr.Clients {
				fn(fmt.Sprintf("profiles[%d].clients", i), c)
			}
			for j, d := range pr.Devices {
				for _, c := range d.Clients {
					fn(fmt.Sprintf("profiles[%d].devices[%d].clients", i, j), c)
				}
			}
		}
	}
	each(own, func(_, c string) {
		if pfx, err := ParsePrefix(c); err == nil {
			allowed = append(allowed, pfx)
		}
	})
	var es Errors
	each(theirs, func(field, c string) {
		pfx, err := ParsePrefix(c)
		if err != nil {
			return // validate reports it
		}
		for _, a := range allowed {
			if a.Bits() <= pfx.Bits() && a.Contains(pfx.Addr()) {
				return
			}
		}
		es = append(es, Error{Field: field, Msg: fmt.Sprintf("the control node maps %s, which this node's own profiles do not (dns.unknown_clients: refuse makes the profiles' clients its access list: list the addresses this node serves in its own profiles)", c)})
	})
	return es
}
