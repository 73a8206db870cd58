package e2e

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runBinary runs the kidshield binary to completion (in a temporary directory, so nothing it
// might create lands in the checkout) and returns its combined output and exit status.
func runBinary(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kidshieldBin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee) && ee.Exited():
		return string(out), ee.ExitCode()
	}
	t.Fatalf("kidshield %v: %v\n%s", args, err, out)
	return "", -1
}

// TestCheckConfig: check-config reports every problem as FILE:LINE: field: message and exits
// non-zero; the shipped examples pass.
func TestCheckConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "broken.yaml")
	writeFile(t, bad, `dns:
  listen: ["127.0.0.1:5353"]
profiles:
  - id: kid
    block_categories: [adult, nonsense]
    youtube: sometimes
    schedule:
      - name: bedtime
        from: "25:00"
        to: "06:00"
        mode: allow_only
default_profile: nobody
`)
	out, code := runBinary(t, "check-config", bad)
	if code == 0 {
		t.Fatalf("check-config on a broken file exited 0:\n%s", out)
	}
	want := []string{
		bad + ":5: profiles[0].block_categories[1]: unknown category \"nonsense\"",
		bad + ":6: profiles[0].youtube: \"sometimes\" is not one of",
		bad + ":9: profiles[0].schedule[0].from: want a time of day",
		bad + ":12: default_profile: no profile has id \"nobody\"",
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("check-config output lacks %q:\n%s", w, out)
		}
	}
	line := regexp.MustCompile(`^` + regexp.QuoteMeta(bad) + `:\d+: [a-z_]+[a-z0-9_.\[\]]*: \S.*$`)
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !line.MatchString(l) {
			t.Errorf("check-config line %q is not FILE:LINE: field: message", l)
		}
	}

	// YAML errors and unknown keys carry the line too.
	for _, c := range []struct{ text, want string }{
		{"profiles:\n  - id: kid\n    colour: blue\n", bad + ":3: unknown field \"colour\""},
		{"dns:\n  listen: [\"127.0.0.1:53\"\n", bad + ":"},
		{"lists:\n  - name: x\n    category: adult\n", bad + ":2: lists[0].source: a list needs a source"},
	} {
		writeFile(t, bad, c.text)
		out, code := runBinary(t, "check-config", bad)
		if code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("check-config on %q: exit %d, want non-zero and %q in:\n%s", c.text, code, c.want, out)
		}
	}
	if out, code := runBinary(t, "check-config", filepath.Join(dir, "does-not-exist.yaml")); code == 0 {
		t.Errorf("check-config on a missing file exited 0:\n%s", out)
	}

	examples, err := filepath.Glob(filepath.Join(moduleRoot, "docs", "examples", "*.yaml"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no docs/examples/*.yaml found (%v)", err)
	}
	for _, ex := range examples {
		out, code := runBinary(t, "check-config", ex)
		if code != 0 || !strings.Contains(out, ex+": ok") {
			t.Errorf("check-config %s: exit %d\n%s", ex, code, out)
		}
	}
}

// TestCLI: version, usage and unknown commands.
func TestCLI(t *testing.T) {
	t.Parallel()
	out, code := runBinary(t, "version")
	if code != 0 || !strings.HasPrefix(out, "kidshield ") || len(strings.TrimSpace(out)) <= len("kidshield") {
		t.Errorf("kidshield version: exit %d, output %q", code, out)
	}
	if out, code := runBinary(t); code != 2 || !strings.Contains(out, "Usage:") {
		t.Errorf("kidshield without arguments: exit %d, output %q", code, out)
	}
	if out, code := runBinary(t, "frobnicate"); code != 2 || !strings.Contains(out, `unknown command "frobnicate"`) {
		t.Errorf("kidshield frobnicate: exit %d, output %q", code, out)
	}
	if out, code := runBinary(t, "serve", "--no-such-flag"); code == 0 {
		t.Errorf("kidshield serve --no-such-flag: exit 0, output %q", out)
	}
	if out, code := runBinary(t, "serve", "-h"); code != 0 || !strings.Contains(out, "-config") {
		t.Errorf("kidshield serve -h: exit %d, output %q", code, out)
	}
}
