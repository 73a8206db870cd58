// Package canon turns a URL as a reporter typed or pasted it into the canonical form the
// hotline deduplicates reports on: two reports of one page, shared from two apps, on a phone
// and a laptop, over http and https, must meet on the same key. It is pure (no network, no
// DNS) and faces hostile input: anything it cannot read with certainty is an error, never a
// guess that could merge two different pages.
//
// The canonical form is also safe to show and to fetch: always https, an ASCII host, no
// userinfo, no control characters, percent-encoding in one spelling. The raw URL is kept
// beside it by the caller, so nothing the reporter gave is lost.
package canon

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// MaxLen bounds the input (before trimming) and the canonical output, in bytes. Browsers and
// platforms cope with about 2 KB; a longer "link" is either not a link or an attack, and the
// bound keeps the work per URL small.
const MaxLen = 2048

// Canonical is a URL in canonical form and its host.
type Canonical struct {
	// URL is the dedup key: "https://host[:port]/path[?sorted query][#!route]".
	URL string
	// Host is the host name without port or brackets, ASCII lower case (punycode for IDN):
	// what url.URL.Hostname returns for URL.
	Host string
}

// Errors, matched with errors.Is; the returned error adds detail.
var (
	ErrEmpty   = errors.New("empty link")
	ErrTooLong = errors.New("link too long")
	ErrScheme  = errors.New("only http and https links can be reported")
	ErrHost    = errors.New("invalid host name")
	ErrPort    = errors.New("invalid port")
	ErrSyntax  = errors.New("malformed link")
)

func fail(kind error, format string, args ...any) error {
	return fmt.Errorf("canon: %w: %s", kind, fmt.Sprintf(format, args...))
}

