package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

const page = `<!doctype html><html><head><title>Trang thử</title></head>
<body><p>Xin chào</p><a href="/next">next</a><img src="/img.png"></body></html>`

func TestFetchCapture(t *testing.T) {
	var ua, cookie atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua.Store(r.Header.Get("User-Agent"))
		cookie.Store(r.Header.Get("Cookie"))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("ETag", `"v1"`)
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "secret"})
		fmt.Fprint(w, page)
	}))
	defer srv.Close()
	c := newTestClient(t, Options{}, srv)
	capt, err := c.Fetch(context.Background(), srv.URL+"/a?q=1#x", FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	checks := []struct {
		what      string
		got, want any
	}{
		{"requested", capt.RequestedURL, srv.URL + "/a?q=1"},
		{"final", capt.FinalURL, srv.URL + "/a?q=1"},
		{"status", capt.Status, 200},
		{"remote", capt.RemoteAddr, host},
		{"hops", len(capt.Hops), 1},
		{"bytes", capt.Bytes, int64(len(page))},
		{"sha256", capt.SHA256, sha([]byte(page))},
		{"sniffed", capt.SniffedType, "text/html; charset=utf-8"},
		{"etag", capt.Header.Get("ETag"), `"v1"`},
		{"set-cookie kept", capt.Header.Get("Set-Cookie"), ""},
		{"truncated", capt.Truncated, false},
		{"user agent", ua.Load(), DefaultUserAgent},
		{"is html", capt.IsHTML(), true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
	if capt.FetchedAt.IsZero() || capt.Duration <= 0 {
		t.Errorf("fetched at %v, duration %v", capt.FetchedAt, capt.Duration)
	}
	// A second fetch must not send the cookie the first response set: no jar.
	if _, err := c.Fetch(context.Background(), srv.URL+"/b", FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := cookie.Load(); got != "" {
		t.Errorf("cookie sent back: %q", got)
	}
}

func TestUserAgentConfigurable(t *testing.T) {
	var ua atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua.Store(r.Header.Get("User-Agent"))
	}))
	defer srv.Close()
	const mine = "kidshield-scanner/1.2 (+https://hotline.example.vn/scanner)"
	c := newTestClient(t, Options{UserAgent: mine}, srv)
	if _, err := c.Fetch(context.Background(), srv.URL, FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	if ua.Load() != mine {
		t.Errorf("user agent %q", ua.Load())
	}
	if c.agentToken != "kidshield-scanner" {
		t.Errorf("robots token %q", c.agentToken)
	}
	for _, bad := range []string{"x\r\nCookie: a", "no token", "/1.0"} {
		if _, err := New(Options{UserAgent: bad}); err == nil {
			t.Errorf("user agent %q accepted", bad)
		}
	}
}

// redirectServer serves /hop/N as a redirect to /hop/N-1 (cycling through the redirect
// statuses) and /hop/0 as the final page; every request and Cookie header is counted.
func redirectServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var cookies atomic.Int32
	statuses := []int{301, 302, 303, 307, 308}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Cookie") != "" {
			cookies.Add(1)
		}
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if n == 0 {
			fmt.Fprint(w, "final")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "n", Value: strconv.Itoa(n)})
		w.Header().Set("Location", fmt.Sprintf("/hop/%d", n-1))
		w.WriteHeader(statuses[n%len(statuses)])
	}))
	t.Cleanup(srv.Close)
	return srv, &cookies
}

func TestRedirectChain(t *testing.T) {
	srv, cookies := redirectServer(t)
	c := newTestClient(t, Options{}, srv)
	capt, err := c.Fetch(context.Background(), srv.URL+"/hop/5", FetchOptions{})
	if err != nil {
		t.Fatalf("five redirects: %v", err)
	}
	if len(capt.Hops) != 6 || capt.FinalURL != srv.URL+"/hop/0" || string(capt.Body) != "final" {
		t.Fatalf("hops %+v final %q body %q", capt.Hops, capt.FinalURL, capt.Body)
	}
	for i, h := range capt.Hops[:5] {
		if want := srv.URL + fmt.Sprintf("/hop/%d", 5-i); h.URL != want || !isRedirect(h.Status) || h.RemoteAddr == "" {
			t.Errorf("hop %d: %+v, want URL %s and a redirect status", i, h, want)
		}
	}
	if cookies.Load() != 0 {
		t.Errorf("cookies sent on %d redirects", cookies.Load())
	}
	capt, err = c.Fetch(context.Background(), srv.URL+"/hop/6", FetchOptions{})
	if !errors.Is(err, ErrTooManyRedirects) {
		t.Fatalf("six redirects: %v", err)
	}
	if capt == nil || len(capt.Hops) != 6 {
		t.Errorf("hops recorded before giving up: %+v", capt)
	}
}

