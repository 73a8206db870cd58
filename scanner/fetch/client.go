package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // image.DecodeConfig for the pixel cap
	_ "image/jpeg"
	_ "image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"time"

	_ "golang.org/x/image/webp"
)

// DefaultUserAgent names the scanner and where an operator explains it. Deployments set
// their own page with Options.UserAgent.
const DefaultUserAgent = "kidshield-scanner/dev (+https://github.com/kidshield/kidshield)"

// UserAgent builds the honest User-Agent: the scanner's name and version, and the page where
// the operator explains what the scanner does and how to reach them.
func UserAgent(version, operatorURL string) string {
	return "kidshield-scanner/" + version + " (+" + operatorURL + ")"
}

// MaxRedirects is the number of redirects followed; one more is an error.
const MaxRedirects = 5

// Errors besides ErrBlocked, ErrBadURL and ErrDisallowed.
var (
	ErrTooManyRedirects = errors.New("too many redirects")
	ErrTimeout          = errors.New("time cap reached")
	ErrNotImage         = errors.New("not an image")
	ErrTooManyPixels    = errors.New("image over the pixel cap")
)

// Options configure a Client. The zero value of each field means its default.
type Options struct {
	// UserAgent is sent on every request; its product token (before the first '/') is
	// the name looked up in robots.txt.
	UserAgent string
	// Ports the client may connect to (default 80 and 443).
	Ports []int
	// Timeout caps the network time of one Fetch, all hops and the body included
	// (default 30s). Waiting for the per-host limiter does not count.
	Timeout time.Duration
	// HeaderTimeout caps the wait for a response's headers after the request is sent
	// (default 10s); DialTimeout caps connecting, TLS handshake included (default 10s).
	HeaderTimeout time.Duration
	DialTimeout   time.Duration
	// MaxPageBytes and MaxImageBytes cap bodies (defaults 10 MiB and 20 MiB); a longer
	// body is cut there and the capture marked Truncated.
	MaxPageBytes  int64
	MaxImageBytes int64
	// MaxPixels caps an image's width × height, read from its header before anything
	// decodes it (default 40,000,000).
	MaxPixels int64
	// HostConcurrency (default 2) and HostInterval (default 1s; negative for none) are the
	// per-host politeness limits, shared by every fetch of the client.
	HostConcurrency int
	HostInterval    time.Duration
	// RobotsTTL is how long a robots.txt is kept (default 24h, RFC 9309's maximum); one
	// that could not be fetched is retried after an hour at most.
	RobotsTTL time.Duration
	// RootCAs replaces the system roots for TLS verification (nil: system roots).
	// Verification itself cannot be turned off.
	RootCAs *x509.CertPool
	// Resolver resolves host names (nil: net.DefaultResolver). Whatever it answers, the
	// address is checked when connecting.
	Resolver *net.Resolver
	// Logger receives one line per hop (host and status, never paths, queries or bodies).
	Logger *slog.Logger
}

// Client is the guarded HTTP client. It is safe for concurrent use; its per-host limits and
// robots.txt cache are shared by every fetch made through it.
type Client struct {
	opts       Options
	agentToken string
	guard      *guard
	policy     urlPolicy
	transport  *http.Transport
	limiter    *hostLimiter
	robots     *robotsCache
	log        *slog.Logger
	now        func() time.Time
}

// New returns a Client with the production guard. Nothing in Options can let it reach a
// denied address.
func New(opts Options) (*Client, error) {
	return newClient(opts, nil)
}

// loopbackForTests is the only relaxation of the guard outside this package's tests: the
// loopback addresses 127.0.0.0/8 and ::1, and nothing else (10/8, 169.254/16, fc00::/7 and the
// rest stay refused).
var loopbackForTests = []string{"127.0.0.0/8", "::1/128"}

// NewAllowingLoopbackForTests is New with loopback addresses allowed. DANGEROUS: a scanner
// that can reach 127.0.0.1 can reach every service listening on the host it runs on (admin
// pages, metrics, the database) on behalf of whoever submits a URL. It exists for end-to-end
// tests that run a test site on loopback against the real binary, which reaches it only
// through a configuration key named and documented as unsafe
// (scanner.allow_loopback_for_tests); no production deployment may use it.
func NewAllowingLoopbackForTests(opts Options) (*Client, error) {
	return newClient(opts, loopbackForTests)
}

