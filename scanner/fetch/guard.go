package fetch

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// ErrBlocked is matched (errors.Is) by every refusal of a destination: a denied address or
// port at dial time, or a URL whose scheme, userinfo or port the client will not use.
var ErrBlocked = errors.New("destination refused")

// ErrPortNotAllowed is matched (with ErrBlocked) by a refusal of a port outside the client's
// ports, at dial time or in the URL: unlike a private address, an administrator can allow it.
var ErrPortNotAllowed = errors.New("port not allowed")

// BlockedError says which destination was refused and why. It is what the dialer returns,
// wrapped by net and net/http; errors.As finds it.
type BlockedError struct {
	Addr   string // the address:port that was about to be connected, or the URL's host
	Reason string
	Port   bool // the port was refused, not the address
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("destination refused: %s: %s", e.Addr, e.Reason)
}

// Is lets errors.Is(err, ErrBlocked) match, and ErrPortNotAllowed for a refused port.
func (e *BlockedError) Is(target error) bool {
	return target == ErrBlocked || e.Port && target == ErrPortNotAllowed
}

// deniedPrefixes is the deny list of SCANNER.md, plus ::/96 (the deprecated IPv4-compatible
// addresses, which no public host uses) and 64:ff9b:1::/48 (local-use NAT64, which can embed
// a private IPv4 address). It names every range itself rather than trusting what the
// standard library calls private; IsGlobalUnicast is a second check after it.
var deniedPrefixes = mustPrefixes(
	"0.0.0.0/8",
	"10.0.0.0/8",
	"100.64.0.0/10",
	"127.0.0.0/8",
	"169.254.0.0/16",
	"172.16.0.0/12",
	"192.0.0.0/24",
	"192.0.2.0/24",
	"192.88.99.0/24",
	"192.168.0.0/16",
	"198.18.0.0/15",
	"198.51.100.0/24",
	"203.0.113.0/24",
	"224.0.0.0/4",
	"240.0.0.0/4",
	"255.255.255.255/32",
	"::/128",
	"::1/128",
	"::/96",
	"::ffff:0:0/96",
	"64:ff9b::/96",
	"64:ff9b:1::/48",
	"fc00::/7",
	"fe80::/10",
	"ff00::/8",
	"2001:db8::/32",
)

func mustPrefixes(ss ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}

// guard decides whether a connection may be made. It runs inside net.Dialer's Control
// function, after name resolution and before connect(2), with the very address the socket
// is about to connect to.
type guard struct {
	ports map[uint16]bool
	// allow is set only by the package's tests (loopback test servers). Nothing exported
	// reaches it.
	allow []netip.Prefix
}

func newGuard(ports []int) (*guard, error) {
	g := &guard{ports: make(map[uint16]bool, len(ports))}
	for _, p := range ports {
		if p < 1 || p > 65535 {
			return nil, fmt.Errorf("fetch: port %d out of range", p)
		}
		g.ports[uint16(p)] = true
	}
	return g, nil
}

// control is net.Dialer.Control.
func (g *guard) control(network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp4", "tcp6":
	default:
		return &BlockedError{Addr: address, Reason: "network " + network + " not allowed"}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedError{Addr: address, Reason: "unparsable address"}
	}
	return g.check(ap)
}

func (g *guard) check(ap netip.AddrPort) error {
	if !g.ports[ap.Port()] {
		return &BlockedError{Addr: ap.String(), Reason: fmt.Sprintf("port %d not allowed", ap.Port()), Port: true}
	}
	return g.checkAddr(ap.Addr(), ap.String())
}

func (g *guard) checkAddr(a netip.Addr, shown string) error {
	if a.Zone() != "" {
		return &BlockedError{Addr: shown, Reason: "scoped (zoned) address"}
	}
	for _, p := range g.allow {
		if p.Contains(a) {
			return nil
		}
	}
	for _, p := range deniedPrefixes {
		if p.Contains(a) {
			return &BlockedError{Addr: shown, Reason: "address in denied range " + p.String()}
		}
	}
	// Belt and braces: an IPv4-mapped address is already denied above, but check what it
	// maps to as well, and refuse anything that is not global unicast whatever the list says.
	if a.Is4In6() {
		return g.checkAddr(a.Unmap(), shown)
	}
	if !a.IsGlobalUnicast() {
		return &BlockedError{Addr: shown, Reason: "not a global unicast address"}
	}
	return nil
}
