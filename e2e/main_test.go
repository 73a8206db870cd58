package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// binary is the kidshield binary built once by TestMain; moduleRoot is the checkout it came from.
var kidshieldBin, moduleRoot string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	root, err := filepath.Abs("..")
	if err == nil {
		_, err = os.Stat(filepath.Join(root, "go.mod"))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: cannot find the module root (../go.mod):", err)
		return 1
	}
	moduleRoot = root
	if b := os.Getenv("E2E_BINARY"); b != "" {
		// A binary built elsewhere (a release build, a patched copy); nothing is built.
		kidshieldBin = b
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "kidshield-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	kidshieldBin = filepath.Join(dir, "kidshield")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	args := []string{"build", "-o", kidshieldBin}
	// Under `go test -race` the server is built with -race too: a data race in it then ends it
	// with exit status 66, which the graceful-shutdown check of every instance reports.
	// E2E_RACE_BINARY=0 or 1 overrides.
	raceBinary := raceEnabled
	if v := os.Getenv("E2E_RACE_BINARY"); v != "" {
		raceBinary = v == "1"
	}
	if raceBinary {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/kidshield")
	start := time.Now()
	cmd := exec.Command(goTool, args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %v: %v\n%s", args, err, out)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "e2e: built %s (race=%v) in %s\n", kidshieldBin, raceBinary, time.Since(start).Round(time.Millisecond))
	}
	return m.Run()
}

// requireTool skips the test when a client program is missing, or fails it under CI (CI=true),
// where a missing dig must not turn the end-to-end suite into a silent pass.
func requireTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed and CI=true: the end-to-end tests need it (apt-get install bind9-dnsutils knot-dnsutils)", n)
			}
			t.Skipf("%s is not installed; skipping (install bind9-dnsutils and knot-dnsutils, or set CI=true to make this a failure)", n)
		}
	}
}
