package fetch

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the fetcher a leaf that any part of the scanner can use (no package of
// the project), and keeps out what it must never use: a cookie jar, and the DNS library
// that only its tests need.
func TestImports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == "net/http/cookiejar",
			strings.HasPrefix(pkg, "github.com/miekg/dns"),
			strings.HasPrefix(pkg, "github.com/kidshield/kidshield/") && pkg != "github.com/kidshield/kidshield/scanner/fetch":
			t.Errorf("scanner/fetch depends on %s", pkg)
		}
	}
}
