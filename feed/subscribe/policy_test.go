package subscribe

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/feed/httpfeed"
	kshotline "github.com/kidshield/kidshield/hotline"
)

// fakeControl serves a signed manifest listing policy.yaml, as a control node's feed does, with
// ways to break it: another key's signature, a body that does not match the digest.
type fakeControl struct {
	t      *testing.T
	signer *kshotline.NoticeSigner
	srv    *httptest.Server

	mu       sync.Mutex
	manifest []byte
	policy   []byte // served as policy.yaml
	wrongKey bool   // sign with another key
	tamper   bool   // serve policy.yaml with a byte changed after signing

	manifestGets, notModified, policyGets atomic.Int32
}

func newSigner(t *testing.T) *kshotline.NoticeSigner {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return kshotline.NewNoticeSigner(priv)
}

func startControl(t *testing.T) *fakeControl {
	fc := &fakeControl{t: t, signer: newSigner(t)}
	fc.srv = httptest.NewServer(http.HandlerFunc(fc.serve))
	t.Cleanup(fc.srv.Close)
	return fc
}

// publish signs a manifest for doc.
func (fc *fakeControl) publish(doc string) {
	fc.t.Helper()
	signer := fc.signer
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.wrongKey {
		signer = newSigner(fc.t)
	}
	sum := sha256.Sum256([]byte(doc))
	m := httpfeed.Manifest{Format: httpfeed.ManifestFormat, Serial: 7, Generated: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), Zone: "rpz.example.",
		KeyID: signer.KeyID(), Files: []httpfeed.ManifestFile{{Name: httpfeed.PolicyFile, Size: int64(len(doc)), SHA256: hex.EncodeToString(sum[:])}}}
	b, err := signer.Sign(m)
	if err != nil {
		fc.t.Fatal(err)
	}
	fc.manifest, fc.policy = b, []byte(doc)
	if fc.tamper {
		fc.policy = bytes.Replace(fc.policy, []byte("family"), []byte("famile"), 1)
	}
}

func (fc *fakeControl) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer ks_node" {
		http.Error(w, "no", http.StatusUnauthorized)
		return
	}
	fc.mu.Lock()
	manifest, policy := fc.manifest, fc.policy
	fc.mu.Unlock()
	var body []byte
	switch r.URL.Path {
	case "/feed/v1/" + httpfeed.ManifestName:
		fc.manifestGets.Add(1)
		body = manifest
	case "/feed/v1/" + httpfeed.PolicyFile:
		fc.policyGets.Add(1)
		body = policy
	default:
		http.NotFound(w, r)
		return
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		fc.notModified.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(body)
}

func (fc *fakeControl) url() string { return fc.srv.URL + "/feed/v1" }

