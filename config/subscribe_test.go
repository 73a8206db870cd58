package config

import (
	"slices"
	"strings"
	"testing"
)

func TestSubscribePolicyConfig(t *testing.T) {
	const keys = "  token: ks_x\n  public_key: abc\n"
	for _, good := range []string{
		"subscribe:\n  policy: https://ctl.example.vn/feed/v1\n" + keys,
		"subscribe:\n  policy: http://127.0.0.1:8080/feed/v1\n" + keys,
		"subscribe:\n  source: rpz://192.0.2.1:53/rpz.example.\n  policy: https://ctl.example.vn/feed/v1\n" + keys,
		"subscribe:\n  source: https://ctl.example.vn/feed/v1\n  policy: https://ctl.example.vn/feed/v1\n" + keys,
	} {
		c, err := Parse([]byte(good))
		if err != nil {
			t.Errorf("%q: %v", good, err)
			continue
		}
		if !c.Subscribe.PolicyEnabled() {
			t.Errorf("%q: policy not enabled", good)
		}
	}
	for _, bad := range []struct{ yaml, want string }{
		{"subscribe:\n  policy: https://ctl.example.vn/feed/v1\n  token: ks_x\n", "1: subscribe.public_key: policy needs"},
		{"subscribe:\n  policy: https://ctl.example.vn/feed/v1\n  public_key: abc\n", "1: subscribe.token: policy needs"},
		{"subscribe:\n  policy: http://ctl.example.vn/feed/v1\n" + keys, "2: subscribe.policy: the token would travel in clear"},
		{"subscribe:\n  policy: rpz://192.0.2.1:53/x.\n" + keys, "2: subscribe.policy: want the control node's feed URL"},
		{"subscribe:\n  policy: https://ctl.example.vn/feed/v1\n  refresh: 10ms\n" + keys, "subscribe.refresh"},
	} {
		_, err := Parse([]byte(bad.yaml))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.yaml, err, bad.want)
		}
	}
	// An https source and a policy lacking the token: said once, not twice.
	_, err := Parse([]byte("subscribe:\n  source: https://ctl.example.vn/feed/v1\n  policy: https://ctl.example.vn/feed/v1\n  public_key: abc\n"))
	if err == nil || strings.Count(err.Error(), "subscribe.token") != 1 {
		t.Errorf("missing token: %v", err)
	}
}

func TestPolicyRoundTrip(t *testing.T) {
	c, err := Parse([]byte(`categories: [ads]
profiles:
  - id: family
    block_categories: [adult, ads]
    deny: [policy-deny.example]
    clients: ["192.168.1.0/24"]
    devices:
      - id: tablet
        clients: ["192.168.1.7"]
    schedule:
      - from: "21:00"
        to: "06:00"
        mode: allow_only
  - id: kid
default_profile: family
`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.PolicyYAML()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePolicy(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if p.DefaultProfile != "family" || len(p.Profiles) != 2 || !slices.Equal(p.Profiles[0].Deny, []string{"policy-deny.example"}) ||
		p.Profiles[0].Devices[0].ID != "tablet" || p.Profiles[0].Schedule[0].Mode != "allow_only" || !slices.Contains(p.Categories, "ads") {
		t.Errorf("round trip lost something:\n%s\n%+v", b, p)
	}
	again, err := c.PolicyYAML()
	if err != nil || string(again) != string(b) {
		t.Errorf("the policy's bytes are not stable: %v", err)
	}

	// A node that knows no category "ads" takes the profile: the category is added, empty.
	node := Default()
	node.Subscribe.Policy, node.Subscribe.Token, node.Subscribe.PublicKey = "https://ctl.example.vn/feed/v1", "ks_x", "abc"
	m, err := node.WithPolicy(p)
	if err != nil {
		t.Fatal(err)
	}
	if m.DefaultProfile != "family" || len(m.Profiles) != 2 || !slices.Contains(m.AllCategories(), "ads") {
		t.Errorf("merged: %s %+v %v", m.DefaultProfile, m.Profiles, m.AllCategories())
	}
	if node.DefaultProfile != "default" || slices.Contains(node.AllCategories(), "ads") || node.Profiles[0].ID != "default" {
		t.Errorf("WithPolicy changed the node's own configuration")
	}
	if m.Subscribe.Policy != node.Subscribe.Policy || m.DataDir != node.DataDir {
		t.Errorf("merged configuration lost the node's own settings")
	}
}

func TestParsePolicyRefuses(t *testing.T) {
	for _, bad := range []struct{ yaml, want string }{
		{"", "empty policy"},
		{"default_profile: a\n", "no profiles"},
		{"profiles:\n  - id: a\n    colour: blue\n", `3: unknown field "colour"`},
		{"profiles:\n  - id: a\nstore:\n  dsn: x\n", `unknown field "store"`},
		{"profiles:\n  - id: a\n    block_categories: [porn]\n", `3: profiles[0].block_categories[0]: unknown category "porn"`},
		{"profiles:\n  - id: a\ndefault_profile: b\n", "3: default_profile"},
		{"profiles:\n  - id: A B\n", "2: profiles[0].id"},
		{"profiles: [\n", "1:"},
	} {
		_, err := ParsePolicy([]byte(bad.yaml))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.yaml, err, bad.want)
		}
	}
	// A category declared in the document is known to its profiles.
	if _, err := ParsePolicy([]byte("profiles:\n  - id: a\n    block_categories: [ads]\ncategories: [ads]\n")); err != nil {
		t.Errorf("declared category refused: %v", err)
	}
}
