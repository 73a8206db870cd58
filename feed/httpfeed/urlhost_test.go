package httpfeed

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
)

// TestURLEntryHostReachesDNSFormats reads the published list from a real store, as the feed
// does (NetworkListSnapshot): a URL entry proposed with "also block its host in DNS" puts its
// host, exactly, in every DNS format and the RPZ zone, with no change on the formats' side; a
// URL entry without it stays out of them. The JSON file carries both, with their last
// verification and expiry.
func TestURLEntryHostReachesDNSFormats(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	id, err := f.st.ProposeListEntry(ctx, store.ListProposal{Kind: store.ListURL, Value: "https://www.bad.example/video/1", DNSHost: true,
		Category: "hotline", ActorID: f.alice, Time: f.now})
	if err != nil {
		t.Fatal(err)
	}
	approved := f.now.Add(time.Minute)
	if _, _, err := f.st.ChangeListEntry(ctx, id, store.ListChange{To: lifecycle.ListActive, ActorID: f.bob, Time: approved, Recheck: 72 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	f.add(store.ListURL, "https://page.example/only-this", "hotline", "", true)
	build := func() map[string][]byte {
		t.Helper()
		serial, es, err := f.st.NetworkListSnapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		files, _, err := Build(feedConfig(), serial, es, []string{"hotline"}, testSigner(t), f.now)
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	files := build()
	for file, want := range map[string]string{
		"all.domains.txt":     "\n=www.bad.example\n",
		"hotline.domains.txt": "\n=www.bad.example\n",
		"all.hosts.txt":       "\n0.0.0.0 www.bad.example\n",
		"all.adblock.txt":     "\n|www.bad.example^\n",
		"rpz.zone":            "\nwww.bad.example.rpz.kidshield.test.\t",
	} {
		body := string(files[file])
		if !strings.Contains(body, want) {
			t.Errorf("%s lacks %q:\n%s", file, strings.TrimSpace(want), body)
		}
		// Exactly the host: not its subdomains, and nothing of the URL without the option.
		for _, not := range []string{"*.www.bad.example", "||www.bad.example^", "page.example"} {
			if strings.Contains(body, not) {
				t.Errorf("%s has %q:\n%s", file, not, body)
			}
		}
	}
	var doc JSONList
	if err := json.Unmarshal(files["all.json"], &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]JSONEntry{}
	for _, e := range doc.Entries {
		got[e.Kind+" "+e.Value] = e
	}
	for _, k := range []string{"url https://www.bad.example/video/1", "host www.bad.example"} {
		e, ok := got[k]
		if !ok || e.LastVerified == nil || !e.LastVerified.Equal(approved) || e.Expires == nil || !e.Expires.Equal(approved.Add(72*time.Hour)) {
			t.Errorf("%s in all.json: %+v (last_verified %v, expires %v)", k, e, e.LastVerified, e.Expires)
		}
	}
	if e := got["host www.bad.example"]; e.Provenance.Source != store.URLHostSource {
		t.Errorf("host provenance %+v", e.Provenance)
	}

	// Delisting the URL entry takes its host out of every DNS format.
	if _, _, err := f.st.ChangeListEntry(ctx, id, store.ListChange{To: lifecycle.ListDelisted, ActorID: f.bob, Time: approved}); err != nil {
		t.Fatal(err)
	}
	for file, body := range build() {
		if strings.Contains(string(body), "www.bad.example") {
			t.Errorf("%s still has the delisted URL's host", file)
		}
	}
}
