package subscribe

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/feed/httpfeed"
)

// fakeFeed serves a signed manifest and its all.json, as a publisher's HTTP feed does.
type fakeFeed struct {
	t        *testing.T
	mu       sync.Mutex
	manifest []byte
	all      []byte
}

// publish signs a version of the list: its serial, when it was signed and its names.
func (ff *fakeFeed) publish(sign func(any) ([]byte, error), keyID string, serial int64, generated time.Time, names ...string) (manifest, all []byte) {
	ff.t.Helper()
	doc := httpfeed.JSONList{List: "all", Serial: serial}
	for _, n := range names {
		doc.Entries = append(doc.Entries, httpfeed.JSONEntry{Kind: KindDomain, Value: n, Category: "hotline"})
	}
	all, err := json.Marshal(doc)
	if err != nil {
		ff.t.Fatal(err)
	}
	sum := sha256.Sum256(all)
	m := httpfeed.Manifest{Format: httpfeed.ManifestFormat, Serial: serial, Generated: generated, Zone: "rpz.example.", KeyID: keyID,
		Files: []httpfeed.ManifestFile{{Name: "all." + httpfeed.FormatJSON, Size: int64(len(all)), SHA256: hex.EncodeToString(sum[:])}}}
	manifest, err = sign(m)
	if err != nil {
		ff.t.Fatal(err)
	}
	ff.serve(manifest, all)
	return manifest, all
}

func (ff *fakeFeed) serve(manifest, all []byte) {
	ff.mu.Lock()
	ff.manifest, ff.all = manifest, all
	ff.mu.Unlock()
}

func (ff *fakeFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	switch r.URL.Path {
	case "/feed/v1/" + httpfeed.ManifestName:
		w.Write(ff.manifest)
	case "/feed/v1/all." + httpfeed.FormatJSON:
		w.Write(ff.all)
	default:
		http.NotFound(w, r)
	}
}

// Whoever serves the feed without the key (a proxy, a compromised web host) must not be able to
// replay an old signed manifest and its list: that would unblock what was added since.
func TestHTTPSReplayRefusedSec(t *testing.T) {
	signer := newSigner(t)
	sign := func(v any) ([]byte, error) { return signer.Sign(v) }
	ff := &fakeFeed{t: t}
	srv := httptest.NewServer(ff)
	t.Cleanup(srv.Close)
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	oldM, oldAll := ff.publish(sign, signer.KeyID(), 5, t0, "bad.example")
	newSubscriber := func(dir string) *Subscriber {
		s, err := New(Options{Subscribe: config.Subscribe{Source: srv.URL + "/feed/v1", Token: "ks_node", PublicKey: signer.PublicPEM(), Refresh: time.Hour},
			Dir: dir, Logger: testLog(t)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	dir := t.TempDir()
	s := newSubscriber(dir)
	if _, err := s.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	ff.publish(sign, signer.KeyID(), 9, t0.Add(time.Hour), "bad.example", "new.example")
	if _, err := s.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The replay, to the running node and to one restarted from its copy.
	ff.serve(oldM, oldAll)
	for _, sub := range []*Subscriber{s, newSubscriber(dir)} {
		if _, err := sub.Refresh(t.Context()); !errors.Is(err, errReplay) {
			t.Errorf("replayed manifest of serial 5: %v, want it refused", err)
		}
		if c := sub.Current(); c == nil || c.Serial != 9 || hotline(c)["new.example"] == "" {
			t.Errorf("the copy went back: %+v", c)
		}
	}
	// A publisher restored from a backup signs its lower serial now: taken.
	ff.publish(sign, signer.KeyID(), 3, t0.Add(2*time.Hour), "bad.example", "restored.example")
	if changed, err := s.Refresh(t.Context()); err != nil || !changed || s.Current().Serial != 3 {
		t.Errorf("restored publisher's serial 3: %v %v", changed, err)
	}
}

// The same for the control node's profiles: a replayed manifest must not bring back old ones.
func TestPolicyReplayRefusedSec(t *testing.T) {
	fc := startControl(t)
	const older = "default_profile: family\nprofiles:\n  - id: family\n    block_categories: [adult]\ncategories: [adult, hotline]\n"
	sign := func(serial int64, gen time.Time, doc string) {
		sum := sha256.Sum256([]byte(doc))
		m := httpfeed.Manifest{Format: httpfeed.ManifestFormat, Serial: serial, Generated: gen, Zone: "rpz.example.", KeyID: fc.signer.KeyID(),
			Files: []httpfeed.ManifestFile{{Name: httpfeed.PolicyFile, Size: int64(len(doc)), SHA256: hex.EncodeToString(sum[:])}}}
		b, err := fc.signer.Sign(m)
		if err != nil {
			t.Fatal(err)
		}
		fc.mu.Lock()
		fc.manifest, fc.policy = b, []byte(doc)
		fc.mu.Unlock()
	}
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	sign(5, t0, older)
	oldManifest, oldPolicy := fc.manifest, fc.policy
	p := fc.newSub(t, t.TempDir(), testLog(t), nil)
	if _, err := p.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	sign(9, t0.Add(time.Hour), familyPolicy)
	if _, err := p.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	fc.mu.Lock()
	fc.manifest, fc.policy = oldManifest, oldPolicy
	fc.mu.Unlock()
	if _, err := p.Refresh(t.Context()); !errors.Is(err, errReplay) {
		t.Errorf("replayed manifest: %v, want it refused", err)
	}
	if got := p.Current(); got == nil || string(got.Raw) != familyPolicy {
		t.Errorf("the profiles went back")
	}
}
