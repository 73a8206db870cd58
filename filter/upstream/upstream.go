package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Upstream is a resolver the filter forwards queries to.
type Upstream interface {
	// Exchange sends m and returns the response, with m's ID. m is not
	// modified.
	Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error)
	// String returns the canonical spec, for logs and metrics.
	String() string
}

// Options configures the transports built by Parse.
type Options struct {
	// Timeout bounds one attempt (dial, handshake, write and read); default 2s.
	Timeout time.Duration
	// TLSConfig is the base TLS configuration for DoT and DoH; it is cloned
	// and ServerName set per upstream. nil means the system roots.
	TLSConfig *tls.Config
	// UDPSize is the EDNS buffer size advertised upstream and the UDP read
	// limit; default 1232. Values below 512 mean the default.
	UDPSize uint16
}

const (
	defaultTimeout = 2 * time.Second
	defaultUDPSize = 1232
	// maxMsgSize is the largest DNS message: TCP's two-byte length.
	maxMsgSize = dns.MaxMsgSize
)

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.UDPSize < 512 {
		// 0 means the default; anything else below 512 is not a valid EDNS size
		o.UDPSize = defaultUDPSize
	}
	return o
}

// ErrInvalidSpec is wrapped by every error Parse returns.
var ErrInvalidSpec = errors.New("invalid upstream spec")

func specError(spec, format string, args ...any) error {
	return fmt.Errorf("parse upstream %q: %w: %s", spec, ErrInvalidSpec, fmt.Sprintf(format, args...))
}

// Parse builds an Upstream from a spec:
//
//	1.2.3.4  1.2.3.4:53  [::1]:53  ::1  udp://host:port   UDP, falling back to TCP on TC=1
//	tcp://host[:port]                                      TCP (port 53)
//	tls://host[:port][#server-name]                        DoT (port 853; server name defaults to host)
//	https://host[:port][/path]                             DoH (path defaults to /dns-query)
func Parse(spec string, o Options) (Upstream, error) {
	o = o.withDefaults()
	s := strings.TrimSpace(spec)
	if s == "" {
		return nil, specError(spec, "empty")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		scheme, rest = "udp", s
	}
	switch strings.ToLower(scheme) {
	case "udp", "tcp":
		host, port, err := splitHostPort(rest, 53)
		if err != nil {
			return nil, specError(spec, "%s", err)
		}
		addr := net.JoinHostPort(host, port)
		tcp := newStream("tcp://"+addr, addr, nil, o)
		if strings.EqualFold(scheme, "tcp") {
			return tcp, nil
		}
		return &udpUpstream{spec: "udp://" + addr, addr: addr, o: o, tcp: tcp}, nil
	case "tls":
		hostPort, name, hasName := strings.Cut(rest, "#")
		host, port, err := splitHostPort(hostPort, 853)
		if err != nil {
			return nil, specError(spec, "%s", err)
		}
		addr := net.JoinHostPort(host, port)
		canon := "tls://" + addr
		if hasName {
			name = strings.TrimSuffix(name, ".")
			if err := checkHostname(name); err != nil {
				return nil, specError(spec, "tls server name: %s", err)
			}
			canon += "#" + name
		} else {
			name = host
		}
		return newStream(canon, addr, tlsConfig(o.TLSConfig, name, "dot"), o), nil
	case "https":
		return parseDoH(spec, s, o)
	case "http":
		return nil, specError(spec, "plain http is not supported; use https://")
	case "quic", "h3", "sdns":
		return nil, specError(spec, "scheme %q is not supported yet", scheme)
	default:
		return nil, specError(spec, "unknown scheme %q (want udp, tcp, tls or https)", scheme)
	}
}

func parseDoH(spec, s string, o Options) (Upstream, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, specError(spec, "%s", errors.Unwrap(err))
	}
	if u.User != nil {
		return nil, specError(spec, "user info is not allowed")
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return nil, specError(spec, "fragment is not allowed")
	}
	if u.Host == "" {
		return nil, specError(spec, "missing host")
	}
	host, port, err := splitHostPort(u.Host, 443)
	if err != nil {
		return nil, specError(spec, "%s", err)
	}
	u.Scheme = "https"
	if port == "443" {
		u.Host = host
		if strings.Contains(host, ":") {
			u.Host = "[" + host + "]"
		}
	} else {
		u.Host = net.JoinHostPort(host, port)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/dns-query"
		u.RawPath = ""
	}
	return newDoH(u, tlsConfig(o.TLSConfig, host, "h2", "http/1.1"), o)
}

