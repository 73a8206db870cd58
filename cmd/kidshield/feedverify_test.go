package main

import (
	"bytes"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/feed/httpfeed"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

type feedVerifyAuth struct{}

func (feedVerifyAuth) Session(*http.Request) (*web.Principal, error) { return nil, nil }
func (feedVerifyAuth) Token(_ *http.Request, tok string) (*web.Principal, error) {
	if tok == "ks_vendor" {
		return &web.Principal{TokenID: 1, Name: "vendor", Scopes: []string{httpfeed.Scope}}, nil
	}
	return nil, nil
}

// feedVerifyEnv serves a feed of two entries; it returns the server and the public key's PEM.
func feedVerifyEnv(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "ks.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var users []int64
	for _, l := range []string{"alice", "bob"} {
		id, err := st.CreateUser(ctx, store.User{Login: l, Name: l, Roles: []string{"analyst"}, PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, id)
	}
	for _, e := range []struct{ kind, value string }{{store.ListDomain, "bad.example"}, {store.ListHost, "exact.example"}} {
		id, err := st.ProposeListEntry(ctx, store.ListProposal{Kind: e.kind, Value: e.value, Category: "hotline", ActorID: users[0]})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.ChangeListEntry(ctx, id, store.ListChange{To: lifecycle.ListActive, ActorID: users[1]}); err != nil {
			t.Fatal(err)
		}
	}
	k, err := httpfeed.LoadSigner(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Feed{Zone: "rpz.kidshield.test.", Action: "nxdomain", TTL: time.Minute, Refresh: time.Hour, Retry: time.Minute, Expire: 24 * time.Hour}
	h := httpfeed.New(httpfeed.Options{Store: st, Config: func() *config.Feed { return &cfg }, Signer: k, Logger: log})
	srv := web.New(web.Options{Auth: feedVerifyAuth{}, Logger: log})
	srv.Handle(h.Routes()...)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts, k.PublicPEM()
}

func feedDownload(t *testing.T, base, name, dir string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/feed/v1/"+name, nil)
	req.Header.Set("Authorization", "Bearer ks_vendor")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s %v", name, resp.Status, err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFeedVerify(t *testing.T) {
	ts, pemKey := feedVerifyEnv(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "feed.pub")
	if err := os.WriteFile(keyFile, []byte(pemKey), 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := feedDownload(t, ts.URL, "manifest.json", dir)
	files := []string{feedDownload(t, ts.URL, "all.domains.txt", dir), feedDownload(t, ts.URL, "rpz.zone", dir), feedDownload(t, ts.URL, "hotline.json", dir)}

	feed := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(append([]string{"feed", "verify"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errs := feed(append([]string{"--key", keyFile, "--manifest", manifest}, files...)...); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("good files: %d %s %s", code, out, errs)
	}
	// The key given as base64 of the raw 32 bytes.
	pub, err := httpfeed.ParsePublicKey(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errs := feed("--key", base64.StdEncoding.EncodeToString(pub), "--manifest", manifest, files[0]); code != 0 {
		t.Fatalf("base64 key: %d %s", code, errs)
	}

	// A tampered file is named.
	b, _ := os.ReadFile(files[0])
	if err := os.WriteFile(files[0], bytes.Replace(b, []byte("bad.example"), []byte("bad.examplf"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := feed(append([]string{"--key", keyFile, "--manifest", manifest}, files...)...); code != 1 || !strings.Contains(errs, "all.domains.txt") || !strings.Contains(errs, "sha256") {
		t.Errorf("tampered file: %d %s", code, errs)
	}
	// A file the manifest does not know.
	other := filepath.Join(dir, "other.txt")
	os.WriteFile(other, []byte("x"), 0o644)
	if code, _, errs := feed("--key", keyFile, "--manifest", manifest, other); code != 1 || !strings.Contains(errs, "other.txt") {
		t.Errorf("unknown file: %d %s", code, errs)
	}
	// A tampered manifest (a digest replaced so the tampered file would pass).
	mb, _ := os.ReadFile(manifest)
	tm := filepath.Join(dir, "tampered.json")
	tampered := regexp.MustCompile(`"entries": [0-9]+`).ReplaceAll(mb, []byte(`"entries": 99999`))
	if bytes.Equal(tampered, mb) {
		t.Fatal("the test could not tamper with the manifest")
	}
	os.WriteFile(tm, tampered, 0o644)
	if code, _, errs := feed("--key", keyFile, "--manifest", tm); code != 1 || !strings.Contains(errs, "signature") {
		t.Errorf("tampered manifest: %d %s", code, errs)
	}

	// Download and verify.
	if code, out, errs := feed("--key", keyFile, "--url", ts.URL+"/feed/v1", "--token", "ks_vendor"); code != 0 ||
		!strings.Contains(out, "rpz.zone: ok") || !strings.Contains(out, "all.adblock.txt: ok") {
		t.Errorf("--url: %d %s %s", code, out, errs)
	}
	out := t.TempDir()
	if code, stdout, errs := feed("--key", keyFile, "--url", ts.URL+"/feed/v1/", "--token", "ks_vendor", "--out", out, "hotline.hosts.txt"); code != 0 || !strings.Contains(stdout, "1 file(s)") {
		t.Errorf("--url one file: %d %s %s", code, stdout, errs)
	}
	// What --out saved verifies offline.
	if code, _, errs := feed("--key", keyFile, "--manifest", filepath.Join(out, "manifest.json"), filepath.Join(out, "hotline.hosts.txt")); code != 0 {
		t.Errorf("saved files: %d %s", code, errs)
	}
	if code, _, errs := feed("--key", keyFile, "--url", ts.URL+"/feed/v1", "--token", "ks_wrong"); code != 1 || !strings.Contains(errs, "401") {
		t.Errorf("--url bad token: %d %s", code, errs)
	}
	// Signed by another key.
	k2, _ := httpfeed.LoadSigner(t.TempDir())
	if code, _, errs := feed("--key", k2.PublicPEM(), "--url", ts.URL+"/feed/v1", "--token", "ks_vendor"); code != 1 || !strings.Contains(errs, "signature") {
		t.Errorf("--url other key: %d %s", code, errs)
	}
	if code, _, _ := feed("--manifest", manifest); code != 2 {
		t.Errorf("no key: %d", code)
	}
}
