package ui

import "testing"

// The case page offers to open only links that can be public pages.
func TestDeskPublicHost(t *testing.T) {
	for host, want := range map[string]bool{
		"example.vn": true, "www.example.vn:8080": true, "203.0.114.7": true, "[2001:4860::1]:443": true,
		"10.0.0.1": false, "10.0.0.1:80": false, "127.0.0.1": false, "[::1]:80": false, "::1": false,
		"169.254.169.254": false, "192.168.1.1": false, "[::ffff:10.0.0.1]": false, "fd00::1": false,
		"localhost": false, "LOCALHOST.": false, "app.localhost": false, "0.0.0.0": false, "": false,
	} {
		if got := deskPublicHost(host); got != want {
			t.Errorf("deskPublicHost(%q) = %v, want %v", host, got, want)
		}
	}
}
