package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/kidshield/kidshield/scanner/fetch"
)

// FailureKind reads the errors the fetch client really returns: each case below is produced by
// a fetch (against a loopback test site where one is needed) unless the client cannot be made
// to produce it here, in which case the error is wrapped the way the client wraps it.
func TestFailureKind(t *testing.T) {
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nDisallow: /\n")
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/slow":
			<-r.Context().Done() // answers only when the client gives up
		case "/page":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html><body>not an image</body></html>")
		}
	}))
	t.Cleanup(site.Close)
	tlsSite := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tlsSite.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	tlsSite.StartTLS()
	t.Cleanup(tlsSite.Close)
	port := func(s *httptest.Server) int {
		u, _ := url.Parse(s.URL)
		n, _ := strconv.Atoi(u.Port())
		return n
	}
	loop, err := fetch.NewAllowingLoopbackForTests(fetch.Options{Ports: []int{80, 443, port(site), port(tlsSite)}, HostInterval: -1,
		Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(loop.Close)
	strict, err := fetch.New(fetch.Options{HostInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(strict.Close)
	ctx := t.Context()
	fetchErr := func(c *fetch.Client, raw string, monitor bool) error {
		_, err := c.Fetch(ctx, raw, fetch.FetchOptions{Monitor: monitor})
		if err == nil {
			t.Fatalf("fetch %s: no error", raw)
		}
		return err
	}
	imageErr := func(raw string) error {
		_, err := loop.FetchImage(ctx, raw, false)
		if err == nil {
			t.Fatalf("fetch image %s: no error", raw)
		}
		return err
	}
	// A dial refused at the port: the URL's own check lets it through when the port is
	// allowed, so only the guard's own ports differ; this is the error the guard returns.
	dialPort := fmt.Errorf("fetch 203.0.113.9: %w", &url.Error{Op: "Get", URL: "http://203.0.113.9:8080/",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: &fetch.BlockedError{Addr: "203.0.113.9:8080", Reason: "port 8080 not allowed", Port: true}}})
	notFound := fmt.Errorf("fetch nothing.invalid: %w", &net.OpError{Op: "dial", Net: "tcp",
		Err: &net.DNSError{Err: "no such host", Name: "nothing.invalid", IsNotFound: true}})
	dnsBroken := fmt.Errorf("fetch example.vn: %w", &net.OpError{Op: "dial", Net: "tcp",
		Err: &net.DNSError{Err: "server misbehaving", Name: "example.vn", IsTemporary: true}})

	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"private range", fetchErr(strict, "http://10.1.2.3/a", false), FailPrivate},
		{"loopback", fetchErr(strict, "http://127.0.0.1/a", false), FailPrivate},
		{"link-local IPv6", fetchErr(strict, "http://[fe80::1]/", false), FailPrivate},
		{"URL port", fetchErr(strict, "http://203.0.113.9:8080/a", false), FailPort},
		{"dial port", dialPort, FailPort},
		{"scheme", fetchErr(strict, "ftp://example.vn/a", false), FailBadURL},
		{"credentials", fetchErr(strict, "http://u:p@example.vn/a", false), FailBadURL},
		{"no host", fetchErr(strict, "http:///a", false), FailBadURL},
		{"robots", fetchErr(loop, site.URL+"/page", true), FailDisallowed},
		{"redirect loop", fetchErr(loop, site.URL+"/loop", false), FailRedirects},
		{"slow site", fetchErr(loop, site.URL+"/slow", false), FailTimeout},
		{"job deadline", fmt.Errorf("scanner: %w", context.DeadlineExceeded), FailTimeout},
		{"certificate", fetchErr(loop, tlsSite.URL+"/", false), FailTLS},
		{"not an image", imageErr(site.URL + "/page"), FailNotImage},
		{"pixels", fmt.Errorf("fetch image: %w: %d×%d", fetch.ErrTooManyPixels, 9000, 9000), FailTooLarge},
		{"no such name", notFound, FailDNS},
		{"resolver trouble", dnsBroken, FailOther},
		{"something else", errors.New("store: add evidence: database is locked"), FailOther},
	} {
		got := FailureKind(tc.err)
		if got != tc.want {
			t.Errorf("%s: FailureKind(%v) = %q, want %q", tc.name, tc.err, got, tc.want)
		}
		if !slices.Contains(FailureKinds, got) {
			t.Errorf("%s: kind %q is not in FailureKinds", tc.name, got)
		}
	}
	if k := FailureKind(nil); k != "" {
		t.Errorf("FailureKind(nil) = %q", k)
	}
}
