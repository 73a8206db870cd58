package upstream

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		spec string
		want string // canonical String()
		typ  string // "udp", "tcp", "tls", "doh"
		sni  string // tls server name
	}{
		{"1.2.3.4", "udp://1.2.3.4:53", "udp", ""},
		{"1.2.3.4:5353", "udp://1.2.3.4:5353", "udp", ""},
		{" 1.2.3.4:53 ", "udp://1.2.3.4:53", "udp", ""},
		{"[::1]:53", "udp://[::1]:53", "udp", ""},
		{"[2001:DB8::1]", "udp://[2001:db8::1]:53", "udp", ""},
		{"::1", "udp://[::1]:53", "udp", ""},
		{"udp://9.9.9.9:53", "udp://9.9.9.9:53", "udp", ""},
		{"UDP://dns.Example.:53", "udp://dns.example:53", "udp", ""},
		{"tcp://9.9.9.9", "tcp://9.9.9.9:53", "tcp", ""},
		{"tcp://[::1]:5300", "tcp://[::1]:5300", "tcp", ""},
		{"tls://dns.quad9.net", "tls://dns.quad9.net:853", "tls", "dns.quad9.net"},
		{"tls://9.9.9.9:853#dns.quad9.net", "tls://9.9.9.9:853#dns.quad9.net", "tls", "dns.quad9.net"},
		{"tls://9.9.9.9", "tls://9.9.9.9:853", "tls", "9.9.9.9"},
		{"tls://[2620:fe::fe]:853#dns.quad9.net.", "tls://[2620:fe::fe]:853#dns.quad9.net", "tls", "dns.quad9.net"},
		{"https://dns.example/dns-query", "https://dns.example/dns-query", "doh", "dns.example"},
		{"https://dns.example", "https://dns.example/dns-query", "doh", "dns.example"},
		{"https://dns.example:443/q", "https://dns.example/q", "doh", "dns.example"},
		{"https://127.0.0.1:8443/dns-query", "https://127.0.0.1:8443/dns-query", "doh", "127.0.0.1"},
		{"https://[::1]:8443/dns-query", "https://[::1]:8443/dns-query", "doh", "::1"},
		{"https://[::1]/dns-query", "https://[::1]/dns-query", "doh", "::1"},
		{"https://dns.example/dns-query/family", "https://dns.example/dns-query/family", "doh", "dns.example"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			u, err := Parse(tt.spec, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if u.String() != tt.want {
				t.Errorf("String() = %q, want %q", u, tt.want)
			}
			switch v := u.(type) {
			case *udpUpstream:
				if tt.typ != "udp" || v.tcp == nil {
					t.Errorf("got udp, want %s", tt.typ)
				}
			case *streamUpstream:
				if v.proto != tt.typ {
					t.Errorf("got %s, want %s", v.proto, tt.typ)
				}
				if v.tls != nil && v.tls.ServerName != tt.sni {
					t.Errorf("server name %q, want %q", v.tls.ServerName, tt.sni)
				}
			case *dohUpstream:
				if tt.typ != "doh" {
					t.Errorf("got doh, want %s", tt.typ)
				}
				if sn := v.tr.TLSClientConfig.ServerName; sn != tt.sni {
					t.Errorf("server name %q, want %q", sn, tt.sni)
				}
			default:
				t.Fatalf("type %T", u)
			}
			again, err := Parse(u.String(), Options{})
			if err != nil || again.String() != u.String() {
				t.Errorf("canonical form does not round-trip: %v %v", again, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"", "empty"},
		{"   ", "empty"},
		{"1.2.3.4:99999", "port"},
		{"1.2.3.4:0", "port"},
		{"1.2.3.4:", "missing port"},
		{"1.2.3.4:dns", "port"},
		{"1.2.3.4:+53", "port"},
		{"1.2.3.999", "not a valid IPv4"},
		{"[::1", "missing ']'"},
		{"[1.2.3.4]:53", "not an IPv6"},
		{"[::1]53", "after ']'"},
		{"::g", "not an IPv6"},
		{"udp://", "missing host"},
		{"udp://:53", "missing host"},
		{"udp://1.2.3.4/path", "unexpected"},
		{"tcp://user@1.2.3.4", "unexpected"},
		{"tls://1.2.3.4:853#", "server name"},
		{"tls://1.2.3.4:853#bad name", "server name"},
		{"tls://-bad-.example", "label"},
		{"tls://a..example", "label"},
		{"tls://" + strings.Repeat("a", 64) + ".example", "label"},
		{"https://", "missing host"},
		{"https:///dns-query", "missing host"},
		{"https://user:pw@dns.example/dns-query", "user info"},
		{"https://dns.example/dns-query#frag", "fragment"},
		{"https://dns.example:0/dns-query", "port"},
		{"http://dns.example/dns-query", "https"},
		{"quic://dns.example", "not supported"},
		{"sdns://AgcAAAAAAAAA", "not supported"},
		{"ftp://1.2.3.4", "unknown scheme"},
		{"dns.exam ple", "unexpected"},
		{"bad_host!", "contains"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			u, err := Parse(tt.spec, Options{})
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tt.spec, u)
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("error does not wrap ErrInvalidSpec: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "parse upstream") {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	u, _ := Parse("1.2.3.4", Options{})
	o := u.(*udpUpstream).o
	if o.Timeout != defaultTimeout || o.UDPSize != 1232 {
		t.Errorf("defaults = %+v", o)
	}
}

// FuzzParse: Parse never panics, errors wrap ErrInvalidSpec, and a parsed
// spec's canonical form parses to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"1.2.3.4", "[::1]:53", "::1", "udp://h:5", "tcp://h", "tls://1.2.3.4:853#dns.example",
		"https://dns.example/dns-query", "https://[::1]:8443/x?y=z", "tls://a..b", "1.2.3.4:99999",
		"https://u@h/", "[fe80::1%eth0]:53",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		u, err := Parse(spec, Options{})
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Parse(%q): %v does not wrap ErrInvalidSpec", spec, err)
			}
			return
		}
		again, err := Parse(u.String(), Options{})
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", u, spec, err)
		}
		if again.String() != u.String() {
			t.Fatalf("canonical %q of %q parses to %q", u, spec, again)
		}
	})
}
