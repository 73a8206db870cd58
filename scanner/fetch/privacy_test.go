package fetch

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Paths and queries can carry personal data (a phone number in a link a child was sent):
// neither the log nor the errors may repeat them. The host is enough to operate.
func TestNoPathOrQueryInLogsOrErrors(t *testing.T) {
	const secret = "0912345678"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch "/" + first {
		case "/private":
			http.Redirect(w, r, "http://10.0.0.1/"+secret+"?p="+secret, http.StatusFound)
		case "/badloc":
			w.Header().Set("Location", "http://[::1/"+secret)
			w.WriteHeader(http.StatusFound)
		case "/slow":
			<-r.Context().Done()
		default:
			fmt.Fprint(w, "ok")
		}
	}))
	defer srv.Close()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestClient(t, Options{Logger: logger, HeaderTimeout: 50 * time.Millisecond}, srv)
	var errs []string
	for _, path := range []string{"/ok", "/private", "/badloc", "/slow"} {
		_, err := c.Fetch(context.Background(), srv.URL+path+"/"+secret+"?phone="+secret, FetchOptions{})
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, u := range []string{"http://127.0.0.1:1/" + secret + "?q=" + secret, "ftp://x/" + secret} {
		if _, err := c.Fetch(context.Background(), u, FetchOptions{}); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) != 5 {
		t.Fatalf("errors %q, want five", errs)
	}
	for _, e := range errs {
		if strings.Contains(e, secret) {
			t.Errorf("error repeats the path or query: %s", e)
		}
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("log repeats the path or query:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "host=127.0.0.1") || !strings.Contains(logs.String(), "status=200") {
		t.Errorf("log lacks host and status:\n%s", logs.String())
	}
}