func newClient(opts Options, allow []string) (*Client, error) {
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}
	if strings.ContainsAny(opts.UserAgent, "\r\n") {
		return nil, errors.New("fetch: user agent contains a line break")
	}
	token, _, _ := strings.Cut(opts.UserAgent, "/")
	token = strings.TrimSpace(token)
	if token == "" || strings.ContainsAny(token, " \t") {
		return nil, fmt.Errorf("fetch: user agent %q does not start with a product token", opts.UserAgent)
	}
	if len(opts.Ports) == 0 {
		opts.Ports = []int{80, 443}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&opts.Timeout, 30*time.Second)
	def(&opts.HeaderTimeout, 10*time.Second)
	def(&opts.DialTimeout, 10*time.Second)
	def(&opts.HostInterval, time.Second)
	def(&opts.RobotsTTL, 24*time.Hour)
	if opts.HostInterval < 0 {
		opts.HostInterval = 0
	}
	if opts.MaxPageBytes <= 0 {
		opts.MaxPageBytes = 10 << 20
	}
	if opts.MaxImageBytes <= 0 {
		opts.MaxImageBytes = 20 << 20
	}
	if opts.MaxPixels <= 0 {
		opts.MaxPixels = 40_000_000
	}
	if opts.HostConcurrency <= 0 {
		opts.HostConcurrency = 2
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}

	g, err := newGuard(opts.Ports)
	if err != nil {
		return nil, err
	}
	for _, s := range allow {
		g.allow = append(g.allow, mustPrefixes(s)...)
	}
	pol := urlPolicy{ports: make(map[int]bool), maxSize: defaultPolicy.maxSize}
	for _, p := range opts.Ports {
		pol.ports[p] = true
	}

	dialer := &net.Dialer{
		Timeout:  opts.DialTimeout,
		Resolver: opts.Resolver,
		// The one place addresses are checked: on the address each socket is about to
		// connect to, for every connection (every hop, every retry, every address of a
		// multi-address answer).
		Control: g.control,
	}
	tr := &http.Transport{
		Proxy:                  nil, // never from the environment: a proxy would be the one dialled
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    opts.DialTimeout,
		ResponseHeaderTimeout:  opts.HeaderTimeout,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConnsPerHost:    opts.HostConcurrency,
		IdleConnTimeout:        30 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	c := &Client{
		opts:       opts,
		agentToken: token,
		guard:      g,
		policy:     pol,
		// Requests go straight to the transport, not through an http.Client: there is no
		// cookie jar to forget, and redirects are followed by Fetch, hop by hop, so that
		// each is validated and recorded.
		transport: tr,
		limiter:   newHostLimiter(opts.HostConcurrency, opts.HostInterval),
		log:       opts.Logger,
		now:       time.Now,
	}
	c.robots = &robotsCache{c: c, ttl: opts.RobotsTTL, errTTL: min(opts.RobotsTTL, time.Hour),
		now: time.Now, m: make(map[string]*robotsEntry)}
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

// FetchOptions are per fetch.
type FetchOptions struct {
	// Monitor marks a fetch made by monitoring (feeds, sitemaps, re-checks), which honours
	// robots.txt on every hop. A reported URL fetched for review leaves it false.
	Monitor bool
	// MaxBytes overrides the body cap (0: the client's MaxPageBytes).
	MaxBytes int64
	// Accept is sent as the Accept header (empty: one preferring HTML).
	Accept string
}

// Hop is one response on the way to the final one.
type Hop struct {
	URL        string `json:"url"`
	Status     int    `json:"status"`
	RemoteAddr string `json:"remote_addr"` // the address:port actually connected
	Location   string `json:"location,omitempty"`
}

// Capture is the evidence record of one fetch.
type Capture struct {
	RequestedURL string        `json:"requested_url"` // normalized
	FinalURL     string        `json:"final_url"`
	Hops         []Hop         `json:"hops"` // every response, the final one last
	RemoteAddr   string        `json:"remote_addr"`
	Status       int           `json:"status"`
	Header       http.Header   `json:"header"` // the headers named in keptHeaders
	FetchedAt    time.Time     `json:"fetched_at"`
	Duration     time.Duration `json:"duration"` // network time of all hops, limiter waits excluded
	// Bytes and SHA256 are of the body as read (after transfer decoding), that is of Body.
	Bytes        int64  `json:"bytes"`
	SHA256       string `json:"sha256"`
	DeclaredType string `json:"declared_type"`
	SniffedType  string `json:"sniffed_type"` // http.DetectContentType of the body
	Truncated    bool   `json:"truncated"`    // the body went past the cap and was cut
	// Image header, for FetchImage only.
	ImageFormat string `json:"image_format,omitempty"`
	ImageWidth  int    `json:"image_width,omitempty"`
	ImageHeight int    `json:"image_height,omitempty"`

	Body []byte `json:"-"`
}

// IsHTML says whether the body should be read as HTML: sniffed as HTML, or sniffed as plain
// text (a page with no recognisable tag at its start) while declared as HTML.
func (c *Capture) IsHTML() bool {
	if strings.HasPrefix(c.SniffedType, "text/html") {
		return true
	}
	return strings.HasPrefix(c.SniffedType, "text/plain") && strings.Contains(c.DeclaredType, "html")
}

// keptHeaders are the response headers a capture records: what identifies the content and
// its server, nothing that sets state.
var keptHeaders = []string{
	"Content-Type", "Content-Length", "Content-Language", "Content-Disposition",
	"Last-Modified", "ETag", "Date", "Server", "Cache-Control", "X-Robots-Tag", "Location",
}

// Fetch GETs rawURL through the guard, following at most MaxRedirects redirects. A response
// of any status is a capture, not an error (a 404 is evidence of removal). On an error
// after the first response the capture is returned too, with the hops so far.
func (c *Client) Fetch(ctx context.Context, rawURL string, o FetchOptions) (*Capture, error) {
	u, err := c.policy.normalize(rawURL)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = c.opts.MaxPageBytes
	}
	if o.Accept == "" {
		o.Accept = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
	}
	capt := &Capture{RequestedURL: u.String(), FetchedAt: c.now().UTC()}
	budget := c.opts.Timeout
	for redirects := 0; ; redirects++ {
		if o.Monitor {
			ok, err := c.robots.allowed(ctx, u)
			if err != nil {
				return capt, fmt.Errorf("fetch: robots.txt of %s: %w", u.Host, err)
			}
			if !ok {
				return capt, fmt.Errorf("fetch: %s: %w", u.Host, ErrDisallowed)
			}
		}
		loc, err := c.hop(ctx, u, o, &budget, capt)
		if err != nil {
			return capt, err
		}
		if loc == nil {
			return capt, nil
		}
		if redirects == MaxRedirects {
			return capt, fmt.Errorf("fetch: %w (more than %d)", ErrTooManyRedirects, MaxRedirects)
		}
		next, err := c.policy.check(loc)
		if err != nil {
			return capt, fmt.Errorf("fetch: redirect from %s: %w", u.Host, err)
		}
		u = next
	}
}

