package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxConfigSize bounds the configuration file: a typo that points --config at a disk image
// should fail fast, not eat memory.
const maxConfigSize = 8 << 20

// BuiltinCategories are always defined. Their order is stable: it fixes their bit numbers.
var BuiltinCategories = []string{
	"adult", "gambling", "violence", "drugs", "self-harm", "weapons", "dating",
	"social", "games", "video", "chat", "bypass", "malware", "hotline",
}

// Default returns the configuration of `kidshield serve` with no file: a working family filter on
// loopback.
func Default() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

func (c *Config) applyDefaults() {
	if c.DataDir == "" {
		c.DataDir = "./kidshield-data"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if len(c.DNS.Listen) == 0 {
		c.DNS.Listen = []string{"127.0.0.1:5353"}
	}
	if c.DNS.UnknownClients == "" {
		c.DNS.UnknownClients = "default"
	}
	if c.DNS.MaxTCPConnections == 0 {
		c.DNS.MaxTCPConnections = 1000
	}
	if c.DNS.IdleTimeout == 0 {
		c.DNS.IdleTimeout = 10 * time.Second
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = "127.0.0.1:8080"
	}
	if c.TLS.ServerName == "" {
		c.TLS.ServerName = "dns.kidshield.localhost"
	}
	if len(c.Upstreams) == 0 {
		// Quad9 and Cloudflare over TLS: encrypted by default, no logging promises in their
		// policies. A family behind a router can set its ISP's resolver instead.
		c.Upstreams = []string{"tls://9.9.9.9:853#dns.quad9.net", "tls://1.1.1.1:853#cloudflare-dns.com"}
	}
	if c.UpstreamTimeout == 0 {
		c.UpstreamTimeout = 2 * time.Second
	}
	if c.Cache.MaxEntries == 0 {
		c.Cache.MaxEntries = 100_000
	}
	if c.Cache.MaxTTL == 0 {
		c.Cache.MaxTTL = 24 * time.Hour
	}
	if c.Cache.NegativeMaxTTL == 0 {
		c.Cache.NegativeMaxTTL = time.Hour
	}
	if c.Cache.ServeStale == nil {
		c.Cache.ServeStale = ptr(true)
	}
	if c.Cache.StaleMaxAge == 0 {
		c.Cache.StaleMaxAge = 24 * time.Hour
	}
	if c.Cache.PrefetchHits == 0 {
		c.Cache.PrefetchHits = 5
	}
	if c.Access.Allow == nil {
		c.Access.Allow = []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fe80::/10"}
	}
	if c.Access.RateLimit == nil {
		c.Access.RateLimit = ptr(300.0)
	}
	if c.Access.RateBurst == 0 {
		c.Access.RateBurst = max(int(*c.Access.RateLimit)*2, 1)
	}
	if c.ListRefresh == 0 {
		c.ListRefresh = 24 * time.Hour
	}
	for i := range c.Lists {
		l := &c.Lists[i]
		if l.Format == "" {
			l.Format = "auto"
		}
		if l.Refresh == 0 {
			l.Refresh = c.ListRefresh
		}
		if l.Name == "" {
			l.Name = l.Category + "-" + strconv.Itoa(i+1)
		}
	}
	if len(c.Profiles) == 0 {
		c.Profiles = []Profile{{
			ID: "default", Name: "Family",
			BlockCategories: []string{"adult", "gambling", "bypass", "malware", "hotline"},
			SafeSearch:      StringList{"all"},
			YouTube:         "moderate",
		}}
	}
	for i := range c.Profiles {
		p := &c.Profiles[i]
		if p.YouTube == "" {
			p.YouTube = "off"
		}
		if p.BypassPrevention == nil {
			p.BypassPrevention = ptr(true)
		}
		if p.BlockMode == "" {
			p.BlockMode = "nxdomain"
		}
		if p.TimeZone == "" {
			p.TimeZone = "Asia/Ho_Chi_Minh"
		}
		if len(p.SafeSearch) == 1 && p.SafeSearch[0] == "all" {
			p.SafeSearch = StringList{"google", "bing", "duckduckgo", "ecosia", "pixabay"}
		}
		for j := range p.Schedule {
			if p.Schedule[j].Mode == "" {
				p.Schedule[j].Mode = "block"
			}
		}
	}
	if c.DefaultProfile == "" {
		c.DefaultProfile = c.Profiles[0].ID
	}
	c.Hotline.finish()
	c.Feed.finish()
	c.Subscribe.finish()
	if c.Stats.Enabled == nil {
		c.Stats.Enabled = ptr(true)
	}
	if c.Stats.Retention == 0 {
		c.Stats.Retention = 90 * 24 * time.Hour
	}
	if c.Stats.FlushEvery == 0 {
		c.Stats.FlushEvery = 10 * time.Second
	}
	if c.Stats.QueueSize == 0 {
		c.Stats.QueueSize = 65536
	}
	if c.Stats.Anonymize == nil {
		c.Stats.Anonymize = ptr(true)
	}
	if c.Admin.MetricsAllow == nil {
		c.Admin.MetricsAllow = []string{"127.0.0.0/8", "::1/128"}
	}
}

func ptr[T any](v T) *T { return &v }

// UnmarshalYAML lets safesearch be a single string ("all") or a list.
func (s *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var v string
		if err := n.Decode(&v); err != nil {
			return err
		}
		if v == "" || v == "off" || v == "false" {
			*s = nil
			return nil
		}
		if v == "true" || v == "on" {
			v = "all"
		}
		*s = StringList{v}
		return nil
	case yaml.SequenceNode:
		var v []string
		if err := n.Decode(&v); err != nil {
			return err
		}
		*s = v
		return nil
	}
	return fmt.Errorf("line %d: want a string or a list of strings", n.Line)
}