// A redirect into a private range is refused at dial time even though this client may
// reach loopback: the allowance covers 127/8 and ::1 only. The refused destinations that
// are loopback servers of ours prove the refusal happened before any request reached them.
func TestRedirectIntoDeniedDestination(t *testing.T) {
	var victimHits atomic.Int32
	victim := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		victimHits.Add(1)
	}))
	defer victim.Close()
	vport := serverPort(t, victim)
	var target atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.Load().(string), http.StatusFound)
	}))
	defer srv.Close()
	c := newTestClient(t, Options{}, srv) // victim's port is not allowed
	cases := []struct {
		location string
		addr     string // in the BlockedError, when the refusal is the dialer's
	}{
		{"http://10.0.0.1/", "10.0.0.1:80"},
		{"http://169.254.169.254/latest/meta-data/", "169.254.169.254:80"},
		{"http://192.168.1.1/", "192.168.1.1:80"},
		{"https://[fd00::1]/", "[fd00::1]:443"},
		{"http://0.0.0.0/", "0.0.0.0:80"},
		{"http://[::ffff:10.0.0.1]/", "10.0.0.1:80"},
		{"http://[64:ff9b::a00:1]/", "[64:ff9b::a00:1]:80"},
		{fmt.Sprintf("http://127.0.0.1:%d/", vport), ""},                  // port not allowed
		{fmt.Sprintf("http://u:p@127.0.0.1:%d/", serverPort(t, srv)), ""}, // credentials
		{"ftp://127.0.0.1/", ""},
		{"file:///etc/passwd", ""},
	}
	for _, tc := range cases {
		target.Store(tc.location)
		capt, err := c.Fetch(context.Background(), srv.URL+"/start", FetchOptions{})
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("redirect to %s: got %v, want ErrBlocked", tc.location, err)
			continue
		}
		var be *BlockedError
		if tc.addr != "" && (!errors.As(err, &be) || be.Addr != tc.addr) {
			t.Errorf("redirect to %s: refusal %v, want one at dial time for %s", tc.location, err, tc.addr)
		}
		if capt == nil || len(capt.Hops) != 1 || capt.Hops[0].Status != http.StatusFound {
			t.Errorf("redirect to %s: hops %+v", tc.location, capt)
		}
	}
	if victimHits.Load() != 0 {
		t.Errorf("victim reached %d times", victimHits.Load())
	}
}

// The production guard (New, no allowance) refuses the addresses SCANNER.md names, with
// live servers listening where it can so that only the guard stands in the way; the same
// URLs through the test client succeed, which shows the servers were reachable.
func TestProductionGuardRefuses(t *testing.T) {
	var hits atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	srv4 := httptest.NewServer(h)
	defer srv4.Close()
	port := serverPort(t, srv4)
	srv6 := newServerOn(t, fmt.Sprintf("[::1]:%d", port), httptest.NewUnstartedServer(h))

	prod := newProdClient(t, srv4)
	testc := newTestClient(t, Options{}, srv4)
	cases := []struct {
		url       string
		reachable bool // a server of ours answers there, so the test client must succeed
	}{
		{fmt.Sprintf("http://127.0.0.1:%d/", port), true},
		{fmt.Sprintf("http://127.1.2.3:%d/", port), false},
		{fmt.Sprintf("http://localhost:%d/", port), true},
		{fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", port), true}, // connects as 127.0.0.1
		{fmt.Sprintf("http://0.0.0.0:%d/", port), false},
		{fmt.Sprintf("http://[::]:%d/", port), false},
		{fmt.Sprintf("http://[64:ff9b::7f00:1]:%d/", port), false},
		{fmt.Sprintf("http://[::1]:%d/", port), srv6 != nil},
		{"http://169.254.169.254/latest/meta-data/", false},
		{"http://10.0.0.1/", false},
		{"http://[fe80::1]/", false},
		{"http://224.0.0.1/", false},
		{"http://255.255.255.255/", false},
	}
	for _, tc := range cases {
		before := hits.Load()
		_, err := prod.Fetch(context.Background(), tc.url, FetchOptions{})
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("production %s: got %v, want ErrBlocked", tc.url, err)
		}
		var be *BlockedError
		if !errors.As(err, &be) || !strings.Contains(be.Reason, "denied range") {
			t.Errorf("production %s: %v is not an address refusal", tc.url, err)
		}
		if hits.Load() != before {
			t.Errorf("production %s: the server was reached", tc.url)
		}
		if tc.reachable {
			if _, err := testc.Fetch(context.Background(), tc.url, FetchOptions{}); err != nil {
				t.Errorf("test client %s: %v (the server should be reachable)", tc.url, err)
			}
		}
	}
}

