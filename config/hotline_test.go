package config

import (
	"strings"
	"testing"
	"time"
)

func TestIssuerName(t *testing.T) {
	if got := Default().Hotline.IssuerName; got != "kidshield hotline" {
		t.Errorf("default issuer name %q", got)
	}
	c, err := Parse([]byte("hotline:\n  issuer_name: \"Tổng đài quốc gia bảo vệ trẻ em 111\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Hotline.IssuerName; got != "Tổng đài quốc gia bảo vệ trẻ em 111" {
		t.Errorf("issuer name %q", got)
	}
	if c, err = Parse([]byte("hotline:\n  issuer_name: \"  \"\n")); err != nil || c.Hotline.IssuerName != "kidshield hotline" {
		t.Errorf("blank issuer name: %q %v", c.Hotline.IssuerName, err)
	}
}

func TestListRecheckAfter(t *testing.T) {
	if got := Default().Hotline.ListRecheckAfter; got != 30*24*time.Hour {
		t.Errorf("default list_recheck_after %s", got)
	}
	c, err := Parse([]byte("hotline:\n  list_recheck_after: 168h\n"))
	if err != nil || c.Hotline.ListRecheckAfter != 7*24*time.Hour {
		t.Fatalf("168h: %v %v", c, err)
	}
	for _, bad := range []string{"-1h", "8761h"} {
		_, err := Parse([]byte("hotline:\n  list_recheck_after: " + bad + "\n"))
		if err == nil || !strings.Contains(err.Error(), "hotline.list_recheck_after") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if _, err := Parse([]byte("hotline:\n  list_recheck_after: 8760h\n")); err != nil {
		t.Errorf("365 days: %v", err)
	}
}
