package httpfeed

import (
	"net/http"
	"testing"
)

// policy.yaml holds families' client addresses and children's device names: a feed:read token
// (a vendor's) must not reach it through the {file} route by any spelling of its name.
func TestPolicyNotServedToFeedReadSec(t *testing.T) {
	pe := newPolicyEnv(t, controlProfiles)
	for _, p := range []string{"/feed/v1/" + PolicyFile, "/feed/v1/policy%2Eyaml", "/feed/v1/policy%2eyaml", "/feed/v1/%70olicy.yaml", "/feed/v1//policy.yaml", "/feed/v1/./policy.yaml"} {
		w := pe.get(p, "ks_vendor")
		if w.Code == http.StatusOK {
			t.Errorf("GET %s with scope feed:read: %d, %d bytes", p, w.Code, w.Body.Len())
		}
	}
	// The node's token still gets it.
	if w := pe.get("/feed/v1/"+PolicyFile, "ks_node"); w.Code != http.StatusOK {
		t.Errorf("GET %s with scope policy:read: %d", PolicyFile, w.Code)
	}
}
