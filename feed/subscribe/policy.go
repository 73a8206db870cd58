package subscribe

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/feed/httpfeed"
)

// A filter node with `subscribe: policy:` takes its profiles from the control node: the
// policy.yaml of its HTTP feed, listed with its digest in the signed manifest. The last good
// document is kept as DATA_DIR/subscribe/policy.yaml so a restarted node filters with the last
// profiles while the control node is down. A document that does not verify or validate leaves
// the copy as it was.

// PolicyCopyFile is the policy copy's file name under Dir.
const PolicyCopyFile = "policy.yaml"

// copyHeader starts the copy's first line; the source follows, so a copy taken from another
// control node is not used after the URL changed.
const copyHeader = "# kidshield policy from "

// Policy is one verified policy document; it is never changed once published.
type Policy struct {
	*config.Policy
	// Digest is the hex SHA-256 of the document as published (the manifest's sha256).
	Digest string
	// Raw is the document as published.
	Raw []byte
}

// PolicyOptions configure a PolicySubscriber.
type PolicyOptions struct {
	// URL is the control node's feed, https://host/feed/v1.
	URL       string
	Token     string
	PublicKey string
	// Refresh is how often the manifest is polled (default 1m).
	Refresh time.Duration
	// Dir is where the last good copy is kept (DATA_DIR/subscribe).
	Dir string
	// Check, when set, refuses a document this node could not apply (it is called with each
	// new document before it is kept).
	Check func(*config.Policy) error
	// OnChange is called (from Run's goroutine) with each new document.
	OnChange   func(*Policy)
	Logger     *slog.Logger
	HTTPClient *http.Client
}

// PolicySubscriber follows a control node's policy.yaml.
type PolicySubscriber struct {
	o      PolicyOptions
	log    *slog.Logger
	src    *url.URL
	pubKey ed25519.PublicKey

	mu   sync.Mutex
	cur  *Policy
	etag string // the manifest's, once its policy was taken or found current
	// serial and generated are the newest manifest taken or found current (checkReplay); kept
	// in memory only, so a restart takes any validly signed manifest first.
	serial    int64
	generated time.Time
}

// NewPolicy checks the options and reads the last good copy from Dir, if any.
func NewPolicy(o PolicyOptions) (*PolicySubscriber, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Refresh <= 0 {
		o.Refresh = time.Minute
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("subscribe: policy %q: want https://host/feed/v1", o.URL)
	}
	k, err := parsePublicKey(o.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("subscribe: policy: %w", err)
	}
	p := &PolicySubscriber{o: o, log: o.Logger, src: u, pubKey: k}
	if c, err := p.loadCopy(); err != nil {
		p.log.Warn("profiles from the control node: last copy not used; waiting for the control node", "err", err)
	} else if c != nil {
		p.cur = c
		p.log.Info("profiles from the control node: last good copy loaded", "digest", c.Digest, "profiles", len(c.Profiles))
	}
	return p, nil
}

