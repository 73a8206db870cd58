package store

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps store/ free of HTTP, DNS and template packages (and of
// the rest of kidshield), so that every part can depend on it.
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
			strings.HasPrefix(pkg, "github.com/kidshield/kidshield/") && pkg != "github.com/kidshield/kidshield/store":
			t.Errorf("store depends on %s", pkg)
		}
	}
}
