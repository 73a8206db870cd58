package httpfeed

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// policyEnv is newEnv with a control node's profiles published: cfg is what a reload would
// replace.
type policyEnv struct {
	*env
	mu  sync.Mutex
	cfg *config.Config
}

func newPolicyEnv(t *testing.T, yaml string) *policyEnv {
	t.Helper()
	e := newEnv(t)
	pe := &policyEnv{env: e}
	pe.setConfig(yaml)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.h = New(Options{Store: e.st, Config: feedConfig, Categories: func() []string { return []string{"hotline", "adult"} },
		Signer: e.key, Logger: log, Now: func() time.Time { return e.now },
		Policy: func() ([]byte, error) {
			pe.mu.Lock()
			defer pe.mu.Unlock()
			return pe.cfg.PolicyYAML()
		}})
	e.srv = web.New(web.Options{Logger: log, Auth: fakeAuth{
		"ks_vendor": {TokenID: 7, Name: "vendor", Scopes: []string{"feed:read"}},
		"ks_other":  {TokenID: 8, Name: "other", Scopes: []string{"reports:submit"}},
		"ks_node":   {TokenID: 19, Name: "filter node", Scopes: []string{"feed:read", "policy:read"}},
	}})
	e.srv.Handle(e.h.Routes()...)
	return pe
}

func (pe *policyEnv) setConfig(yaml string) {
	pe.t.Helper()
	c, err := config.Parse([]byte(yaml))
	if err != nil {
		pe.t.Fatal(err)
	}
	pe.mu.Lock()
	pe.cfg = c
	pe.mu.Unlock()
}

// policy fetches the manifest and policy.yaml, checks one against the other and parses the
// document as a filter node would.
func (pe *policyEnv) policy() (*Manifest, []byte, *config.Policy) {
	pe.t.Helper()
	w := pe.get("/feed/v1/manifest.json", "ks_vendor")
	m, err := VerifyManifest(w.Body.Bytes(), pe.key.PublicKey())
	if err != nil {
		pe.t.Fatal(err)
	}
	f := m.File(PolicyFile)
	if f == nil {
		pe.t.Fatalf("manifest lists no %s: %+v", PolicyFile, m.Files)
	}
	pw := pe.get("/feed/v1/"+PolicyFile, "ks_node")
	if pw.Code != http.StatusOK || pw.Header().Get("Content-Type") != "application/yaml; charset=utf-8" {
		pe.t.Fatalf("GET %s: %d %v", PolicyFile, pw.Code, pw.Header())
	}
	if err := m.Check(PolicyFile, pw.Body.Bytes()); err != nil {
		pe.t.Fatal(err)
	}
	sum := sha256.Sum256(pw.Body.Bytes())
	if etag := `"` + hex.EncodeToString(sum[:]) + `"`; pw.Header().Get("ETag") != etag || f.SHA256 != etag[1:len(etag)-1] {
		pe.t.Errorf("ETag %s, manifest sha256 %s, body's %s", pw.Header().Get("ETag"), f.SHA256, etag)
	}
	p, err := config.ParsePolicy(pw.Body.Bytes())
	if err != nil {
		pe.t.Fatalf("the published policy does not parse: %v\n%s", err, pw.Body)
	}
	return m, pw.Body.Bytes(), p
}

const controlProfiles = `categories: [ads]
profiles:
  - id: family
    block_categories: [adult, ads]
    deny: [policy-deny.example]
default_profile: family
`

func TestPolicyPublished(t *testing.T) {
	pe := newPolicyEnv(t, controlProfiles)
	m1, body1, p := pe.policy()
	if p.DefaultProfile != "family" || len(p.Profiles) != 1 || p.Profiles[0].Deny[0] != "policy-deny.example" {
		t.Errorf("published policy: %+v", p)
	}
	cats := map[string]bool{}
	for _, c := range p.Categories {
		cats[c] = true
	}
	if !cats["ads"] || !cats["adult"] || !cats["hotline"] {
		t.Errorf("published categories %v, want the built-in ones and ads", p.Categories)
	}
	if w := pe.get("/feed/v1/"+PolicyFile, "ks_node", "If-None-Match", `"`+m1.File(PolicyFile).SHA256+`"`); w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match with the current digest: %d", w.Code)
	}

	// A reload that changes the profiles: a new digest in a new manifest, same list serial.
	pe.setConfig(`profiles:
  - id: family
    block_categories: [adult, gambling]
default_profile: family
`)
	m2, body2, p2 := pe.policy()
	if m2.Serial != m1.Serial {
		t.Errorf("the list serial moved (%d → %d): the test needs it fixed", m1.Serial, m2.Serial)
	}
	if m2.File(PolicyFile).SHA256 == m1.File(PolicyFile).SHA256 || string(body2) == string(body1) {
		t.Errorf("the manifest's policy digest did not change with the profiles")
	}
	if len(p2.Profiles[0].Deny) != 0 || p2.Profiles[0].BlockCategories[1] != "gambling" {
		t.Errorf("new policy not published: %+v", p2.Profiles[0])
	}
	// The same configuration read again (a SIGHUP that changed nothing) keeps the manifest.
	pe.setConfig(`profiles:
  - id: family
    block_categories: [adult, gambling]
default_profile: family
`)
	if m3, _, _ := pe.policy(); !m3.Generated.Equal(m2.Generated) || m3.File(PolicyFile).SHA256 != m2.File(PolicyFile).SHA256 {
		t.Errorf("an unchanged policy rebuilt the manifest")
	}

	// Downloads are audited like the other files.
	recs, err := pe.st.AuditList(t.Context(), store.AuditFilter{Action: "feed.download", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Object == "feed:"+PolicyFile {
			n++
		}
	}
	if n != 2 { // one per published document
		t.Errorf("%d audit records of %s, want 2", n, PolicyFile)
	}
}

func TestPolicyNeedsToken(t *testing.T) {
	pe := newPolicyEnv(t, controlProfiles)
	// A vendor's feed:read is not enough: the profiles hold families' client addresses and
	// device names; only the control node's filter nodes (policy:read) read them.
	for tok, want := range map[string]int{"": http.StatusUnauthorized, "ks_unknown": http.StatusUnauthorized, "ks_other": http.StatusForbidden,
		"ks_vendor": http.StatusForbidden, "ks_node": http.StatusOK} {
		if w := pe.get("/feed/v1/"+PolicyFile, tok); w.Code != want {
			t.Errorf("token %q: %d, want %d", tok, w.Code, want)
		}
	}
}

// A publisher without Options.Policy (a feed for vendors only) has no policy.yaml.
func TestNoPolicyWithoutOption(t *testing.T) {
	e := newEnv(t)
	m, err := VerifyManifest(e.get("/feed/v1/manifest.json", "ks_vendor").Body.Bytes(), e.key.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if m.File(PolicyFile) != nil {
		t.Errorf("manifest lists %s without a policy", PolicyFile)
	}
	if w := e.get("/feed/v1/"+PolicyFile, "ks_node"); w.Code != http.StatusNotFound {
		t.Errorf("GET %s: %d, want 404", PolicyFile, w.Code)
	}
}
