package fetch

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ErrDisallowed is returned when robots.txt forbids a monitoring fetch.
var ErrDisallowed = errors.New("disallowed by robots.txt")

// Robots is a parsed robots.txt (RFC 9309): groups of rules, each for one or more
// user-agent product tokens.
type Robots struct {
	groups []robotsGroup
	// disallowAll stands for a robots.txt that could not be fetched (5xx, network error):
	// RFC 9309 says to assume complete disallow.
	disallowAll bool
}

type robotsGroup struct {
	agents []string // lower case
	rules  []robotsRule
}

type robotsRule struct {
	allow   bool
	pattern string
}

// Limits on what ParseRobots keeps, so a hostile file cannot make matching expensive.
const (
	maxRobotsBytes   = 512 << 10 // RFC 9309 asks parsers to read at least 500 KiB
	maxRobotsRules   = 10000
	maxRobotsPattern = 2048
)

// ParseRobots parses a robots.txt body. Unknown lines are ignored; input beyond 512 KiB,
// rules beyond 10,000 and patterns longer than 2 KiB are dropped.
func ParseRobots(body []byte) *Robots {
	if len(body) > maxRobotsBytes {
		body = body[:maxRobotsBytes]
	}
	r := &Robots{}
	var cur *robotsGroup
	lastWasAgent := false
	nrules := 0
	for len(body) > 0 {
		var line []byte
		if i := bytes.IndexAny(body, "\r\n"); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		key := strings.ToLower(strings.TrimSpace(string(k)))
		val := strings.TrimSpace(string(v))
		switch key {
		case "user-agent":
			if !lastWasAgent || cur == nil {
				r.groups = append(r.groups, robotsGroup{})
				cur = &r.groups[len(r.groups)-1]
			}
			cur.agents = append(cur.agents, strings.ToLower(val))
			lastWasAgent = true
		case "allow", "disallow":
			lastWasAgent = false
			if cur == nil || val == "" || len(val) > maxRobotsPattern || nrules >= maxRobotsRules {
				// An empty Disallow allows everything, which is the default anyway.
				continue
			}
			cur.rules = append(cur.rules, robotsRule{allow: key == "allow", pattern: normalizeEscapes(val)})
			nrules++
		default:
			// Sitemap, Crawl-delay and unknown keys neither start nor end a group.
		}
	}
	return r
}

// Allowed says whether agent (a product token, matched case-insensitively) may fetch path
// (the URL's escaped path and query). The groups naming the agent apply, else the "*"
// groups; the longest matching pattern decides, Allow winning a tie; no match allows.
func (r *Robots) Allowed(agent, path string) bool {
	if r == nil {
		return true
	}
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	path = normalizeEscapes(path)
	if path == "/robots.txt" {
		return true
	}
	if r.disallowAll {
		return false
	}
	agent = strings.ToLower(agent)
	var chosen []*robotsGroup
	for _, star := range []bool{false, true} {
		for i := range r.groups {
			g := &r.groups[i]
			for _, a := range g.agents {
				if (!star && a == agent && a != "*") || (star && a == "*") {
					chosen = append(chosen, g)
					break
				}
			}
		}
		if len(chosen) > 0 {
			break
		}
	}
	best, allow := -1, true
	for _, g := range chosen {
		for _, rule := range g.rules {
			if len(rule.pattern) < best || !robotsMatch(rule.pattern, path) {
				continue
			}
			if len(rule.pattern) > best {
				best, allow = len(rule.pattern), rule.allow
			} else if rule.allow {
				allow = true
			}
		}
	}
	return allow
}

