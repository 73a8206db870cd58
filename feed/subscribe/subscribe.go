// Package subscribe keeps a filter node's copy of the network list published by a remote
// kidshield: from its RPZ primary (feed/rpz: AXFR first, then IXFR deltas from the held serial,
// TSIG-signed) or from its signed HTTP feed (feed/httpfeed: the manifest verified with the
// publisher's Ed25519 key, then all.json checked against the manifest's digest).
//
// The last good copy is kept in DATA_DIR/subscribe/ (written atomically) and read at start, so
// a node restarts filtering while the publisher is down. Anything that does not verify or
// apply cleanly — a truncated stream, a bad signature, a delta for a name the copy does not
// hold, a serial going backwards in a delta — leaves the copy as it was; an RPZ subscriber
// then asks for the whole zone (AXFR).
//
// An RPZ zone carries no categories: every name of the zone counts as category "hotline",
// which every shipped profile blocks.
package subscribe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/config"
)

// RPZCategory is the category of every name taken from an RPZ zone.
const RPZCategory = "hotline"

// Kinds of names, as store.ListDomain and store.ListHost.
const (
	KindDomain = "domain" // the name and its subdomains
	KindHost   = "host"   // exactly the name
)

// CopyFile is the copy's file name under Dir.
const CopyFile = "copy.json"

// List is one version of the subscribed list; it is never changed once published.
type List struct {
	Source string `json:"source"`
	Serial int64  `json:"serial"`
	// Cats maps category → name → kind.
	Cats map[string]map[string]string `json:"categories"`
	// Records holds an RPZ copy's records per name (bits: exact record, wildcard record), from
	// which IXFR deltas are applied.
	Records map[string]uint8 `json:"rpz_records,omitempty"`
	// Digest is the sha256 of an https copy's all.json (its ETag).
	Digest string `json:"digest,omitempty"`
	// Generated is when an https copy's manifest was signed: an older manifest of a lower
	// serial is a replay and refused (refreshHTTP).
	Generated time.Time `json:"generated,omitzero"`
	// Gen is each category's generation: it changes only when that category's set does, so a
	// consumer rebuilds only the categories whose Gen moved.
	Gen map[string]uint64 `json:"-"`
}

// Options configure a Subscriber.
type Options struct {
	config.Subscribe
	// Dir is where the last good copy is kept (DATA_DIR/subscribe).
	Dir string
	// OnChange is called (from the subscriber's goroutine) with each new copy.
	OnChange func(*List)
	Logger   *slog.Logger
	// HTTPClient for an https source (default: a client with a 30s timeout).
	HTTPClient *http.Client
	// Timeout of one transfer (default 60s).
	Timeout time.Duration
	// MaxRecords bounds the records of one RPZ transfer (default 8M: a zone of 4M names, four
	// times the largest list measured).
	MaxRecords int
}

// Subscriber follows one source.
type Subscriber struct {
	o      Options
	log    *slog.Logger
	src    *url.URL
	zone   string // rpz: the zone, fully qualified, lower case
	pubKey []byte // https

	mu      sync.Mutex
	cur     *List
	gen     uint64
	forceAX bool // the next RPZ refresh asks for the whole zone
	etag    string

	kick   chan struct{}
	notify []*dns.Server
	// notifyAt is when NOTIFY last kicked a refresh; notifyDue: one is scheduled (s.mu).
	notifyAt  time.Time
	notifyDue bool
	// notifyAddr receives the bound NOTIFY listener address once Run started it (tests).
	notifyAddr chan string
}

// New checks the options and loads the last good copy from Dir, if any (a copy of another
// source is ignored).
func New(o Options) (*Subscriber, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Refresh <= 0 {
		o.Refresh = time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Minute
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = 8 << 20
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	u, err := url.Parse(o.Source)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("subscribe: source %q: want rpz://host:port/ZONE or https://host/feed/v1", o.Source)
	}
	s := &Subscriber{o: o, log: o.Logger, src: u, kick: make(chan struct{}, 1), notifyAddr: make(chan string, 1)}
	switch u.Scheme {
	case "rpz":
		s.zone = dns.CanonicalName(strings.Trim(u.Path, "/"))
		if s.zone == "." {
			return nil, fmt.Errorf("subscribe: source %q names no zone", o.Source)
		}
	case "https", "http":
		k, err := parsePublicKey(o.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("subscribe: %w", err)
		}
		s.pubKey = k
	default:
		return nil, fmt.Errorf("subscribe: source %q: scheme must be rpz or https", o.Source)
	}
	if l, err := s.loadCopy(); err != nil {
		s.log.Warn("subscribed list: last copy not read; waiting for the publisher", "err", err)
	} else if l != nil {
		s.cur = l
		s.log.Info("subscribed list: last good copy loaded", "source", l.Source, "serial", l.Serial, "names", l.Names())
	}
	return s, nil
}

