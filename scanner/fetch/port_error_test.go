package fetch

import (
	"errors"
	"testing"
)

// A refused port says so (ErrPortNotAllowed, with ErrBlocked), at dial time and in a URL, so
// that the scanner can tell an analyst an administrator may allow it; a refused address or a
// refused scheme does not.
func TestPortRefusalIsTyped(t *testing.T) {
	g := prodGuard(t)
	port := g.control("tcp4", "1.1.1.1:8080", nil)
	addr := g.control("tcp4", "10.0.0.1:80", nil)
	if !errors.Is(port, ErrPortNotAllowed) || !errors.Is(port, ErrBlocked) {
		t.Errorf("dial to port 8080: %v, want ErrPortNotAllowed and ErrBlocked", port)
	}
	if errors.Is(addr, ErrPortNotAllowed) || !errors.Is(addr, ErrBlocked) {
		t.Errorf("dial to 10.0.0.1: %v, want ErrBlocked only", addr)
	}
	p := defaultPolicy
	for _, c := range []struct {
		url  string
		port bool
	}{
		{"http://example.com:8080/", true},
		{"https://example.com:22/", true},
		{"ftp://example.com/", false},
		{"http://user:pw@example.com/", false},
		{"http://example.com:99999/", false},
	} {
		_, err := p.normalize(c.url)
		if err == nil || errors.Is(err, ErrPortNotAllowed) != c.port || !errors.Is(err, ErrBadURL) {
			t.Errorf("%s: %v, want ErrBadURL with ErrPortNotAllowed %v", c.url, err, c.port)
		}
	}
}
