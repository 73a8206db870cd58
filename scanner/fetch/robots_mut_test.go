package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRobotsAllowedMore(t *testing.T) {
	const us = "kidshield-scanner"
	cases := []struct {
		name, body, path string
		want             bool
	}{
		// Consecutive User-agent lines form one group, whichever of them names us.
		{"shared group, ours first", "User-agent: kidshield-scanner\nUser-agent: googlebot\nDisallow: /g\n", "/g", false},
		// A product token is matched whole, not as a prefix of ours.
		{"prefix of our token is another agent", "User-agent: *\nAllow: /\n\nUser-agent: kidshield\nDisallow: /\n", "/x", true},
		// The path's escapes are normalised too, not only the pattern's.
		{"lower-case escapes in the path", "User-agent: *\nDisallow: /%E1%BB%A9\n", "/%e1%bb%a9/x", false},
		{"raw non-ASCII path", "User-agent: *\nDisallow: /%E1%BB%A9\n", "/ứ", false},
	}
	for _, c := range cases {
		if got := ParseRobots([]byte(c.body)).Allowed(us, c.path); got != c.want {
			t.Errorf("%s: Allowed(%q) = %v, want %v", c.name, c.path, got, c.want)
		}
	}
}

// robotsSite serves a robots.txt chosen by the test at each request, and counts requests.
type robotsSite struct {
	mu     sync.Mutex
	status int
	body   string
	hangup bool
	hits   atomic.Int32
	pages  atomic.Int32
}

func (s *robotsSite) set(status int, body string) {
	s.mu.Lock()
	s.status, s.body = status, body
	s.mu.Unlock()
}

func (s *robotsSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/robots.txt" {
		s.pages.Add(1)
		fmt.Fprint(w, "page")
		return
	}
	s.hits.Add(1)
	s.mu.Lock()
	status, body, hangup := s.status, s.body, s.hangup
	s.mu.Unlock()
	if hangup {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

func TestRobotsStatusesAndFailures(t *testing.T) {
	ctx := context.Background()
	// 429 is "too many requests", not "no robots.txt": assume complete disallow (RFC 9309).
	limited := &robotsSite{status: http.StatusTooManyRequests}
	// A connection closed without an answer: robots.txt unreachable, disallow too.
	hangup := &robotsSite{hangup: true}
	s1, s2 := httptest.NewServer(limited), httptest.NewServer(hangup)
	defer s1.Close()
	defer s2.Close()
	c := newTestClient(t, Options{}, s1, s2)
	for _, tc := range []struct {
		name string
		site *robotsSite
		url  string
	}{{"robots 429", limited, s1.URL}, {"robots hang-up", hangup, s2.URL}} {
		if _, err := c.Fetch(ctx, tc.url+"/page", FetchOptions{Monitor: true}); !errors.Is(err, ErrDisallowed) {
			t.Errorf("%s: %v, want ErrDisallowed", tc.name, err)
		}
		if tc.site.hits.Load() == 0 || tc.site.pages.Load() != 0 {
			t.Errorf("%s: robots.txt read %d times, page %d times", tc.name, tc.site.hits.Load(), tc.site.pages.Load())
		}
	}
}

// The query is part of what robots.txt rules match.
func TestRobotsRulesSeeTheQuery(t *testing.T) {
	site := &robotsSite{status: 200, body: "User-agent: *\nDisallow: /*?private\n"}
	srv := httptest.NewServer(site)
	defer srv.Close()
	c := newTestClient(t, Options{}, srv)
	ctx := context.Background()
	if _, err := c.Fetch(ctx, srv.URL+"/page?private=1", FetchOptions{Monitor: true}); !errors.Is(err, ErrDisallowed) {
		t.Errorf("/page?private=1: %v, want ErrDisallowed", err)
	}
	if _, err := c.Fetch(ctx, srv.URL+"/page?public=1", FetchOptions{Monitor: true}); err != nil {
		t.Errorf("/page?public=1: %v", err)
	}
}

// A robots.txt is kept for RobotsTTL; one that could not be read for an hour at most.
func TestRobotsCacheExpiry(t *testing.T) {
	ctx := context.Background()
	clk := &mutClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	site := &robotsSite{status: 200, body: "User-agent: *\nDisallow: /page\n"}
	srv := httptest.NewServer(site)
	defer srv.Close()
	c := newTestClient(t, Options{RobotsTTL: 24 * time.Hour}, srv)
	c.robots.now = clk.now
	monitor := func() error {
		_, err := c.Fetch(ctx, srv.URL+"/page", FetchOptions{Monitor: true})
		return err
	}
	if err := monitor(); !errors.Is(err, ErrDisallowed) {
		t.Fatalf("disallowed page: %v", err)
	}
	site.set(200, "User-agent: *\nAllow: /\n")
	clk.advance(24*time.Hour - time.Second)
	if err := monitor(); !errors.Is(err, ErrDisallowed) || site.hits.Load() != 1 {
		t.Fatalf("within the TTL: %v, robots read %d times; want the cached rules", err, site.hits.Load())
	}
	clk.advance(2 * time.Second)
	if err := monitor(); err != nil || site.hits.Load() != 2 {
		t.Fatalf("after the TTL: %v, robots read %d times; want the new rules", err, site.hits.Load())
	}
	// Unreadable (503): disallow, but ask again after an hour, not after the 24 h TTL.
	site.set(http.StatusServiceUnavailable, "")
	clk.advance(24*time.Hour + time.Second)
	if err := monitor(); !errors.Is(err, ErrDisallowed) {
		t.Fatalf("robots 503: %v", err)
	}
	site.set(200, "User-agent: *\nAllow: /\n")
	clk.advance(time.Hour + time.Second)
	if err := monitor(); err != nil {
		t.Fatalf("an hour after a 503, robots readable again: %v (robots read %d times)", err, site.hits.Load())
	}
}
