package subscribe

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Record bits of an RPZ name: "name.ZONE CNAME" (or A local data) and "*.name.ZONE CNAME".
const (
	recExact uint8 = 1 << iota
	recWild
)

// ErrDelta is returned (wrapped) for an IXFR delta that does not apply to the copy held.
var ErrDelta = errors.New("incremental transfer does not apply to the copy held")

func (s *Subscriber) tsig(m *dns.Msg) map[string]string {
	if s.o.TSIGSecret == "" {
		return nil
	}
	key := dns.CanonicalName(s.o.TSIGName)
	m.SetTsig(key, dns.HmacSHA256, 300, time.Now().Unix())
	return map[string]string{key: s.o.TSIGSecret}
}

// transfer runs one AXFR or IXFR and returns all its records; any error (broken stream,
// TSIG, rcode) fails the whole transfer.
func (s *Subscriber) transfer(ctx context.Context, q *dns.Msg) ([]dns.RR, error) {
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", s.src.Host)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	tr := &dns.Transfer{Conn: &dns.Conn{Conn: conn}, TsigSecret: s.tsig(q), DialTimeout: time.Until(dl), ReadTimeout: time.Until(dl), WriteTimeout: time.Until(dl)}
	// Closed, not given a deadline: dns.Transfer sets a fresh read deadline (ReadTimeout from
	// now) before each message, so a deadline would not stop a primary that keeps sending.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	ch, err := tr.In(q, s.src.Host)
	if err != nil {
		return nil, explainXfr(err)
	}
	var rrs []dns.RR
	for env := range ch {
		if env.Error != nil {
			for range ch {
			}
			return nil, explainXfr(env.Error)
		}
		rrs = append(rrs, env.RR...)
		if len(rrs) > s.o.MaxRecords {
			// A hostile or broken primary streaming without end would otherwise fill the memory
			// within the transfer's timeout. Closing the connection ends the stream.
			conn.Close()
			for range ch {
			}
			return nil, fmt.Errorf("more than %d records: refused (a zone this large is not a network list; the copy held is kept)", s.o.MaxRecords)
		}
	}
	if len(rrs) == 0 {
		return nil, fmt.Errorf("empty transfer")
	}
	return rrs, nil
}

// explainXfr adds what an operator should check to the library's terse transfer errors.
func explainXfr(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, dns.ErrAuth), errors.Is(err, dns.ErrSig), errors.Is(err, dns.ErrSecret),
		strings.Contains(msg, "bad xfr rcode: 9"):
		return fmt.Errorf("%w (TSIG refused: tsig_name and tsig_secret must be a member's name and secret in the publisher's feed.members)", err)
	case strings.Contains(msg, "bad xfr rcode: 5"):
		return fmt.Errorf("%w (the publisher REFUSED the transfer: is the zone name in source the publisher's feed.zone, and is this node a member, by key or by address?)", err)
	}
	return err
}

// refreshRPZ returns the new copy, or nil when the copy held is current.
func (s *Subscriber) refreshRPZ(ctx context.Context) (*List, error) {
	s.mu.Lock()
	cur, full := s.cur, s.forceAX
	s.mu.Unlock()
	if cur == nil || cur.Records == nil {
		full = true
	}
	if !full {
		q := new(dns.Msg)
		q.SetIxfr(s.zone, uint32(cur.Serial), "localhost.", "hostmaster.localhost.")
		rrs, err := s.transfer(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("IXFR %s from %s: %w", s.zone, s.src.Host, err)
		}
		l, err := s.applyIXFR(cur, rrs)
		if err == nil {
			return l, nil
		}
		// Keep the copy; the whole zone next, at once.
		s.log.Warn("subscribed zone: incremental transfer refused; asking for the whole zone", "serial", cur.Serial, "err", err)
	}
	q := new(dns.Msg)
	q.SetAxfr(s.zone)
	rrs, err := s.transfer(ctx, q)
	if err != nil {
		s.setForce(true)
		return nil, fmt.Errorf("AXFR %s from %s: %w", s.zone, s.src.Host, err)
	}
	l, err := s.parseAXFR(rrs)
	if err != nil {
		s.setForce(true)
		return nil, fmt.Errorf("AXFR %s from %s: %w", s.zone, s.src.Host, err)
	}
	s.setForce(false)
	if cur != nil && cur.Records != nil && serialLess(uint32(l.Serial), uint32(cur.Serial)) {
		s.log.Warn("subscribed zone: the primary's serial went backwards; taking its whole zone", "held", cur.Serial, "serial", l.Serial)
	}
	if cur != nil && cur.Records != nil && cur.Serial == l.Serial && maps.Equal(cur.Records, l.Records) {
		return nil, nil
	}
	return l, nil
}

