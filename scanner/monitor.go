package scanner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kidshield/kidshield/hotline/canon"
	"github.com/kidshield/kidshield/scanner/classify"
	"github.com/kidshield/kidshield/scanner/fetch"
	"github.com/kidshield/kidshield/scanner/pdq"
	"github.com/kidshield/kidshield/store"
)

// Monitored sources. Each configured feed or sitemap is polled every Every as a source_poll
// job (robots.txt honoured); the item URLs it has not yielded before (store.SourceSeenNew)
// become source_item jobs, each fetched (robots.txt honoured), classified and its images
// matched like a reported URL. An item with a known-hash match or a category past its
// threshold becomes a suggestion in the analysts' queue with its reasons, unless a case
// already names its canonical URL or an earlier suggestion has it. Nothing else happens: a
// person opens a case from a suggestion, or dismisses it.

// Source is one monitored feed or sitemap.
type Source struct {
	Name  string
	URL   string
	Kind  string // rss, atom, sitemap, auto
	Every time.Duration
}

// maxChildSitemaps is how many child sitemaps of a sitemap index one poll reads.
const maxChildSitemaps = 5

// MaxNewItemsPerPoll is how many new items of a source one poll queues for a scan.
const MaxNewItemsPerPoll = 100

type pollJob struct {
	Source string `json:"source"`
}

type itemJob struct {
	Source string `json:"source"`
	URL    string `json:"url"`
	Title  string `json:"title,omitempty"`
}

func (s *Service) source(name string) (Source, bool) {
	for _, src := range s.o.Sources {
		if src.Name == name {
			return src, true
		}
	}
	return Source{}, false
}

func (s *Service) enqueue(ctx context.Context, kind string, v any, rawURL string) (bool, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return false, err
	}
	host := jobHost(rawURL)
	_, created, err := s.o.Store.EnqueueScanJob(ctx, store.NewScanJob{Kind: kind, Payload: payload, Host: host, MaxAttempts: s.o.MaxAttempts}, s.o.Now())
	if created {
		s.wakeWorkers(1)
	}
	return created, err
}

// EnqueuePoll queues a poll of the named source (not twice while one is pending).
func (s *Service) EnqueuePoll(ctx context.Context, name string) error {
	src, ok := s.source(name)
	if !ok {
		return fmt.Errorf("scanner: no source %q", name)
	}
	if _, err := s.enqueue(ctx, store.ScanJobSourcePoll, pollJob{Source: name}, src.URL); err != nil {
		return fmt.Errorf("scanner: enqueue poll of %s: %w", name, err)
	}
	return nil
}

// monitorLoop queues each source's poll at start and then every source's Every.
func (s *Service) monitorLoop(ctx context.Context) {
	next := make([]time.Time, len(s.o.Sources))
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		wait := time.Hour
		for i, src := range s.o.Sources {
			if !now.Before(next[i]) {
				if err := s.EnqueuePoll(ctx, src.Name); err != nil && ctx.Err() == nil {
					s.o.Logger.Warn("scanner: source poll not queued", "source", src.Name, "err", err)
				}
				next[i] = now.Add(src.Every)
			}
			wait = min(wait, next[i].Sub(now))
		}
		t.Reset(max(wait, 100*time.Millisecond))
	}
}

