package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// NewAllowingLoopbackForTests opens loopback and nothing else; New, with the same options,
// still refuses the loopback server.
func TestNewAllowingLoopbackForTests(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := serverPort(t, srv)
	opts := Options{Ports: []int{80, 443, port}, HostInterval: -1}

	prod, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	loop, err := NewAllowingLoopbackForTests(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer loop.Close()

	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if _, err := prod.Fetch(context.Background(), url, FetchOptions{}); !errors.Is(err, ErrBlocked) {
		t.Fatalf("New reached loopback: %v", err)
	}
	if hits.Load() != 0 {
		t.Fatal("New reached the loopback server")
	}
	c, err := loop.Fetch(context.Background(), url, FetchOptions{})
	if err != nil || c.Status != http.StatusOK || hits.Load() != 1 {
		t.Fatalf("loopback client: %v (capture %+v, hits %d)", err, c, hits.Load())
	}
	for _, u := range []string{
		"http://10.0.0.1/", "http://172.16.0.1/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/",
		"http://100.64.0.1/", "http://[fc00::1]/", "http://[fe80::1]/", "http://0.0.0.0/", "http://[64:ff9b::7f00:1]/",
	} {
		_, err := loop.Fetch(context.Background(), u, FetchOptions{})
		var be *BlockedError
		if !errors.As(err, &be) || !strings.Contains(be.Reason, "denied range") {
			t.Errorf("loopback client %s: %v, want a denied-range refusal", u, err)
		}
	}
}
