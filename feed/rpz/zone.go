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

// Params are the zone's fixed parts.
type Params struct {
	Origin  string // fully qualified, lower case
	Target  string // CNAME target: "." (NXDOMAIN) or the block page's name, fully qualified
	TTL     uint32
	Refresh uint32
	Retry   uint32
	Expire  uint32
}

// Zone is one version of the zone: immutable once built.
type Zone struct {
	p      Params
	Serial int64            // the list serial
	names  []string         // listed names (entry values), sorted
	flags  map[string]uint8 // name → kinds listing it
}

// Build makes the zone of the list at serial from its blocking entries.
func Build(p Params, serial int64, entries []*store.ListEntry) *Zone {
	z := &Zone{p: p, Serial: serial, flags: make(map[string]uint8, len(entries))}
	for _, e := range entries {
		f := kindFlag(e.Kind)
		if f == 0 {
			continue
		}
		v := strings.ToLower(strings.TrimSuffix(e.Value, "."))
		if _, ok := z.flags[v]; !ok {
			z.names = append(z.names, v)
		}
		z.flags[v] |= f
	}
	slices.Sort(z.names)
	return z
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
func (z *Zone) rrs(name string, f uint8) []dns.RR {
	if f == 0 {
		return nil
	}
	var out []dns.RR
	add := func(o string) {
		// Names are letters, digits, '-' and '_' (store.NormalizeListValue): the wire form is
		// one octet longer than the text with its final dot.
		if len(o)+1 <= 255 {
			out = append(out, &dns.CNAME{Hdr: dns.RR_Header{Name: o, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: z.p.TTL}, Target: z.p.Target})
		}
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
	for _, n := range z.names {
		for _, rr := range z.rrs(n, z.flags[n]) {
			if !fn(rr) {
				return
			}
		}
	}
	fn(soa)
}

// changed returns the names whose flags differ between prev and z, with their flags in prev
// (0: not listed).
func (z *Zone) changed(prev *Zone) map[string]uint8 {
	out := map[string]uint8{}
	for n, f := range prev.flags {
		if z.flags[n] != f {
			out[n] = f
		}
	}
	for n := range z.flags {
		if _, ok := prev.flags[n]; !ok {
			out[n] = 0
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
		was, is := z.rrs(n, old[n]), z.rrs(n, z.flags[n])
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
