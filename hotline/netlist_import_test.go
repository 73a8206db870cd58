package hotline

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
)

func TestImportListFileAndURL(t *testing.T) {
	svc, st := testService(t)
	ctx := t.Context()
	changes := 0
	svc.o.OnListChange = func() { changes++ }
	by := Actor{Label: "cli"}

	file := filepath.Join(t.TempDir(), "adult.txt")
	content := "# a public list\n0.0.0.0 porn.example\n0.0.0.0 www.porn.example\n0.0.0.0 com.vn\nbad line with spaces here\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := svc.ImportList(ctx, by, ListImportInput{Source: "ut1", Category: "adult", Location: file, Format: "hosts"})
	if err != nil {
		t.Fatal(err)
	}
	// hosts lines block the name and its subdomains (the filter's own reading); a public
	// suffix is never imported.
	if rep.Added != 2 || rep.Ignored != 1 || !strings.HasPrefix(rep.Digest, "sha256:") || changes != 1 {
		t.Fatalf("report %+v, %d changes", rep, changes)
	}
	if rep, err = svc.ImportList(ctx, by, ListImportInput{Source: "ut1", Category: "adult", Location: file, Format: "hosts"}); err != nil || rep.Changed() || changes != 1 {
		t.Fatalf("re-import %+v %v", rep, err)
	}

	// Over HTTP: adblock syntax, a size cap, errors that change nothing.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/list":
			fmt.Fprint(w, "||gamble.example^\n@@||ok.gamble.example^\n")
		case "/big":
			fmt.Fprint(w, strings.Repeat("a.example\n", 1000))
		case "/html":
			fmt.Fprint(w, "<html><body>not found</body></html>\n")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	rep, err = svc.ImportList(ctx, by, ListImportInput{Source: "gambling-list", Category: "gambling", Location: srv.URL + "/list"})
	if err != nil || rep.Added != 1 || rep.Ignored != 1 {
		t.Fatalf("URL import %+v %v", rep, err)
	}
	before, _ := st.ListSerial(ctx)
	for _, tc := range []struct{ path, msg string }{{"/missing", "404"}, {"/big", "larger than"}, {"/html", "no usable entries"}} {
		_, err := svc.ImportList(ctx, by, ListImportInput{Source: "gambling-list", Category: "gambling", Location: srv.URL + tc.path, MaxBytes: 5000})
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v", tc.path, err)
		}
	}
	if _, err := svc.ImportList(ctx, by, ListImportInput{Source: "x", Category: "adult", Location: "ftp://x/y"}); err == nil {
		t.Error("ftp accepted")
	}
	if _, err := svc.ImportList(ctx, by, ListImportInput{Source: "x", Category: "adult", Location: file, Format: "csv"}); err == nil {
		t.Error("unknown format accepted")
	}
	if after, _ := st.ListSerial(ctx); after != before {
		t.Fatal("a failed import changed the list")
	}
	view, err := st.ActiveNetworkEntries(ctx)
	if err != nil || len(view) != 4 {
		t.Fatalf("view %d %v", len(view), err)
	}
}

func TestAddAndRemoveListEntry(t *testing.T) {
	svc, st := testService(t)
	ctx := t.Context()
	alice, _ := st.CreateUser(ctx, store.User{Login: "alice", Name: "Alice", Roles: []string{"admin"}, PasswordHash: "x"})
	bob, _ := st.CreateUser(ctx, store.User{Login: "bob", Name: "Bob", Roles: []string{"supervisor"}, PasswordHash: "x"})
	a, b := Actor{UserID: alice, Label: "user:1:alice"}, Actor{UserID: bob, Label: "user:2:bob"}

	for _, tc := range []struct{ kind, value, reason string }{
		{store.ListDomain, "canary.kidshield.example", "x"},
		{store.ListDomain, "com.vn", "x"},
		{"ip", "1.2.3.4", "x"},
		{store.ListDomain, "ok.example", " "},
	} {
		if _, err := svc.AddListEntry(ctx, a, tc.kind, tc.value, "hotline", tc.reason); err == nil {
			t.Errorf("%+v accepted", tc)
		}
	}
	if _, err := svc.AddListEntry(ctx, a, store.ListDomain, store.CanaryValue, "hotline", "x"); !errors.Is(err, store.ErrCanary) {
		t.Errorf("canary: %v", err)
	}
	id, err := svc.AddListEntry(ctx, a, store.ListDomain, "Emergency.example", "hotline", "live abuse stream")
	if err != nil {
		t.Fatal(err)
	}
	e, _ := st.ListEntryByID(ctx, id)
	if e.Source != ListSourceAdmin || e.State != lifecycle.ListProposed || e.ProposedBy != alice || e.Value != "emergency.example" {
		t.Fatalf("entry %+v", e)
	}
	if _, err := svc.ApproveListEntry(ctx, a, id); !errors.Is(err, lifecycle.ErrSamePerson) {
		t.Fatalf("self-approval: %v", err)
	}
	if e, err = svc.ApproveListEntry(ctx, b, id); err != nil || e.State != lifecycle.ListActive {
		t.Fatalf("approve %+v %v", e, err)
	}
	if _, err := svc.RemoveListEntry(ctx, a, id, ""); err == nil {
		t.Fatal("removal without a reason")
	}
	if _, err := svc.RemoveListEntry(ctx, a, 0, "x"); !errors.Is(err, store.ErrCanary) {
		t.Fatalf("canary removal: %v", err)
	}
	if e, err = svc.RemoveListEntry(ctx, a, id, "content removed"); err != nil || e.State != lifecycle.ListDelisted {
		t.Fatalf("remove %+v %v", e, err)
	}
	id2, _ := svc.AddListEntry(ctx, a, store.ListHost, "h.example", "hotline", "r")
	if e, err = svc.RemoveListEntry(ctx, b, id2, "mistake"); err != nil || e.State != lifecycle.ListRejected {
		t.Fatalf("remove proposal %+v %v", e, err)
	}
}
