package filter

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/filter/lists"
)

// Policy is an immutable snapshot of everything the filter decides with: compiled lists and
// profiles. A reload builds a new one and swaps it in atomically; queries in flight keep the
// snapshot they started with, so no query waits on a reload and none is dropped.
type Policy struct {
	Version    uint64
	set        *lists.Set
	categories []string // bit i is categories[i]
	profiles   map[string]*Profile
	routes     []clientRoute // longest prefix first
	def        *Profile      // nil: unknown clients are refused
}

// Profile is the compiled policy of one child, class or household.
type Profile struct {
	ID      string
	Name    string
	block   lists.Mask
	allow   *lists.List
	deny    *lists.List
	safe    [numEngines]bool
	youtube string // "" (off), youtubeStrict or youtubeModerate
	bypass  bool
	mode    string // nxdomain, null, address
	addr4   [][4]byte
	addr6   [][16]byte
	loc     *time.Location
	windows []window
	devices map[string]string // interned device ids
}

type window struct {
	name     string
	days     [7]bool
	from, to int // minutes after midnight; to < from crosses midnight
	allowAll bool
	block    lists.Mask
	allow    *lists.List
}

type clientRoute struct {
	prefix  netip.Prefix
	profile *Profile
	device  string
}

// CompilePolicy builds a policy from the configuration and the compiled lists. sets maps a list
// name to its compiled list; lists missing from it (not loaded yet, or failed) are skipped.
func CompilePolicy(cfg *config.Config, loaded map[string]*lists.List, extra []lists.Entry) (*Policy, error) {
	p := &Policy{categories: cfg.AllCategories(), profiles: map[string]*Profile{}}
	bit := map[string]uint8{}
	for i, c := range p.categories {
		bit[c] = uint8(i)
	}
	var entries []lists.Entry
	for _, l := range cfg.Lists {
		if cl := loaded[l.Name]; cl != nil {
			entries = append(entries, lists.Entry{List: cl, Category: bit[l.Category]})
		}
	}
	entries = append(entries, extra...)
	p.set = lists.NewSet(entries)
	mask := func(names []string) (m lists.Mask, err error) {
		for _, n := range names {
			b, ok := bit[n]
			if !ok {
				return 0, fmt.Errorf("unknown category %q", n)
			}
			m |= 1 << b
		}
		return m, nil
	}
	for _, pc := range cfg.Profiles {
		pr := &Profile{ID: pc.ID, Name: pc.Name, bypass: pc.BypassPrevention == nil || *pc.BypassPrevention, mode: pc.BlockMode, devices: map[string]string{}}
		var err error
		if pr.block, err = mask(pc.BlockCategories); err != nil {
			return nil, fmt.Errorf("profile %s: %w", pc.ID, err)
		}
		pr.allow = nameList(pc.Allow)
		pr.deny = nameList(pc.Deny)
		for _, e := range pc.SafeSearch {
			if i, ok := engineNames[e]; ok {
				pr.safe[i] = true
			}
		}
		switch pc.YouTube {
		case "strict":
			pr.youtube, pr.safe[engineYouTube] = youtubeStrict, true
		case "moderate":
			pr.youtube, pr.safe[engineYouTube] = youtubeModerate, true
		}
		for _, a := range pc.BlockAddresses {
			ip, err := netip.ParseAddr(a)
			if err != nil {
				return nil, fmt.Errorf("profile %s: block address: %w", pc.ID, err)
			}
			if ip.Is4() || ip.Is4In6() {
				pr.addr4 = append(pr.addr4, ip.Unmap().As4())
			} else {
				pr.addr6 = append(pr.addr6, ip.As16())
			}
		}
		if pr.loc, err = time.LoadLocation(pc.TimeZone); err != nil {
			return nil, fmt.Errorf("profile %s: %w", pc.ID, err)
		}
		for _, s := range pc.Schedule {
			w := window{name: s.Name, allowAll: s.Mode == "allow_only", allow: nameList(s.Allow)}
			if w.name == "" {
				w.name = "schedule"
			}
			if w.days, err = config.ParseDays(s.Days); err != nil {
				return nil, fmt.Errorf("profile %s: %w", pc.ID, err)
			}
			if w.from, err = config.ParseClock(s.From); err != nil {
				return nil, fmt.Errorf("profile %s: %w", pc.ID, err)
			}
			if w.to, err = config.ParseClock(s.To); err != nil {
				return nil, fmt.Errorf("profile %s: %w", pc.ID, err)
			}
			if w.block, err = mask(s.BlockCategories); err != nil {
				return nil, fmt.Errorf("profile %s: %w", pc.ID, err)
			}
			pr.windows = append(pr.windows, w)
		}
		p.profiles[pr.ID] = pr
		for _, c := range pc.Clients {
			pfx, err := config.ParsePrefix(c)
			if err != nil {
				return nil, fmt.Errorf("profile %s: %w", pc.ID, err)
			}
			p.routes = append(p.routes, clientRoute{prefix: pfx, profile: pr})
		}
		for _, d := range pc.Devices {
			pr.devices[d.ID] = d.ID
			for _, c := range d.Clients {
				pfx, err := config.ParsePrefix(c)
				if err != nil {
					return nil, fmt.Errorf("profile %s device %s: %w", pc.ID, d.ID, err)
				}
				p.routes = append(p.routes, clientRoute{prefix: pfx, profile: pr, device: d.ID})
			}
		}
	}
	slices.SortStableFunc(p.routes, func(a, b clientRoute) int { return b.prefix.Bits() - a.prefix.Bits() })
	if cfg.DNS.UnknownClients != "refuse" {
		p.def = p.profiles[cfg.DefaultProfile]
	}
	return p, nil
}