// hop makes one request and records it in capt. It returns the next URL for a redirect,
// or nil after reading a final response's body.
func (c *Client) hop(ctx context.Context, u *url.URL, o FetchOptions, budget *time.Duration, capt *Capture) (*url.URL, error) {
	host := u.Hostname()
	release, err := c.limiter.acquire(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("fetch: waiting for %s: %w", host, err)
	}
	defer release()
	if *budget <= 0 {
		return nil, fmt.Errorf("fetch: %w", ErrTimeout)
	}
	start := c.now()
	defer func() {
		*budget -= c.now().Sub(start)
		capt.Duration += c.now().Sub(start)
	}()
	hctx, cancel := context.WithTimeout(ctx, *budget)
	defer cancel()

	var remote string
	hctx = httptrace.WithClientTrace(hctx, &httptrace.ClientTrace{
		GotConn: func(ci httptrace.GotConnInfo) { remote = ci.Conn.RemoteAddr().String() },
	})
	req, err := http.NewRequestWithContext(hctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", badURL("%v", err))
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	req.Header.Set("Accept", o.Accept)
	res, err := c.transport.RoundTrip(req)
	if err != nil {
		c.log.Info("fetch failed", "host", host, "err", errKind(err))
		return nil, c.wrap(ctx, hctx, host, err)
	}
	defer res.Body.Close()
	h := Hop{URL: u.String(), Status: res.StatusCode, RemoteAddr: remote}
	c.log.Debug("fetch", "host", host, "status", res.StatusCode)

	if isRedirect(res.StatusCode) && res.Header.Get("Location") != "" {
		h.Location = res.Header.Get("Location")
		capt.Hops = append(capt.Hops, h)
		// Drain a little so the connection can be reused; a large redirect body is not.
		_, _ = io.CopyN(io.Discard, res.Body, 64<<10)
		loc, err := u.Parse(h.Location)
		if err != nil {
			return nil, fmt.Errorf("fetch: redirect from %s: %w", host, badURL("bad Location: %v", errors.Unwrap(err)))
		}
		return loc, nil
	}
	capt.Hops = append(capt.Hops, h)
	capt.FinalURL = u.String()
	capt.RemoteAddr = remote
	capt.Status = res.StatusCode
	capt.Header = make(http.Header)
	for _, k := range keptHeaders {
		for _, v := range res.Header.Values(k) {
			capt.Header.Add(k, v)
		}
	}
	capt.DeclaredType = res.Header.Get("Content-Type")

	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(res.Body, o.MaxBytes+1))
	if err != nil {
		return nil, c.wrap(ctx, hctx, host, fmt.Errorf("reading body: %w", err))
	}
	body := buf.Bytes()
	if n > o.MaxBytes {
		body = body[:o.MaxBytes]
		capt.Truncated = true
	}
	sum := sha256.Sum256(body)
	capt.Body = body
	capt.Bytes = int64(len(body))
	capt.SHA256 = hex.EncodeToString(sum[:])
	capt.SniffedType = http.DetectContentType(body)
	return nil, nil
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// wrap names a transport error: a refusal stays ErrBlocked, a deadline becomes ErrTimeout.
// The URL is left out of the message (it may carry personal data); the host is kept.
func (c *Client) wrap(parent, hctx context.Context, host string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, ErrBlocked) {
		return fmt.Errorf("fetch %s: %w", host, err)
	}
	if parent.Err() != nil {
		return fmt.Errorf("fetch %s: %w", host, parent.Err())
	}
	var ne net.Error
	if hctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("fetch %s: %w: %v", host, ErrTimeout, err)
	}
	return fmt.Errorf("fetch %s: %w", host, err)
}

