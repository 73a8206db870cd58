package fetch

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	if a.Is4() {
		b := a.As4()
		for i := p.Bits(); i < 32; i++ {
			b[i/8] |= 1 << (7 - i%8)
		}
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	for i := p.Bits(); i < 128; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	return netip.AddrFrom16(b)
}

// The exact list of SCANNER.md, written out here rather than taken from deniedPrefixes, so
// that removing a range from the code fails this test.
var scannerDenyList = []string{
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
	"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
	"255.255.255.255/32", "::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "fc00::/7",
	"fe80::/10", "ff00::/8", "2001:db8::/32",
}

func prodGuard(t *testing.T) *guard {
	g, err := newGuard([]int{80, 443})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGuardRefusesEveryListedRange(t *testing.T) {
	g := prodGuard(t)
	for _, s := range scannerDenyList {
		p := netip.MustParsePrefix(s)
		first, last := p.Masked().Addr(), lastAddr(p)
		mid := first
		for i := 0; i < 7 && mid.Next().IsValid() && p.Contains(mid.Next()); i++ {
			mid = mid.Next()
		}
		for _, a := range []netip.Addr{first, mid, last} {
			for _, port := range []uint16{80, 443} {
				err := g.check(netip.AddrPortFrom(a, port))
				var be *BlockedError
				if !errors.As(err, &be) || !errors.Is(err, ErrBlocked) {
					t.Errorf("%s (in %s) port %d: got %v, want a refusal", a, s, port, err)
				}
			}
		}
	}
}

func TestGuardNamedCases(t *testing.T) {
	g := prodGuard(t)
	for _, addr := range []string{
		"127.0.0.1:80", "[::1]:443", "169.254.169.254:80", "[::ffff:127.0.0.1]:80",
		"[::ffff:10.0.0.1]:443", "0.0.0.0:80", "[::]:80", "10.0.0.1:80",
		"[64:ff9b::7f00:1]:80", "[64:ff9b::a9fe:a9fe]:80", "[64:ff9b:1::a00:1]:80",
		"[::127.0.0.1]:80", "[fe80::1%eth0]:80", "[fd00::1]:443", "[2001:db8::1]:443",
		"255.255.255.255:80", "100.64.0.1:80", "192.168.1.1:443", "172.31.255.255:80",
		// Public IPv4 addresses written in the denied IPv6 forms: refused for the form.
		"[::ffff:8.8.8.8]:443", "[64:ff9b::808:808]:443", "[::8.8.8.8]:80",
	} {
		if err := g.control("tcp6", addr, nil); !errors.Is(err, ErrBlocked) {
			t.Errorf("%s: got %v, want a refusal", addr, err)
		}
	}
}

func TestGuardAllowsPublicAddresses(t *testing.T) {
	g := prodGuard(t)
	// Neighbours of the denied ranges: a guard that denied too much would fail here.
	for _, addr := range []string{
		"1.1.1.1:443", "8.8.8.8:80", "[2606:4700:4700::1111]:443", "100.63.255.255:80",
		"100.128.0.0:80", "172.15.255.255:80", "172.32.0.0:80", "192.0.1.255:80",
		"192.88.98.255:80", "198.17.255.255:80", "198.20.0.0:80", "223.255.255.255:80",
		"11.0.0.1:80", "[2001:db9::1]:443", "[64:ff9b:2::1]:80", "[2a00:1450::1]:80",
	} {
		network := "tcp4"
		if strings.HasPrefix(addr, "[") {
			network = "tcp6"
		}
		if err := g.control(network, addr, nil); err != nil {
			t.Errorf("%s: refused: %v", addr, err)
		}
	}
}

func TestGuardPortsAndNetworks(t *testing.T) {
	g := prodGuard(t)
	cases := []struct {
		network, addr string
		ok            bool
	}{
		{"tcp4", "1.1.1.1:80", true},
		{"tcp4", "1.1.1.1:443", true},
		{"tcp4", "1.1.1.1:22", false},
		{"tcp4", "1.1.1.1:8080", false},
		{"udp4", "1.1.1.1:443", false},
		{"tcp4", "not-an-address:80", false},
	}
	for _, c := range cases {
		err := g.control(c.network, c.addr, nil)
		if (err == nil) != c.ok {
			t.Errorf("%s %s: got %v, want ok=%v", c.network, c.addr, err, c.ok)
		}
	}
	g8080, err := newGuard([]int{80, 443, 8080})
	if err != nil {
		t.Fatal(err)
	}
	if err := g8080.control("tcp4", "1.1.1.1:8080", nil); err != nil {
		t.Errorf("configured port 8080 refused: %v", err)
	}
	if err := g8080.control("tcp4", "10.0.0.1:8080", nil); err == nil {
		t.Error("configured port opened a private address")
	}
	if _, err := newGuard([]int{0}); err == nil {
		t.Error("port 0 accepted")
	}
}

// The test allowance opens loopback and nothing else.
func TestGuardAllowanceIsLoopbackOnly(t *testing.T) {
	g := prodGuard(t)
	g.allow = mustPrefixes(loopbackAllowance...)
	for addr, ok := range map[string]bool{
		"127.0.0.1:80": true, "[::1]:80": true,
		"10.0.0.1:80": false, "169.254.169.254:80": false, "[::ffff:127.0.0.1]:80": false,
		"0.0.0.0:80": false, "127.0.0.1:22": false,
	} {
		err := g.control("tcp4", addr, nil)
		if (err == nil) != ok {
			t.Errorf("%s with loopback allowance: got %v, want ok=%v", addr, err, ok)
		}
	}
}
