package fetch

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Hostile servers: an endless body, a gzip bomb, oversized headers. Each must end in a
// capped capture or an error, never in unbounded reading.
func TestHostileServers(t *testing.T) {
	chunk := bytes.Repeat([]byte("A"), 32<<10)
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	for range 64 { // 2 MiB of zeros, compressed to about 2 KiB
		zw.Write(make([]byte, 32<<10))
	}
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/endless":
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case "/gzip":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(bomb.Bytes())
		case "/headers":
			w.Header().Set("X-Big", strings.Repeat("h", 100<<10))
		}
	}))
	defer srv.Close()
	const max = 64 << 10
	c := newTestClient(t, Options{MaxPageBytes: max}, srv)
	ctx := context.Background()

	capt, err := c.Fetch(ctx, srv.URL+"/endless", FetchOptions{})
	if err != nil || !capt.Truncated || capt.Bytes != max {
		t.Errorf("endless body: %v, %+v", err, capt)
	}
	// The cap counts bytes after decompression: 2 KiB on the wire would be 2 MiB read.
	capt, err = c.Fetch(ctx, srv.URL+"/gzip", FetchOptions{})
	if err != nil || !capt.Truncated || capt.Bytes != max || capt.SHA256 != sha(make([]byte, max)) {
		t.Errorf("gzip bomb: %v, %+v", err, capt)
	}
	if _, err := c.Fetch(ctx, srv.URL+"/headers", FetchOptions{}); err == nil {
		t.Error("100 KiB of headers accepted")
	}
}