func nameList(names []string) *lists.List {
	if len(names) == 0 {
		return nil
	}
	rules := make([]lists.Rule, 0, len(names))
	for _, n := range names {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		k := lists.Subtree
		if strings.HasPrefix(n, "*.") {
			n, k = n[2:], lists.SubdomainsOnly
		}
		rules = append(rules, lists.Rule{Name: n, Kind: k})
	}
	return lists.NewList(rules)
}

// Categories returns the category names by bit.
func (p *Policy) Categories() []string { return p.categories }

// Profile returns a profile by id.
func (p *Policy) Profile(id string) *Profile { return p.profiles[id] }

// route maps a client to a profile and device. hint is the profile named by a DoH path or a DoT
// server name; an unknown hint is refused rather than silently given another profile.
func (p *Policy) route(addr netip.Addr, hint, device string) (*Profile, string) {
	if hint != "" {
		pr := p.profiles[hint]
		if pr == nil {
			return nil, ""
		}
		if device != "" {
			device = pr.devices[device] // interned, or "" for an unknown device
		}
		return pr, device
	}
	addr = addr.Unmap()
	for i := range p.routes {
		if p.routes[i].prefix.Contains(addr) {
			return p.routes[i].profile, p.routes[i].device
		}
	}
	return p.def, ""
}

type action uint8

const (
	actPass action = iota
	actBlock
	actRewrite
	actNXBypass
	actNoData
)

type decision struct {
	act      action
	category string // why it was blocked
	target   string // rewrite target
	ede      uint16
}

func listHas(l *lists.List, name []byte) bool {
	if l == nil {
		return false
	}
	b, _ := l.Lookup(name)
	return b
}

// state is the profile's effective policy at a moment: its schedule windows applied.
func (pr *Profile) state(now time.Time) (block lists.Mask, bedtime *window, extra *window) {
	block = pr.block
	if len(pr.windows) == 0 {
		return block, nil, nil
	}
	t := now.In(pr.loc)
	wd := t.Weekday()
	prev := (wd + 6) % 7
	m := t.Hour()*60 + t.Minute()
	for i := range pr.windows {
		w := &pr.windows[i]
		open := false
		if w.from < w.to {
			open = w.days[wd] && m >= w.from && m < w.to
		} else { // crosses midnight: started today, or started yesterday and not over yet
			open = (w.days[wd] && m >= w.from) || (w.days[prev] && m < w.to)
		}
		if !open {
			continue
		}
		if w.allowAll {
			bedtime = w
		} else {
			block |= w.block
			extra = w
		}
	}
	return block, bedtime, extra
}

// decide applies the profile to a name. The order is the policy, so it is written out once:
//  1. bypass prevention: names that switch off a device's own escape routes;
//  2. bedtime (allow-only windows): nothing but the allow lists;
//  3. SafeSearch and YouTube rewrites (they apply to allowed names too);
//  4. the profile's allow list;
//  5. the profile's deny list;
//  6. the categories the profile (and any open window) blocks, minus list exceptions.
func (p *Policy) decide(pr *Profile, name []byte, now time.Time) decision {
	if pr.bypass {
		if bypassNXDOMAIN[string(name)] {
			return decision{act: actNXBypass, category: "bypass", ede: edeBlocked}
		}
		if bypassNODATA[string(name)] {
			return decision{act: actNoData, category: "bypass", ede: edeBlocked}
		}
	}
	block, bedtime, _ := pr.state(now)
	if bedtime != nil && !listHas(pr.allow, name) && !listHas(bedtime.allow, name) {
		return decision{act: actBlock, category: bedtime.name, ede: edeFiltered}
	}
	if rw, ok := rewrites[string(name)]; ok && pr.safe[rw.engine] {
		t := rw.target
		if rw.engine == engineYouTube {
			t = pr.youtube
		}
		return decision{act: actRewrite, target: t}
	}
	if listHas(pr.allow, name) {
		return decision{}
	}
	return p.decideLists(pr, block, name)
}

// decideLists is steps 5 and 6, also used for every CNAME target of an allowed answer.
func (p *Policy) decideLists(pr *Profile, block lists.Mask, name []byte) decision {
	if listHas(pr.deny, name) {
		return decision{act: actBlock, category: "custom", ede: edeFiltered}
	}
	b, a := p.set.Match(name)
	if hit := b &^ a & block; hit != 0 {
		i := 0
		for hit&1 == 0 {
			hit >>= 1
			i++
		}
		ede := uint16(edeFiltered)
		if p.categories[i] == "bypass" || p.categories[i] == "hotline" {
			ede = edeBlocked
		}
		return decision{act: actBlock, category: p.categories[i], ede: ede}
	}
	return decision{}
}
