package scanner

import (
	"net/netip"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/kidshield/kidshield/scanner/fetch"
)

// HostKey is the key of the per-host politeness limits, in the job queue (the jobs' Host,
// counted by store.LeaseScanJobs) and in the fetch client (Client.SetSiteKey): the host's
// registrable domain (eTLD+1 by the Public Suffix List). One site often serves many host names
// (www., m., cdn., a.example.vn, b.example.vn…); keyed on the exact name, each would get its
// own limit and the site N times what we promise it. The list's private section makes each
// blogspot.com or github.io site its own key, as it is its own owner's. An IP address, a name
// that is itself a public suffix and a one-label name keep themselves. Names are compared in
// punycode and lower case, so an IDN's Unicode and ASCII forms share a key; "" stays "".
func HostKey(host string) string {
	if host == "" {
		return ""
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.String()
	}
	// The client's own normalisation (IDNA to punycode, lower case, no trailing dot), so that
	// the queue and the client key a name alike.
	u, err := fetch.NormalizeURL("http://" + host + "/")
	if err != nil || u.Hostname() == "" {
		// Not a name the client would fetch; still a stable key for what was given.
		return strings.ToLower(strings.TrimSuffix(host, "."))
	}
	h := u.Hostname()
	if d, err := publicsuffix.EffectiveTLDPlusOne(h); err == nil {
		return d
	}
	return h
}
