package config

import (
	"strings"
	"testing"
)

// A control node's policy must not widen who may query a filter node that answers only mapped
// clients: there the profiles' clients are the access list.
func TestPolicyCannotOpenResolverSec(t *testing.T) {
	node := Default()
	node.Subscribe.Policy, node.Subscribe.Token, node.Subscribe.PublicKey = "https://ctl.example.vn/feed/v1", "ks_x", "abc"
	node.DNS.UnknownClients = "refuse"
	node.Profiles[0].Clients = []string{"10.1.0.0/16"}
	policy := func(clients, device string) *Policy {
		t.Helper()
		doc := "default_profile: family\nprofiles:\n  - id: family\n    block_categories: [adult]\n    clients: [" + clients + "]\n"
		if device != "" {
			doc += "    devices:\n      - id: tablet\n        clients: [" + device + "]\n"
		}
		p, err := ParsePolicy([]byte(doc))
		if err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		return p
	}
	for _, c := range []struct {
		clients, device string
		ok              bool
	}{
		{"10.1.2.0/24", "10.1.2.7", true},
		{"10.1.0.0/16", "", true},
		{"0.0.0.0/0", "", false},
		{"'::/0'", "", false},
		{"10.0.0.0/8", "", false},
		{"10.1.2.0/24", "0.0.0.0/0", false},
		{"192.0.2.1", "", false},
	} {
		_, err := node.WithPolicy(policy(c.clients, c.device))
		if (err == nil) != c.ok {
			t.Errorf("clients %s device %s: %v, want ok=%v", c.clients, c.device, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "unknown_clients") {
			t.Errorf("the refusal does not say why: %v", err)
		}
	}
	// A node answering every client with the default profile has no access list to widen.
	node.DNS.UnknownClients = "default"
	if _, err := node.WithPolicy(policy("0.0.0.0/0", "")); err != nil {
		t.Errorf("unknown_clients default: %v", err)
	}
}
