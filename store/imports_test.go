package store

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps store/ free of HTTP, DNS and template packages, and of
// the rest of kidshield except the few leaf packages that define what it
// stores and checks (configuration, the audit chain, the lifecycle machines),
// so that every part can depend on it.
func TestImports(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == "net/http", strings.HasPrefix(pkg, "net/http/"),
			pkg == "html/template", pkg == "text/template",
			strings.HasPrefix(pkg, "github.com/miekg/dns"),
			strings.HasPrefix(pkg, "github.com/kidshield/kidshield/") && !storeMayImport[pkg]:
			t.Errorf("store depends on %s", pkg)
		}
	}
}

var storeMayImport = map[string]bool{
	"github.com/kidshield/kidshield/store":             true,
	"github.com/kidshield/kidshield/config":            true,
	"github.com/kidshield/kidshield/audit":             true,
	"github.com/kidshield/kidshield/hotline/lifecycle": true,
}