func (s *Subscriber) setForce(v bool) {
	s.mu.Lock()
	s.forceAX = v
	s.mu.Unlock()
}

// serialLess compares serials with RFC 1982 arithmetic.
func serialLess(a, b uint32) bool { return a != b && b-a < 1<<31 }

func (s *Subscriber) soa(rr dns.RR) (*dns.SOA, bool) {
	soa, ok := rr.(*dns.SOA)
	return soa, ok && dns.CanonicalName(soa.Hdr.Name) == s.zone
}

func (s *Subscriber) parseAXFR(rrs []dns.RR) (*List, error) {
	first, ok1 := s.soa(rrs[0])
	last, ok2 := s.soa(rrs[len(rrs)-1])
	if len(rrs) < 2 || !ok1 || !ok2 || first.Serial != last.Serial {
		return nil, fmt.Errorf("not a whole zone: it must start and end with the zone's SOA")
	}
	recs := map[string]uint8{}
	for _, rr := range rrs[1 : len(rrs)-1] {
		name, bit, ok, err := s.trigger(rr)
		if err != nil {
			return nil, err
		}
		if ok {
			recs[name] |= bit
		}
	}
	return listOf(int64(first.Serial), recs), nil
}

// trigger returns the listed name and record bit of a zone record; ok is false for records
// that list nothing (SOA, NS, RPZ actions other than blocking, other triggers).
func (s *Subscriber) trigger(rr dns.RR) (name string, bit uint8, ok bool, err error) {
	owner := dns.CanonicalName(rr.Header().Name)
	if owner != s.zone && !strings.HasSuffix(owner, "."+s.zone) {
		return "", 0, false, fmt.Errorf("record %s is outside the zone", owner)
	}
	if owner == s.zone {
		return "", 0, false, nil
	}
	switch v := rr.(type) {
	case *dns.CNAME:
		if strings.HasPrefix(strings.ToLower(v.Target), "rpz-passthru.") {
			return "", 0, false, nil // an exception, not a block
		}
	case *dns.A:
		// Local data: the name is answered by the zone, not resolved (the canary's records,
		// feed/rpz.CanaryAddr). One record per owner, as for CNAME; other local-data types
		// would give an owner several records, so they are not counted.
	default:
		return "", 0, false, nil
	}
	name = strings.TrimSuffix(strings.TrimSuffix(owner, s.zone), ".")
	bit = recExact
	if rest, wild := strings.CutPrefix(name, "*."); wild {
		name, bit = rest, recWild
	}
	for _, l := range dns.SplitDomainName(name) {
		if strings.HasPrefix(l, "rpz-") {
			return "", 0, false, nil // IP, NSDNAME, NSIP triggers: not names the filter knows
		}
	}
	if name == "" || strings.Contains(name, "*") {
		return "", 0, false, nil
	}
	return name, bit, true, nil
}

// applyIXFR applies an IXFR answer to cur; it returns nil when cur is current.
func (s *Subscriber) applyIXFR(cur *List, rrs []dns.RR) (*List, error) {
	final, ok := s.soa(rrs[0])
	if !ok {
		return nil, fmt.Errorf("%w: the answer does not start with the zone's SOA", ErrDelta)
	}
	held := uint32(cur.Serial)
	if len(rrs) == 1 {
		if final.Serial == held {
			return nil, nil
		}
		if serialLess(final.Serial, held) {
			return nil, fmt.Errorf("%w: the primary's serial %d is behind the copy's %d", ErrDelta, final.Serial, held)
		}
		return nil, fmt.Errorf("%w: only the SOA of serial %d", ErrDelta, final.Serial)
	}
	if serialLess(final.Serial, held) {
		return nil, fmt.Errorf("%w: the primary's serial %d is behind the copy's %d", ErrDelta, final.Serial, held)
	}
	if _, isSOA := rrs[1].(*dns.SOA); !isSOA {
		return s.parseAXFR(rrs) // the whole zone (RFC 1995 allows it)
	}
	if last, ok := s.soa(rrs[len(rrs)-1]); !ok || last.Serial != final.Serial {
		return nil, fmt.Errorf("%w: the answer does not end with the new SOA", ErrDelta)
	}
	recs := maps.Clone(cur.Records)
	at := held
	i := 1
	for i < len(rrs)-1 {
		old, ok := s.soa(rrs[i])
		if !ok || old.Serial != at {
			return nil, fmt.Errorf("%w: a difference sequence from serial %v, the copy is at %d", ErrDelta, soaSerial(rrs[i]), at)
		}
		i++
		for ; i < len(rrs) && !isSOA(rrs[i]); i++ {
			name, bit, ok, err := s.trigger(rrs[i])
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrDelta, err)
			}
			if !ok {
				continue
			}
			if recs[name]&bit == 0 {
				return nil, fmt.Errorf("%w: deletes %s, which the copy does not hold", ErrDelta, rrs[i].Header().Name)
			}
			if recs[name] &^= bit; recs[name] == 0 {
				delete(recs, name)
			}
		}
		if i >= len(rrs) {
			return nil, fmt.Errorf("%w: a sequence without its new SOA", ErrDelta)
		}
		nw, _ := s.soa(rrs[i])
		if nw == nil {
			return nil, fmt.Errorf("%w: an SOA of another zone", ErrDelta)
		}
		i++
		for ; i < len(rrs) && !isSOA(rrs[i]); i++ {
			name, bit, ok, err := s.trigger(rrs[i])
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrDelta, err)
			}
			if !ok {
				continue
			}
			if recs[name]&bit != 0 {
				return nil, fmt.Errorf("%w: adds %s, which the copy already holds", ErrDelta, rrs[i].Header().Name)
			}
			recs[name] |= bit
		}
		at = nw.Serial
	}
	if at != final.Serial {
		return nil, fmt.Errorf("%w: the sequences end at serial %d, not %d", ErrDelta, at, final.Serial)
	}
	return listOf(int64(final.Serial), recs), nil
}

