package upstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/http2"
)

const dnsMessageType = "application/dns-message"

// dohUpstream sends queries as RFC 8484 POST requests.
type dohUpstream struct {
	spec   string
	url    string
	client *http.Client
	tr     *http.Transport
	o      Options
}

var _ Upstream = (*dohUpstream)(nil)

func newDoH(u *url.URL, tc *tls.Config, o Options) (*dohUpstream, error) {
	tr := &http.Transport{
		Proxy:                  nil, // DNS must not depend on HTTP_PROXY
		DialContext:            (&net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:        tc,
		TLSHandshakeTimeout:    o.Timeout,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           maxIdleConns,
		MaxIdleConnsPerHost:    maxIdleConns,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 16 << 10,
	}
	h2, err := http2.ConfigureTransports(tr)
	if err != nil {
		return nil, fmt.Errorf("configure http2 for %s: %w", u, err)
	}
	// Ping an HTTP/2 connection that has been silent for a while, so a
	// dead one is noticed before a query waits on it for the full timeout.
	h2.ReadIdleTimeout = 30 * time.Second
	h2.PingTimeout = 5 * time.Second
	return &dohUpstream{
		spec:   u.String(),
		url:    u.String(),
		client: &http.Client{Transport: tr, CheckRedirect: noRedirects},
		tr:     tr,
		o:      o,
	}, nil
}

// noRedirects: a redirect would turn the POST into a GET without body.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (d *dohUpstream) String() string { return d.spec }

// Close closes idle connections.
func (d *dohUpstream) Close() error {
	d.tr.CloseIdleConnections()
	return nil
}

func (d *dohUpstream) Exchange(parent context.Context, m *dns.Msg) (*dns.Msg, error) {
	// ID 0 makes identical queries identical requests (RFC 8484 section 4.1).
	wire, err := packQuery(m, 0, d.o.UDPSize, true)
	if err != nil {
		return nil, fmt.Errorf("doh exchange: %w", err)
	}
	ctx, cancel := attemptContext(parent, d.o)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(wire))
	if err != nil {
		return nil, fmt.Errorf("doh exchange: %w", err)
	}
	req.Header.Set("Content-Type", dnsMessageType)
	req.Header.Set("Accept", dnsMessageType)
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("doh exchange: %w", ctxErr(parent, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("doh exchange: http status %d", resp.StatusCode)
	}
	ct, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || ct != dnsMessageType {
		return nil, fmt.Errorf("doh exchange: content type %q, want %s", resp.Header.Get("Content-Type"), dnsMessageType)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMsgSize+1))
	if err != nil {
		return nil, fmt.Errorf("doh exchange: read body: %w", ctxErr(parent, err))
	}
	if len(body) > maxMsgSize {
		return nil, fmt.Errorf("doh exchange: response body larger than %d bytes", maxMsgSize)
	}
	r, err := unpackResponse(body, m, 0)
	if err != nil {
		return nil, fmt.Errorf("doh exchange: %w", err)
	}
	return r, nil
}