func TestNoProxyFromEnvironment(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://proxy.example:3128")
	t.Setenv("HTTPS_PROXY", "http://proxy.example:3128")
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.transport.Proxy != nil {
		t.Error("transport has a proxy function")
	}
	if c.transport.TLSClientConfig.InsecureSkipVerify {
		t.Error("TLS verification off")
	}
}

func TestTLSVerified(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "tls")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	c := newTestClient(t, Options{}, srv)
	if _, err := c.Fetch(context.Background(), srv.URL, FetchOptions{}); err == nil {
		t.Fatal("a certificate from no known authority was accepted")
	}
	c = newTestClient(t, Options{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}, srv)
	capt, err := c.Fetch(context.Background(), srv.URL, FetchOptions{})
	if err != nil || string(capt.Body) != "tls" {
		t.Fatalf("with the server's CA: %v", err)
	}
}

func TestBodyCap(t *testing.T) {
	const max = 1000
	body := bytes.Repeat([]byte("0123456789"), 500) // 5000 bytes
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Write(body[:n])
	}))
	defer srv.Close()
	c := newTestClient(t, Options{MaxPageBytes: max}, srv)
	for _, tc := range []struct {
		n         int
		truncated bool
	}{{max - 1, false}, {max, false}, {max + 1, true}, {5000, true}} {
		capt, err := c.Fetch(context.Background(), fmt.Sprintf("%s/?n=%d", srv.URL, tc.n), FetchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		kept := min(tc.n, max)
		if capt.Truncated != tc.truncated || capt.Bytes != int64(kept) || capt.SHA256 != sha(body[:kept]) {
			t.Errorf("n=%d: truncated %v bytes %d sha %s…, want %v %d %s…", tc.n,
				capt.Truncated, capt.Bytes, capt.SHA256[:8], tc.truncated, kept, sha(body[:kept])[:8])
		}
	}
	// The per-fetch cap overrides the client's.
	capt, err := c.Fetch(context.Background(), srv.URL+"/?n=5000", FetchOptions{MaxBytes: 10})
	if err != nil || capt.Bytes != 10 || !capt.Truncated {
		t.Errorf("MaxBytes 10: %v %+v", err, capt)
	}
}

