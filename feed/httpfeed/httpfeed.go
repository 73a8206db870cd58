// Package httpfeed publishes the network list over HTTP for filter vendors: the whole list and
// each category as plain domains, hosts, adblock and JSON files, the RPZ zone as a master file,
// and a manifest (serial, sizes, SHA-256 digests, counts) signed with Ed25519, so that a member
// can check a download against the publisher's public key (`kidshield feed verify`). A control
// node also publishes policy.yaml, the profiles its filter nodes take (feed/subscribe).
//
// Files are built from the store's active entries once per list serial and served with a
// strong ETag (the digest), If-None-Match, gzip and Cache-Control: no-cache. Downloads need an
// API token with the scope "feed:read" and are audited (action feed.download) once per token,
// file and serial; a 304 or a HEAD is not a download and is not audited.
package httpfeed

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/store"
	"github.com/kidshield/kidshield/web"
)

// Scope is the API token scope that admits downloads.
const Scope = "feed:read"

// Prefix is the path of the feed's routes.
const Prefix = "/feed/v1/"

// ManifestName is the manifest's name under Prefix.
const ManifestName = "manifest.json"

// Options configures the feed.
type Options struct {
	Store *store.Store
	// Config returns the current feed configuration (zone, action, timers of rpz.zone).
	Config func() *config.Feed
	// Categories returns the configured categories, which get files even while empty (a
	// consumer's URL must not start failing when its category's last entry is delisted). Nil:
	// only categories that have entries.
	Categories func() []string
	// Policy returns the profiles this control node shares with its filter nodes (the YAML of
	// config.Config.PolicyYAML), served as policy.yaml and listed in the manifest. Nil: no
	// policy.yaml.
	Policy func() ([]byte, error)
	Signer *hotline.NoticeSigner
	Logger *slog.Logger
	Now    func() time.Time
}

// PolicyFile is the name of the shared profiles under Prefix.
const PolicyFile = "policy.yaml"

// PolicyScope is the API token scope that admits policy.yaml: the control node's own filter
// nodes, not every member. The profiles hold families' and schools' client addresses and
// their children's device names, which a filter vendor's feed:read token must not read.
const PolicyScope = "policy:read"

// Handler serves the feed.
type Handler struct {
	o Options

	mu   sync.Mutex // serialises rebuilds; guards snap and logged
	snap *snapshot
	// logged holds the downloads audited for snap's serial: token, file.
	logged map[loggedKey]bool
}

type loggedKey struct {
	token int64
	file  string
}

type snapshot struct {
	key      string // serial and configuration it was built for
	serial   int64
	files    map[string]*file
	manifest *file
}

type file struct {
	name    string
	ctype   string
	body    []byte
	sum     string // hex SHA-256 of body
	entries int
	counts  map[string]int

	gzOnce sync.Once
	gz     []byte
}

func newFile(name, ctype string, body []byte) *file {
	s := sha256.Sum256(body)
	return &file{name: name, ctype: ctype, body: body, sum: hex.EncodeToString(s[:])}
}

// gzipped compresses the body on first use: most consumers ask for gzip, but a file nobody
// downloads costs no CPU.
func (f *file) gzipped() []byte {
	f.gzOnce.Do(func() {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(f.body)
		zw.Close()
		f.gz = b.Bytes()
	})
	return f.gz
}

// New returns the feed's handler.
func New(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Handler{o: o, logged: map[loggedKey]bool{}}
}

// Routes returns the feed's routes: the public key (public), the manifest and the files (API
// token with scope feed:read).
func (h *Handler) Routes() []web.Route {
	return []web.Route{
		{Method: http.MethodGet, Pattern: Prefix + "key", Access: web.Public, Handler: http.HandlerFunc(h.key)},
		{Method: http.MethodGet, Pattern: Prefix + ManifestName, Access: web.Token(Scope), Handler: http.HandlerFunc(h.serveManifest)},
		{Method: http.MethodGet, Pattern: Prefix + "{file}", Access: web.Token(Scope), Handler: http.HandlerFunc(h.serveFile)},
		{Method: http.MethodGet, Pattern: Prefix + PolicyFile, Access: web.Token(PolicyScope), Handler: http.HandlerFunc(h.servePolicy)},
	}
}

func (h *Handler) key(w http.ResponseWriter, r *http.Request) {
	if h.o.Signer == nil {
		web.Error(w, r, h.o.Logger, http.StatusServiceUnavailable, fmt.Errorf("feed: no signing key"))
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("X-Key-Id", h.o.Signer.KeyID())
	w.Header().Set("Cache-Control", "no-cache")
	w.Write([]byte(h.o.Signer.PublicPEM()))
}

func (h *Handler) serveManifest(w http.ResponseWriter, r *http.Request) {
	snap, err := h.current(r.Context())
	if err != nil {
		web.Error(w, r, h.o.Logger, http.StatusServiceUnavailable, err)
		return
	}
	h.send(w, r, snap, snap.manifest)
}

func (h *Handler) servePolicy(w http.ResponseWriter, r *http.Request) {
	h.serveName(w, r, PolicyFile)
}

func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == PolicyFile {
		// Only through its own route (scope policy:read), whatever the mux's matching of an
		// escaped or unusual path: it holds families' client addresses and device names.
		web.Error(w, r, h.o.Logger, http.StatusNotFound, fmt.Errorf("feed: no file %q", name))
		return
	}
	h.serveName(w, r, name)
}

