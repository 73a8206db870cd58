package httpfeed

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/auth"
	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/filter/lists"
	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

type fixture struct {
	t          *testing.T
	st         *store.Store
	alice, bob int64
	now        time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "feed.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, st: st, now: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	for _, u := range []struct {
		login string
		id    *int64
	}{{"alice", &f.alice}, {"bob", &f.bob}} {
		id, err := st.CreateUser(t.Context(), store.User{Login: u.login, Name: "Nguyễn Văn " + u.login, Roles: []string{"analyst"}, PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		*u.id = id
	}
	return f
}

// add proposes an entry and, when active, has the second analyst approve it.
func (f *fixture) add(kind, value, category, source string, active bool) int64 {
	f.t.Helper()
	ctx := f.t.Context()
	id, err := f.st.ProposeListEntry(ctx, store.ListProposal{Kind: kind, Value: value, Category: category, Source: source,
		Reason: "secret reason about a child", ActorID: f.alice, Actor: "user:alice", Time: f.now})
	if err != nil {
		f.t.Fatal(err)
	}
	if active {
		if _, _, err := f.st.ChangeListEntry(ctx, id, store.ListChange{To: lifecycle.ListActive, ActorID: f.bob, Actor: "user:bob", Time: f.now.Add(time.Minute)}); err != nil {
			f.t.Fatal(err)
		}
	}
	return id
}

// standard fills the fixture's list.
func (f *fixture) standard() {
	f.add(store.ListDomain, "bad.example", "hotline", "", true)
	f.add(store.ListHost, "exact.example", "adult", "import", true)
	f.add(store.ListDomain, "gamble.example", "gambling", "", true)
	f.add(store.ListDomain, "odd.example", "Weird Category", "", true) // no file of its own
	f.add(store.ListURL, "https://host.example/page", "hotline", "", true)
	f.add(store.ListHash, "sha256:"+strings.Repeat("ab", 32), "hotline", "", true)
	f.add(store.ListDomain, "pending.example", "hotline", "", false) // proposed: never published
}

func testSigner(t *testing.T) *hotline.NoticeSigner {
	t.Helper()
	k, err := LoadSigner(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func feedConfig() *config.Feed {
	return &config.Feed{Zone: "rpz.kidshield.test.", Action: "nxdomain", TTL: 5 * time.Minute, Refresh: time.Hour, Retry: 10 * time.Minute, Expire: 7 * 24 * time.Hour}
}

func (f *fixture) build(cfg *config.Feed, signer *hotline.NoticeSigner) (map[string][]byte, []byte) {
	f.t.Helper()
	ctx := f.t.Context()
	serial, err := f.st.ListSerial(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	es, err := f.st.ActiveListEntries(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	files, m, err := Build(cfg, serial, es, []string{"hotline", "adult", "gambling", "violence"}, signer, f.now)
	if err != nil {
		f.t.Fatal(err)
	}
	return files, m
}

func compileRules(t *testing.T, body []byte, format lists.Format) ([]lists.Rule, lists.Stats) {
	t.Helper()
	l, st, err := lists.Compile(bytes.NewReader(body), format)
	if err != nil {
		t.Fatal(err)
	}
	rules := slices.Collect(l.All())
	slices.SortFunc(rules, func(a, b lists.Rule) int { return strings.Compare(a.Name, b.Name) })
	return rules, st
}

func TestFormatsRoundTripThroughFilterLists(t *testing.T) {
	f := newFixture(t)
	f.standard()
	files, _ := f.build(feedConfig(), testSigner(t))

	// The published set: domains with their subdomains, hosts exactly; URL and hash entries
	// are not names.
	want := []lists.Rule{
		{Name: "bad.example", Kind: lists.Subtree},
		{Name: "exact.example", Kind: lists.Exact},
		{Name: "gamble.example", Kind: lists.Subtree},
		{Name: "odd.example", Kind: lists.Subtree},
	}
	for _, c := range []struct {
		file   string
		format lists.Format
		want   []lists.Rule
	}{
		{"all.domains.txt", lists.FormatDomains, want},
		{"all.adblock.txt", lists.FormatAdblock, want},
		{"all.domains.txt", lists.FormatAuto, want},
		{"all.adblock.txt", lists.FormatAuto, want},
		// A hosts line cannot say "exactly": filter/lists reads every hosts name as a subtree
		// (documented in the file's header).
		{"all.hosts.txt", lists.FormatHosts, []lists.Rule{
			{Name: "bad.example", Kind: lists.Subtree},
			{Name: "exact.example", Kind: lists.Subtree},
			{Name: "gamble.example", Kind: lists.Subtree},
			{Name: "odd.example", Kind: lists.Subtree},
		}},
		{"adult.adblock.txt", lists.FormatAdblock, []lists.Rule{{Name: "exact.example", Kind: lists.Exact}}},
		{"adult.domains.txt", lists.FormatDomains, []lists.Rule{{Name: "exact.example", Kind: lists.Exact}}},
		{"hotline.domains.txt", lists.FormatDomains, []lists.Rule{{Name: "bad.example", Kind: lists.Subtree}}},
		{"violence.adblock.txt", lists.FormatAdblock, nil}, // configured, empty, still published
	} {
		body, ok := files[c.file]
		if !ok {
			t.Fatalf("no file %s; have %v", c.file, sortedKeys(files))
		}
		got, st := compileRules(t, body, c.format)
		if st.Bad != 0 {
			t.Errorf("%s as %v: %d bad lines: %v", c.file, c.format, st.Bad, st.Errors)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s as %v:\n got %v\nwant %v\n%s", c.file, c.format, got, c.want, body)
		}
	}
	for name, body := range files {
		if bytes.Contains(body, []byte("pending.example")) {
			t.Errorf("%s publishes a proposal", name)
		}
		if bytes.Contains(body, []byte("Nguyễn")) || bytes.Contains(body, []byte("secret reason")) {
			t.Errorf("%s carries personal data or reasons", name)
		}
	}
	if _, ok := files["Weird Category.json"]; ok {
		t.Error("a category unfit for a file name got a file")
	}
	for _, n := range []string{"all.domains.txt", "all.hosts.txt", "all.adblock.txt", "all.json", "rpz.zone", "gambling.json", "hotline.hosts.txt"} {
		if _, ok := files[n]; !ok {
			t.Errorf("no %s", n)
		}
	}
	if h := string(files["all.domains.txt"]); !strings.Contains(h, "\n=exact.example\n") || !strings.Contains(h, "subdomains") {
		t.Errorf("domains file:\n%s", h)
	}
	if h := string(files["all.hosts.txt"]); !strings.Contains(h, "\n0.0.0.0 bad.example\n") || strings.Contains(h, "host.example") {
		t.Errorf("hosts file:\n%s", h)
	}
	if h := string(files["all.adblock.txt"]); !strings.Contains(h, "\n||bad.example^\n") || !strings.Contains(h, "\n|exact.example^\n") {
		t.Errorf("adblock file:\n%s", h)
	}
}

func TestJSONFile(t *testing.T) {
	f := newFixture(t)
	f.standard()
	files, _ := f.build(feedConfig(), testSigner(t))
	var doc JSONList
	if err := json.Unmarshal(files["all.json"], &doc); err != nil {
		t.Fatal(err)
	}
	if doc.List != "all" || doc.Serial == 0 || len(doc.Entries) != 6 {
		t.Fatalf("all.json: list %q serial %d, %d entries", doc.List, doc.Serial, len(doc.Entries))
	}
	kinds := map[string]JSONEntry{}
	for _, e := range doc.Entries {
		kinds[e.Kind+" "+e.Value] = e
	}
	e, ok := kinds["host exact.example"]
	if !ok || e.Category != "adult" || e.Provenance.Source != "import" || !e.Added.Equal(f.now.Add(time.Minute)) {
		t.Errorf("host entry: %+v", e)
	}
	if _, ok := kinds["url https://host.example/page"]; !ok {
		t.Error("URL entry missing from JSON")
	}
	if _, ok := kinds["hash sha256:"+strings.Repeat("ab", 32)]; !ok {
		t.Error("hash entry missing from JSON")
	}
	for _, forbidden := range []string{"proposed_by", "approved_by", "reason", "alice", "bob"} {
		if bytes.Contains(files["all.json"], []byte(forbidden)) {
			t.Errorf("all.json contains %q", forbidden)
		}
	}
	var cat JSONList
	if err := json.Unmarshal(files["gambling.json"], &cat); err != nil || len(cat.Entries) != 1 || cat.Entries[0].Value != "gamble.example" {
		t.Errorf("gambling.json: %+v %v", cat, err)
	}
}

func TestZoneFile(t *testing.T) {
	f := newFixture(t)
	f.standard()
	serial, _ := f.st.ListSerial(t.Context())
	for _, c := range []struct {
		action, target string
	}{{"nxdomain", "."}, {"blockpage", "block.kidshield.test."}} {
		cfg := feedConfig()
		cfg.Action, cfg.BlockPage = c.action, "block.kidshield.test"
		files, _ := f.build(cfg, testSigner(t))
		zp := dns.NewZoneParser(bytes.NewReader(files["rpz.zone"]), "", "rpz.zone")
		var got []string
		var soa *dns.SOA
		for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
			switch rr := rr.(type) {
			case *dns.SOA:
				soa = rr
			case *dns.CNAME:
				if rr.Target != c.target || rr.Hdr.Ttl != 300 {
					t.Errorf("%s: %v", c.action, rr)
				}
				got = append(got, rr.Hdr.Name)
			case *dns.NS:
			default:
				t.Errorf("unexpected record %v", rr)
			}
		}
		if err := zp.Err(); err != nil {
			t.Fatalf("%s: zone does not parse: %v\n%s", c.action, err, files["rpz.zone"])
		}
		if soa == nil || soa.Hdr.Name != "rpz.kidshield.test." || int64(soa.Serial) != serial || soa.Refresh != 3600 || soa.Minttl != 300 {
			t.Errorf("SOA %v, list serial %d", soa, serial)
		}
		want := []string{
			"bad.example.rpz.kidshield.test.", "*.bad.example.rpz.kidshield.test.",
			"exact.example.rpz.kidshield.test.", // a host: no wildcard
			"gamble.example.rpz.kidshield.test.", "*.gamble.example.rpz.kidshield.test.",
			"odd.example.rpz.kidshield.test.", "*.odd.example.rpz.kidshield.test.",
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s triggers:\n got %v\nwant %v", c.action, got, want)
		}
	}
}

func TestLoadSigner(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadSigner(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	k2, err := LoadSigner(dir)
	if err != nil || !k2.PublicKey().Equal(k1.PublicKey()) {
		t.Fatalf("second start has another key: %v", err)
	}
	pub, err := ParsePublicKey(k1.PublicPEM())
	if err != nil || !pub.Equal(k1.PublicKey()) {
		t.Fatalf("PEM public key: %v", err)
	}
}

func TestManifestSignature(t *testing.T) {
	f := newFixture(t)
	f.standard()
	k := testSigner(t)
	files, mdata := f.build(feedConfig(), k)
	m, err := VerifyManifest(mdata, k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != len(files) {
		t.Errorf("manifest lists %d files, %d built", len(m.Files), len(files))
	}
	for name, body := range files {
		if err := m.Check(name, body); err != nil {
			t.Error(err)
		}
	}
	if mf := m.File("all.json"); mf == nil || mf.Entries != 6 || mf.Counts["url"] != 1 {
		t.Errorf("all.json in the manifest: %+v", mf)
	}
	if mf := m.File("all.domains.txt"); mf == nil || mf.Entries != 4 || mf.Counts["domain"] != 3 || mf.Counts["host"] != 1 {
		t.Errorf("all.domains.txt in the manifest: %+v", mf)
	}
	bad := bytes.Replace(files["all.domains.txt"], []byte("bad.example"), []byte("bad.examplf"), 1)
	if err := m.Check("all.domains.txt", bad); !errors.Is(err, ErrMismatch) {
		t.Errorf("tampered file: %v", err)
	}
	tampered := bytes.Replace(mdata, []byte(`"serial": `), []byte(`"serial": 9`), 1)
	if _, err := VerifyManifest(tampered, k.PublicKey()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("tampered manifest: %v", err)
	}
	other := testSigner(t)
	if _, err := VerifyManifest(mdata, other.PublicKey()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("other key: %v", err)
	}
}

// fakeAuth admits the tokens it knows.
type fakeAuth map[string]*web.Principal

func (fakeAuth) Session(*http.Request) (*web.Principal, error) { return nil, nil }
func (a fakeAuth) Token(_ *http.Request, tok string) (*web.Principal, error) {
	return a[tok], nil
}

type env struct {
	*fixture
	h   *Handler
	srv *web.Server
	key *hotline.NoticeSigner
}

func newEnv(t *testing.T) *env {
	f := newFixture(t)
	f.standard()
	k := testSigner(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := New(Options{Store: f.st, Config: feedConfig, Categories: func() []string { return []string{"hotline", "adult"} },
		Signer: k, Logger: log, Now: func() time.Time { return f.now }})
	srv := web.New(web.Options{Logger: log, Auth: fakeAuth{
		"ks_vendor": {TokenID: 7, Name: "vendor", Scopes: []string{"feed:read"}},
		"ks_node":   {TokenID: 19, Name: "filter node", Scopes: []string{"feed:read", "policy:read"}},
		"ks_other":  {TokenID: 8, Name: "other", Scopes: []string{"reports:submit"}},
		"ks_second": {TokenID: 9, Name: "second", Scopes: []string{"feed:read"}},
	}})
	srv.Handle(h.Routes()...)
	return &env{fixture: f, h: h, srv: srv, key: k}
}

func (e *env) get(path, token string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	return w
}

func TestAccess(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/feed/v1/manifest.json", "/feed/v1/all.domains.txt", "/feed/v1/rpz.zone"} {
		if w := e.get(p, ""); w.Code != http.StatusUnauthorized {
			t.Errorf("%s without token: %d", p, w.Code)
		}
		if w := e.get(p, "ks_unknown"); w.Code != http.StatusUnauthorized {
			t.Errorf("%s unknown token: %d", p, w.Code)
		}
		if w := e.get(p, "ks_other"); w.Code != http.StatusForbidden {
			t.Errorf("%s token without scope: %d", p, w.Code)
		}
		if w := e.get(p, "ks_vendor"); w.Code != http.StatusOK {
			t.Errorf("%s: %d %s", p, w.Code, w.Body)
		}
	}
	w := e.get("/feed/v1/key", "")
	if w.Code != http.StatusOK {
		t.Fatalf("key: %d", w.Code)
	}
	if pub, err := ParsePublicKey(w.Body.String()); err != nil || !pub.Equal(e.key.PublicKey()) {
		t.Errorf("served key: %v", err)
	}
	if w := e.get("/feed/v1/nope.txt", "ks_vendor"); w.Code != http.StatusNotFound {
		t.Errorf("unknown file: %d", w.Code)
	}
	if w := e.get("/feed/v1/pending.domains.txt", "ks_vendor"); w.Code != http.StatusNotFound {
		t.Errorf("unknown category: %d", w.Code)
	}
}

func TestServeHeadersETagGzip(t *testing.T) {
	e := newEnv(t)
	w := e.get("/feed/v1/manifest.json", "ks_vendor")
	m, err := VerifyManifest(w.Body.Bytes(), e.key.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, ctype string }{
		{"all.domains.txt", "text/plain; charset=utf-8"}, {"all.hosts.txt", "text/plain; charset=utf-8"},
		{"all.adblock.txt", "text/plain; charset=utf-8"}, {"all.json", "application/json"}, {"rpz.zone", "text/dns"},
		{"adult.json", "application/json"}, {"hotline.adblock.txt", "text/plain; charset=utf-8"},
	} {
		w := e.get("/feed/v1/"+c.name, "ks_vendor")
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != c.ctype || w.Header().Get("Cache-Control") != "no-cache" ||
			w.Header().Get("Vary") != "Accept-Encoding" || w.Header().Get("Content-Encoding") != "" {
			t.Errorf("%s: %d %v", c.name, w.Code, w.Header())
		}
		if err := m.Check(c.name, w.Body.Bytes()); err != nil {
			t.Error(err)
		}
		sum := sha256.Sum256(w.Body.Bytes())
		etag := `"` + hex.EncodeToString(sum[:]) + `"`
		if w.Header().Get("ETag") != etag {
			t.Errorf("%s: ETag %s, want %s", c.name, w.Header().Get("ETag"), etag)
		}
		for _, inm := range []string{etag, `W/` + etag, `"x", ` + etag, "*"} {
			if w := e.get("/feed/v1/"+c.name, "ks_vendor", "If-None-Match", inm); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
				t.Errorf("%s If-None-Match %s: %d", c.name, inm, w.Code)
			}
		}
		if w := e.get("/feed/v1/"+c.name, "ks_vendor", "If-None-Match", `"deadbeef"`); w.Code != http.StatusOK {
			t.Errorf("%s stale ETag: %d", c.name, w.Code)
		}
		gz := e.get("/feed/v1/"+c.name, "ks_vendor", "Accept-Encoding", "br, gzip;q=0.8")
		if gz.Header().Get("Content-Encoding") != "gzip" || gz.Header().Get("ETag") == etag || gz.Header().Get("Vary") != "Accept-Encoding" {
			t.Fatalf("%s gzip: %v", c.name, gz.Header())
		}
		zr, err := gzip.NewReader(gz.Body)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(plain, w.Body.Bytes()) {
			t.Errorf("%s: gzip body differs: %v", c.name, err)
		}
		if w := e.get("/feed/v1/"+c.name, "ks_vendor", "Accept-Encoding", "gzip", "If-None-Match", gz.Header().Get("ETag")); w.Code != http.StatusNotModified {
			t.Errorf("%s gzip If-None-Match: %d", c.name, w.Code)
		}
		if w := e.get("/feed/v1/"+c.name, "ks_vendor", "Accept-Encoding", "gzip;q=0"); w.Header().Get("Content-Encoding") != "" {
			t.Errorf("%s gzip;q=0 got gzip", c.name)
		}
	}
}

func TestCacheAndAudit(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m1 := e.get("/feed/v1/manifest.json", "ks_vendor")
	for range 3 {
		e.get("/feed/v1/all.domains.txt", "ks_vendor")
		e.get("/feed/v1/all.domains.txt", "ks_vendor", "Accept-Encoding", "gzip")
	}
	e.get("/feed/v1/all.domains.txt", "ks_second")
	e.get("/feed/v1/all.domains.txt", "ks_other") // refused: not a download
	// Nothing changed: the same snapshot and the same (deterministic) manifest.
	if m := e.get("/feed/v1/manifest.json", "ks_vendor"); !bytes.Equal(m.Body.Bytes(), m1.Body.Bytes()) {
		t.Error("manifest changed without a serial change")
	}
	downloads := func() map[string]int {
		recs, err := e.st.AuditList(ctx, store.AuditFilter{Action: "feed.download", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, r := range recs {
			out[r.Actor+" "+r.Object]++
		}
		return out
	}
	want := map[string]int{"token:7:vendor feed:manifest.json": 1, "token:7:vendor feed:all.domains.txt": 1, "token:9:second feed:all.domains.txt": 1}
	if got := downloads(); !mapsEqual(got, want) {
		t.Errorf("audit after first serial: %v, want %v", got, want)
	}

	// A new entry: a new serial, rebuilt files, audited again.
	e.now = e.now.Add(time.Hour)
	e.add(store.ListDomain, "new.example", "hotline", "", true)
	w := e.get("/feed/v1/all.domains.txt", "ks_vendor")
	if !strings.Contains(w.Body.String(), "\nnew.example\n") {
		t.Errorf("new serial not published:\n%s", w.Body)
	}
	m2 := e.get("/feed/v1/manifest.json", "ks_vendor")
	mm, err := VerifyManifest(m2.Body.Bytes(), e.key.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := e.st.ListSerial(ctx)
	if mm.Serial != serial || m2.Header().Get("X-Feed-Serial") == m1.Header().Get("X-Feed-Serial") {
		t.Errorf("manifest serial %d, list serial %d", mm.Serial, serial)
	}
	if err := mm.Check("all.domains.txt", w.Body.Bytes()); err != nil {
		t.Error(err)
	}
	want["token:7:vendor feed:manifest.json"] = 2
	want["token:7:vendor feed:all.domains.txt"] = 2
	if got := downloads(); !mapsEqual(got, want) {
		t.Errorf("audit after second serial: %v, want %v", got, want)
	}
	if v, err := e.st.VerifyAudit(ctx); err != nil || v.Records == 0 {
		t.Errorf("audit chain: %+v %v", v, err)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// The admin page's token form must accept the feed's scope.
func TestScopeAllowedByAuth(t *testing.T) {
	if got, err := auth.ParseScopes(Scope); err != nil || !slices.Equal(got, []string{Scope}) {
		t.Fatalf("auth refuses %q: %v %v", Scope, got, err)
	}
}

// Readers during list changes always get a manifest that verifies and describes the files of
// its own serial.
func TestConcurrentRebuild(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for range 20 {
				w := e.get("/feed/v1/manifest.json", "ks_vendor", "Accept-Encoding", []string{"", "gzip"}[g%2])
				if w.Code != http.StatusOK {
					t.Errorf("manifest: %d", w.Code)
					return
				}
				body := w.Body.Bytes()
				if w.Header().Get("Content-Encoding") == "gzip" {
					zr, err := gzip.NewReader(bytes.NewReader(body))
					if err != nil {
						t.Error(err)
						return
					}
					body, _ = io.ReadAll(zr)
				}
				if _, err := VerifyManifest(body, e.key.PublicKey()); err != nil {
					t.Error(err)
					return
				}
				e.get("/feed/v1/all.json", "ks_second")
			}
		})
	}
	for i := range 5 {
		e.add(store.ListDomain, "c"+string(rune('a'+i))+".example", "hotline", "", true)
	}
	wg.Wait()
}