// Current returns the document held, nil before the first one.
func (p *PolicySubscriber) Current() *Policy {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// Run refreshes at once, then every Refresh, until ctx ends. A failure is logged when it
// first happens and when its reason changes, not at every poll.
func (p *PolicySubscriber) Run(ctx context.Context) {
	t := time.NewTicker(p.o.Refresh)
	defer t.Stop()
	var lastErr string
	for {
		if _, err := p.Refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			if msg := err.Error(); msg != lastErr {
				p.log.Error("profiles from the control node not refreshed; keeping the last good copy", "source", p.src.Redacted(), "err", err)
				lastErr = msg
			}
		} else if lastErr != "" {
			p.log.Info("profiles from the control node: source good again", "source", p.src.Redacted())
			lastErr = ""
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh asks the control node once; it reports whether a new document was taken.
func (p *PolicySubscriber) Refresh(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	p.mu.Lock()
	cur, etag := p.cur, p.etag
	p.mu.Unlock()
	body, tag, same, err := p.get(ctx, httpfeed.ManifestName, etag)
	if err != nil || same {
		return false, err
	}
	m, err := httpfeed.VerifyManifest(body, p.pubKey)
	if err != nil {
		return false, err // never trust profiles from an unsigned manifest
	}
	p.mu.Lock()
	heldSerial, heldGen := p.serial, p.generated
	p.mu.Unlock()
	if err := checkReplay(m, heldSerial, heldGen); err != nil {
		return false, err // old profiles replayed: a family's changed restrictions would go back
	}
	f := m.File(httpfeed.PolicyFile)
	if f == nil {
		return false, fmt.Errorf("the manifest of serial %d lists no %s (does the control node publish its profiles?)", m.Serial, httpfeed.PolicyFile)
	}
	if cur != nil && cur.Digest == f.SHA256 {
		p.setETag(tag) // the list moved, the profiles did not
		p.setSeen(m)
		return false, nil
	}
	data, _, _, err := p.get(ctx, httpfeed.PolicyFile, "")
	if err != nil {
		return false, err
	}
	if err := m.Check(httpfeed.PolicyFile, data); err != nil {
		return false, err
	}
	doc, err := config.ParsePolicy(data)
	if err != nil {
		return false, fmt.Errorf("%s of digest %.12s: %w", httpfeed.PolicyFile, f.SHA256, err)
	}
	if p.o.Check != nil {
		if err := p.o.Check(doc); err != nil {
			return false, fmt.Errorf("%s of digest %.12s does not fit this node: %w", httpfeed.PolicyFile, f.SHA256, err)
		}
	}
	np := &Policy{Policy: doc, Digest: f.SHA256, Raw: data}
	if err := p.saveCopy(np); err != nil {
		// Applied all the same: the filter uses it; only a restart would not.
		p.log.Error("profiles from the control node: copy not saved", "err", err)
	}
	p.mu.Lock()
	p.cur, p.etag = np, tag
	p.mu.Unlock()
	p.setSeen(m)
	p.log.Info("profiles from the control node updated", "digest", np.Digest, "profiles", len(doc.Profiles), "default_profile", doc.DefaultProfile)
	if p.o.OnChange != nil {
		p.o.OnChange(np)
	}
	return true, nil
}

// setSeen records m as the newest manifest taken, unless a newer one was.
func (p *PolicySubscriber) setSeen(m *httpfeed.Manifest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m.Generated.After(p.generated) || m.Serial > p.serial {
		p.serial, p.generated = m.Serial, m.Generated
	}
}

func (p *PolicySubscriber) setETag(t string) {
	p.mu.Lock()
	p.etag = t
	p.mu.Unlock()
}

// maxPolicy bounds policy.yaml: profiles are small; a huge answer is a mistake or an attack.
const maxPolicy = 8 << 20

func (p *PolicySubscriber) get(ctx context.Context, name, etag string) (body []byte, newTag string, notModified bool, err error) {
	return fetch(ctx, p.o.HTTPClient, p.o.URL, p.o.Token, name, etag, maxPolicy)
}

func (p *PolicySubscriber) copyPath() string { return filepath.Join(p.o.Dir, PolicyCopyFile) }

// loadCopy reads the copy: its first line names the source, the rest is the document as
// published, validated again (this node's configuration may have changed since).
func (p *PolicySubscriber) loadCopy() (*Policy, error) {
	b, err := readCopy(p.o.Dir, PolicyCopyFile)
	if err != nil || b == nil {
		return nil, err
	}
	first, data, ok := bytes.Cut(b, []byte("\n"))
	src, isCopy := strings.CutPrefix(string(first), copyHeader)
	if !ok || !isCopy {
		return nil, fmt.Errorf("%s: not a policy copy", p.copyPath())
	}
	if src != p.src.Redacted() {
		return nil, fmt.Errorf("%s: a copy from %s, not from %s", p.copyPath(), src, p.src.Redacted())
	}
	doc, err := config.ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.copyPath(), err)
	}
	if p.o.Check != nil {
		if err := p.o.Check(doc); err != nil {
			return nil, fmt.Errorf("%s does not fit this node: %w", p.copyPath(), err)
		}
	}
	sum := sha256.Sum256(data)
	return &Policy{Policy: doc, Digest: hex.EncodeToString(sum[:]), Raw: data}, nil
}

// saveCopy writes the copy: a header line naming the source, then the document (writeCopy:
// atomically).
func (p *PolicySubscriber) saveCopy(np *Policy) error {
	if p.o.Dir == "" {
		return nil
	}
	return writeCopy(p.o.Dir, PolicyCopyFile, []byte(copyHeader+p.src.Redacted()+"\n"), np.Raw)
}
