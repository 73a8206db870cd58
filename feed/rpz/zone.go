// Package rpz publishes the hotline's network list as a Response Policy Zone
// (draft-vixie-dnsop-dns-rpz) from a primary server: SOA queries, AXFR (RFC 5936), IXFR
// (RFC 1995), NOTIFY (RFC 1996), and TSIG (RFC 8945, hmac-sha256) or source-address access
// per network member.
//
// Each version of the zone is built from a consistent snapshot of the published list (the
// network's entries, imports and the canary). IXFR answers are condensed from the differences
// between successive published versions: whether an imported value is published depends on
// the network's own entries, so replaying the list's journal op by op would not be exact,
// while comparing two snapshots always is. With a Journal (the store's feed_versions and
// feed_deltas) each difference is persisted when built and the history is read back at start
// and after each version, so IXFR survives a restart and every control node sharing the store
// answers alike; without one the history is this process's. A consumer at a version the
// history does not reach gets the whole zone, which RFC 1995 allows.
//
// The zone's serial is the list serial (store.ListSerial) reduced mod 2^32; serials are
// compared with RFC 1982 arithmetic, so the zone's serial only grows, survives restarts (it is
// the store's), and wraps from 4294967295 to 0 as consumers expect.
package rpz

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/store"
)

// Flags of an owner name: which kinds of entries list it.
const (
	flagDomain uint8 = 1 << iota // the name and its subdomains: name and *.name
	flagHost                     // exactly the name
)

func kindFlag(kind string) uint8 {
	switch kind {
	case store.ListDomain:
		return flagDomain
	case store.ListHost:
		return flagHost
	}
	return 0 // url and hash entries are not in DNS
}

// CanaryAddr is the address the canary's records answer with (TEST-NET-1, RFC 5737: never a
// real host). `dig canary.kidshield.example @resolver` answering it shows the resolver applies
// the zone.
var CanaryAddr = netip.MustParseAddr("192.0.2.1")

// Params are the zone's fixed parts.
type Params struct {
	Origin  string // fully qualified, lower case
	Target  string // CNAME target: "." (NXDOMAIN) or the block page's name, fully qualified
	TTL     uint32
	Refresh uint32
	Retry   uint32
	Expire  uint32
}

// Zone is one version of the zone: immutable once built. Names and their flags are kept in
// two parallel sorted slices rather than a map: a zone of a million names is then ~40 MB
// smaller, a transfer walks it in order, and the next version is a merge of the changes into a
// copy of the slices (milliseconds) instead of a map rebuilt or cloned.
type Zone struct {
	p      Params
	Serial int64    // the list serial
	names  []string // listed names (entry values), sorted
	fl     []uint8  // fl[i]: kinds listing names[i], never 0
}

// Build makes the zone of the list at serial from its blocking entries.
func Build(p Params, serial int64, entries []*store.ListEntry) *Zone {
	type nf struct {
		n string
		f uint8
	}
	all := make([]nf, 0, len(entries))
	for _, e := range entries {
		if f := kindFlag(e.Kind); f != 0 {
			all = append(all, nf{normName(e.Value), f})
		}
	}
	slices.SortFunc(all, func(a, b nf) int { return strings.Compare(a.n, b.n) })
	z := &Zone{p: p, Serial: serial, names: make([]string, 0, len(all)), fl: make([]uint8, 0, len(all))}
	for _, x := range all {
		if k := len(z.names) - 1; k >= 0 && z.names[k] == x.n {
			z.fl[k] |= x.f
			continue
		}
		z.names, z.fl = append(z.names, x.n), append(z.fl, x.f)
	}
	return z
}

func normName(v string) string { return strings.ToLower(strings.TrimSuffix(v, ".")) }

// flag returns the kinds listing n in z (0: not listed).
func (z *Zone) flag(n string) uint8 {
	if i, ok := slices.BinarySearch(z.names, n); ok {
		return z.fl[i]
	}
	return 0
}

// Apply returns the version at serial made from z by setting each changed value to its
// published entry (nil: not published; store.NetworkListChanges), and the names whose flags
// moved with their flags in z. It costs a copy of z's slices and the changes, not a rebuild.
func (z *Zone) Apply(serial int64, changes map[string]*store.ListEntry) (*Zone, map[string]uint8) {
	want := make(map[string]uint8, len(changes))
	for v, e := range changes {
		var f uint8
		if e != nil {
			f = kindFlag(e.Kind)
		}
		want[normName(v)] |= f
	}
	old := map[string]uint8{}
	var added []string
	for n, f := range want {
		if was := z.flag(n); was != f {
			old[n] = was
			if was == 0 {
				added = append(added, n)
			}
		}
	}
	nz := &Zone{p: z.p, Serial: serial}
	if len(old) == 0 {
		nz.names, nz.fl = z.names, z.fl // shared: neither is ever written
		return nz, old
	}
	slices.Sort(added)
	nz.names = make([]string, 0, len(z.names)+len(added))
	nz.fl = make([]uint8, 0, len(z.names)+len(added))
	// Merge z's names (with their new flags; 0 drops them) and the added ones, in order.
	i, j := 0, 0
	for i < len(z.names) || j < len(added) {
		if j == len(added) || i < len(z.names) && z.names[i] < added[j] {
			n, f := z.names[i], z.fl[i]
			if _, moved := old[n]; moved {
				f = want[n]
			}
			if f != 0 {
				nz.names, nz.fl = append(nz.names, n), append(nz.fl, f)
			}
			i++
			continue
		}
		nz.names, nz.fl = append(nz.names, added[j]), append(nz.fl, want[added[j]])
		j++
	}
	return nz, old
}

