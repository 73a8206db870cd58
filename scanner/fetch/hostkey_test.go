package fetch

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The limiter groups hosts by the key it is given: names with one key wait for each other,
// others do not. (The scanner's key, the registrable domain, is tested in package scanner.)
func TestLimiterSiteKey(t *testing.T) {
	const iv = 2 * time.Second
	hosts := []string{"www.example.vn", "cdn.example.vn", "alice.blogspot.com", "bob.blogspot.com"}
	lastTwo := func(h string) string {
		if l := strings.Split(h, "."); len(l) > 2 && l[len(l)-2] != "blogspot" {
			return strings.Join(l[len(l)-2:], ".")
		}
		return h
	}
	for _, c := range []struct {
		name string
		key  func(string) string
		want []time.Duration
	}{
		// Each name alone: nobody waits.
		{"default", nil, []time.Duration{0, 0, 0, 0}},
		// cdn.example.vn waits for www.example.vn's interval; the two blogs wait for nobody.
		{"site", lastTwo, []time.Duration{0, iv, 0, 0}},
	} {
		l, fc := newFakeLimiter(1, iv)
		l.setKey(c.key)
		for _, h := range hosts {
			r, err := l.acquire(context.Background(), h)
			if err != nil {
				t.Fatal(err)
			}
			r()
		}
		if len(fc.sleeps) != len(c.want) {
			t.Fatalf("%s: sleeps %v, want %v", c.name, fc.sleeps, c.want)
		}
		for i := range c.want {
			if fc.sleeps[i] != c.want[i] {
				t.Fatalf("%s: sleeps %v, want %v", c.name, fc.sleeps, c.want)
			}
		}
	}
}