func isSOA(rr dns.RR) bool { _, ok := rr.(*dns.SOA); return ok }

func soaSerial(rr dns.RR) any {
	if s, ok := rr.(*dns.SOA); ok {
		return s.Serial
	}
	return rr.Header().Name
}

// listOf derives the names of an RPZ copy: a wildcard record makes a domain (the name and
// its subdomains), an exact record alone a host.
func listOf(serial int64, recs map[string]uint8) *List {
	names := make(map[string]string, len(recs))
	for n, b := range recs {
		if b&recWild != 0 {
			names[n] = KindDomain
		} else {
			names[n] = KindHost
		}
	}
	return &List{Serial: serial, Records: recs, Cats: map[string]map[string]string{RPZCategory: names}}
}

// notifyGap is the least time between two refreshes asked for by NOTIFY: anyone who can
// reach listen_notify can send one (unsigned NOTIFY is accepted, as the primary sends it to
// members without a key), and each would otherwise make this node ask the primary again at
// once. A NOTIFY within the gap is not lost: it refreshes when the gap ends.
const notifyGap = 2 * time.Second

// kickNotify kicks at most once per notifyGap.
func (s *Subscriber) kickNotify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if wait := s.notifyAt.Add(notifyGap).Sub(now); wait > 0 {
		if !s.notifyDue {
			s.notifyDue = true
			time.AfterFunc(wait, func() {
				s.mu.Lock()
				s.notifyDue, s.notifyAt = false, time.Now()
				s.mu.Unlock()
				s.Kick()
			})
		}
		return
	}
	s.notifyAt = now
	s.Kick()
}

// listenNotify accepts NOTIFY for the zone on UDP and TCP at ListenNotify: each refreshes at
// once. The transfer that follows is what is trusted (signed), so a NOTIFY only says "ask now".
func (s *Subscriber) listenNotify() error {
	pc, err := net.ListenPacket("udp", s.o.ListenNotify)
	if err != nil {
		return fmt.Errorf("subscribe: notify listener: %w", err)
	}
	secrets := map[string]string{}
	if s.o.TSIGSecret != "" {
		secrets[dns.CanonicalName(s.o.TSIGName)] = s.o.TSIGSecret
	}
	srv := &dns.Server{PacketConn: pc, TsigSecret: secrets, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		out := new(dns.Msg)
		if r.Opcode != dns.OpcodeNotify || len(r.Question) != 1 || dns.CanonicalName(r.Question[0].Name) != s.zone {
			out.SetRcode(r, dns.RcodeRefused)
			_ = w.WriteMsg(out)
			return
		}
		t := r.IsTsig()
		if t != nil && w.TsigStatus() != nil {
			out.SetRcode(r, dns.RcodeNotAuth)
			_ = w.WriteMsg(out)
			return
		}
		out.SetReply(r)
		out.Authoritative = true
		if t != nil {
			out.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
		}
		_ = w.WriteMsg(out)
		s.log.Debug("subscribed zone: NOTIFY received", "from", w.RemoteAddr().String())
		s.kickNotify()
	})}
	s.notify = append(s.notify, srv)
	go func() { _ = srv.ActivateAndServe() }()
	select {
	case s.notifyAddr <- pc.LocalAddr().String():
	default:
	}
	return nil
}
