package subscribe

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/kidshield/kidshield/feed/httpfeed"
)

func parsePublicKey(s string) (ed25519.PublicKey, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("an https source needs the publisher's public key")
	}
	return httpfeed.ParsePublicKey(s)
}

// maxFile bounds a download.
const maxFile = 512 << 20

// maxManifest bounds the manifest, which is read before its signature is checked: it lists a
// few files, so anything near this is not one.
const maxManifest = 4 << 20

func (s *Subscriber) get(ctx context.Context, name, etag string) (body []byte, newTag string, notModified bool, err error) {
	max := maxFile
	if name == httpfeed.ManifestName {
		max = maxManifest
	}
	return fetch(ctx, s.o.HTTPClient, s.o.Source, s.o.Token, name, etag, max)
}

// errReplay is returned (wrapped) for a signed manifest older than the one the copy came from.
var errReplay = errors.New("an older signed manifest than the copy's (replayed?): refused")

// checkReplay refuses a manifest of a lower serial signed before the held one: whoever serves
// the feed (a proxy, a compromised host, without the key) could otherwise replay an old signed
// manifest and its files, and unblock what was added since. A publisher restored from a backup
// signs its lower serial now, later than the copy's: that is taken.
func checkReplay(m *httpfeed.Manifest, heldSerial int64, heldGenerated time.Time) error {
	if heldGenerated.IsZero() || m.Serial >= heldSerial || !m.Generated.Before(heldGenerated) {
		return nil
	}
	return fmt.Errorf("%w: serial %d signed %s, the copy is of serial %d signed %s", errReplay,
		m.Serial, m.Generated.UTC().Format(time.RFC3339), heldSerial, heldGenerated.UTC().Format(time.RFC3339))
}

// fetch GETs base/name with the token and If-None-Match etag: the body (at most max bytes)
// and its ETag, or notModified.
func fetch(ctx context.Context, c *http.Client, base, token, name, etag string, max int) (body []byte, newTag string, notModified bool, err error) {
	u := strings.TrimSuffix(base, "/") + "/" + name
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", false, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	// No redirects: net/http would follow one to http:// on the same host, or to a subdomain,
	// with the Authorization header, sending the token in clear or to another server. A
	// publisher's feed URL is configured exactly; a redirect is an error to fix there.
	nc := *c
	nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := nc.Do(req)
	if err != nil {
		return nil, "", false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return nil, etag, true, nil
	case http.StatusOK:
	default:
		if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
			return nil, "", false, fmt.Errorf("GET %s: %s: redirects are not followed (the token would go with them); configure the URL it points to", name, resp.Status)
		}
		return nil, "", false, fmt.Errorf("GET %s: %s", name, resp.Status)
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	if err != nil {
		return nil, "", false, fmt.Errorf("GET %s: %w", name, err)
	}
	if len(body) > max {
		return nil, "", false, fmt.Errorf("GET %s: larger than %d bytes", name, max)
	}
	return body, resp.Header.Get("ETag"), false, nil
}

// refreshHTTP returns the new copy, or nil when the copy held is current.
func (s *Subscriber) refreshHTTP(ctx context.Context) (*List, error) {
	s.mu.Lock()
	cur, etag := s.cur, s.etag
	s.mu.Unlock()
	if cur == nil {
		etag = ""
	}
	body, tag, same, err := s.get(ctx, httpfeed.ManifestName, etag)
	if err != nil || same {
		return nil, err
	}
	m, err := httpfeed.VerifyManifest(body, s.pubKey)
	if err != nil {
		return nil, err // refused: never trust an unsigned list
	}
	if cur != nil {
		if err := checkReplay(m, cur.Serial, cur.Generated); err != nil {
			return nil, err
		}
	}
	const all = "all." + httpfeed.FormatJSON
	f := m.File(all)
	if f == nil {
		return nil, fmt.Errorf("manifest of serial %d lists no %s", m.Serial, all)
	}
	if cur != nil && cur.Serial == m.Serial && cur.Digest == f.SHA256 {
		s.setETag(tag)
		return nil, nil
	}
	var allTag string
	if cur != nil && cur.Digest != "" {
		allTag = `"` + cur.Digest + `"`
	}
	data, _, same, err := s.get(ctx, all, allTag)
	if err != nil {
		return nil, err
	}
	if same { // the list's content did not change, only its serial
		l := *cur
		l.Serial, l.Generated = m.Serial, m.Generated
		s.setETag(tag)
		return &l, nil
	}
	if err := m.Check(all, data); err != nil {
		return nil, err
	}
	var doc httpfeed.JSONList
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", all, err)
	}
	if doc.Serial != m.Serial {
		return nil, fmt.Errorf("%s is of serial %d, the manifest of %d (changed between the downloads; next time)", all, doc.Serial, m.Serial)
	}
	l := &List{Serial: m.Serial, Digest: f.SHA256, Generated: m.Generated, Cats: map[string]map[string]string{}}
	for _, e := range doc.Entries {
		if e.Kind != KindDomain && e.Kind != KindHost {
			continue // URLs and hashes are not for DNS
		}
		cat := e.Category
		if cat == "" {
			cat = RPZCategory
		}
		names := l.Cats[cat]
		if names == nil {
			names = map[string]string{}
			l.Cats[cat] = names
		}
		v := strings.ToLower(strings.TrimSuffix(e.Value, "."))
		if names[v] != KindDomain { // a domain covers the host of the same name
			names[v] = e.Kind
		}
	}
	s.setETag(tag)
	return l, nil
}

func (s *Subscriber) setETag(t string) {
	s.mu.Lock()
	s.etag = t
	s.mu.Unlock()
}
