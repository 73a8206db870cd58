package cache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Entry is one cached response. Its response bytes and metadata are
// immutable once stored; only the bookkeeping used by Lookup (hit count,
// CLOCK reference bit, refresh claim) changes, atomically.
type Entry struct {
	msg     []byte   // packed response: ID 0, no OPT/TSIG, TTLs clamped
	ttlOffs []uint16 // offset of every RR's TTL field in msg
	cnames  []string
	rcode   int

	stored     int64 // unix nanoseconds
	expires    int64 // fresh while now < expires
	prefetchAt int64 // start of the last 10% of the lifetime
	staleUntil int64 // may be served stale while now < staleUntil
	staleTTL   uint32

	key  string
	slot int // index in the shard's CLOCK ring; guarded by the shard lock

	hits        atomic.Uint32
	ref         atomic.Bool
	nextRefresh atomic.Int64
}

// Rcode returns the response code (dns.RcodeSuccess or dns.RcodeNameError).
func (e *Entry) Rcode() int { return e.rcode }

// CNAMEs returns the CNAME targets of the answer section in order,
// lowercase and without the trailing dot. The slice must not be modified.
func (e *Entry) CNAMEs() []string { return e.cnames }

// Size returns the length of the response AppendTo appends, so the caller
// can decide on truncation before copying.
func (e *Entry) Size() int { return len(e.msg) }

// Expires returns when the entry stops being fresh.
func (e *Entry) Expires() time.Time { return time.Unix(0, e.expires) }

// AppendTo appends the response to dst with the message ID set to id and
// every TTL decremented by the entry's whole-second age at now (saturating at
// 0), or, for st == Stale, set to the stale answer TTL. It does not allocate
// when dst has room.
func (e *Entry) AppendTo(dst []byte, id uint16, now time.Time, st State) []byte {
	start := len(dst)
	dst = append(dst, e.msg...)
	out := dst[start:]
	binary.BigEndian.PutUint16(out, id)
	if st == Stale {
		for _, off := range e.ttlOffs {
			binary.BigEndian.PutUint32(out[off:], e.staleTTL)
		}
		return dst
	}
	age := (now.UnixNano() - e.stored) / int64(time.Second)
	if age <= 0 {
		return dst
	}
	for _, off := range e.ttlOffs {
		ttl := int64(binary.BigEndian.Uint32(out[off:])) - age
		binary.BigEndian.PutUint32(out[off:], uint32(max(ttl, 0)))
	}
	return dst
}

// claimRefresh reports whether the caller is the one to refresh the entry
// now: true at most once per refreshRetry.
func (e *Entry) claimRefresh(t int64) bool {
	n := e.nextRefresh.Load()
	if t < n {
		return false
	}
	return e.nextRefresh.CompareAndSwap(n, t+refreshRetry)
}

// newEntry packs m and computes its TTLs; it returns nil when m is not
// cacheable.
func (c *Cache) newEntry(m *dns.Msg, now time.Time) *Entry {
	if m == nil || m.Truncated || m.Opcode != dns.OpcodeQuery || len(m.Question) != 1 ||
		(m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError) {
		return nil
	}
	for _, sec := range [2][]dns.RR{m.Answer, m.Ns} {
		for _, rr := range sec {
			if rr == nil || rr.Header().Rrtype == dns.TypeOPT || rr.Header().Rrtype == dns.TypeTSIG {
				return nil // malformed: these belong in the additional section only
			}
		}
	}
	cp := *m // shallow: Pack does not modify RRs once OPT is gone
	cp.Id = 0
	cp.Compress = true
	cp.Extra = make([]dns.RR, 0, len(m.Extra))
	for _, rr := range m.Extra {
		if rr == nil {
			return nil
		}
		if t := rr.Header().Rrtype; t != dns.TypeOPT && t != dns.TypeTSIG {
			cp.Extra = append(cp.Extra, rr)
		}
	}
	wire, err := cp.Pack()
	if err != nil || len(wire) > dns.MaxMsgSize {
		return nil
	}
	wire = bytes.Clone(wire)
	rrs, err := walk(wire)
	if err != nil {
		return nil
	}

	qtype := m.Question[0].Qtype
	negative := m.Rcode == dns.RcodeNameError || !answers(m.Answer, qtype)
	var negTTL uint32
	if negative {
		hasSOA := false
		for _, r := range rrs {
			if r.section != sectionNs || r.typ != dns.TypeSOA || r.rdLen < 22 {
				continue
			}
			ttl := readTTL(wire, r.ttlOff)
			minimum := binary.BigEndian.Uint32(wire[int(r.rdOff)+int(r.rdLen)-4:])
			ttl = min(ttl, minimum)
			if !hasSOA || ttl < negTTL {
				negTTL = ttl
			}
			hasSOA = true
		}
		if !hasSOA {
			if c.negNoSOATTL == 0 {
				return nil
			}
			negTTL = c.negNoSOATTL
		}
		negTTL = min(negTTL, c.negMaxTTL)
	}

	lifetime := uint32(1<<31 - 1)
	if negative {
		lifetime = negTTL
	}
	offs := make([]uint16, 0, len(rrs))
	for _, r := range rrs {
		ttl := readTTL(wire, r.ttlOff)
		switch {
		case negative && r.section == sectionNs && r.typ == dns.TypeSOA:
			ttl = negTTL
		case negative:
			ttl = min(ttl, c.maxTTL)
		default:
			ttl = min(max(ttl, c.minTTL), c.maxTTL)
		}
		binary.BigEndian.PutUint32(wire[r.ttlOff:], ttl)
		if r.section != sectionExtra {
			lifetime = min(lifetime, ttl)
		}
		offs = append(offs, r.ttlOff)
	}
	if lifetime == 0 {
		return nil
	}

	var cnames []string
	for _, rr := range m.Answer {
		if cn, ok := rr.(*dns.CNAME); ok {
			cnames = append(cnames, strings.ToLower(strings.TrimSuffix(cn.Target, ".")))
		}
	}
	t := now.UnixNano()
	life := int64(lifetime) * int64(time.Second)
	e := &Entry{
		msg:        wire,
		ttlOffs:    offs,
		cnames:     cnames,
		rcode:      m.Rcode,
		stored:     t,
		expires:    t + life,
		prefetchAt: t + life - life/10,
		staleUntil: t + life + c.staleMaxAge,
		staleTTL:   c.staleTTL,
	}
	return e
}

