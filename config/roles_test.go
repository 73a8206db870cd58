package config

import (
	"strings"
	"testing"
)

func TestRoleSet(t *testing.T) {
	set, err := RoleSet([]string{" Hotline", "feed", ""})
	if err != nil || len(set) != 2 || !set["hotline"] || !set["feed"] {
		t.Errorf("hotline, feed: %v %v", set, err)
	}
	if set, err := RoleSet(nil); err != nil || len(set) != len(AllRoles) {
		t.Errorf("no roles: %v %v, want all of %v", set, err, AllRoles)
	}
	_, err = RoleSet([]string{"dns"})
	if err == nil || !strings.Contains(err.Error(), `unknown role "dns"`) || strings.Contains(err.Error(), "scanner") {
		t.Errorf("dns: %v", err)
	}
	// Someone who read about the scanner tries it as a role: the error says where it lives.
	_, err = RoleSet([]string{"hotline", "scanner"})
	if err == nil || !strings.Contains(err.Error(), "the scanner runs with the hotline role") {
		t.Errorf("scanner: %v", err)
	}
}