// URL returns the canonical form of raw.
//
// The rules, in order:
//   - at most MaxLen bytes; valid UTF-8; no control characters (tab and newline inside a
//     link are refused, not silently dropped as browsers do: a pasted link does not contain
//     them, a crafted one does);
//   - a link without scheme ("example.com/x", "//example.com/x") is taken as https; only
//     http and https are accepted, and both become https: one page is one page whichever
//     way it was reached;
//   - as in browsers for http(s), any number of slashes or backslashes after the scheme is
//     accepted, and a backslash in the path is a slash;
//   - userinfo is dropped; the default port (80 for http, 443 for https, and 443 for http
//     too, since the scheme becomes https) is dropped;
//   - the host is percent-decoded, mapped to ASCII with IDNA (punycode), lower-cased, and
//     its trailing dot removed. "www." is kept: www.example.com and example.com can serve
//     different content, except for the platforms in aliases, which are known to be one site;
//   - a host that ends in a number is an IPv4 address and is written as a dotted quad, as
//     browsers do: http://2130706433/, http://0x7f.1/ and http://127.1/ are all 127.0.0.1
//     (refusing them would only push the reporter to retype what the browser showed);
//     IPv6 literals are written in their RFC 5952 form, in brackets; zones are refused;
//   - the path: percent-escapes of unreserved characters decoded, others upper-cased,
//     anything outside RFC 3986 escaped; "." and ".." segments removed; trailing slashes
//     removed; an empty path is "/";
//   - the query: tracking parameters (see tracking.go) removed, the rest sorted by key
//     (stable, so repeated keys keep their order); the fragment dropped unless it is a
//     "#!" route, which some sites use to address content;
//   - platform aliases folded (m.facebook.com → facebook.com, youtu.be/ID →
//     youtube.com/watch?v=ID...). Redirectors (vm.tiktok.com, fb.watch, bit.ly) stay as
//     they are: only fetching resolves them, which is the scanner's job.
//
// URL is idempotent: URL(c.URL) returns c for every c it returns.
func URL(raw string) (Canonical, error) {
	if len(raw) > MaxLen {
		return Canonical{}, fail(ErrTooLong, "%d bytes, at most %d", len(raw), MaxLen)
	}
	s := strings.TrimSpace(raw)
	if s == "" {
		return Canonical{}, fail(ErrEmpty, "nothing given")
	}
	if !utf8.ValidString(s) {
		return Canonical{}, fail(ErrSyntax, "not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return Canonical{}, fail(ErrSyntax, "contains a control character (%U)", r)
		}
	}

	scheme, rest, err := splitScheme(s)
	if err != nil {
		return Canonical{}, err
	}
	schemeless := scheme == ""
	if schemeless {
		scheme = "https"
	}
	// Slashes (and, as browsers read http(s) links, backslashes) before the authority.
	rest = strings.TrimLeft(rest, `/\`)

	// Fragment, query and path boundaries. Backslashes before the query are slashes.
	var fragment string
	hasFragment := false
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest, fragment, hasFragment = rest[:i], rest[i+1:], true
	}
	var rawQuery string
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, rawQuery = rest[:i], rest[i+1:]
	}
	rest = strings.ReplaceAll(rest, `\`, "/")
	authority, rawPath := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, rawPath = rest[:i], rest[i:]
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:] // userinfo: never part of the page's identity
	}

	host, port, err := splitHostPort(authority)
	if err != nil {
		return Canonical{}, err
	}
	host, isIP, err := canonHost(host)
	if err != nil {
		return Canonical{}, err
	}
	if schemeless && !isIP && !strings.Contains(host, ".") {
		// "hello" typed in a link box is a word, not a host.
		return Canonical{}, fail(ErrSyntax, "%q is not a link", s)
	}
	if port != "" {
		p, err := canonPort(port)
		if err != nil {
			return Canonical{}, err
		}
		if p == 443 || (p == 80 && scheme == "http") {
			port = ""
		} else {
			port = strconv.Itoa(p)
		}
	}

	segs := canonPath(rawPath)

	videoID := ""
	if port == "" && !isIP {
		if a, ok := aliases[host]; ok {
			host = a
		}
		host, segs, videoID = rewriteVideo(host, segs)
	}

	path := "/" + strings.Join(segs, "/")
	query := canonQuery(host, rawQuery, videoID)

	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString("https://")
	if strings.Contains(host, ":") {
		b.WriteString("[" + host + "]")
	} else {
		b.WriteString(host)
	}
	if port != "" {
		b.WriteString(":" + port)
	}
	b.WriteString(path)
	if query != "" {
		b.WriteString("?" + query)
	}
	if hasFragment && strings.HasPrefix(fragment, "!") {
		b.WriteString("#!" + escape(fragment[1:], fragmentSafe))
	}
	out := b.String()
	if len(out) > MaxLen {
		return Canonical{}, fail(ErrTooLong, "%d bytes once escaped, at most %d", len(out), MaxLen)
	}
	return Canonical{URL: out, Host: host}, nil
}

// notWeb are schemes refused outright even where "name:digits" could read as a host and a port
// ("javascript:0"): a reporter never means a host called javascript.
var notWeb = []string{
	"about", "blob", "chrome", "data", "file", "filesystem", "ftp", "intent", "javascript",
	"mailto", "sms", "tel", "vbscript", "view-source", "ws", "wss",
}

// splitScheme returns the lower-cased scheme ("" when none was given) and what follows the
// colon. "example.com:8080/x" has no scheme: a "scheme" followed by a port is a host.
func splitScheme(s string) (scheme, rest string, err error) {
	i := strings.IndexByte(s, ':')
	if i <= 0 || !validScheme(s[:i]) {
		return "", s, nil
	}
	sch, after := strings.ToLower(s[:i]), s[i+1:]
	switch {
	case sch == "http" || sch == "https":
		return sch, after, nil
	case slices.Contains(notWeb, sch):
		return "", "", fail(ErrScheme, "%q", sch+":")
	case looksLikePort(after):
		return "", s, nil
	default:
		return "", "", fail(ErrScheme, "%q", sch+":")
	}
}

func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// looksLikePort reports whether s starts with a port: digits, then the end or a delimiter.
func looksLikePort(s string) bool {
	n := 0
	for n < len(s) && '0' <= s[n] && s[n] <= '9' {
		n++
	}
	return n > 0 && (n == len(s) || strings.IndexByte(`/?#\`, s[n]) >= 0)
}

func splitHostPort(a string) (host, port string, err error) {
	if strings.HasPrefix(a, "[") {
		j := strings.IndexByte(a, ']')
		if j < 0 {
			return "", "", fail(ErrHost, "%q: IPv6 address without closing bracket", a)
		}
		host, after := a[:j+1], a[j+1:]
		if after == "" {
			return host, "", nil
		}
		if after[0] != ':' {
			return "", "", fail(ErrHost, "%q: text after the IPv6 address", a)
		}
		return host, after[1:], nil
	}
	if i := strings.LastIndexByte(a, ':'); i >= 0 {
		return a[:i], a[i+1:], nil
	}
	return a, "", nil
}

func canonPort(p string) (int, error) {
	if p == "" {
		return 443, nil // "example.com:" is the default port, as in browsers
	}
	n := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < '0' || c > '9' {
			return 0, fail(ErrPort, "%q is not a number", p)
		}
		n = n*10 + int(c-'0')
		if n > 65535 {
			return 0, fail(ErrPort, "%q is above 65535", p)
		}
	}
	return n, nil
}

// profile is the IDNA Lookup profile (UTS #46 mapping, Bidi and joiner rules, non-transitional)
// without two checks browsers do not make either: hyphens in the third and fourth place
// ("r3---sn-8qj.googlevideo.com") and STD3's ban on "_" (used in real subdomains). The
// characters left are checked by canonHost.
var profile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
	idna.CheckHyphens(false),
	idna.StrictDomainName(false),
)

