package filter

import (
	"encoding/binary"
	"errors"
)

// The hot path works on wire bytes. miekg/dns builds and parses every message that is not on
// it (upstream queries, synthesised rewrites, anything unusual); here we only read the fixed
// shape of an ordinary query — one question, at most one OPT — and write the few answers the
// filter synthesises itself. Anything else takes the slow path through miekg/dns.

const (
	headerLen = 12

	flagQR = 1 << 15
	flagAA = 1 << 10
	flagTC = 1 << 9
	flagRD = 1 << 8
	flagRA = 1 << 7
	flagAD = 1 << 5
	flagCD = 1 << 4

	typeA     = 1
	typeCNAME = 5
	typeSOA   = 6
	typeAAAA  = 28
	typeOPT   = 41
	typeSVCB  = 64
	typeHTTPS = 65
	typeANY   = 255
	typeAXFR  = 252
	typeIXFR  = 251

	rcodeSuccess  = 0
	rcodeFormErr  = 1
	rcodeServFail = 2
	rcodeNXDomain = 3
	rcodeNotImp   = 4
	rcodeRefused  = 5

	// ednsSize is what we advertise and the most we send over UDP (DNS flag day 2020).
	ednsSize = 1232

	// Extended DNS Error codes (RFC 8914) the filter sends.
	edeBlocked  = 15
	edeFiltered = 17
	edeNotReady = 14
	edeStale    = 3
)

var (
	errShort    = errors.New("message too short")
	errNotQuery = errors.New("not a query")
	errUnusual  = errors.New("unusual query shape")
	errBadName  = errors.New("malformed question name")
)

// query is an ordinary DNS query as the hot path sees it. It lives on the caller's stack or in a
// per-goroutine buffer: parsing allocates nothing.
type query struct {
	id      uint16
	flags   uint16
	opcode  uint8
	qtype   uint16
	qclass  uint16
	qEnd    int // offset just past the question: header+question are echoed in every answer
	edns    bool
	udpSize uint16
	do      bool
	// name is the question name in lowercase presentation form without the trailing dot
	// ("www.example.com"); the root is "".
	name    [255]byte
	nameLen int
}

func (q *query) nameBytes() []byte { return q.name[:q.nameLen] }

// maxUDP is the largest UDP answer this client can take.
func (q *query) maxUDP() int {
	if !q.edns || q.udpSize < 512 {
		return 512
	}
	return int(min(q.udpSize, ednsSize))
}

// parseQuery reads an ordinary query. errUnusual means "valid, maybe, but let miekg/dns decide".
func parseQuery(msg []byte, q *query) error {
	if len(msg) < headerLen {
		return errShort
	}
	q.id = binary.BigEndian.Uint16(msg)
	q.flags = binary.BigEndian.Uint16(msg[2:])
	q.opcode = uint8(q.flags>>11) & 0xF
	if q.flags&flagQR != 0 {
		return errNotQuery
	}
	qd := binary.BigEndian.Uint16(msg[4:])
	an := binary.BigEndian.Uint16(msg[6:])
	ns := binary.BigEndian.Uint16(msg[8:])
	ar := binary.BigEndian.Uint16(msg[10:])
	if q.opcode != 0 || qd != 1 || an != 0 || ns != 0 || ar > 1 {
		return errUnusual
	}
	off := headerLen
	n := 0
	for {
		if off >= len(msg) {
			return errShort
		}
		l := int(msg[off])
		off++
		if l == 0 {
			break
		}
		if l&0xC0 != 0 { // compression in a question: legal, rare; let miekg/dns handle it
			return errUnusual
		}
		if off+l > len(msg) {
			return errShort
		}
		if n+l+1 > len(q.name) {
			return errBadName
		}
		if n > 0 {
			q.name[n] = '.'
			n++
		}
		for _, c := range msg[off : off+l] {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			q.name[n] = c
			n++
		}
		off += l
	}
	q.nameLen = n
	if off+4 > len(msg) {
		return errShort
	}
	q.qtype = binary.BigEndian.Uint16(msg[off:])
	q.qclass = binary.BigEndian.Uint16(msg[off+2:])
	off += 4
	q.qEnd = off
	q.edns, q.do, q.udpSize = false, false, 0
	if ar == 1 {
		// Only an OPT record at the root is ordinary here (cookies ride inside it).
		if off+11 > len(msg) || msg[off] != 0 || binary.BigEndian.Uint16(msg[off+1:]) != typeOPT {
			return errUnusual
		}
		q.edns = true
		q.udpSize = binary.BigEndian.Uint16(msg[off+3:])
		if msg[off+6] != 0 { // EDNS version other than 0: RFC 6891 wants BADVERS
			return errUnusual
		}
		q.do = msg[off+7]&0x80 != 0
		rdlen := int(binary.BigEndian.Uint16(msg[off+9:]))
		if off+11+rdlen != len(msg) {
			return errUnusual
		}
		// The options must tile the RDATA exactly (code, length, data): a malformed one goes to
		// the full parser, which refuses it, rather than being answered here.
		for o := off + 11; o < len(msg); {
			if o+4 > len(msg) {
				return errUnusual
			}
			o += 4 + int(binary.BigEndian.Uint16(msg[o+2:]))
			if o > len(msg) {
				return errUnusual
			}
		}
	} else if off != len(msg) {
		return errUnusual
	}
	return nil
}

