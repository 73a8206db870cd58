package hotline

import (
	"errors"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
)

// TestListURLProposals proposes a case's URLs, with and without "also block the host in DNS",
// from a case and without one; the options are refused where they make no sense or would
// block many people's sites.
func TestListURLProposals(t *testing.T) {
	e := newNtcEnv(t)
	ctx := t.Context()
	cid := e.caseAt(t, lifecycle.CaseActionable, "HARM.ADULT", "https://www.bad.example/a", "https://evil.github.io/b")
	ids, err := e.svc.ProposeFromCase(ctx, ntcAlice, cid, ListProposalInput{Kind: store.ListURL, DNSHost: true})
	if err != nil || len(ids) != 2 {
		t.Fatalf("the case's URLs: %v %v", ids, err)
	}
	for i, want := range []string{"www.bad.example", "evil.github.io"} {
		if got, _ := e.st.ListEntryByID(ctx, ids[i]); got.Kind != store.ListURL || got.DNSName != want || got.CaseID != cid {
			t.Errorf("entry %d: %+v, want dns name %s", i, got, want)
		}
	}
	for _, c := range []struct {
		in  ListProposalInput
		key string
	}{
		{ListProposalInput{Kind: store.ListDomain, DNSHost: true, Values: []string{"other.example"}}, "list.err.dns_host_kind"},
		{ListProposalInput{Kind: store.ListURL, DNSHost: true, Values: []string{"https://github.io/x"}}, "list.err.dns_host"},
		{ListProposalInput{Kind: store.ListURL, DNSHost: true, Values: []string{"https://com.vn/x"}}, "list.err.dns_host"},
		{ListProposalInput{Kind: store.ListURL, DNSHost: true, Values: []string{"https://192.0.2.7/x"}}, "list.err.dns_host"},
		{ListProposalInput{Kind: store.ListHash, Values: []string{"sha256:" + "00"}}, "list.err.kind"},
	} {
		_, err := e.svc.ProposeFromCase(ctx, ntcAlice, cid, c.in)
		var verr ValidationError
		if !errors.As(err, &verr) || verr[0].Key != c.key {
			t.Errorf("%+v: %v, want %s", c.in, err, c.key)
		}
	}
	// Without the option, a URL on a public suffix is one page: it may be listed.
	if _, err := e.svc.ProposeFromCase(ctx, ntcAlice, cid, ListProposalInput{Kind: store.ListURL, Values: []string{"https://github.io/x"}}); err != nil {
		t.Fatalf("a URL without the DNS option: %v", err)
	}

	id, err := e.svc.AddListEntryInput(ctx, ntcAlice, ListAddInput{Kind: store.ListURL, Value: "https://Host.Example/p", Category: "hotline", Reason: "emergency", DNSHost: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.st.ListEntryByID(ctx, id); got.DNSName != "host.example" || got.Source != ListSourceAdmin {
		t.Fatalf("added %+v", got)
	}
	for _, in := range []ListAddInput{
		{Kind: store.ListURL, Value: "https://blogspot.com/p", Category: "hotline", Reason: "r", DNSHost: true},
		{Kind: store.ListDomain, Value: "x.example", Category: "hotline", Reason: "r", DNSHost: true},
		{Kind: store.ListURL, Value: "https://y.example/p", Category: "hotline", DNSHost: true},
		{Kind: store.ListURL, Value: "https://canary.kidshield.example/p", Category: "hotline", Reason: "r", DNSHost: true},
	} {
		if _, err := e.svc.AddListEntryInput(ctx, ntcAlice, in); err == nil {
			t.Errorf("%+v accepted", in)
		}
	}
}

// TestListRecheckService checks that approval sets the expiry from hotline.list_recheck_after
// and a re-check moves both dates without running the filter's reload hook (nothing it blocks
// changed).
func TestListRecheckService(t *testing.T) {
	e := newNtcEnv(t)
	ctx := t.Context()
	e.svc.Config().ListRecheckAfter = 7 * 24 * time.Hour
	cid := e.caseAt(t, lifecycle.CaseActionable, "HARM.ADULT", "https://bad.example/a")
	ids, err := e.svc.ProposeFromCase(ctx, ntcAlice, cid, ListProposalInput{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.ApproveListEntry(ctx, ntcBob, ids[0])
	if err != nil || !got.Expires.Equal(e.now.Add(7*24*time.Hour)) || !got.LastVerified.Equal(e.now) {
		t.Fatalf("approved %+v %v", got, err)
	}
	hook := e.listHook
	e.now = e.now.Add(8 * 24 * time.Hour)
	if !got.RecheckDue(e.now) {
		t.Fatal("not due after its period")
	}
	serial, _ := e.st.ListSerial(ctx)
	got, err = e.svc.VerifyListEntry(ctx, ntcAlice, ids[0])
	if err != nil || !got.LastVerified.Equal(e.now) || !got.Expires.Equal(e.now.Add(7*24*time.Hour)) || got.RecheckDue(e.now) {
		t.Fatalf("verified %+v %v", got, err)
	}
	if s, _ := e.st.ListSerial(ctx); s != serial+1 || e.listHook != hook {
		t.Fatalf("serial %d (was %d), hook %d (was %d)", s, serial, e.listHook, hook)
	}
	if _, err := e.svc.VerifyListEntry(ctx, ntcAlice, 0); !errors.Is(err, store.ErrCanary) {
		t.Fatalf("the canary: %v", err)
	}
}