// Error is one problem in a configuration file, with where it is.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(":")
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found; Load reports them all at once so a user fixes a file in one go.
type Errors []Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// LoadFile reads, defaults and validates a configuration file.
func LoadFile(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("file is larger than %d bytes; is this the right file?", maxConfigSize)}}
	}
	c, err := Parse(data)
	if err != nil {
		var es Errors
		if errors.As(err, &es) {
			for i := range es {
				es[i].File = path
			}
			return nil, es
		}
		return nil, err
	}
	// Relative paths in the file are relative to the file, not to wherever the daemon was
	// started.
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(filepath.Dir(path), p)
	}
	c.DataDir = rel(c.DataDir)
	for i := range c.Lists {
		if !strings.Contains(c.Lists[i].Source, "://") {
			c.Lists[i].Source = rel(c.Lists[i].Source)
		}
	}
	c.TLS.CertFile, c.TLS.KeyFile, c.Admin.TokenFile = rel(c.TLS.CertFile), rel(c.TLS.KeyFile), rel(c.Admin.TokenFile)
	return c, nil
}

var yamlLineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// Parse decodes a configuration, applies defaults and validates it.
func Parse(data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlErrors(err)
	}
	c := &Config{}
	if len(bytes.TrimSpace(data)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
			return nil, yamlErrors(err)
		}
	}
	lines := map[string]int{}
	if len(root.Content) > 0 {
		walkLines(root.Content[0], "", lines)
	}
	c.applyDefaults()
	if es := c.validate(); len(es) > 0 {
		for i := range es {
			es[i].Line = lineFor(lines, es[i].Field)
		}
		return nil, es
	}
	return c, nil
}

// yamlErrors turns yaml.v3's "line N: ..." messages into Errors.
func yamlErrors(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var es Errors
		for _, m := range te.Errors {
			if sm := yamlLineRE.FindStringSubmatch(m); sm != nil {
				n, _ := strconv.Atoi(sm[1])
				es = append(es, Error{Line: n, Msg: friendlyYAML(sm[2])})
			} else {
				es = append(es, Error{Msg: m})
			}
		}
		return es
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if sm := yamlLineRE.FindStringSubmatch(msg); sm != nil {
		n, _ := strconv.Atoi(sm[1])
		return Errors{{Line: n, Msg: sm[2]}}
	}
	return Errors{{Msg: msg}}
}

func friendlyYAML(m string) string {
	if strings.Contains(m, "into time.Duration") {
		return strings.SplitN(m, " into ", 2)[0] + ": want a duration such as 30s, 15m or 24h (90 days is 2160h)"
	}
	// "field colour not found in type config.Profile" → "unknown field colour (in profile)"
	if strings.HasPrefix(m, "field ") && strings.Contains(m, " not found in type ") {
		name := strings.TrimPrefix(m[:strings.Index(m, " not found")], "field ")
		typ := m[strings.LastIndex(m, ".")+1:]
		return fmt.Sprintf("unknown field %q (in %s)", name, strings.ToLower(typ))
	}
	return m
}

// walkLines records the line of every field path ("profiles[0].schedule[1].from").
func walkLines(n *yaml.Node, path string, out map[string]int) {
	if path != "" {
		out[path] = n.Line
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			out[p] = k.Line
			walkLines(v, p, out)
			out[p] = k.Line
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			walkLines(v, path+"["+strconv.Itoa(i)+"]", out)
		}
	}
}

// lineFor finds the line of a field, or of its nearest parent that is in the file (defaults are not).
func lineFor(lines map[string]int, field string) int {
	for p := field; p != ""; {
		if n, ok := lines[p]; ok {
			return n
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// Finish applies defaults to what was added after Parse (command-line flags) and validates the
// whole configuration again.
func (c *Config) Finish() error {
	c.applyDefaults()
	if es := c.validate(); len(es) > 0 {
		return es
	}
	return nil
}

// DefaultLists are the lists of `kidshield serve` without a configuration file or --list: the
// hostsVN adult and gambling lists (MIT), maintained for Viet Nam. They are downloaded on first
// start and kept in the data directory.
func DefaultLists() []List {
	const base = "https://raw.githubusercontent.com/bigdargon/hostsVN/master/extensions/"
	return []List{
		{Name: "hostsvn-adult", Category: "adult", Source: base + "adult/domain.txt", Format: "domains"},
		{Name: "hostsvn-gambling", Category: "gambling", Source: base + "gambling/domain.txt", Format: "domains"},
	}
}
