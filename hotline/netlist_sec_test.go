package hotline

import (
	"errors"
	"testing"

	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
)

// A domain entry blocks a whole subtree: a public suffix proposed by mistake (or by two people
// who agree on one) would take every site under it off the network of every child the filter
// serves. Sites under a suffix, and exact host entries, are fine.
func TestListProposalRefusesPublicSuffix(t *testing.T) {
	e := newNtcEnv(t)
	ctx := t.Context()
	cid := e.caseAt(t, lifecycle.CaseActionable, "HARM.ADULT", "https://bad.com.vn/x")
	for _, v := range []string{"com.vn", "COM.VN.", "co.uk", "github.io", "blogspot.com"} {
		_, err := e.svc.ProposeFromCase(ctx, ntcAlice, cid, ListProposalInput{Values: []string{v}})
		var verr ValidationError
		if !errors.As(err, &verr) || verr[0].Key != "list.err.value" {
			t.Errorf("%q: %v", v, err)
		}
	}
	if list, _ := e.st.ListEntries(ctx, store.ListFilter{}); len(list) != 0 {
		t.Fatalf("%d entries stored", len(list))
	}
	if _, err := e.svc.ProposeFromCase(ctx, ntcAlice, cid, ListProposalInput{Values: []string{"bad.com.vn", "evil.github.io"}}); err != nil {
		t.Fatalf("sites under a suffix: %v", err)
	}
	if _, err := e.svc.ProposeFromCase(ctx, ntcAlice, cid, ListProposalInput{Kind: store.ListHost, Values: []string{"github.io"}}); err != nil {
		t.Fatalf("an exact host: %v", err)
	}
}
