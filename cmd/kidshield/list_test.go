package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/store"
)

func runList(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"list"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

type shownEntry struct {
	ID       int64  `json:"id"`
	Kind     string `json:"kind"`
	Value    string `json:"value"`
	Category string `json:"category"`
	State    string `json:"state"`
	Source   string `json:"source"`
}

func listShown(t *testing.T, dir string, args ...string) map[string]shownEntry {
	t.Helper()
	code, out, errs := runList(t, append([]string{"show", "--data-dir", dir, "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("show: %d %s", code, errs)
	}
	var rows []shownEntry
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("show --json: %v\n%s", err, out)
	}
	m := map[string]shownEntry{}
	for _, r := range rows {
		m[r.Value] = r
	}
	return m
}

func TestListCommands(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runList(t, "show", "--data-dir", dir); code != 1 || !strings.Contains(errs, "no database at") {
		t.Fatalf("no database: %d %s", code, errs)
	}
	st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(dir, "kidshield.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.User{
		{Login: "alice", Name: "Alice", Roles: []string{"admin"}, PasswordHash: "x"},
		{Login: "bob", Name: "Bob", Roles: []string{"supervisor"}, PasswordHash: "x"},
		{Login: "oper", Name: "Operator", Roles: []string{"operator"}, PasswordHash: "x"},
	} {
		if _, err := st.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	d := []string{"--data-dir", dir}

	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"missing flags", []string{"add", "--kind", "domain"}, 2, "--value, --category, --reason, --by required"},
		{"no account", []string{"add", "--kind", "domain", "--value", "x.example", "--category", "hotline", "--reason", "r", "--by", "nobody"}, 1, "no account"},
		{"wrong role", []string{"add", "--kind", "domain", "--value", "x.example", "--category", "hotline", "--reason", "r", "--by", "oper"}, 1, "none of the roles"},
		{"unknown category", []string{"add", "--kind", "domain", "--value", "x.example", "--category", "nope", "--reason", "r", "--by", "alice"}, 1, "unknown category"},
		{"canary", []string{"add", "--kind", "domain", "--value", "Canary.Kidshield.Example", "--category", "hotline", "--reason", "r", "--by", "alice"}, 1, "built-in canary"},
		{"canary removal", []string{"remove", "--id", "0", "--reason", "r", "--by", "alice"}, 1, "built-in canary"},
		{"bad kind", []string{"add", "--kind", "ip", "--value", "1.2.3.4", "--category", "hotline", "--reason", "r", "--by", "alice"}, 1, "unknown kind"},
		{"bad state", []string{"show", "--state", "gone"}, 2, "unknown state"},
		{"import without file", []string{"import", "--source", "s", "--category", "adult"}, 2, "FILE_OR_URL"},
		{"unknown command", []string{"purge"}, 2, "unknown command"},
	} {
		code, _, errs := runList(t, append(tc.args[:1:1], append(d, tc.args[1:]...)...)...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%s: %d %q, want %d and %q", tc.name, code, errs, tc.code, tc.msg)
		}
	}

	// An emergency entry: proposed by one, approved by another.
	code, out, errs := runList(t, "add", "--data-dir", dir, "--kind", "domain", "--value", "Live-Abuse.example.", "--category", "hotline", "--reason", "live stream", "--by", "alice")
	if code != 0 || !strings.HasPrefix(out, "proposed entry 1:") {
		t.Fatalf("add: %d %q %q", code, out, errs)
	}
	if _, ok := listShown(t, dir, "--state", "active")["live-abuse.example"]; ok {
		t.Fatal("a proposal is published")
	}
	if code, _, errs := runList(t, "approve", "--data-dir", dir, "--id", "1", "--by", "Alice"); code != 1 || !strings.Contains(errs, "two-person rule") {
		t.Fatalf("self-approval: %d %q", code, errs)
	}
	if code, out, errs := runList(t, "approve", "--data-dir", dir, "--id", "1", "--by", "bob"); code != 0 || out != "entry 1 domain live-abuse.example: active\n" {
		t.Fatalf("approve: %d %q %q", code, out, errs)
	}

	// An import; the confirmed entry wins over the import's copy of it.
	list := filepath.Join(t.TempDir(), "adult.txt")
	if err := os.WriteFile(list, []byte("porn.example\nlive-abuse.example\nother.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runList(t, "import", "--data-dir", dir, "--source", "ut1-adult", "--category", "adult", list, "--by", "alice")
	if code != 0 || !strings.Contains(out, "3 added, 0 removed") || !strings.Contains(out, "list serial 5") {
		t.Fatalf("import: %d %q %q", code, out, errs)
	}
	// The same file again changes nothing and bumps no serial.
	if code, out, errs = runList(t, "import", "--data-dir", dir, "--source", "ut1-adult", "--category", "adult", list); code != 0 || !strings.Contains(out, "0 added, 0 removed, 0 recategorised, 3 unchanged") || !strings.Contains(out, "list serial 5") {
		t.Fatalf("re-import: %d %q %q", code, out, errs)
	}
	v := listShown(t, dir, "--state", "active")
	if e := v["live-abuse.example"]; e.Source != "admin" || e.Category != "hotline" || e.ID != 1 {
		t.Fatalf("confirmed entry %+v", e)
	}
	if e := v["porn.example"]; e.Source != "import:ut1-adult" || e.Category != "adult" || e.State != "active" {
		t.Fatalf("imported entry %+v", e)
	}
	if e := v[store.CanaryValue]; e.Source != "canary" || e.Category != "hotline" || len(v) != 4 {
		t.Fatalf("canary %+v in %v", e, v)
	}
	if v = listShown(t, dir, "--state", "active", "--category", "adult"); len(v) != 2 {
		t.Fatalf("category filter %v", v)
	}

	// Delisting leaves a tombstone that keeps the imported copy off the list.
	if code, out, errs := runList(t, "remove", "--data-dir", dir, "--id", "1", "--reason", "content removed", "--by", "alice"); code != 0 || !strings.Contains(out, "delisted") {
		t.Fatalf("remove: %d %q %q", code, out, errs)
	}
	if _, ok := listShown(t, dir, "--state", "active")["live-abuse.example"]; ok {
		t.Fatal("a delisted value came back through an import")
	}
	if v = listShown(t, dir); len(v) != 2 || v["live-abuse.example"].State != "delisted" {
		t.Fatalf("show all %v", v)
	}
	code, out, _ = runList(t, "show", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, store.CanaryValue) || !strings.Contains(out, "Alice") || !strings.Contains(out, "Bob") {
		t.Fatalf("table: %q", out)
	}
	code, out, _ = runList(t, "sources", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "ut1-adult") || !strings.Contains(out, "sha256:") {
		t.Fatalf("sources: %q", out)
	}

	// Everything went through the audit log in the actors' names.
	st, err = store.Open(t.Context(), "sqlite:"+filepath.Join(dir, "kidshield.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err := st.AuditRange(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		if strings.HasPrefix(r.Action, "list.") {
			got = append(got, r.Actor+" "+r.Action)
		}
	}
	want := "cli:user:1:alice list.propose|cli:user:2:bob list.approve|cli:user:1:alice list.import|cli list.import|cli:user:1:alice list.delisted"
	if strings.Join(got, "|") != want {
		t.Fatalf("audit %q\nwant %q", strings.Join(got, "|"), want)
	}
	// Lines and values left out are named with the reason, not only counted.
	bad := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(bad, []byte("good.example\nlocalhost\n10.0.0.1\ncanary.kidshield.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runList(t, "import", "--data-dir", dir, "--source", "bad-list", "--category", "adult", bad)
	if code != 0 || !strings.Contains(out, "1 added") || !strings.Contains(out, `ignored: "localhost" is a public suffix or a single-label name`) ||
		!strings.Contains(out, "canary") || strings.Count(out, "  ignored: ")+strings.Count(out, "  bad: ") != 3 {
		t.Fatalf("import with refused values: %d %q %q", code, out, errs)
	}
}

// TestListURLAndRecheckCommands: a URL entry that also blocks its host by DNS (add --dns-host,
// shown and published as a host), and re-checks (show --due, verify ID).
func TestListURLAndRecheckCommands(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(dir, "kidshield.db"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, u := range []store.User{
		{Login: "alice", Name: "Alice", Roles: []string{"admin"}, PasswordHash: "x"},
		{Login: "bob", Name: "Bob", Roles: []string{"supervisor"}, PasswordHash: "x"},
	} {
		id, err := st.CreateUser(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// An entry approved two months ago: its re-check (30 days by default) is overdue.
	old := time.Now().Add(-60 * 24 * time.Hour)
	oldID, err := st.ProposeListEntry(t.Context(), store.ListProposal{Kind: store.ListDomain, Value: "old.example", Category: "hotline", ActorID: ids[0], Time: old})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.ChangeListEntry(t.Context(), oldID, store.ListChange{To: "active", ActorID: ids[1], Time: old}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"dns-host on a domain", []string{"add", "--kind", "domain", "--value", "x.example", "--category", "hotline", "--reason", "r", "--by", "alice", "--dns-host"}, 2, "--dns-host is for --kind url"},
		{"dns-host on a public suffix", []string{"add", "--kind", "url", "--value", "https://github.io/x", "--category", "hotline", "--reason", "r", "--by", "alice", "--dns-host"}, 1, "public suffix"},
		{"verify without id", []string{"verify", "--by", "alice"}, 2, "ID required"},
		{"verify bad id", []string{"verify", "x1", "--by", "alice"}, 2, "not an entry's id"},
		{"verify the canary", []string{"verify", "0", "--by", "alice"}, 1, "built-in canary"},
		{"due and state", []string{"show", "--due", "--state", "active"}, 2, "do not go together"},
	} {
		code, _, errs := runList(t, append(tc.args[:1:1], append([]string{"--data-dir", dir}, tc.args[1:]...)...)...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%s: %d %q, want %d and %q", tc.name, code, errs, tc.code, tc.msg)
		}
	}

	code, out, errs := runList(t, "add", "--data-dir", dir, "--kind", "url", "--value", "https://WWW.Bad.example/p", "--dns-host", "--category", "hotline", "--reason", "r", "--by", "alice")
	if code != 0 || !strings.HasPrefix(out, "proposed entry") {
		t.Fatalf("add url: %d %q %q", code, out, errs)
	}
	urlID := strings.Fields(out)[2]
	urlID = strings.TrimSuffix(urlID, ":")
	if code, out, errs := runList(t, "approve", "--data-dir", dir, "--id", urlID, "--by", "bob"); code != 0 {
		t.Fatalf("approve: %d %q %q", code, out, errs)
	}
	var rows []struct {
		Value, Kind, Source, Expires string
		DNSHost                      string `json:"dns_host"`
		RecheckDue                   bool   `json:"recheck_due"`
	}
	showJSON := func(args ...string) {
		t.Helper()
		code, out, errs := runList(t, append([]string{"show", "--data-dir", dir, "--json"}, args...)...)
		rows = nil
		if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil {
			t.Fatalf("show %v: %d %v %q", args, code, err, errs)
		}
	}
	showJSON()
	found := false
	for _, r := range rows {
		if r.Value == "https://WWW.Bad.example/p" {
			found = r.DNSHost == "www.bad.example" && r.Expires != ""
		}
	}
	if !found {
		t.Fatalf("show: the URL entry's DNS host or expiry is missing: %+v", rows)
	}
	v := listShown(t, dir, "--state", "active")
	if e := v["www.bad.example"]; e.Kind != "host" || e.Source != "url" {
		t.Fatalf("published host %+v", e)
	}
	if _, out, _ := runList(t, "show", "--data-dir", dir); !strings.Contains(out, "www.bad.example") || !strings.Contains(out, "(due)") {
		t.Fatalf("table lacks the DNS host or the due mark:\n%s", out)
	}

	showJSON("--due")
	if len(rows) != 1 || rows[0].Value != "old.example" || !rows[0].RecheckDue {
		t.Fatalf("due: %+v", rows)
	}
	code, out, errs = runList(t, "verify", fmt.Sprint(oldID), "--data-dir", dir, "--by", "alice")
	if code != 0 || !strings.Contains(out, "re-checked") {
		t.Fatalf("verify: %d %q %q", code, out, errs)
	}
	if showJSON("--due"); len(rows) != 0 {
		t.Fatalf("due after verify: %+v", rows)
	}
	if code, _, errs := runList(t, "verify", "--data-dir", dir, "--id", "999", "--by", "alice"); code != 1 || !strings.Contains(errs, "not found") {
		t.Fatalf("verify a missing entry: %d %q", code, errs)
	}
}