// robotsMatch matches a pattern with '*' (any run) and a final '$' (end of path) against
// the start of path. Greedy matching with a single backtrack point: O(len(p)·len(s)) at
// worst, bounded by the pattern cap.
func robotsMatch(p, s string) bool {
	anchored := strings.HasSuffix(p, "$")
	if anchored {
		p = p[:len(p)-1]
	}
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == s[si]:
			pi++
			si++
		case pi == len(p) && !anchored:
			return true // the pattern is a prefix of what is left
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// robotsCache keeps one Robots per origin (scheme, host, port) for ttl, fetched through
// the client that asks. Concurrent askers for the same origin wait for one fetch.
type robotsCache struct {
	c      *Client
	ttl    time.Duration
	errTTL time.Duration
	now    func() time.Time

	mu sync.Mutex
	m  map[string]*robotsEntry
}

type robotsEntry struct {
	ready   chan struct{}
	robots  *Robots
	expires time.Time
}

func (rc *robotsCache) allowed(ctx context.Context, u *url.URL) (bool, error) {
	r, err := rc.get(ctx, u)
	if err != nil {
		return false, err
	}
	p := u.EscapedPath()
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return r.Allowed(rc.c.agentToken, p), nil
}

func (rc *robotsCache) get(ctx context.Context, u *url.URL) (*Robots, error) {
	origin := u.Scheme + "://" + u.Host
	for {
		rc.mu.Lock()
		e := rc.m[origin]
		if e != nil {
			select {
			case <-e.ready:
				if rc.now().Before(e.expires) {
					rc.mu.Unlock()
					return e.robots, nil
				}
				e = nil // expired: fetch again
			default:
			}
		}
		if e == nil {
			if len(rc.m) >= maxRobotsOrigins {
				rc.sweepLocked()
			}
			e = &robotsEntry{ready: make(chan struct{})}
			rc.m[origin] = e
			rc.mu.Unlock()
			r, ttl, err := rc.fetch(ctx, origin)
			rc.mu.Lock()
			if err != nil {
				delete(rc.m, origin) // the asker gave up; do not cache its cancellation
			} else {
				e.robots, e.expires = r, rc.now().Add(ttl)
			}
			close(e.ready)
			rc.mu.Unlock()
			return r, err
		}
		rc.mu.Unlock()
		select {
		case <-e.ready:
			// Loop: the entry is either filled or was dropped after a cancellation.
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// maxRobotsOrigins is the number of cached origins above which expired entries are dropped.
const maxRobotsOrigins = 4096

func (rc *robotsCache) sweepLocked() {
	now := rc.now()
	for k, e := range rc.m {
		select {
		case <-e.ready:
			if !now.Before(e.expires) {
				delete(rc.m, k)
			}
		default:
		}
	}
}

// fetch reads origin/robots.txt through the guarded client (never itself subject to
// robots). 2xx: parsed; 4xx: no rules; anything else, including a refused or unreachable
// host: disallow all, for a shorter time.
func (rc *robotsCache) fetch(ctx context.Context, origin string) (*Robots, time.Duration, error) {
	capt, err := rc.c.Fetch(ctx, origin+"/robots.txt", FetchOptions{MaxBytes: maxRobotsBytes})
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		if capt == nil || len(capt.Hops) == 0 {
			// The origin itself is refused or unusable: say so, rather than blame robots.txt
			// for a page the guard would refuse anyway.
			if errors.Is(err, ErrBlocked) || errors.Is(err, ErrBadURL) {
				return nil, 0, err
			}
		}
		return &Robots{disallowAll: true}, rc.errTTL, nil
	}
	switch {
	case capt.Status >= 200 && capt.Status < 300:
		return ParseRobots(capt.Body), rc.ttl, nil
	case capt.Status >= 400 && capt.Status < 500 && capt.Status != 429:
		return &Robots{}, rc.ttl, nil
	default:
		return &Robots{disallowAll: true}, rc.errTTL, nil
	}
}

// normalizeEscapes makes a pattern and a path comparable (RFC 9309 §2.2.2): bytes outside
// printable ASCII are percent-encoded, and existing escapes get upper-case hex, so "/ä",
// "/%c3%a4" and "/%C3%A4" are one path.
func normalizeEscapes(s string) string {
	const hex = "0123456789ABCDEF"
	clean := true
	for i := 0; i < len(s) && clean; i++ {
		c := s[i]
		clean = c > 0x20 && c < 0x7f && !(c == '%' && i+2 < len(s) && (isLowerHex(s[i+1]) || isLowerHex(s[i+2])))
	}
	if clean {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, '%', upper(s[i+1]), upper(s[i+2]))
			i += 2
		case c <= 0x20 || c >= 0x7f:
			b = append(b, '%', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isHex(c byte) bool      { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
func isLowerHex(c byte) bool { return c >= 'a' && c <= 'f' }
func upper(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}
