package filter

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/filter/cache"
)

// resolve answers a query the cache could not: upstream, coalesced per cache key so a burst of
// the same name costs one upstream query, stored, then served through the same path as a hit.
// When every upstream fails, a stale entry is served (RFC 8767) before SERVFAIL.
func (s *Server) resolve(ctx context.Context, dst, msg []byte, q *query, ci *clientInfo, pol *Policy, pr *Profile, dev string, now time.Time, maxSize int) []byte {
	var kb [260]byte
	key := cache.AppendKey(kb[:0], q.nameBytes(), q.qtype, q.qclass, q.do)
	resp, err := s.exchange(ctx, key, msg, q)
	if err != nil {
		if e, st, _ := s.o.Cache.Lookup(key, s.o.Clock()); st != cache.Miss && e != nil {
			if d, blocked := s.checkCNAMEs(pol, pr, e.CNAMEs(), now); blocked {
				s.record(ci, pr, dev, q, now, resBlocked, d.category)
				return s.blocked(dst, msg, q, pr, d)
			}
			s.record(ci, pr, dev, q, now, resStale, "")
			return s.fromEntry(dst, msg, q, e, now, cache.Stale, maxSize)
		}
		s.log.Debug("upstream failed", "err", err)
		s.record(ci, pr, dev, q, now, resServFail, "")
		return errorAnswer(dst, msg, q, rcodeServFail, 23, "upstreams unreachable") // EDE 23: Network Error
	}
	if d, blocked := s.checkCNAMEs(pol, pr, cnameTargets(resp), now); blocked {
		s.record(ci, pr, dev, q, now, resBlocked, d.category)
		return s.blocked(dst, msg, q, pr, d)
	}
	s.record(ci, pr, dev, q, now, resAllowed, "")
	if e, st, _ := s.o.Cache.Lookup(key, s.o.Clock()); st == cache.Fresh {
		return s.fromEntry(dst, msg, q, e, s.o.Clock(), st, maxSize)
	}
	return s.fromMsg(dst, msg, q, resp, maxSize) // not cacheable (SERVFAIL, truncated) or cache off
}

// exchange forwards the client's question upstream with our own ID and EDNS, once per key at a
// time, and caches the answer.
func (s *Server) exchange(ctx context.Context, key, msg []byte, q *query) (*dns.Msg, error) {
	v, err, _ := s.sf.Do(string(key), func() (any, error) {
		m := upstreamQuery(msg, q)
		if m == nil {
			return nil, errUnusual
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.UpstreamTimeout)
		defer cancel()
		resp, err := s.o.Upstream.Exchange(ctx, m)
		if err != nil {
			return nil, err
		}
		s.o.Cache.Store(key, resp, s.o.Clock())
		return resp, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*dns.Msg), nil
}

// upstreamQuery rebuilds the client's question (exact bytes, so odd names survive) as our query.
func upstreamQuery(msg []byte, q *query) *dns.Msg {
	m := new(dns.Msg)
	if err := m.Unpack(msg[:q.qEnd]); err != nil || len(m.Question) != 1 {
		return nil
	}
	m.Id = randomID()
	m.Response = false
	m.RecursionDesired = true
	m.CheckingDisabled = q.flags&flagCD != 0
	m.AuthenticatedData = false
	m.Extra = nil
	m.SetEdns0(ednsSize, q.do)
	return m
}

func randomID() uint16 {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint16(b[:])
}

// fromMsg packs an upstream message for q (the rare path: answers the cache refused).
func (s *Server) fromMsg(dst, msg []byte, q *query, resp *dns.Msg, maxSize int) []byte {
	r := resp.Copy()
	r.Id = q.id
	r.Response = true
	r.RecursionAvailable = true
	r.RecursionDesired = q.flags&flagRD != 0
	r.CheckingDisabled = q.flags&flagCD != 0
	r.Extra = stripOPT(r.Extra)
	b, err := r.Pack()
	if err != nil || len(b) < q.qEnd {
		return errorAnswer(dst, msg, q, rcodeServFail, 0, "")
	}
	start := len(dst)
	dst = append(dst, b...)
	copy(dst[start+headerLen:start+q.qEnd], msg[headerLen:q.qEnd])
	if q.edns {
		dst = appendOPT(dst, start, q, 0, "")
	}
	if len(dst)-start > maxSize {
		return truncate(dst, start, msg, q)
	}
	return dst
}

func stripOPT(rrs []dns.RR) []dns.RR {
	out := rrs[:0]
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}

func cnameTargets(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		if c, ok := rr.(*dns.CNAME); ok {
			out = append(out, strings.TrimSuffix(strings.ToLower(c.Target), "."))
		}
	}
	return out
}