// pollSource is a source_poll job: fetch and parse the document, queue the new items.
func (s *Service) pollSource(ctx context.Context, p pollJob) (err error, permanent bool) {
	src, ok := s.source(p.Source)
	if !ok {
		return nil, false // removed from the configuration since
	}
	f, err := s.fetchSource(ctx, src.URL, src.Kind)
	if err != nil {
		return err, errors.Is(err, fetch.ErrBlocked) || errors.Is(err, fetch.ErrBadURL)
	}
	if f.Kind == "sitemapindex" {
		for i, child := range f.Sitemaps {
			if i == maxChildSitemaps {
				break
			}
			cf, err := s.fetchSource(ctx, child, "sitemap")
			if err != nil {
				s.o.Logger.Info("scanner: child sitemap not read", "source", src.Name, "err", err)
				continue
			}
			f.Items = append(f.Items, cf.Items...)
		}
	}
	titles := map[string]string{}
	urls := make([]string, 0, len(f.Items))
	for _, it := range f.Items {
		if _, dup := titles[it.URL]; !dup {
			urls = append(urls, it.URL)
		}
		titles[it.URL] = it.Title
	}
	// At most MaxNewItemsPerPoll new items are queued per poll; the rest are not marked seen,
	// so the next polls take them while they are still in the document. A feed (or a
	// compromised site behind one) that rotates a thousand fresh URLs per poll would otherwise
	// bury the reports' own scans under its items.
	var fresh []string
	items := len(urls)
	for len(urls) > 0 && len(fresh) < MaxNewItemsPerPoll {
		chunk := urls[:min(len(urls), MaxNewItemsPerPoll-len(fresh))]
		urls = urls[len(chunk):]
		f, err := s.o.Store.SourceSeenNew(ctx, src.Name, chunk, s.o.Now())
		if err != nil {
			return err, false
		}
		fresh = append(fresh, f...)
	}
	for _, u := range fresh {
		if _, err := s.enqueue(ctx, store.ScanJobSourceItem, itemJob{Source: src.Name, URL: u, Title: titles[u]}, u); err != nil {
			return err, false
		}
	}
	s.o.Logger.Info("scanner: source polled", "source", src.Name, "items", items, "new", len(fresh))
	return nil, false
}

func (s *Service) fetchSource(ctx context.Context, rawURL, kind string) (*Feed, error) {
	c, err := s.o.Client.Fetch(ctx, rawURL, fetch.FetchOptions{Monitor: true, MaxBytes: MaxFeedBytes,
		Accept: "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.5"})
	if err != nil {
		return nil, err
	}
	if c.Status < 200 || c.Status > 299 {
		return nil, fmt.Errorf("scanner: source answered HTTP %d", c.Status)
	}
	if c.Truncated {
		return nil, fmt.Errorf("scanner: source larger than %d bytes", MaxFeedBytes)
	}
	return ParseSource(kind, c.Body, c.FinalURL)
}

// scanItem is a source_item job: scan the page as a monitored one and queue a suggestion when
// it has a known-hash match or a category past its threshold.
func (s *Service) scanItem(ctx context.Context, p itemJob) (err error, permanent bool) {
	o, err := s.scan(ctx, p.URL, true)
	if err != nil {
		return err, errors.Is(err, fetch.ErrBlocked) || errors.Is(err, fetch.ErrBadURL) || errors.Is(err, fetch.ErrDisallowed)
	}
	c := o.Capture
	if c.Status < 200 || c.Status > 299 {
		return nil, false
	}
	var matches []store.ScanMatch
	for _, m := range o.Matches {
		if m.Distance <= pdq.MatchDistance {
			matches = append(matches, m)
		}
	}
	top := o.Suggestion.Top
	flagged := top != "" && top != classify.Clean && slices.Contains(s.o.SuggestCategories, top)
	if len(matches) == 0 && !flagged {
		return nil, false
	}
	g := store.SourceSuggestion{Source: p.Source, URL: p.URL, Canonical: p.URL, Title: o.Title, HTTPStatus: c.Status, SHA256: c.SHA256,
		Matches: matches, Created: s.o.Now(), Suggestion: store.ScanSuggestion{Scores: o.Suggestion.Scores, Top: top}}
	if g.Title == "" {
		g.Title = p.Title
	}
	if cu, err := canon.URL(p.URL); err == nil {
		g.Canonical = cu.URL
	}
	for _, r := range o.Suggestion.Reasons {
		g.Suggestion.Reasons = append(g.Suggestion.Reasons, store.ScanReason{Category: r.Category, Rule: r.Rule, Evidence: r.Evidence})
	}
	if _, created, err := s.o.Store.AddSourceSuggestion(ctx, g); err != nil {
		return err, false
	} else if created {
		s.o.Logger.Info("scanner: suggestion queued", "source", p.Source, "matches", len(matches), "top", orClean(top))
	}
	return nil, false
}