func (fc *fakeControl) newSub(t *testing.T, dir string, log *slog.Logger, onChange func(*Policy)) *PolicySubscriber {
	t.Helper()
	s, err := NewPolicy(PolicyOptions{URL: fc.url(), Token: "ks_node", PublicKey: fc.signer.PublicPEM(), Dir: dir,
		Refresh: 10 * time.Millisecond, Logger: log, OnChange: onChange})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const familyPolicy = `default_profile: family
profiles:
  - id: family
    block_categories: [adult, ads]
    deny: [policy-deny.example]
categories: [adult, hotline, ads]
`

func TestPolicySubscribe(t *testing.T) {
	fc := startControl(t)
	fc.publish(familyPolicy)
	dir := t.TempDir()
	var changes []*Policy
	s := fc.newSub(t, dir, testLog(t), func(p *Policy) { changes = append(changes, p) })
	if s.Current() != nil {
		t.Fatal("a policy before the first refresh")
	}
	changed, err := s.Refresh(t.Context())
	if err != nil || !changed {
		t.Fatalf("first refresh: %v %v", changed, err)
	}
	sum := sha256.Sum256([]byte(familyPolicy))
	cur := s.Current()
	if cur == nil || cur.Digest != hex.EncodeToString(sum[:]) || cur.DefaultProfile != "family" || cur.Profiles[0].Deny[0] != "policy-deny.example" {
		t.Fatalf("current: %+v", cur)
	}
	if len(changes) != 1 || changes[0] != cur {
		t.Errorf("OnChange: %d calls", len(changes))
	}
	copyBytes, err := os.ReadFile(filepath.Join(dir, PolicyCopyFile))
	if err != nil || !bytes.HasSuffix(copyBytes, []byte(familyPolicy)) {
		t.Fatalf("copy on disk: %v\n%s", err, copyBytes)
	}

	// Unchanged: the manifest is answered 304 and policy.yaml is not fetched again.
	gets := fc.policyGets.Load()
	if changed, err := s.Refresh(t.Context()); changed || err != nil {
		t.Errorf("refresh of an unchanged policy: %v %v", changed, err)
	}
	if fc.notModified.Load() != 1 || fc.policyGets.Load() != gets || len(changes) != 1 {
		t.Errorf("unchanged: %d 304s, %d policy GETs (had %d), %d changes", fc.notModified.Load(), fc.policyGets.Load(), gets, len(changes))
	}

	// A new document is taken.
	next := strings.Replace(familyPolicy, "policy-deny.example", "other-deny.example", 1)
	fc.publish(next)
	if changed, err := s.Refresh(t.Context()); !changed || err != nil {
		t.Fatalf("refresh of a new policy: %v %v", changed, err)
	}
	if s.Current().Profiles[0].Deny[0] != "other-deny.example" || len(changes) != 2 {
		t.Errorf("new policy not taken: %+v", s.Current().Profiles[0])
	}

	// Restart with the control node down: the copy is read at once.
	fc.srv.Close()
	r := fc.newSub(t, dir, testLog(t), nil)
	if c := r.Current(); c == nil || c.Digest != s.Current().Digest || c.Profiles[0].Deny[0] != "other-deny.example" {
		t.Fatalf("restarted: %+v", c)
	}
	if _, err := r.Refresh(t.Context()); err == nil {
		t.Error("refresh with the control node down succeeded")
	}
	if r.Current() == nil {
		t.Error("a failed refresh dropped the copy")
	}
}

// Nothing that fails to verify or validate replaces the copy.
func TestPolicyRefusedKeepsCopy(t *testing.T) {
	for _, c := range []struct {
		name    string
		doc     string
		prepare func(*fakeControl)
		want    string
		is      error
	}{
		{name: "bad signature", doc: familyPolicy, prepare: func(fc *fakeControl) { fc.wrongKey = true }, is: httpfeed.ErrBadSignature},
		{name: "digest mismatch", doc: strings.Replace(familyPolicy, "policy-deny", "other-deny", 1), prepare: func(fc *fakeControl) { fc.tamper = true }, is: httpfeed.ErrMismatch},
		{name: "invalid YAML", doc: "profiles: [\n", want: ": 1: did not find expected node content"},
		{name: "unknown field", doc: familyPolicy + "colour: blue\n", want: `unknown field "colour"`},
		{name: "invalid profile", doc: strings.Replace(familyPolicy, "[adult, ads]", "[adult, porn]", 1), want: `unknown category "porn"`},
		{name: "no profiles", doc: "default_profile: family\n", want: "no profiles"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fc := startControl(t)
			fc.publish(familyPolicy)
			dir := t.TempDir()
			var buf syncBuffer
			s := fc.newSub(t, dir, slog.New(slog.NewTextHandler(&buf, nil)), nil)
			if _, err := s.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			good := s.Current()
			before, err := os.ReadFile(filepath.Join(dir, PolicyCopyFile))
			if err != nil {
				t.Fatal(err)
			}
			if c.prepare != nil {
				c.prepare(fc)
			}
			fc.publish(c.doc)
			_, err = s.Refresh(t.Context())
			if err == nil || (c.is != nil && !errors.Is(err, c.is)) || (c.want != "" && !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("refresh: %v, want %v %q", err, c.is, c.want)
			}
			if s.Current() != good {
				t.Errorf("the refused document replaced the current one")
			}
			after, err := os.ReadFile(filepath.Join(dir, PolicyCopyFile))
			if err != nil || !bytes.Equal(before, after) {
				t.Errorf("the copy on disk changed: %v", err)
			}

			// Polled again and again, the same refusal is logged once, and the copy stays.
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { defer close(done); s.Run(ctx) }()
			start := fc.manifestGets.Load()
			deadline := time.Now().Add(30 * time.Second)
			for fc.manifestGets.Load() < start+5 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			<-done
			if n := strings.Count(buf.String(), "profiles from the control node not refreshed"); n != 1 {
				t.Errorf("the refusal was logged %d times over %d polls, want once:\n%s", n, fc.manifestGets.Load()-start, buf.String())
			}
			if s.Current() != good {
				t.Errorf("polling replaced the current document")
			}
		})
	}
}

// A copy of another control node's policy (the URL changed) is not used.
func TestPolicyCopyOfAnotherSource(t *testing.T) {
	fc := startControl(t)
	fc.publish(familyPolicy)
	dir := t.TempDir()
	s := fc.newSub(t, dir, testLog(t), nil)
	if _, err := s.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	other, err := NewPolicy(PolicyOptions{URL: "https://other.example/feed/v1", Token: "ks_node", PublicKey: fc.signer.PublicPEM(), Dir: dir, Logger: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	if other.Current() != nil {
		t.Error("a copy of another source was used")
	}
	// And a copy this node cannot apply is not used either.
	refuse, err := NewPolicy(PolicyOptions{URL: fc.url(), Token: "ks_node", PublicKey: fc.signer.PublicPEM(), Dir: dir, Logger: testLog(t),
		Check: func(*config.Policy) error { return fmt.Errorf("too many categories") }})
	if err != nil {
		t.Fatal(err)
	}
	if refuse.Current() != nil {
		t.Error("a copy refused by Check was used")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