// Names returns how many names the zone lists.
func (z *Zone) Names() int { return len(z.names) }

// Serial32 is the serial as the SOA carries it.
func (z *Zone) Serial32() uint32 { return uint32(z.Serial) }

// SOA returns the zone's SOA at the given list serial (the timers are the same for every
// version this process serves, so an IXFR's old SOA equals the one the consumer holds).
func (z *Zone) SOA(serial int64) *dns.SOA {
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: z.p.Origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: z.p.TTL},
		Ns:  "localhost.", Mbox: "hostmaster.localhost.", Serial: uint32(serial),
		Refresh: z.p.Refresh, Retry: z.p.Retry, Expire: z.p.Expire, Minttl: z.p.TTL,
	}
}

func (z *Zone) ns() *dns.NS {
	return &dns.NS{Hdr: dns.RR_Header{Name: z.p.Origin, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: z.p.TTL}, Ns: "localhost."}
}

// rrs returns the records of a name listed with flags f: "name.ZONE CNAME target" for any
// kind and "*.name.ZONE CNAME target" for a domain. A record whose owner would be longer than
// a domain name may be (255 octets) is left out, the same way in every version, so IXFR stays
// exact: a very long listed domain may keep its exact record and lose its wildcard.
//
// The canary (store.CanaryValue) is the exception: its records are local data, an A record of
// CanaryAddr, whatever the action. Under .example it is NXDOMAIN on any resolver, so an
// NXDOMAIN action would tell a member nothing; an address only a resolver applying this zone
// can give does.
func (z *Zone) rrs(name string, f uint8) []dns.RR {
	if f == 0 {
		return nil
	}
	var out []dns.RR
	add := func(o string) {
		// Names are letters, digits, '-' and '_' (store.NormalizeListValue): the wire form is
		// one octet longer than the text with its final dot.
		if len(o)+1 > 255 {
			return
		}
		hdr := dns.RR_Header{Name: o, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: z.p.TTL}
		if name == store.CanaryValue {
			hdr.Rrtype = dns.TypeA
			out = append(out, &dns.A{Hdr: hdr, A: net.IP(CanaryAddr.AsSlice())})
			return
		}
		out = append(out, &dns.CNAME{Hdr: hdr, Target: z.p.Target})
	}
	owner := name + "." + z.p.Origin
	add(owner)
	if f&flagDomain != 0 {
		add("*." + owner)
	}
	return out
}

// Records calls fn with every record of the zone in order: SOA, NS, the names, SOA. fn
// returning false stops.
func (z *Zone) Records(fn func(dns.RR) bool) {
	soa := z.SOA(z.Serial)
	if !fn(soa) || !fn(z.ns()) {
		return
	}
	for i, n := range z.names {
		for _, rr := range z.rrs(n, z.fl[i]) {
			if !fn(rr) {
				return
			}
		}
	}
	fn(soa)
}

// changed returns the names whose flags differ between prev and z, with their flags in prev
// (0: not listed): a merge of the two sorted lists.
func (z *Zone) changed(prev *Zone) map[string]uint8 {
	out := map[string]uint8{}
	i, j := 0, 0
	for i < len(prev.names) || j < len(z.names) {
		switch {
		case j == len(z.names) || i < len(prev.names) && prev.names[i] < z.names[j]:
			out[prev.names[i]] = prev.fl[i]
			i++
		case i == len(prev.names) || z.names[j] < prev.names[i]:
			out[z.names[j]] = 0
			j++
		default:
			if prev.fl[i] != z.fl[j] {
				out[prev.names[i]] = prev.fl[i]
			}
			i++
			j++
		}
	}
	return out
}

// diff returns the records to delete and to add to move a consumer to z from the version in
// which the names of old had the flags old holds (every other name as in z).
func (z *Zone) diff(old map[string]uint8) (del, add []dns.RR) {
	names := make([]string, 0, len(old))
	for n := range old {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		was, is := z.rrs(n, old[n]), z.rrs(n, z.flag(n))
		for _, rr := range was {
			if !containsRR(is, rr) {
				del = append(del, rr)
			}
		}
		for _, rr := range is {
			if !containsRR(was, rr) {
				add = append(add, rr)
			}
		}
	}
	return del, add
}

func containsRR(rrs []dns.RR, rr dns.RR) bool {
	for _, x := range rrs {
		if dns.IsDuplicate(x, rr) {
			return true
		}
	}
	return false
}

// Behind returns how many list serials the consumer's SOA serial s is behind z, with RFC 1982
// arithmetic: 0 when current; ok false when s is ahead of z (or 2^31 or more behind), which no
// journal can answer.
func (z *Zone) Behind(s uint32) (n int64, ok bool) {
	d := z.Serial32() - s
	if d >= 1<<31 {
		return 0, false
	}
	return int64(d), true
}

// Fingerprint identifies the parameters and the way records are written from them (the
// leading version: "2" since the canary answers with CanaryAddr); store.MarkFeedParams keeps
// it with the list so a change gives the zone a new serial.
func (p Params) Fingerprint() string {
	return fmt.Sprintf("2 %s %s ttl=%d refresh=%d retry=%d expire=%d", p.Origin, p.Target, p.TTL, p.Refresh, p.Retry, p.Expire)
}