// canonHost returns the canonical host (IPv6 without brackets) and whether it is an address.
func canonHost(h string) (string, bool, error) {
	if h == "" {
		return "", false, fail(ErrHost, "no host")
	}
	if strings.HasPrefix(h, "[") {
		a, err := netip.ParseAddr(h[1 : len(h)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", false, fail(ErrHost, "%q is not an IPv6 address", h)
		}
		return a.String(), true, nil
	}
	dec, ok := unescape(h)
	if !ok || !utf8.ValidString(dec) {
		return "", false, fail(ErrHost, "%q: bad percent-escape", h)
	}
	ascii, err := profile.ToASCII(dec)
	if err != nil {
		return "", false, fail(ErrHost, "%q: %v", h, err)
	}
	ascii = strings.ToLower(strings.TrimSuffix(ascii, "."))
	if ascii == "" {
		return "", false, fail(ErrHost, "%q: no host", h)
	}
	if len(ascii) > 253 {
		return "", false, fail(ErrHost, "%q: longer than 253 characters", h)
	}
	for _, label := range strings.Split(ascii, ".") {
		if label == "" {
			return "", false, fail(ErrHost, "%q: empty label", h)
		}
		if len(label) > 63 {
			return "", false, fail(ErrHost, "%q: label longer than 63 characters", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", false, fail(ErrHost, "%q: character %q not allowed in a host name", h, c)
			}
		}
	}
	if endsInNumber(ascii) {
		a, ok := parseIPv4(ascii)
		if !ok {
			return "", false, fail(ErrHost, "%q: ends in a number but is not an IPv4 address", h)
		}
		return a.String(), true, nil
	}
	return ascii, false, nil
}

// endsInNumber is the WHATWG URL Standard's test for a host that must be read as IPv4.
func endsInNumber(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last != "" && strings.Trim(last, "0123456789") == "" {
		return true
	}
	_, ok := ipv4Number(last)
	return ok
}

// parseIPv4 is the WHATWG IPv4 parser: one to four parts, each decimal, octal (leading 0) or
// hex (0x); the last part fills the remaining bytes.
func parseIPv4(h string) (netip.Addr, bool) {
	parts := strings.Split(h, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		n, ok := ipv4Number(p)
		if !ok {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 255 {
				return netip.Addr{}, false
			}
			v |= n << (8 * (3 - i))
			continue
		}
		if n >= 1<<(8*(5-len(parts))) {
			return netip.Addr{}, false
		}
		v += n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

func ipv4Number(p string) (uint64, bool) {
	if p == "" {
		return 0, false
	}
	base := 10
	switch {
	case len(p) >= 2 && (p[:2] == "0x" || p[:2] == "0X"):
		p, base = p[2:], 16
		if p == "" {
			return 0, true
		}
	case len(p) >= 2 && p[0] == '0':
		p, base = p[1:], 8
	}
	n, err := strconv.ParseUint(p, base, 64)
	if err != nil {
		// A number too large for 64 bits is still a number (and no address).
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 1 << 40, true
		}
		return 0, false
	}
	return n, true
}

// canonPath returns the path's segments after escaping, dot-segment removal and removal of
// trailing empty segments (so "/a/b/" and "/a/b" are one path; "/" is no segments).
func canonPath(p string) []string {
	if p == "" {
		return nil
	}
	var out []string
	for _, seg := range strings.Split(p[1:], "/") {
		seg = escape(seg, pathSafe)
		switch seg {
		case ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// canonQuery drops tracking parameters and sorts the rest by key. When videoID is set (a
// youtu.be or /shorts/ link rewritten to /watch), it becomes the only v parameter.
func canonQuery(host, raw, videoID string) string {
	type param struct{ key, text string }
	var ps []param
	for _, piece := range strings.Split(raw, "&") {
		if piece == "" {
			continue
		}
		k, v, hasEq := strings.Cut(piece, "=")
		key := escape(k, querySafe)
		if isTracking(host, key) || (videoID != "" && key == "v") {
			continue
		}
		text := key
		if hasEq {
			text += "=" + escape(v, queryValueSafe)
		}
		ps = append(ps, param{key, text})
	}
	if videoID != "" {
		ps = append(ps, param{"v", "v=" + videoID})
	}
	slices.SortStableFunc(ps, func(a, b param) int { return strings.Compare(a.key, b.key) })
	texts := make([]string, len(ps))
	for i, p := range ps {
		texts[i] = p.text
	}
	return strings.Join(texts, "&")
}

// Characters left as they are, beyond the unreserved ones (RFC 3986 §3.3, §3.4, §3.5); "&"
// and "=" are separators in the query, so they are escaped inside keys (and "&" in values).
const (
	pathSafe       = "!$&'()*+,;=:@"
	querySafe      = "!$'()*+,;:@/?"
	queryValueSafe = querySafe + "="
	fragmentSafe   = "!$&'()*+,;=:@/?"
)

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

const upperHex = "0123456789ABCDEF"

// escape writes s in the one spelling canon uses: unreserved characters raw (decoded when
// they were escaped), characters of safe raw, every other byte as an upper-case escape; a
// "%" that starts no escape is itself escaped.
func escape(s, safe string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			d := unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
			if unreserved(d) {
				b.WriteByte(d)
			} else {
				b.WriteByte('%')
				b.WriteByte(upperHex[d>>4])
				b.WriteByte(upperHex[d&15])
			}
			continue
		}
		if unreserved(c) || (c != '%' && strings.IndexByte(safe, c) >= 0) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
	return b.String()
}

// unescape decodes every percent-escape of s; ok is false on a "%" that starts none.
func unescape(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
			return "", false
		}
		b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
		i += 2
	}
	return b.String(), true
}