// errKind is a log-safe summary of an error (no URL).
func errKind(err error) string {
	var be *BlockedError
	switch {
	case errors.As(err, &be):
		return "blocked: " + be.Reason
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Op + " error"
	}
	return "error"
}

// FetchImage fetches an image through the same guard and limits, with the image byte cap,
// and reads its header: a body that does not sniff as an image, or whose header declares
// more than MaxPixels, is refused (with the capture, as evidence of what was there).
// Nothing is decoded beyond the header.
func (c *Client) FetchImage(ctx context.Context, rawURL string, monitor bool) (*Capture, error) {
	capt, err := c.Fetch(ctx, rawURL, FetchOptions{
		Monitor:  monitor,
		MaxBytes: c.opts.MaxImageBytes,
		Accept:   "image/webp,image/png,image/jpeg,image/gif;q=0.9,*/*;q=0.5",
	})
	if err != nil || capt.Status < 200 || capt.Status > 299 {
		return capt, err
	}
	if !strings.HasPrefix(capt.SniffedType, "image/") {
		return capt, fmt.Errorf("fetch image: %w (sniffed %s)", ErrNotImage, capt.SniffedType)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(capt.Body))
	if err != nil {
		return capt, fmt.Errorf("fetch image: %w: header: %v", ErrNotImage, err)
	}
	capt.ImageFormat, capt.ImageWidth, capt.ImageHeight = format, cfg.Width, cfg.Height
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > c.opts.MaxPixels {
		return capt, fmt.Errorf("fetch image: %w: %d×%d", ErrTooManyPixels, cfg.Width, cfg.Height)
	}
	return capt, nil
}