// Slow servers: one that never sends headers hits the header cap, one that sends headers
// and then stalls hits the total cap. Neither test measures time: each waits for the error.
func TestTimeCaps(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cancel" {
			started <- struct{}{}
		}
		if r.URL.Path == "/body" {
			w.Write([]byte("start"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	// If a cap did not work, the fetch would run into this outer deadline instead, whose
	// error is the caller's (context.DeadlineExceeded), not ErrTimeout.
	outer, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	c := newTestClient(t, Options{HeaderTimeout: 50 * time.Millisecond, Timeout: time.Hour}, srv)
	if _, err := c.Fetch(outer, srv.URL+"/headers", FetchOptions{}); !errors.Is(err, ErrTimeout) {
		t.Errorf("no headers: %v, want ErrTimeout", err)
	}
	c = newTestClient(t, Options{Timeout: 100 * time.Millisecond}, srv)
	if _, err := c.Fetch(outer, srv.URL+"/body", FetchOptions{}); !errors.Is(err, ErrTimeout) {
		t.Errorf("stalled body: %v, want ErrTimeout", err)
	}
	// The caller's own cancellation is reported as such, not as the client's cap.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started // the request is in flight
		cancel()
	}()
	c = newTestClient(t, Options{}, srv)
	_, err := c.Fetch(ctx, srv.URL+"/cancel", FetchOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestRobotsForMonitoringOnly(t *testing.T) {
	var robotsHits, privateHits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			robotsHits.Add(1)
			fmt.Fprint(w, "User-agent: *\nDisallow: /private\n\nUser-agent: kidshield-scanner\nDisallow: /nokid\n")
		case "/private":
			privateHits.Add(1)
		case "/jump":
			http.Redirect(w, r, "/nokid", http.StatusFound)
		}
	}))
	defer srv.Close()
	c := newTestClient(t, Options{}, srv)
	ctx := context.Background()
	// Our own group applies, so "*"'s /private rule does not; /nokid is ours.
	if _, err := c.Fetch(ctx, srv.URL+"/private", FetchOptions{Monitor: true}); err != nil {
		t.Errorf("monitor /private (only disallowed for others): %v", err)
	}
	if _, err := c.Fetch(ctx, srv.URL+"/nokid", FetchOptions{Monitor: true}); !errors.Is(err, ErrDisallowed) {
		t.Errorf("monitor /nokid: %v, want ErrDisallowed", err)
	}
	// Robots is checked on every hop: a redirect into a disallowed path is refused.
	if _, err := c.Fetch(ctx, srv.URL+"/jump", FetchOptions{Monitor: true}); !errors.Is(err, ErrDisallowed) {
		t.Errorf("monitor /jump → /nokid: %v, want ErrDisallowed", err)
	}
	// A report is fetched for review regardless.
	if capt, err := c.Fetch(ctx, srv.URL+"/nokid", FetchOptions{}); err != nil || capt.Status != 200 {
		t.Errorf("review /nokid: %v", err)
	}
	if n := robotsHits.Load(); n != 1 {
		t.Errorf("robots.txt fetched %d times, want 1 (cached)", n)
	}
	if privateHits.Load() != 1 {
		t.Errorf("/private hit %d times", privateHits.Load())
	}
}

func TestRobotsUnavailable(t *testing.T) {
	var hits atomic.Int32
	handler := func(robotsStatus int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" {
				w.WriteHeader(robotsStatus)
				return
			}
			hits.Add(1)
		}
	}
	down := httptest.NewServer(handler(http.StatusServiceUnavailable)) // 5xx: assume disallow all
	defer down.Close()
	missing := httptest.NewServer(handler(http.StatusNotFound)) // 4xx: no rules
	defer missing.Close()
	c := newTestClient(t, Options{}, down, missing)
	ctx := context.Background()
	if _, err := c.Fetch(ctx, down.URL+"/page", FetchOptions{Monitor: true}); !errors.Is(err, ErrDisallowed) {
		t.Errorf("robots 503: %v, want ErrDisallowed", err)
	}
	if hits.Load() != 0 {
		t.Errorf("page fetched despite robots 503")
	}
	if _, err := c.Fetch(ctx, missing.URL+"/page", FetchOptions{Monitor: true}); err != nil || hits.Load() != 1 {
		t.Errorf("robots 404: %v, want allowed", err)
	}
	// A refused origin is reported as refused, not as disallowed by a robots.txt that was
	// never read.
	if _, err := c.Fetch(ctx, "http://10.0.0.1/page", FetchOptions{Monitor: true}); !errors.Is(err, ErrBlocked) || errors.Is(err, ErrDisallowed) {
		t.Errorf("monitoring a private address: %v, want ErrBlocked", err)
	}
}

