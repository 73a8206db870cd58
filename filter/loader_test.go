package filter

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func has(t *testing.T, l interface{ Lookup([]byte) (bool, bool) }, name string) bool {
	t.Helper()
	b, _ := l.Lookup([]byte(name))
	return b
}

func TestLoaderReusesUnchangedFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	os.WriteFile(a, []byte("a.example\n"), 0o600)
	os.WriteFile(b, []byte("b.example\nnot a domain!\n"), 0o600)
	cfgs := []config.List{
		{Name: "a", Category: "adult", Source: a, Format: "auto", Refresh: time.Hour},
		{Name: "b", Category: "gambling", Source: b, Format: "auto", Refresh: time.Hour},
	}
	l := NewLoader(dir, quietLog())
	first, err := l.Load(context.Background(), cfgs, false)
	if err != nil {
		t.Fatal(err)
	}
	if !has(t, first["a"], "www.a.example") || !has(t, first["b"], "b.example") {
		t.Fatal("lists not loaded")
	}
	for _, s := range l.Status() {
		if s.Name == "b" && (s.Bad != 1 || len(s.Errors) != 1 || s.Errors[0].Line != 2) {
			t.Fatalf("bad line not reported with its number: %+v", s)
		}
	}
	// Change b only: a must be the very same compiled list.
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(b, []byte("b.example\nb2.example\n"), 0o600)
	second, err := l.Load(context.Background(), cfgs, true)
	if err != nil {
		t.Fatal(err)
	}
	if second["a"] != first["a"] {
		t.Fatal("unchanged list a was recompiled")
	}
	if second["b"] == first["b"] || !has(t, second["b"], "b2.example") {
		t.Fatal("changed list b was not reloaded")
	}
	// b disappears: the error names it, and the last good copy is still returned.
	os.Remove(b)
	third, err := l.Load(context.Background(), cfgs, true)
	if err == nil {
		t.Fatal("missing file not reported")
	}
	if third["b"] != second["b"] {
		t.Fatal("last good copy of b dropped")
	}
}

func TestLoaderURLConditionalAndOffline(t *testing.T) {
	var hits, notModified atomic.Int64
	body := "x.example\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("If-None-Match") == `"v1"` {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, body)
	}))
	dir := t.TempDir()
	cfgs := []config.List{{Name: "u", Category: "adult", Source: srv.URL + "/list.txt?key=secret", Format: "domains", Refresh: time.Hour}}
	l := NewLoader(dir, quietLog())
	got, err := l.Load(context.Background(), cfgs, false)
	if err != nil || !has(t, got["u"], "x.example") {
		t.Fatalf("download: %v", err)
	}
	// Not due: no request. Forced: conditional request, 304, same list.
	if _, err := l.Load(context.Background(), cfgs, false); err != nil || hits.Load() != 1 {
		t.Fatalf("refreshed before due: %d hits", hits.Load())
	}
	again, err := l.Load(context.Background(), cfgs, true)
	if err != nil || notModified.Load() != 1 || again["u"] != got["u"] {
		t.Fatalf("conditional refresh: %v, 304s %d", err, notModified.Load())
	}
	for _, s := range l.Status() {
		if s.Source != srv.URL+"/list.txt?…" {
			t.Fatalf("list URL query not redacted: %s", s.Source)
		}
	}
	// A new process with the network gone starts from the copy on disk.
	srv.Close()
	l2 := NewLoader(dir, quietLog())
	offline, err := l2.Load(context.Background(), cfgs, false)
	if err != nil {
		t.Fatalf("offline start with a cached copy failed: %v", err)
	}
	if !has(t, offline["u"], "x.example") {
		t.Fatal("cached copy not used")
	}
	// Without a cached copy and without network: an error, no list.
	l3 := NewLoader(t.TempDir(), quietLog())
	if got, err := l3.Load(context.Background(), cfgs, false); err == nil || got["u"] != nil {
		t.Fatal("no error for a list that could not be loaded at all")
	}
}

func TestLoaderKeepsLastGoodOnBadDownload(t *testing.T) {
	var broken atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() {
			io.WriteString(w, "<html>rate limited</html>\n\x00\x00\n")
			return
		}
		io.WriteString(w, "good.example\n")
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfgs := []config.List{{Name: "u", Category: "adult", Source: srv.URL, Format: "domains", Refresh: time.Hour}}
	l := NewLoader(dir, quietLog())
	first, err := l.Load(context.Background(), cfgs, false)
	if err != nil {
		t.Fatal(err)
	}
	broken.Store(true)
	second, err := l.Load(context.Background(), cfgs, true)
	if err != nil {
		t.Fatalf("a bad download with a good copy should keep the copy quietly: %v", err)
	}
	if second["u"] != first["u"] {
		t.Fatal("a download with no valid rule replaced the good list")
	}
	b, _ := os.ReadFile(filepath.Join(dir, "lists", "u.txt"))
	if string(b) != "good.example\n" {
		t.Fatalf("disk copy overwritten: %q", b)
	}
}
