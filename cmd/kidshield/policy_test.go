package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/feed/subscribe"
	"github.com/kidshield/kidshield/hotline"
)

const ctlURL = "https://ctl.example/feed/v1"

// policyApp is an app whose profile subscriber holds doc (as the copy a restarted node reads).
func policyApp(t *testing.T, doc string, log io.Writer) *app {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, subscribe.PolicyCopyFile), []byte("# kidshield policy from "+ctlURL+"\n"+doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := subscribe.NewPolicy(subscribe.PolicyOptions{URL: ctlURL, Token: "ks_x", PublicKey: hotline.NewNoticeSigner(priv).PublicPEM(), Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Current() == nil {
		t.Fatal("the copy was not read")
	}
	a := &app{log: slog.New(slog.NewTextHandler(log, nil))}
	a.pol.sub = sub
	return a
}

func nodeConfig(t *testing.T, extra string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte("categories: [local]\nprofiles:\n  - id: home\n    block_categories: [hotline, local]\ndefault_profile: home\n" + extra))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const ctlPolicy = "default_profile: family\nprofiles:\n  - id: family\n    block_categories: [hotline, ads]\n    deny: [policy-deny.example]\ncategories: [hotline, ads]\n"

func TestRemoteProfilesMerge(t *testing.T) {
	var log bytes.Buffer
	a := policyApp(t, ctlPolicy, &log)
	own := nodeConfig(t, "")
	m, err := a.remoteProfiles(own)
	if err != nil {
		t.Fatal(err)
	}
	if m.DefaultProfile != "family" || len(m.Profiles) != 1 || m.Profiles[0].Deny[0] != "policy-deny.example" {
		t.Errorf("merged: %s %+v", m.DefaultProfile, m.Profiles)
	}
	if !slices.Contains(m.AllCategories(), "ads") || !slices.Contains(m.AllCategories(), "local") {
		t.Errorf("merged categories %v: want the node's own and the control node's", m.AllCategories())
	}
	if own.DefaultProfile != "home" {
		t.Error("the node's own configuration was changed")
	}

	// The configuration in force (merged) is merged again from the node's own, not from itself.
	a.cfgPtr.Store(m)
	again, err := a.remoteProfiles(a.cfg())
	if err != nil || !slices.Equal(again.Categories, m.Categories) || again.DefaultProfile != "family" {
		t.Errorf("merged again: %v %v", err, again.Categories)
	}
	if a.pol.own != own {
		t.Error("the merged configuration was taken for the node's own")
	}

	// Logged once per document put in force.
	a.profilesApplied(m)
	a.profilesApplied(again)
	if n := strings.Count(log.String(), `msg="profiles applied" digest=`); n != 1 {
		t.Errorf("%d profiles applied lines, want 1:\n%s", n, log.String())
	}

	// Without a subscription the configuration is the node's own.
	var plain app
	if c, err := plain.remoteProfiles(own); err != nil || c != own {
		t.Errorf("no subscription: %v", err)
	}
}

// A document that does not fit the node's own file (here: more than 64 categories in all) is
// an error, so a reload keeps the previous policy.
func TestRemoteProfilesDoNotFit(t *testing.T) {
	var cats []string
	for i := range 40 {
		cats = append(cats, fmt.Sprintf("ctl%d", i))
	}
	doc := strings.Replace(ctlPolicy, "\ncategories: [hotline, ads]\n", "\ncategories: [hotline, ads, "+strings.Join(cats, ", ")+"]\n", 1)
	a := policyApp(t, doc, io.Discard)
	var own []string
	for i := range 40 {
		own = append(own, fmt.Sprintf("own%d", i))
	}
	c, err := config.Parse([]byte("categories: [" + strings.Join(own, ", ") + "]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.remoteProfiles(c); err == nil || !strings.Contains(err.Error(), "do not fit") || !strings.Contains(err.Error(), "at most 64 categories") {
		t.Errorf("remoteProfiles: %v", err)
	}
	if err := a.policyFits(a.pol.sub.Current().Policy); err == nil {
		t.Error("policyFits accepted a document that does not fit")
	}
}

func TestCheckConfigPolicyNote(t *testing.T) {
	var b bytes.Buffer
	checkPolicyNote(&b, "node.yaml", nodeConfig(t, ""))
	if b.Len() != 0 {
		t.Errorf("a note without policy: %s", b.String())
	}
	checkPolicyNote(&b, "node.yaml", nodeConfig(t, "subscribe:\n  policy: "+ctlURL+"\n  token: ks_x\n  public_key: abc\n"))
	if !strings.Contains(b.String(), "node.yaml: profiles and default_profile come from the control node "+ctlURL) {
		t.Errorf("note: %s", b.String())
	}
}
