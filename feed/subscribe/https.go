package subscribe

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

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

func (s *Subscriber) get(ctx context.Context, name, etag string) (body []byte, newTag string, notModified bool, err error) {
	return fetch(ctx, s.o.HTTPClient, s.o.Source, s.o.Token, name, etag, maxFile)
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
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return nil, etag, true, nil
	case http.StatusOK:
	default:
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
		l.Serial = m.Serial
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
	l := &List{Serial: m.Serial, Digest: f.SHA256, Cats: map[string]map[string]string{}}
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