// answers reports whether rrs holds an answer of type qtype.
func answers(rrs []dns.RR, qtype uint16) bool {
	for _, rr := range rrs {
		if rr != nil && (qtype == dns.TypeANY || rr.Header().Rrtype == qtype) {
			return true
		}
	}
	return false
}

// readTTL reads a TTL; RFC 2181 section 8: a TTL with the top bit set is 0.
func readTTL(msg []byte, off uint16) uint32 {
	ttl := binary.BigEndian.Uint32(msg[off:])
	if ttl > 1<<31-1 {
		return 0
	}
	return ttl
}

const (
	sectionAnswer = iota
	sectionNs
	sectionExtra
)

type rrInfo struct {
	ttlOff  uint16
	typ     uint16
	section uint8
	rdOff   uint16
	rdLen   uint16
}

var errShort = errors.New("cache: truncated message")

// walk finds every RR in a packed message and where its TTL and RDATA are.
// OPT records are left out: their "TTL" holds EDNS flags. Names may be
// compressed; a pointer ends a name, so it is never followed.
func walk(msg []byte) ([]rrInfo, error) {
	if len(msg) < 12 || len(msg) > dns.MaxMsgSize {
		return nil, errShort
	}
	qd := int(binary.BigEndian.Uint16(msg[4:]))
	counts := [3]int{
		int(binary.BigEndian.Uint16(msg[6:])),
		int(binary.BigEndian.Uint16(msg[8:])),
		int(binary.BigEndian.Uint16(msg[10:])),
	}
	off := 12
	var err error
	for range qd {
		if off, err = skipName(msg, off); err != nil {
			return nil, err
		}
		off += 4
		if off > len(msg) {
			return nil, errShort
		}
	}
	total := counts[0] + counts[1] + counts[2]
	if total > len(msg)/11 { // an RR takes at least 11 bytes
		return nil, errShort
	}
	rrs := make([]rrInfo, 0, total)
	for sec, n := range counts {
		for range n {
			if off, err = skipName(msg, off); err != nil {
				return nil, err
			}
			if off+10 > len(msg) {
				return nil, errShort
			}
			typ := binary.BigEndian.Uint16(msg[off:])
			rdLen := int(binary.BigEndian.Uint16(msg[off+8:]))
			rdOff := off + 10
			if rdOff+rdLen > len(msg) {
				return nil, errShort
			}
			if typ != dns.TypeOPT {
				rrs = append(rrs, rrInfo{
					ttlOff:  uint16(off + 4),
					typ:     typ,
					section: uint8(sec),
					rdOff:   uint16(rdOff),
					rdLen:   uint16(rdLen),
				})
			}
			off = rdOff + rdLen
		}
	}
	return rrs, nil
}

// skipName returns the offset just after the (possibly compressed) name at
// off.
func skipName(msg []byte, off int) (int, error) {
	for {
		if off >= len(msg) {
			return 0, errShort
		}
		c := int(msg[off])
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				return off + 1, nil
			}
			off += 1 + c
		case 0xC0:
			if off+2 > len(msg) {
				return 0, errShort
			}
			return off + 2, nil
		default:
			return 0, errors.New("cache: unsupported label type")
		}
	}
}
