package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"time"
)

// Feed configures the publishing of the network list to the response network's members: an
// RPZ zone over AXFR/IXFR for ISPs' resolvers, and signed HTTP downloads for filter vendors.
type Feed struct {
	// Zone is the RPZ zone's name (default "rpz.kidshield.local.").
	Zone string `yaml:"zone"`
	// Listen are the addresses of the authoritative DNS listener that serves the zone (SOA,
	// AXFR, IXFR; UDP and TCP). Empty: no transfers are served.
	Listen []string `yaml:"listen"`
	// Action is what the zone tells resolvers to do with a listed name: "nxdomain" (default) or
	// "blockpage" (a local-data answer: CNAME to BlockPage).
	Action string `yaml:"action"`
	// BlockPage is the host name blocked names are sent to with action blockpage.
	BlockPage string `yaml:"block_page"`
	// TTL of the zone's records (default 5m) and its SOA timers.
	TTL     time.Duration `yaml:"ttl"`
	Refresh time.Duration `yaml:"refresh"`
	Retry   time.Duration `yaml:"retry"`
	Expire  time.Duration `yaml:"expire"`
	// Members are the network's members allowed to transfer the zone.
	Members []FeedMember `yaml:"members"`
	// JournalVersions is how many published versions of the zone the store keeps the deltas
	// of, so IXFR from them is answered incrementally after a restart and by every control
	// node (default 1000; older versions get the whole zone).
	JournalVersions int `yaml:"journal_versions"`
}

// FeedMember is one member of the network that pulls the list.
type FeedMember struct {
	Name string `yaml:"name"`
	// TSIGSecret is the base64 secret of the member's hmac-sha256 TSIG key, whose name is the
	// member's name (RFC 8945). Transfers signed with it are allowed from anywhere.
	TSIGSecret string `yaml:"tsig_secret"`
	// Allow lists addresses or CIDRs allowed to transfer WITHOUT a signature: for resolvers that
	// cannot sign transfers (Unbound 1.17). Keep it to the member's resolver addresses.
	Allow []string `yaml:"allow"`
	// Notify lists host:port addresses sent a NOTIFY (RFC 1996) on every new serial.
	Notify []string `yaml:"notify"`
}

func (f *Feed) finish() {
	if f.Zone == "" {
		f.Zone = "rpz.kidshield.local."
	}
	if !strings.HasSuffix(f.Zone, ".") {
		f.Zone += "."
	}
	f.Zone = strings.ToLower(f.Zone)
	if f.Action == "" {
		f.Action = "nxdomain"
	}
	if f.JournalVersions == 0 {
		f.JournalVersions = 1000
	}
	for _, d := range []struct {
		dst *time.Duration
		v   time.Duration
	}{{&f.TTL, 5 * time.Minute}, {&f.Refresh, time.Hour}, {&f.Retry, 10 * time.Minute}, {&f.Expire, 7 * 24 * time.Hour}} {
		if *d.dst == 0 {
			*d.dst = d.v
		}
	}
}

func (f *Feed) validate(add func(field, format string, args ...any)) {
	if len(f.Zone) > 253 || !nameRE.MatchString(f.Zone) {
		add("feed.zone", "not a domain name: %s", quote(f.Zone))
	}
	switch f.Action {
	case "nxdomain":
	case "blockpage":
		if f.BlockPage == "" || !nameRE.MatchString(strings.ToLower(f.BlockPage)) {
			add("feed.block_page", "action blockpage needs the block page's host name")
		}
	default:
		add("feed.action", "want nxdomain or blockpage, got %s", quote(f.Action))
	}
	for i, a := range f.Listen {
		if _, _, err := net.SplitHostPort(a); err != nil {
			add(fmt.Sprintf("feed.listen[%d]", i), "want host:port, got %s", quote(a))
		}
	}
	if f.TTL < time.Second || f.Refresh < time.Second || f.Retry < time.Second || f.Expire < f.Refresh {
		add("feed", "ttl, refresh and retry must be at least 1s, expire at least refresh")
	}
	if f.JournalVersions < 1 || f.JournalVersions > 100000 {
		add("feed.journal_versions", "want 1 to 100000 versions, got %d", f.JournalVersions)
	}
	names := map[string]bool{}
	for i, m := range f.Members {
		field := fmt.Sprintf("feed.members[%d]", i)
		n := strings.ToLower(strings.TrimSuffix(m.Name, "."))
		if n == "" || !nameRE.MatchString(n) {
			add(field+".name", "a member needs a name that is a valid TSIG key name, got %s", quote(m.Name))
		}
		if names[n] {
			add(field+".name", "member %s listed twice", quote(m.Name))
		}
		names[n] = true
		if m.TSIGSecret != "" {
			if b, err := base64.StdEncoding.DecodeString(m.TSIGSecret); err != nil || len(b) < 16 {
				add(field+".tsig_secret", "want the base64 of at least 16 random bytes (tsig-keygen -a hmac-sha256 prints one)")
			}
		}
		if m.TSIGSecret == "" && len(m.Allow) == 0 {
			add(field, "a member needs a tsig_secret, or allow addresses for resolvers that cannot sign")
		}
		for j, a := range m.Allow {
			if _, err := ParsePrefix(a); err != nil {
				add(fmt.Sprintf("%s.allow[%d]", field, j), "%v", err)
			}
		}
		for j, a := range m.Notify {
			if _, _, err := net.SplitHostPort(a); err != nil {
				add(fmt.Sprintf("%s.notify[%d]", field, j), "want host:port, got %s", quote(a))
			}
		}
	}
}
