package fetch

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ErrBadURL is matched by URLs the client will not fetch: not http or https, with
// userinfo, without a host, with a port that is not allowed, or unparsable. Such errors
// also match ErrBlocked when the refusal is a policy (scheme, userinfo, port), not a typo.
var ErrBadURL = errors.New("unusable URL")

type urlError struct {
	reason string
	policy bool
	port   bool // a port outside the allowed ones (ErrPortNotAllowed)
}

func (e *urlError) Error() string { return "unusable URL: " + e.reason }

func (e *urlError) Is(target error) bool {
	return target == ErrBadURL || (e.policy && target == ErrBlocked) || (e.port && target == ErrPortNotAllowed)
}

func badURL(format string, args ...any) error {
	return &urlError{reason: fmt.Sprintf(format, args...)}
}

func refusedURL(format string, args ...any) error {
	return &urlError{reason: fmt.Sprintf(format, args...), policy: true}
}

// idnaProfile maps and validates host names for look-up and converts them to punycode.
// StrictDomainName is off because real host names carry underscores; the characters that
// remain are checked by validHost.
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
	idna.StrictDomainName(false),
)

// urlPolicy is the URL half of the guard: scheme, userinfo, host syntax and port. The
// address half runs at dial time (guard).
type urlPolicy struct {
	ports   map[int]bool // nil: any port (links extracted from a page, not fetched yet)
	maxSize int
}

var defaultPolicy = urlPolicy{ports: map[int]bool{80: true, 443: true}, maxSize: 8192}

// NormalizeURL parses raw and returns the form the client fetches, or an error matching
// ErrBadURL: http or https only, no userinfo, a host (IDN converted to punycode, lower
// case, no trailing dot), the port dropped when it is the scheme's default and otherwise
// one of 80 and 443, an empty path made "/", and no fragment. It does not resolve the host:
// addresses are checked when connecting. The result normalizes to itself.
func NormalizeURL(raw string) (*url.URL, error) {
	return defaultPolicy.normalize(raw)
}

func (p urlPolicy) normalize(raw string) (*url.URL, error) {
	if len(raw) > p.maxSize {
		return nil, badURL("longer than %d bytes", p.maxSize)
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, badURL("empty")
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x20 || raw[i] == 0x7f {
			return nil, badURL("control character")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, badURL("%v", errors.Unwrap(err))
	}
	return p.check(u)
}

// check validates and normalizes a parsed URL (a redirect's Location resolved against the
// previous hop, or a link resolved against its page). u is not modified.
func (p urlPolicy) check(in *url.URL) (*url.URL, error) {
	return p.checkWith(in, nil)
}

// hostCache remembers normalizeHost's results within one page, whose links mostly share a
// few hosts (IDNA conversion is the costly part of checking a link).
type hostCache map[string]hostResult

type hostResult struct {
	host string
	err  error
}

func (p urlPolicy) checkWith(in *url.URL, hosts hostCache) (*url.URL, error) {
	u := *in
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, refusedURL("scheme %q is not http or https", u.Scheme)
	}
	if u.Opaque != "" {
		return nil, badURL("no host")
	}
	if u.User != nil {
		return nil, refusedURL("credentials in URL")
	}
	var host string
	var err error
	if r, ok := hosts[u.Hostname()]; ok {
		host, err = r.host, r.err
	} else {
		host, err = normalizeHost(u.Hostname())
		if hosts != nil && len(hosts) < 1024 {
			hosts[u.Hostname()] = hostResult{host, err}
		}
	}
	if err != nil {
		return nil, err
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, badURL("bad port %q", port)
		}
		if (u.Scheme == "http" && n == 80) || (u.Scheme == "https" && n == 443) {
			port = ""
		} else {
			if p.ports != nil && !p.ports[n] {
				return nil, &urlError{reason: fmt.Sprintf("port %d not allowed", n), policy: true, port: true}
			}
			port = strconv.Itoa(n)
		}
	} else if p.ports != nil {
		def := 80
		if u.Scheme == "https" {
			def = 443
		}
		if !p.ports[def] {
			return nil, &urlError{reason: fmt.Sprintf("port %d not allowed", def), policy: true, port: true}
		}
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	u.Fragment, u.RawFragment = "", ""
	u.ForceQuery = false
	if u.Path == "" && u.RawPath == "" {
		u.Path = "/"
	}
	// Round-trip through the string form so that the result is exactly what a second
	// normalization would produce (url.URL keeps escapes it was given).
	s := u.String()
	if len(s) > p.maxSize {
		return nil, badURL("longer than %d bytes", p.maxSize)
	}
	out, err := url.Parse(s)
	if err != nil {
		return nil, badURL("%v", errors.Unwrap(err))
	}
	return out, nil
}

// normalizeHost lower-cases, converts IDN to punycode and checks what is left.
func normalizeHost(h string) (string, error) {
	if h == "" {
		return "", badURL("no host")
	}
	if strings.Contains(h, "%") {
		// Zone identifiers ("fe80::1%eth0") and escaped host names: neither is a public host.
		return "", badURL("escaped or scoped host")
	}
	if a, err := netip.ParseAddr(h); err == nil {
		// IPv6 literals are printed canonically; IPv4-mapped ones stay mapped so that the
		// guard sees (and refuses) what the user wrote.
		return a.String(), nil
	}
	if strings.Contains(h, ":") {
		return "", badURL("bad IPv6 literal")
	}
	if !utf8.ValidString(h) {
		return "", badURL("host name is not UTF-8")
	}
	h = strings.TrimSuffix(h, ".")
	a, err := idnaProfile.ToASCII(h)
	if err != nil {
		return "", badURL("host name: %v", err)
	}
	a = strings.ToLower(a)
	if !validHost(a) {
		return "", badURL("bad host name")
	}
	// The punycode form must be stable: a second conversion that changes it or fails means
	// the mapping produced something the profile itself would refuse.
	if b, err := idnaProfile.ToASCII(a); err != nil || b != a {
		return "", badURL("host name does not survive IDNA")
	}
	return a, nil
}

func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	// A last label that is a number is an IPv4 address in a form net does not parse
	// ("2130706433", "0x7f.1", "127.1"); no top-level domain is numeric.
	last := labels[len(labels)-1]
	numeric := true
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			numeric = false
			break
		}
	}
	return !numeric && !isHexNumber(last)
}

func isHexNumber(s string) bool {
	if len(s) < 2 || s[0] != '0' || s[1] != 'x' {
		return false
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
