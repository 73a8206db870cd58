package main

import (
	"crypto/sha256"
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/kidshield/kidshield/web"
)

var deviceRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// appleProfile serves GET /setup/apple/{profile}?device=ID: a configuration profile that turns
// on encrypted DNS (DoH) for an iPhone, iPad or Mac, pointing at this server with the child's
// profile (and device) in the path. Parents install it instead of typing URLs into XML.
func (a *app) appleProfile(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSuffix(r.PathValue("profile"), ".mobileconfig")
	pol := a.dns.Policy()
	if pol == nil || pol.Profile(id) == nil {
		web.Error(w, r, a.log, http.StatusNotFound, fmt.Errorf("no profile %q", id))
		return
	}
	device := r.URL.Query().Get("device")
	if device != "" && !deviceRE.MatchString(device) {
		web.Error(w, r, a.log, http.StatusBadRequest, fmt.Errorf("device ids are lowercase letters, digits, - and _"))
		return
	}
	host := a.cfg().TLS.ServerName
	url := "https://" + host + "/dns-query/" + id
	if device != "" {
		url += "/" + device
	}
	// Stable UUIDs: installing the profile again replaces the old one instead of adding another.
	uuid := func(s string) string {
		h := sha256.Sum256([]byte("kidshield-apple:" + host + ":" + s))
		return fmt.Sprintf("%X-%X-%X-%X-%X", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
	}
	esc := func(s string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	name := "kidshield – " + id
	if pr := pol.Profile(id); pr.Name != "" {
		name = "kidshield – " + pr.Name
	}
	// Payload identifiers are reverse-DNS: dns.example.org → org.example.dns.
	labels := strings.Split(host, ".")
	slices.Reverse(labels)
	rhost := strings.Join(labels, ".")
	w.Header().Set("Content-Type", "application/x-apple-aspen-config")
	w.Header().Set("Content-Disposition", `attachment; filename="kidshield-`+id+`.mobileconfig"`)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>PayloadContent</key><array><dict>
    <key>DNSSettings</key><dict>
      <key>DNSProtocol</key><string>HTTPS</string>
      <key>ServerURL</key><string>%s</string>
    </dict>
    <key>PayloadType</key><string>com.apple.dnsSettings.managed</string>
    <key>PayloadIdentifier</key><string>%s.dns.%s</string>
    <key>PayloadUUID</key><string>%s</string>
    <key>PayloadVersion</key><integer>1</integer>
  </dict></array>
  <key>PayloadDisplayName</key><string>%s</string>
  <key>PayloadIdentifier</key><string>%s.kidshield</string>
  <key>PayloadType</key><string>Configuration</string>
  <key>PayloadUUID</key><string>%s</string>
  <key>PayloadVersion</key><integer>1</integer>
</dict></plist>
`, esc(url), esc(rhost), esc(id), uuid("payload:"+id), esc(name), esc(rhost), uuid("config:"+id))
}