// The per-host limit is measured in the server: a counter of requests in flight, and a
// gate that lets one request finish only when as many as the limit allows are waiting. With
// a broken limiter all requests arrive together and the maximum exceeds the limit.
func TestHostConcurrency(t *testing.T) {
	const limit, n = 2, 8
	var inflight, maxSeen atomic.Int32
	gate := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := inflight.Add(1)
		for {
			m := maxSeen.Load()
			if cur <= m || maxSeen.CompareAndSwap(m, cur) {
				break
			}
		}
		<-gate
		inflight.Add(-1)
	}))
	defer srv.Close()
	c := newTestClient(t, Options{HostConcurrency: limit}, srv)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := c.Fetch(context.Background(), srv.URL, FetchOptions{})
			errs <- err
		})
	}
	for released := 0; released < n; released++ {
		want := int32(min(limit, n-released))
		for inflight.Load() < want {
			time.Sleep(time.Millisecond) // polling the counter; nothing is timed
		}
		gate <- struct{}{}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if m := maxSeen.Load(); m != limit {
		t.Errorf("at most %d requests in flight, want exactly the limit %d", m, limit)
	}
	if c.limiter.size() != 0 {
		t.Errorf("limiter remembers %d hosts with no interval", c.limiter.size())
	}
}

// gifHeader is a GIF's header and logical screen descriptor: enough for DecodeConfig.
func gifHeader(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	return append(b, 0, 0, 0)
}

func TestFetchImage(t *testing.T) {
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, image.NewGray(image.Rect(0, 0, 3, 2))); err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{
		"/ok.png":   pngBuf.Bytes(),
		"/bomb.gif": gifHeader(10000, 10000), // 100 MP declared in 13 bytes
		"/edge.gif": gifHeader(1000, 1000),
		"/fake.png": []byte("<html><body>not an image</body></html>"),
		"/big.png":  append(append([]byte{}, pngBuf.Bytes()...), make([]byte, 5000)...),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png") // declared, never trusted
		w.Write(bodies[r.URL.Path])
	}))
	defer srv.Close()
	c := newTestClient(t, Options{MaxPixels: 1000 * 1000, MaxImageBytes: 4096, MaxPageBytes: 10}, srv)
	ctx := context.Background()
	capt, err := c.FetchImage(ctx, srv.URL+"/ok.png", false)
	if err != nil || capt.ImageWidth != 3 || capt.ImageHeight != 2 || capt.ImageFormat != "png" ||
		capt.SHA256 != sha(pngBuf.Bytes()) || capt.Truncated {
		t.Errorf("ok.png: %v %+v", err, capt)
	}
	if _, err := c.FetchImage(ctx, srv.URL+"/bomb.gif", false); !errors.Is(err, ErrTooManyPixels) {
		t.Errorf("bomb.gif: %v, want ErrTooManyPixels", err)
	}
	if _, err := c.FetchImage(ctx, srv.URL+"/edge.gif", false); err != nil {
		t.Errorf("edge.gif (exactly the cap): %v", err)
	}
	if capt, err := c.FetchImage(ctx, srv.URL+"/fake.png", false); !errors.Is(err, ErrNotImage) || capt == nil {
		t.Errorf("fake.png: %v, want ErrNotImage with the capture", err)
	}
	capt, _ = c.FetchImage(ctx, srv.URL+"/big.png", false)
	if capt == nil || !capt.Truncated || capt.Bytes != 4096 {
		t.Errorf("big.png: image cap not applied: %+v", capt)
	}
}

// A page's images are fetched through the same client: same guard (an image on a private
// address is refused), same caps.
func TestFetchPageImages(t *testing.T) {
	var pngBuf bytes.Buffer
	png.Encode(&pngBuf, image.NewGray(image.Rect(0, 0, 4, 4)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			fmt.Fprint(w, `<html><body><img src="/a.png"><img srcset="/a.png 1x, http://10.0.0.1/b.png 2x"></body></html>`)
		case "/a.png":
			w.Write(pngBuf.Bytes())
		}
	}))
	defer srv.Close()
	c := newTestClient(t, Options{}, srv)
	ctx := context.Background()
	capt, err := c.Fetch(ctx, srv.URL, FetchOptions{})
	if err != nil || !capt.IsHTML() {
		t.Fatal(err, capt.SniffedType)
	}
	p := ExtractCapture(capt, ExtractLimits{})
	res := c.FetchImages(ctx, p.Images, false)
	if len(res) != 2 {
		t.Fatalf("results %+v", res)
	}
	if res[0].Err != nil || res[0].Capture.SHA256 != sha(pngBuf.Bytes()) {
		t.Errorf("a.png: %v", res[0].Err)
	}
	if !errors.Is(res[1].Err, ErrBlocked) {
		t.Errorf("image on 10.0.0.1: %v, want ErrBlocked", res[1].Err)
	}
}