// Names counts the names of all categories.
func (l *List) Names() int {
	n := 0
	for _, m := range l.Cats {
		n += len(m)
	}
	return n
}

// Current returns the copy held, nil before the first one.
func (s *Subscriber) Current() *List {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Kick asks for a refresh now; it never blocks.
func (s *Subscriber) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run refreshes at once, then every Refresh and on each Kick or NOTIFY, until ctx ends. Each
// RPZ poll is an IXFR from the held serial, which a current primary answers with its SOA alone.
func (s *Subscriber) Run(ctx context.Context) error {
	if s.o.ListenNotify != "" && s.zone != "" {
		if err := s.listenNotify(); err != nil {
			// Polling still works: NOTIFY only makes changes arrive sooner.
			s.log.Error("subscribed zone: NOTIFY listener not started; polling only", "err", err)
		}
		defer func() {
			for _, srv := range s.notify {
				_ = srv.Shutdown()
			}
		}()
	}
	t := time.NewTicker(s.o.Refresh)
	defer t.Stop()
	failing := false
	for {
		if _, err := s.Refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !failing {
				s.log.Error("subscribed list not refreshed; keeping the last good copy", "source", s.redacted(), "err", err)
			}
			failing = true
		} else if failing {
			s.log.Info("subscribed list source reachable again", "source", s.redacted())
			failing = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.kick:
		}
	}
}

func (s *Subscriber) redacted() string { return s.src.Redacted() }

// Refresh asks the source once; it reports whether the copy changed.
func (s *Subscriber) Refresh(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	var (
		l   *List
		err error
	)
	if s.zone != "" {
		l, err = s.refreshRPZ(ctx)
	} else {
		l, err = s.refreshHTTP(ctx)
	}
	if err != nil || l == nil {
		return false, err
	}
	s.commit(l)
	return true, nil
}

// commit publishes l: generations of unchanged categories carry over; the copy is saved.
func (s *Subscriber) commit(l *List) {
	s.mu.Lock()
	prev := s.cur
	l.Source = s.o.Source
	l.Gen = map[string]uint64{}
	for cat, names := range l.Cats {
		if prev != nil && prev.Gen != nil {
			if g, ok := prev.Gen[cat]; ok && maps.Equal(prev.Cats[cat], names) {
				l.Gen[cat] = g
				continue
			}
		}
		s.gen++
		l.Gen[cat] = s.gen
	}
	s.cur = l
	s.mu.Unlock()
	if err := s.saveCopy(l); err != nil {
		s.log.Error("subscribed list: copy not saved (the filter uses it; a restart would not)", "err", err)
	}
	s.log.Info("subscribed list updated", "source", s.redacted(), "serial", l.Serial, "names", l.Names())
	if s.o.OnChange != nil {
		s.o.OnChange(l)
	}
}

func (s *Subscriber) copyPath() string { return filepath.Join(s.o.Dir, CopyFile) }

func (s *Subscriber) loadCopy() (*List, error) {
	b, err := readCopy(s.o.Dir, CopyFile)
	if err != nil || b == nil {
		return nil, err
	}
	var l List
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", s.copyPath(), err)
	}
	if l.Source != s.o.Source {
		s.log.Warn("subscribed list: the copy on disk is of another source; ignored", "copy_source", l.Source)
		return nil, nil
	}
	if l.Cats == nil {
		l.Cats = map[string]map[string]string{}
	}
	l.Gen = map[string]uint64{}
	for cat := range l.Cats {
		s.gen++
		l.Gen[cat] = s.gen
	}
	return &l, nil
}

// saveCopy writes l to the copy's file (writeCopy: atomically).
func (s *Subscriber) saveCopy(l *List) error {
	if s.o.Dir == "" {
		return nil
	}
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return writeCopy(s.o.Dir, CopyFile, b)
}

// writeCopy writes parts to dir/name through a temporary file renamed into place: a crash
// leaves the old copy or the new one, never half of one.
func writeCopy(dir, name string, parts ...[]byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	var werr error
	for _, b := range parts {
		if werr == nil {
			_, werr = tmp.Write(b)
		}
	}
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return werr
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}

// readCopy returns dir/name's bytes, or nil when there is no copy (no dir, no file yet).
func readCopy(dir, name string) ([]byte, error) {
	if dir == "" {
		return nil, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}
