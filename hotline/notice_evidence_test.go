package hotline

import (
	"strings"
	"testing"

	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
)

// Evidence keeps the URL as fetched (http here, with a tracking parameter), and its hashes
// still reach the notice item of the link it canonicalises to; evidence of another link does
// not.
func TestNoticeItemsTakeEvidenceByCanonicalURL(t *testing.T) {
	e := newNtcEnv(t)
	caseID := e.caseAt(t, lifecycle.CaseActionable, "CSE.CSAM", "http://Host.example/p?id=7&utm_source=x")
	sum, other := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	for _, ev := range []store.Evidence{
		{CaseID: caseID, URL: "http://host.example/p?id=7&utm_source=x", SHA256: sum, Source: "scanner"},
		{CaseID: caseID, URL: "http://host.example/elsewhere", SHA256: other, Source: "scanner"},
	} {
		if _, err := e.svc.AddEvidence(t.Context(), ntcAlice, ev); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := e.st.CaseEvidence(t.Context(), caseID)
	if err != nil || len(evs) != 2 || evs[0].URL != "http://host.example/p?id=7&utm_source=x" {
		t.Fatalf("evidence %+v %v: want the URL kept as fetched", evs, err)
	}
	d, err := e.svc.NewNoticeDraft(t.Context(), caseID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Items) != 1 || d.Items[0].Hashes != "sha256:"+sum {
		t.Fatalf("items %+v: want one item with the page's hash only", d.Items)
	}
	// The partner gets a link that opens: http as reported, tracking parameters dropped.
	if d.Items[0].URL != "http://host.example/p?id=7" {
		t.Errorf("notice item URL %q, want http://host.example/p?id=7", d.Items[0].URL)
	}
}
