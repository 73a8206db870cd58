package fetch

import (
	"errors"
	"net/netip"
	"testing"
)

// A zoned address never matches a netip.Prefix, so the deny list alone would let a zoned
// global address through: the zone itself must be refused.
func TestGuardRefusesZonedGlobalAddress(t *testing.T) {
	g, err := newGuard([]int{443})
	if err != nil {
		t.Fatal(err)
	}
	plain := netip.MustParseAddrPort("[2606:4700:4700::1111]:443")
	if err := g.check(plain); err != nil {
		t.Fatalf("the same address without a zone is refused (%v): the test would prove nothing", err)
	}
	for _, s := range []string{"[2606:4700:4700::1111%eth0]:443", "[2001:4860:4860::8888%1]:443"} {
		err := g.check(netip.MustParseAddrPort(s))
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("%s: %v, want ErrBlocked", s, err)
		}
		if err := g.control("tcp6", s, nil); !errors.Is(err, ErrBlocked) {
			t.Errorf("control %s: %v, want ErrBlocked", s, err)
		}
	}
}
