package fetch

import (
	"net"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
)

// loopbackAllowance is the test-only exception to the guard. It reaches the guard only
// through newClient's unexported argument, which New (the production constructor) never
// passes; the production tests below use New and get no allowance.
var loopbackAllowance = []string{"127.0.0.0/8", "::1/128"}

// newTestClient returns a client that may reach the given loopback servers: their ports
// are added to the allowed ports (as an operator would configure), and loopback addresses
// are allowed. Nothing else is relaxed: 10.0.0.1 or 169.254.169.254 stay refused.
func newTestClient(t *testing.T, opts Options, srvs ...*httptest.Server) *Client {
	t.Helper()
	opts.Ports = append(opts.Ports, 80, 443)
	for _, s := range srvs {
		opts.Ports = append(opts.Ports, serverPort(t, s))
	}
	if opts.HostInterval == 0 {
		opts.HostInterval = -1 // no waits between requests unless a test asks
	}
	c, err := newClient(opts, loopbackAllowance)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// newProdClient is the production constructor with the servers' ports allowed, so that a
// refusal it makes is the address check, not the port check.
func newProdClient(t *testing.T, srvs ...*httptest.Server) *Client {
	t.Helper()
	opts := Options{Ports: []int{80, 443}, HostInterval: -1}
	for _, s := range srvs {
		opts.Ports = append(opts.Ports, serverPort(t, s))
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func serverPort(t *testing.T, s *httptest.Server) int {
	t.Helper()
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newServerOn starts an httptest server on a given loopback address ("[::1]:0"), or
// returns nil when the machine has no such address.
func newServerOn(t *testing.T, addr string, h *httptest.Server) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil
	}
	h.Listener.Close()
	h.Listener = l
	h.Start()
	t.Cleanup(h.Close)
	return h
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
