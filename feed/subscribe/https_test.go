package subscribe

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/feed/httpfeed"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

type fakeAuth map[string]*web.Principal

func (fakeAuth) Session(*http.Request) (*web.Principal, error) { return nil, nil }
func (a fakeAuth) Token(_ *http.Request, tok string) (*web.Principal, error) {
	return a[tok], nil
}

func TestHTTPS(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "feed.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var users []int64
	for _, l := range []string{"alice", "bob"} {
		id, err := st.CreateUser(ctx, store.User{Login: l, Name: l, Roles: []string{"analyst"}, PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, id)
	}
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	add := func(kind, value, cat string) {
		id, err := st.ProposeListEntry(ctx, store.ListProposal{Kind: kind, Value: value, Category: cat, ActorID: users[0], Actor: "user:alice", Time: at})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.ChangeListEntry(ctx, id, store.ListChange{To: lifecycle.ListActive, ActorID: users[1], Actor: "user:bob", Time: at}); err != nil {
			t.Fatal(err)
		}
	}
	add(store.ListDomain, "bad.example", "hotline")
	add(store.ListHost, "cdn.shared.example", "adult")
	add(store.ListURL, "https://x.example/a", "hotline")

	signer, err := httpfeed.LoadSigner(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := httpfeed.New(httpfeed.Options{Store: st, Signer: signer, Logger: log})
	ws := web.New(web.Options{Logger: log, Auth: fakeAuth{"ks_node": {TokenID: 1, Name: "node", Scopes: []string{httpfeed.Scope}}}})
	ws.Handle(h.Routes()...)
	var tamper atomic.Bool
	var gets, notModified atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		r.Header.Del("Accept-Encoding") // plain bodies, so the test can tamper with them
		rec := httptest.NewRecorder()
		ws.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if tamper.Load() && strings.HasSuffix(r.URL.Path, httpfeed.ManifestName) && rec.Code == 200 {
			body = bytes.Replace(bytes.Replace(body, []byte(`"serial": `), []byte(`"serial":`), 1), []byte(`"serial":`), []byte(`"serial":9`), 1)
		}
		if rec.Code == http.StatusNotModified {
			notModified.Add(1)
		}
		maps.Copy(w.Header(), rec.Header())
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	defer srv.Close()

	dir := t.TempDir()
	newHTTPSub := func(key string) *Subscriber {
		s, err := New(Options{Subscribe: config.Subscribe{Source: srv.URL + "/feed/v1", Token: "ks_node", PublicKey: key},
			Dir: dir, Logger: testLog(t), HTTPClient: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := newHTTPSub(signer.PublicPEM())
	if changed, err := s.Refresh(ctx); err != nil || !changed {
		t.Fatalf("first download: %v %v", changed, err)
	}
	l := s.Current()
	wantHot := map[string]string{"bad.example": KindDomain, store.CanaryValue: KindDomain}
	if !maps.Equal(l.Cats["hotline"], wantHot) || !maps.Equal(l.Cats["adult"], map[string]string{"cdn.shared.example": KindHost}) {
		t.Fatalf("copy: %v", l.Cats)
	}
	serial, _ := st.ListSerial(ctx)
	if l.Serial != serial {
		t.Errorf("copy at %d, list at %d", l.Serial, serial)
	}
	hotGen, adultGen := l.Gen["hotline"], l.Gen["adult"]

	// Unchanged: the manifest is not modified (If-None-Match).
	if changed, err := s.Refresh(ctx); err != nil || changed || notModified.Load() != 1 {
		t.Fatalf("second refresh: %v %v, 304s %d", changed, err, notModified.Load())
	}

	// A change in one category: only its generation moves.
	add(store.ListDomain, "worse.example", "hotline")
	if changed, err := s.Refresh(ctx); err != nil || !changed {
		t.Fatalf("after a change: %v %v", changed, err)
	}
	l = s.Current()
	if l.Cats["hotline"]["worse.example"] != KindDomain || l.Gen["hotline"] == hotGen || l.Gen["adult"] != adultGen {
		t.Errorf("after a change: %v gens %v (were hotline %d adult %d)", l.Cats, l.Gen, hotGen, adultGen)
	}

	// A tampered manifest is refused: the copy stays.
	add(store.ListDomain, "tampered.example", "hotline")
	tamper.Store(true)
	if _, err := s.Refresh(ctx); !errors.Is(err, httpfeed.ErrBadSignature) {
		t.Errorf("tampered manifest: %v", err)
	}
	if s.Current() != l {
		t.Error("the copy changed after a tampered manifest")
	}
	tamper.Store(false)

	// Another publisher's key: refused too.
	other, _ := httpfeed.LoadSigner(t.TempDir())
	s2 := newHTTPSub(other.PublicPEM())
	if s2.Current() == nil || !maps.Equal(s2.Current().Cats["hotline"], l.Cats["hotline"]) {
		t.Fatalf("restart: disk copy %v", s2.Current())
	}
	if _, err := s2.Refresh(ctx); !errors.Is(err, httpfeed.ErrBadSignature) {
		t.Errorf("other key: %v", err)
	}
	if _, err := s.Refresh(ctx); err != nil || s.Current().Cats["hotline"]["tampered.example"] == "" {
		t.Errorf("after the tampering stopped: %v %v", err, s.Current().Cats)
	}
}