// rewrite answers a SafeSearch name with a CNAME to the engine's safe host and that host's
// records, as a resolver following the alias would. The target's answer comes through the cache.
func (s *Server) rewrite(ctx context.Context, dst, msg []byte, q *query, pr *Profile, target string, maxSize int) []byte {
	cname := &dns.CNAME{Hdr: dns.RR_Header{Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 300}, Target: dns.Fqdn(target)}
	orig := new(dns.Msg)
	if err := orig.Unpack(msg[:q.qEnd]); err != nil || len(orig.Question) != 1 {
		return errorAnswer(dst, msg, q, rcodeFormErr, 0, "")
	}
	cname.Hdr.Name = orig.Question[0].Name
	out := new(dns.Msg)
	out.SetReply(orig)
	out.RecursionAvailable = true
	out.Answer = []dns.RR{cname}
	if q.qtype != typeCNAME {
		tq := new(dns.Msg)
		tq.SetQuestion(dns.Fqdn(target), q.qtype)
		tb, err := tq.Pack()
		var tqq query
		if err == nil && parseQuery(tb, &tqq) == nil {
			var kb [260]byte
			key := cache.AppendKey(kb[:0], tqq.nameBytes(), tqq.qtype, tqq.qclass, q.do)
			var resp *dns.Msg
			if e, st, _ := s.o.Cache.Lookup(key, s.o.Clock()); st == cache.Fresh {
				var r dns.Msg
				if r.Unpack(e.AppendTo(nil, 0, s.o.Clock(), st)) == nil {
					resp = &r
				}
			}
			if resp == nil {
				resp, err = s.exchange(ctx, key, tb, &tqq)
			}
			if err != nil || resp == nil {
				return errorAnswer(dst, msg, q, rcodeServFail, 23, "upstreams unreachable")
			}
			out.Answer = append(out.Answer, resp.Answer...)
			out.Rcode = resp.Rcode
		}
	}
	b, err := out.Pack()
	if err != nil {
		return errorAnswer(dst, msg, q, rcodeServFail, 0, "")
	}
	start := len(dst)
	dst = append(dst, b...)
	if q.edns {
		dst = appendOPT(dst, start, q, 0, "")
	}
	if len(dst)-start > maxSize {
		return truncate(dst, start, msg, q)
	}
	return dst
}

// prefetch refreshes a popular entry before it expires, in the background, once.
func (s *Server) prefetch(msg []byte, q *query) {
	select {
	case s.inflight <- struct{}{}:
	default:
		return // busy: the entry will simply expire
	}
	m := append([]byte(nil), msg...)
	qc := *q
	go func() {
		defer func() { <-s.inflight }()
		var kb [260]byte
		key := cache.AppendKey(kb[:0], qc.nameBytes(), qc.qtype, qc.qclass, qc.do)
		_, _ = s.exchange(context.Background(), key, m, &qc)
	}()
}

// slow answers queries the fast parser declined (compressed questions, EDNS versions, extra
// records) through miekg/dns: it normalises them into an ordinary query and re-enters answer.
func (s *Server) slow(ctx context.Context, dst, msg []byte, ci *clientInfo, maxSize int) []byte {
	m := new(dns.Msg)
	if err := m.Unpack(msg); err != nil {
		s.count(ci, resFormErr)
		return formErr(dst, msg)
	}
	reply := func(rcode int) []byte {
		r := new(dns.Msg)
		r.SetRcode(m, rcode)
		r.RecursionAvailable = true
		if opt := m.IsEdns0(); opt != nil {
			r.SetEdns0(ednsSize, opt.Do())
			if rcode == dns.RcodeBadVers {
				r.IsEdns0().SetExtendedRcode(dns.RcodeBadVers)
				r.Rcode = dns.RcodeBadVers
			}
		}
		b, err := r.Pack()
		if err != nil {
			return formErr(dst, msg)
		}
		return append(dst, b...)
	}
	if m.Opcode != dns.OpcodeQuery {
		s.count(ci, resRefused)
		return reply(dns.RcodeNotImplemented)
	}
	if len(m.Question) != 1 {
		s.count(ci, resFormErr)
		return reply(dns.RcodeFormatError)
	}
	if opt := m.IsEdns0(); opt != nil && opt.Version() != 0 {
		return reply(dns.RcodeBadVers)
	}
	// Normalise: one question, uncompressed, our EDNS only; then the ordinary path.
	n := new(dns.Msg)
	n.Id = m.Id
	n.RecursionDesired = m.RecursionDesired
	n.CheckingDisabled = m.CheckingDisabled
	n.Question = m.Question
	if opt := m.IsEdns0(); opt != nil {
		n.SetEdns0(opt.UDPSize(), opt.Do())
	}
	b, err := n.Pack()
	if err != nil {
		s.count(ci, resFormErr)
		return reply(dns.RcodeFormatError)
	}
	var q query
	if parseQuery(b, &q) != nil {
		s.count(ci, resFormErr)
		return reply(dns.RcodeFormatError)
	}
	out, _ := s.answer(ctx, dst, b, ci, &q, maxSize, true)
	return out
}