// appendHeader starts an answer to q: its ID and question, QR and RA set, RD and CD echoed.
func appendHeader(dst []byte, msg []byte, q *query, rcode int, an, ns uint16) []byte {
	flags := uint16(flagQR|flagRA) | q.flags&(flagRD|flagCD) | uint16(rcode&0xF)
	dst = binary.BigEndian.AppendUint16(dst, q.id)
	dst = binary.BigEndian.AppendUint16(dst, flags)
	dst = binary.BigEndian.AppendUint16(dst, 1)
	dst = binary.BigEndian.AppendUint16(dst, an)
	dst = binary.BigEndian.AppendUint16(dst, ns)
	dst = binary.BigEndian.AppendUint16(dst, 0)
	return append(dst, msg[headerLen:q.qEnd]...)
}

// appendRR appends a record owned by the question name (a compression pointer to offset 12).
func appendRR(dst []byte, rtype uint16, ttl uint32, rdata []byte) []byte {
	dst = append(dst, 0xC0, headerLen)
	dst = binary.BigEndian.AppendUint16(dst, rtype)
	dst = binary.BigEndian.AppendUint16(dst, 1)
	dst = binary.BigEndian.AppendUint32(dst, ttl)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(rdata)))
	return append(dst, rdata...)
}

// appendOPT appends our OPT record to an answer at the end of dst, whose header starts at start,
// with an optional Extended DNS Error. Only for clients that sent EDNS (RFC 6891 6.1.1).
func appendOPT(dst []byte, start int, q *query, ede uint16, text string) []byte {
	ar := binary.BigEndian.Uint16(dst[start+10:])
	binary.BigEndian.PutUint16(dst[start+10:], ar+1)
	dst = append(dst, 0)
	dst = binary.BigEndian.AppendUint16(dst, typeOPT)
	dst = binary.BigEndian.AppendUint16(dst, ednsSize)
	var ttl uint32
	if q.do {
		ttl = 1 << 15
	}
	dst = binary.BigEndian.AppendUint32(dst, ttl)
	if ede == 0 {
		return binary.BigEndian.AppendUint16(dst, 0)
	}
	if len(text) > 200 {
		text = text[:200]
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(4+2+len(text)))
	dst = binary.BigEndian.AppendUint16(dst, 15) // EDNS option code: Extended DNS Error
	dst = binary.BigEndian.AppendUint16(dst, uint16(2+len(text)))
	dst = binary.BigEndian.AppendUint16(dst, ede)
	return append(dst, text...)
}

// truncate replaces an answer that does not fit a UDP client by an empty one with TC set, so the
// client retries over TCP (RFC 7766).
func truncate(dst []byte, start int, msg []byte, q *query) []byte {
	dst = dst[:start]
	dst = appendHeader(dst, msg, q, rcodeSuccess, 0, 0)
	f := binary.BigEndian.Uint16(dst[start+2:])
	binary.BigEndian.PutUint16(dst[start+2:], f|flagTC)
	if q.edns {
		dst = appendOPT(dst, start, q, 0, "")
	}
	return dst
}

// errorAnswer answers q with an rcode and no records (REFUSED, SERVFAIL, NOTIMP, FORMERR).
func errorAnswer(dst, msg []byte, q *query, rcode int, ede uint16, text string) []byte {
	start := len(dst)
	dst = appendHeader(dst, msg, q, rcode, 0, 0)
	if q.edns {
		dst = appendOPT(dst, start, q, ede, text)
	}
	return dst
}
