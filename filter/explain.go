package filter

import (
	"net/netip"
	"strings"
)

// Explain tells the block page why a host is blocked for the client at addr: the profile's
// display name and the category. A browser sent to the block page address (block_mode:
// address) asks for the blocked host by name, so this re-runs the same decision the DNS
// answer came from.
func (s *Server) Explain(addr netip.Addr, host string) (profile, category string, blocked bool) {
	pol := s.policy.Load()
	if pol == nil {
		return "", "", false
	}
	pr, _ := pol.route(addr, "", "")
	if pr == nil {
		return "", "", false
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	d := pol.decide(pr, []byte(name), s.o.Clock())
	if d.act == actPass || d.act == actRewrite {
		return "", "", false
	}
	profile = pr.Name
	if profile == "" {
		profile = pr.ID
	}
	return profile, d.category, true
}
