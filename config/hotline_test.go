package config

import "testing"

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
