package main

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// net/http's own messages (a failed TLS handshake, a panic) name the client's address: the
// server's error log drops it.
func TestServerErrorLogDropsClientAddresses(t *testing.T) {
	var buf bytes.Buffer
	l := serverErrorLog(slog.NewTextHandler(&buf, nil), slog.LevelWarn)
	l.Printf("http: TLS handshake error from 203.0.113.5:51234: EOF")
	l.Printf("http: panic serving [2001:db8::1%%eth0]:443: boom")
	l.Printf("http2: server: error reading preface from client 198.51.100.7:9: bogus")
	out := buf.String()
	for _, a := range []string{"203.0.113.5", "2001:db8", "198.51.100.7"} {
		if strings.Contains(out, a) {
			t.Fatalf("client address %s in the log:\n%s", a, out)
		}
	}
	if strings.Count(out, "[client]") != 3 || !strings.Contains(out, "level=WARN") || !strings.Contains(out, "TLS handshake error") {
		t.Fatalf("log:\n%s", out)
	}

	// The real thing: a TLS server that a plain-text client talks to.
	var sb syncBuf
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = serverErrorLog(slog.NewTextHandler(&sb, nil), slog.LevelWarn)
	srv.StartTLS()
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(sb.String(), "handshake") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := sb.String(); !strings.Contains(got, "handshake") || strings.Contains(got, "127.0.0.1") {
		t.Fatalf("handshake error log:\n%s", got)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
