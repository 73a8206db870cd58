package scanner

import (
	"testing"
	"time"

	"github.com/kidshield/kidshield/scanner/classify"
	"github.com/kidshield/kidshield/store"
)

// The hosts a scan touched are looked up in the published network list (here: imported
// lists) and read for cues in their names.
func TestClassifyHosts(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := t.Context()
	at := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	for _, imp := range []store.ListImport{
		{Source: "adult-list", Category: "adult", Entries: []store.ImportEntry{{Kind: store.ListDomain, Value: "adult.example"}, {Kind: store.ListDomain, Value: "bóng.example"}}},
		{Source: "exact-list", Category: "gambling", Entries: []store.ImportEntry{{Kind: store.ListHost, Value: "exact.example"}}},
	} {
		imp.Actor, imp.Time, imp.Format = "test", at, "domains"
		if _, err := e.st.ImportList(ctx, imp); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name     string
		urls     []string
		top      string
		listed   bool // a reason from the list
		category string
	}{
		{"a subdomain of a listed domain", []string{"https://m.adult.example/p?q=1"}, classify.Sexual, true, classify.Sexual},
		{"a listed host itself", []string{"https://exact.example/"}, classify.Gambling, true, classify.Gambling},
		{"below a host entry: not listed", []string{"https://sub.exact.example/"}, classify.Clean, false, ""},
		{"an IDN under a listed IDN", []string{"https://sub.BÓNG.example./x"}, classify.Sexual, true, classify.Sexual},
		{"a shortener leading to a listed site", []string{"https://short.example/a", "https://adult.example/x"}, classify.Sexual, true, classify.Sexual},
		{"a cue in the name only", []string{"https://nohu88.vn/"}, classify.Gambling, false, classify.Gambling},
		{"an unlisted plain name", []string{"https://news.example/"}, classify.Clean, false, ""},
		{"an address", []string{"http://127.0.0.1:8080/"}, classify.Clean, false, ""},
		{"a bare top-level domain is never looked up", []string{"https://example/"}, classify.Clean, false, ""},
	} {
		r, err := e.sc.classifyHosts(ctx, tc.urls...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		listed := false
		for _, re := range r.Reasons {
			if re.Rule == "list" {
				listed = true
				if re.Category != tc.category {
					t.Errorf("%s: list reason %+v, want category %s", tc.name, re, tc.category)
				}
			}
		}
		if r.Top != tc.top || listed != tc.listed {
			t.Errorf("%s: top %q listed %v (%+v), want %q listed %v", tc.name, r.Top, listed, r.Reasons, tc.top, tc.listed)
		}
	}
}

// A page that cannot be fetched still gets what its host says: a refused URL on a listed
// host records the failure with the list's category as its suggestion.
func TestFailedScanKeepsHostSuggestion(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := t.Context()
	if _, err := e.st.ImportList(ctx, store.ListImport{Source: "adult-list", Category: "adult", Actor: "test", Time: time.Now(), Format: "domains",
		Entries: []store.ImportEntry{{Kind: store.ListDomain, Value: "listed.example"}}}); err != nil {
		t.Fatal(err)
	}
	c := e.report(t, "/x")
	// Port 9 is not one the scanner fetches: refused for good, before any lookup.
	for _, u := range []string{"http://www.listed.example:9/p", "http://plain.example:9/p"} {
		if err := e.sc.Enqueue(ctx, c.ID, []string{u}); err != nil {
			t.Fatal(err)
		}
	}
	e.drain(t)
	rs, err := e.st.CaseScanResults(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.ScanResult{}
	for _, r := range rs {
		got[r.URL] = r
	}
	listed, plain := got["http://www.listed.example:9/p"], got["http://plain.example:9/p"]
	// The job itself keeps the failure's kind (what the case page says while a job retries).
	if j, err := e.st.ScanJobByID(ctx, listed.JobID); err != nil || j.LastErrorKind != FailPort {
		t.Errorf("job of the refused URL: %+v %v, want last error kind %q", j, err, FailPort)
	}
	if listed.ErrorKind != FailPort || listed.Suggestion.Top != classify.Sexual || len(listed.Suggestion.Reasons) == 0 || listed.Suggestion.Reasons[0].Rule != "list" {
		t.Errorf("listed host: %+v, want a port failure suggesting sexual content from the list", listed)
	}
	if plain.ErrorKind != FailPort || plain.Suggestion.Top != "" || len(plain.Suggestion.Reasons) != 0 {
		t.Errorf("unlisted host: %+v, want the failure alone", plain)
	}
}