// splitHostPort splits "host", "host:port", "[v6]:port" or a bare IPv6
// address, checks both parts and returns the host without brackets.
func splitHostPort(s string, defPort int) (host, port string, err error) {
	if s == "" {
		return "", "", errors.New("missing host")
	}
	if i := strings.IndexAny(s, "/?#@ \t\r\n\\"); i >= 0 {
		return "", "", fmt.Errorf("unexpected %q in address", s[i])
	}
	port = strconv.Itoa(defPort)
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", errors.New("missing ']' after IPv6 address")
		}
		host = s[1:end]
		switch after := s[end+1:]; {
		case after == "":
		case strings.HasPrefix(after, ":"):
			port = after[1:]
			if port == "" {
				return "", "", errors.New("missing port after ':'")
			}
		default:
			return "", "", fmt.Errorf("unexpected %q after ']'", after)
		}
		a, err := parseIPv6(host)
		if err != nil {
			return "", "", fmt.Errorf("%q in brackets: %w", host, err)
		}
		host = a.String()
	case strings.Count(s, ":") > 1:
		a, err := parseIPv6(s)
		if err != nil {
			return "", "", fmt.Errorf("%q: %w (write [addr]:port)", s, err)
		}
		host = a.String()
	default:
		var p string
		var hasPort bool
		host, p, hasPort = strings.Cut(s, ":")
		if hasPort {
			if p == "" {
				return "", "", errors.New("missing port after ':'")
			}
			port = p
		}
		if host == "" {
			return "", "", errors.New("missing host")
		}
		if a, err := netip.ParseAddr(host); err == nil {
			host = a.String()
		} else if looksNumeric(host) {
			return "", "", fmt.Errorf("%q is not a valid IPv4 address", host)
		} else {
			host = strings.ToLower(strings.TrimSuffix(host, "."))
			if err := checkHostname(host); err != nil {
				return "", "", err
			}
		}
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 || strings.HasPrefix(port, "+") {
		return "", "", fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return host, strconv.FormatUint(n, 10), nil
}

// parseIPv6 parses an IPv6 address, allowing a zone made of interface-name
// characters (fe80::1%eth0).
func parseIPv6(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return netip.Addr{}, errors.New("not an IPv6 address")
	}
	for _, c := range a.Zone() {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return netip.Addr{}, fmt.Errorf("zone contains %q", c)
		}
	}
	return a, nil
}

func looksNumeric(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

// checkHostname accepts LDH host names (and '_', seen in private setups).
func checkHostname(h string) error {
	if h == "" {
		return errors.New("empty host name")
	}
	if len(h) > 253 {
		return errors.New("host name longer than 253 characters")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("host name %q has an empty or over-long label", h)
		}
		for _, c := range label {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("host name %q contains %q", h, c)
			}
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("host name %q has a label starting or ending with '-'", h)
		}
	}
	return nil
}

func tlsConfig(base *tls.Config, serverName string, protos ...string) *tls.Config {
	var c *tls.Config
	if base != nil {
		c = base.Clone()
	} else {
		c = &tls.Config{}
	}
	c.ServerName = serverName
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	c.NextProtos = protos
	if c.ClientSessionCache == nil {
		c.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	}
	return c
}

// packQuery packs m for sending upstream: the client's OPT replaced by ours
// (UDP size, client's DO bit), optionally padded (RFC 8467) and with ID id.
// m is not modified.
func packQuery(m *dns.Msg, id uint16, udpSize uint16, pad bool) ([]byte, error) {
	if m == nil || len(m.Question) == 0 {
		return nil, errors.New("query has no question")
	}
	q := *m // shallow: only the header and the Extra slice change
	q.Id = id
	q.Response = false
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.SetUDPSize(udpSize)
	q.Extra = make([]dns.RR, 0, len(m.Extra)+1)
	for _, rr := range m.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			opt.SetDo(o.Do())
			continue
		}
		q.Extra = append(q.Extra, rr)
	}
	q.Extra = append(q.Extra, opt)
	if pad {
		// The padding option itself takes 4 bytes (code and length).
		n := q.Len() + 4
		opt.Option = []dns.EDNS0{&dns.EDNS0_PADDING{Padding: make([]byte, (128-n%128)%128)}}
	}
	wire, err := q.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack query: %w", err)
	}
	return wire, nil
}

// sameQuestion reports whether a response's question section matches the
// query's; names compare case-insensitively (0x20 randomisation).
func sameQuestion(q, r *dns.Msg) bool {
	if len(q.Question) != len(r.Question) {
		return false
	}
	for i, a := range q.Question {
		b := r.Question[i]
		if a.Qtype != b.Qtype || a.Qclass != b.Qclass || !strings.EqualFold(a.Name, b.Name) {
			return false
		}
	}
	return true
}

// unpackResponse unpacks wire and checks it answers query (sent with ID id).
func unpackResponse(wire []byte, query *dns.Msg, id uint16) (*dns.Msg, error) {
	if len(wire) < 12 {
		return nil, fmt.Errorf("response of %d bytes is shorter than a header", len(wire))
	}
	r := new(dns.Msg)
	if err := r.Unpack(wire); err != nil {
		return nil, fmt.Errorf("unpack response: %w", err)
	}
	if r.Id != id {
		return nil, fmt.Errorf("response id %d does not match query id %d", r.Id, id)
	}
	if !r.Response {
		return nil, errors.New("response has QR=0")
	}
	if !sameQuestion(query, r) {
		return nil, errors.New("response question does not match the query")
	}
	r.Id = query.Id
	return r, nil
}

// attemptContext bounds one attempt by Options.Timeout and the caller's
// context.
func attemptContext(ctx context.Context, o Options) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, o.Timeout)
}

// watchConn makes blocking I/O on c return when ctx ends (deadline or
// cancellation); the returned func stops watching.
func watchConn(ctx context.Context, c net.Conn) func() bool {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	return context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
}

// ctxErr prefers the caller's context error: when the caller gave up, the
// I/O error that followed is noise.
func ctxErr(parent context.Context, err error) error {
	if perr := parent.Err(); perr != nil {
		return perr
	}
	return err
}
