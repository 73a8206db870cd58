package fetch

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// What a fetched site learns of the scanner is its User-Agent and what it asked for: no
// Referer naming the previous hop (or the hotline), no cookie it set on an earlier hop, no
// header carrying anything of the report or the case.
func TestFetchSendsNothingOfTheReport(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		if r.URL.Path == "/start" {
			http.SetCookie(w, &http.Cookie{Name: "track", Value: "abc"})
			http.Redirect(w, r, "/end", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>x</body></html>"))
	}))
	t.Cleanup(srv.Close)
	c := newTestClient(t, Options{UserAgent: "kidshield-scanner/test (+https://operator.example/scanner)"}, srv)
	if _, err := c.Fetch(t.Context(), srv.URL+"/start?case=K-2026-0001&email=a@b.example", FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2", len(got))
	}
	allowed := map[string]bool{"User-Agent": true, "Accept": true, "Accept-Encoding": true}
	for i, h := range got {
		for k := range h {
			if !allowed[k] {
				t.Errorf("request %d sent header %s: %q", i, k, h.Values(k))
			}
		}
		if ua := h.Get("User-Agent"); ua != "kidshield-scanner/test (+https://operator.example/scanner)" {
			t.Errorf("request %d User-Agent %q", i, ua)
		}
	}
}