func (h *Handler) serveName(w http.ResponseWriter, r *http.Request, name string) {
	snap, err := h.current(r.Context())
	if err != nil {
		web.Error(w, r, h.o.Logger, http.StatusServiceUnavailable, err)
		return
	}
	f := snap.files[name]
	if f == nil {
		web.Error(w, r, h.o.Logger, http.StatusNotFound, fmt.Errorf("feed: no file %q (see %s%s)", name, Prefix, ManifestName))
		return
	}
	h.send(w, r, snap, f)
}

// send answers with f: 304 when the client holds it, gzip when the client takes it.
func (h *Handler) send(w http.ResponseWriter, r *http.Request, snap *snapshot, f *file) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Vary", "Accept-Encoding")
	hd.Set("X-Feed-Serial", strconv.FormatInt(snap.serial, 10))
	gz := acceptsGzip(r.Header.Get("Accept-Encoding"))
	// The gzip representation has its own strong validator (RFC 9110 §8.8.3: different
	// content codings are different representations); either one means "you have it".
	etag := `"` + f.sum + `"`
	if gz {
		etag = `"` + f.sum + `-gzip"`
	}
	hd.Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && noneMatch(inm, f.sum) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method != http.MethodHead {
		h.audit(r, snap, f)
	}
	body := f.body
	if gz {
		body = f.gzipped()
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("Content-Type", f.ctype)
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// noneMatch reports whether an If-None-Match header names the file (weak comparison, as RFC
// 9110 §13.1.2 asks, of either representation's tag).
func noneMatch(header, sum string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.TrimPrefix(t, "W/")
		if t == `"`+sum+`"` || t == `"`+sum+`-gzip"` {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header admits gzip (or *) with q > 0.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" && coding != "*" {
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		if q > 0 {
			return true
		}
	}
	return false
}

// audit records a download once per token, file and serial: a member polling every minute
// would otherwise add thousands of identical records a day; a new serial (new content) is
// audited again. A failure to audit is logged and does not refuse the download (the list is
// shared with every member anyway); the download is audited at its next request.
func (h *Handler) audit(r *http.Request, snap *snapshot, f *file) {
	p := web.PrincipalFrom(r.Context())
	if p == nil || h.o.Store == nil {
		return
	}
	k := loggedKey{p.TokenID, f.name}
	h.mu.Lock()
	if h.snap != snap || h.logged[k] {
		// Logged already, or a newer serial replaced snap while this request ran: the next
		// request of the newer serial is audited.
		h.mu.Unlock()
		return
	}
	h.logged[k] = true
	h.mu.Unlock()
	err := h.o.Store.AppendAudit(r.Context(), store.AuditEvent{Time: h.o.Now(), Actor: p.Actor(), Action: "feed.download",
		Object: "feed:" + f.name, Detail: map[string]any{"serial": snap.serial, "sha256": f.sum}})
	if err != nil {
		h.o.Logger.Error("feed: audit download", "file", f.name, "actor", p.Actor(), "err", err)
		h.mu.Lock()
		if h.snap == snap {
			delete(h.logged, k)
		}
		h.mu.Unlock()
	}
}

// current returns the snapshot of the list's current serial, building it when the serial (or
// the configuration the files depend on) changed.
func (h *Handler) current(ctx context.Context) (*snapshot, error) {
	serial, err := h.o.Store.ListSerial(ctx)
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	cfg := h.config()
	cats := h.categories()
	var policy *file
	if h.o.Policy != nil {
		b, err := h.o.Policy()
		if err != nil {
			return nil, fmt.Errorf("feed: %w", err)
		}
		policy = newFile(PolicyFile, "application/yaml; charset=utf-8", b)
	}
	// The policy's digest is part of the key: a reload that changes the profiles publishes a
	// new manifest although the list's serial did not move.
	var policySum string
	if policy != nil {
		policySum = policy.sum
	}
	key := fmt.Sprintf("%d|%s|%s|%s|%v|%v|%v|%v|%s|%s", serial, cfg.Zone, cfg.Action, cfg.BlockPage, cfg.TTL, cfg.Refresh, cfg.Retry, cfg.Expire,
		strings.Join(cats, ","), policySum)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.snap != nil && h.snap.key == key {
		return h.snap, nil
	}
	// The merged view (confirmed entries, unshadowed imports, the canary), read with its own
	// serial in one transaction: the files are labelled with exactly the serial they hold.
	snapSerial, entries, err := h.o.Store.NetworkListSnapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	if snapSerial != serial {
		key = strings.Replace(key, fmt.Sprint(serial)+"|", fmt.Sprint(snapSerial)+"|", 1)
		serial = snapSerial
	}
	snap, err := h.build(key, serial, cfg, cats, entries, policy)
	if err != nil {
		return nil, err
	}
	h.snap = snap
	clear(h.logged)
	return snap, nil
}

func (h *Handler) config() *config.Feed {
	var f config.Feed
	if h.o.Config != nil {
		if c := h.o.Config(); c != nil {
			f = *c
		}
	}
	f.Members = nil
	if f.Zone == "" {
		f.Zone = "rpz.kidshield.local."
	}
	for _, d := range []struct {
		dst *time.Duration
		v   time.Duration
	}{{&f.TTL, 5 * time.Minute}, {&f.Refresh, time.Hour}, {&f.Retry, 10 * time.Minute}, {&f.Expire, 7 * 24 * time.Hour}} {
		if *d.dst == 0 {
			*d.dst = d.v
		}
	}
	return &f
}

func (h *Handler) categories() []string {
	if h.o.Categories == nil {
		return nil
	}
	var out []string
	for _, c := range h.o.Categories() {
		if fileCategory(c) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// Content types of the formats.
var contentTypes = map[string]string{
	FormatDomains: "text/plain; charset=utf-8",
	FormatHosts:   "text/plain; charset=utf-8",
	FormatAdblock: "text/plain; charset=utf-8",
	FormatJSON:    "application/json",
}

// Build renders every file of one serial and the manifest signed by signer. Exported for the benchmark and for tools that publish offline.
func Build(cfg *config.Feed, serial int64, entries []*store.ListEntry, categories []string, signer *hotline.NoticeSigner, now time.Time) (map[string][]byte, []byte, error) {
	h := &Handler{o: Options{Signer: signer, Now: func() time.Time { return now }}}
	var cats []string
	for _, c := range categories {
		if fileCategory(c) && !slices.Contains(cats, c) {
			cats = append(cats, c)
		}
	}
	slices.Sort(cats)
	snap, err := h.build("", serial, cfg, cats, entries, nil)
	if err != nil {
		return nil, nil, err
	}
	out := map[string][]byte{}
	for n, f := range snap.files {
		out[n] = f.body
	}
	return out, snap.manifest.body, nil
}

func (h *Handler) build(key string, serial int64, cfg *config.Feed, cats []string, entries []*store.ListEntry, policy *file) (*snapshot, error) {
	es := slices.Clone(entries)
	sortEntries(es)
	byCat := map[string][]*store.ListEntry{}
	for _, c := range cats {
		byCat[c] = nil
	}
	for _, e := range es {
		if fileCategory(e.Category) {
			byCat[e.Category] = append(byCat[e.Category], e)
		}
	}
	snap := &snapshot{key: key, serial: serial, files: map[string]*file{}}
	var order []*file
	add := func(name string, body []byte, es []*store.ListEntry, only func(string) bool) {
		f := newFile(name, contentTypes[name[strings.IndexByte(name, '.')+1:]], body)
		f.entries, f.counts = counts(es, only)
		snap.files[name] = f
		order = append(order, f)
	}
	lists := append([]string{"all"}, sortedKeys(byCat)...)
	for _, l := range lists {
		les := es
		title := "all categories"
		if l != "all" {
			les = byCat[l]
			title = "category " + l
		}
		add(l+"."+FormatDomains, Domains(title, serial, les), les, dnsKind)
		add(l+"."+FormatHosts, Hosts(title, serial, les), les, dnsKind)
		add(l+"."+FormatAdblock, Adblock(title, serial, les), les, dnsKind)
		add(l+"."+FormatJSON, JSON(l, serial, les), les, nil)
	}
	zbody, err := ZoneFile(cfg, serial, es)
	if err != nil {
		return nil, err
	}
	zf := newFile(RPZFile, "text/dns", zbody)
	zf.entries, zf.counts = counts(es, dnsKind)
	snap.files[RPZFile] = zf
	order = append(order, zf)
	if policy != nil {
		snap.files[PolicyFile] = policy
		order = append(order, policy)
	}

	m := Manifest{Format: ManifestFormat, Serial: serial, Generated: h.o.Now().UTC().Truncate(time.Second), Zone: cfg.Zone}
	for _, f := range order {
		m.Files = append(m.Files, ManifestFile{Name: f.name, Size: int64(len(f.body)), SHA256: f.sum, Entries: f.entries, Counts: f.counts})
	}
	if h.o.Signer == nil {
		return nil, fmt.Errorf("feed: no signing key")
	}
	m.KeyID = h.o.Signer.KeyID()
	body, err := h.o.Signer.Sign(m)
	if err != nil {
		return nil, fmt.Errorf("feed: sign manifest: %w", err)
	}
	snap.manifest = newFile(ManifestName, "application/json", body)
	return snap, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
