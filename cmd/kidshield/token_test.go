package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/store"
)

// kidshield token add prints a token once that the store knows by its hash only; list shows it
// without the secret; revoke ends it; bad input is a usage error naming the problem.
func TestTokenCommand(t *testing.T) {
	dir := t.TempDir()
	run1 := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(append(args, "--data-dir", dir), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, tok, errs := run1("token", "add", "--name", "isp-a resolvers", "--scopes", "feed:read")
	tok = strings.TrimSpace(tok)
	if code != 0 || !strings.HasPrefix(tok, "ks_") || !strings.Contains(errs, "shown once") {
		t.Fatalf("add: %d %q %q", code, tok, errs)
	}
	code, out, _ := run1("token", "list")
	if code != 0 || !strings.Contains(out, "isp-a resolvers") || !strings.Contains(out, "feed:read") || strings.Contains(out, tok) {
		t.Fatalf("list: %d\n%s", code, out)
	}
	st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(dir, "kidshield.db"))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := st.APITokens(t.Context())
	st.Close()
	if err != nil || len(ts) != 1 || ts[0].Hash == tok || !ts[0].Revoked.IsZero() {
		t.Fatalf("stored: %+v %v", ts, err)
	}
	if code, out, _ := run1("token", "revoke", "--id", "1"); code != 0 || !strings.Contains(out, "revoked token 1") {
		t.Fatalf("revoke: %d %s", code, out)
	}
	if code, _, errs := run1("token", "revoke", "--id", "1"); code != 1 || !strings.Contains(errs, "not found") {
		t.Errorf("revoke twice: %d %s", code, errs)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "add", "--name", "x", "--scopes", "feed"}, "not a scope"},
		{[]string{"token", "add", "--scopes", "feed:read"}, "--name is required"},
		{[]string{"token", "revoke"}, "--id is required"},
		{[]string{"token", "nope"}, "unknown command"},
	} {
		if code, _, errs := run1(c.args...); code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: %d %q, want 2 and %q", c.args, code, errs, c.want)
		}
	}
}

func TestTokenListPrintable(t *testing.T) {
	if got := printable("isp \x1b[31mred"); strings.ContainsRune(got, 0x1b) || !strings.Contains(got, `\x1b`) {
		t.Errorf("printable kept the escape: %q", got)
	}
	if got := printable("Viettel – máy chủ"); got != "Viettel – máy chủ" {
		t.Errorf("printable changed a plain name: %q", got)
	}
}
