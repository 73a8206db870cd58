// Package scanner runs the scanner's jobs: every new report's URLs are fetched through the
// guarded client (scanner/fetch), the page's title and text classified (scanner/classify),
// its images hashed with PDQ and matched against the known hashes (scanner/pdq), and the
// result recorded on the case with an evidence record.
//
// The scanner only suggests. The one thing it changes on its own is a case's priority, and
// only upwards: a known-hash match (distance ≤ pdq.MatchDistance) or a strong sexual,
// grooming or self-harm suggestion raises the case to at least P1 so that a person looks at
// it sooner, with the reason in the case history and the audit log. It never lowers a
// priority, never sends a notice, never adds to the network list and never closes a case.
//
// Jobs live in the store's queue (store.LeaseScanJobs): they survive a restart, are retried
// with backoff, respect a per-host limit across nodes, and a job whose worker died is given
// to another worker when its lease expires.
package scanner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/scanner/classify"
	"github.com/kidshield/kidshield/scanner/fetch"
	"github.com/kidshield/kidshield/store"
)

// Cases is what the scanner needs of the hotline (hotline.Service implements it): the case
// change path, which checks, seals the note and audits, and evidence records.
type Cases interface {
	ChangeCase(ctx context.Context, by hotline.Actor, id int64, ch hotline.Change) (*store.Case, error)
	AddEvidence(ctx context.Context, by hotline.Actor, e store.Evidence) (int64, error)
}

// Actor is who the scanner is in case histories and the audit log.
var Actor = hotline.Actor{Label: "scanner"}

// RaiseTo is the priority a strong signal raises a case to (P1; P0 stays P0).
const RaiseTo = 1

// Categories whose strong suggestion raises the case's priority.
var raiseCategories = map[string]bool{classify.Sexual: true, classify.Grooming: true, classify.SelfHarm: true}

// Options configure a Service.
type Options struct {
	Store  *store.Store
	Cases  Cases
	Client *fetch.Client
	// Classifier scores page text (nil: the default thresholds).
	Classifier *classify.Classifier
	// Known is the first set of known hashes (nil: none until SetKnown).
	Known *Known
	// Workers run jobs at once on this node (default 2); PerHost is the most jobs of one host
	// running at once across nodes (default 2); a host is keyed by its site (HostKey).
	Workers, PerHost int
	// MaxImages of a page are fetched and hashed (default 20).
	MaxImages int
	// ImageBudget caps the time spent fetching one page's images, all of them together
	// (default 90s). Each image has the client's own time cap; without a cap on the sum a
	// site that answers slowly keeps a worker for MaxImages times that on every URL.
	ImageBudget time.Duration
	// MaxAttempts of a job before it fails for good (default 5).
	MaxAttempts int
	// TextThreshold is the score at or above which a sexual, grooming or self-harm suggestion
	// raises the case (default 0.8).
	TextThreshold float64
	// SuggestCategories are the text categories that make a monitored page a suggestion (a
	// known-hash match always does); nil: every category but hate_bullying (its model is
	// trained on social-media comments and flags ordinary news wording).
	SuggestCategories []string
	// LeaseTTL is how long a worker holds a job before it is presumed dead (default 10m); a job
	// is cut short well before.
	LeaseTTL time.Duration
	// Poll is how often an idle worker looks at the queue (default 2s); Enqueue wakes one at
	// once.
	Poll    time.Duration
	Backoff store.ScanBackoff
	// RecheckEvery is how often the URLs of open takedown notices are queued for a re-check
	// (default 1h; negative: never, for tests that queue them with EnqueueRechecks).
	RecheckEvery time.Duration
	// RecheckRemovedFor is how long after a removal a notice's URLs are still re-checked to see
	// the content come back (default 30 days).
	RecheckRemovedFor time.Duration
	// RemovalMarkers are the platforms' removal texts (nil: DefaultRemovalMarkers).
	RemovalMarkers []RemovalMarker
	// Sources are the monitored feeds and sitemaps (monitor.go).
	Sources []Source
	// KeepJobs is how long finished jobs and the sources' seen items are kept (default 30
	// days); CatchUpWindow is how far back the catch-up looks for report URLs never queued
	// (default 3 days); MaintainEvery is how often both run after the first time at start
	// (default 24h; negative: never, for tests that call Maintain). See maintain.go.
	KeepJobs, CatchUpWindow, MaintainEvery time.Duration
	// Owner names this node in leases (default host name and a random suffix).
	Owner  string
	Now    func() time.Time
	Logger *slog.Logger
}

// Service runs scan jobs.
type Service struct {
	o     Options
	clf   *classify.Classifier
	known atomic.Pointer[Known]
	wake  chan struct{}
	// markers are the platforms' removal texts (re-checks).
	markers []RemovalMarker
}

// New returns a Service; Run starts its workers.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Cases == nil || o.Client == nil {
		return nil, errors.New("scanner: a store, the hotline's cases and a fetch client are needed")
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.PerHost <= 0 {
		o.PerHost = 2
	}
	if o.MaxImages <= 0 {
		o.MaxImages = 20
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.ImageBudget <= 0 {
		o.ImageBudget = 90 * time.Second
	}
	if o.TextThreshold <= 0 {
		o.TextThreshold = 0.65
	}
	if o.SuggestCategories == nil {
		o.SuggestCategories = defaultSuggestCategories()
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 10 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.RecheckEvery == 0 {
		o.RecheckEvery = time.Hour
	}
	if o.RecheckRemovedFor <= 0 {
		o.RecheckRemovedFor = 30 * 24 * time.Hour
	}
	if o.KeepJobs <= 0 {
		o.KeepJobs = 30 * 24 * time.Hour
	}
	if o.CatchUpWindow <= 0 {
		o.CatchUpWindow = DefaultCatchUpWindow
	}
	if o.MaintainEvery == 0 {
		o.MaintainEvery = 24 * time.Hour
	}
	if o.Backoff.Base <= 0 {
		o.Backoff = store.DefaultScanBackoff
	}
	if o.Owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		rand.Read(b[:])
		o.Owner = host + "/" + hex.EncodeToString(b[:])
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{o: o, clf: o.Classifier, wake: make(chan struct{}, o.Workers), markers: o.RemovalMarkers}
	if s.markers == nil {
		s.markers = DefaultRemovalMarkers
	}
	if s.clf == nil {
		c, err := classify.New(nil)
		if err != nil {
			return nil, fmt.Errorf("scanner: classifier: %w", err)
		}
		s.clf = c
	}
	if o.Known != nil {
		s.known.Store(o.Known)
	}
	// The client's politeness and the queue's per-host count must group host names alike.
	o.Client.SetSiteKey(HostKey)
	return s, nil
}

// SetKnown replaces the known hashes (after a reload).
func (s *Service) SetKnown(k *Known) { s.known.Store(k) }

// Known returns the known hashes in use (nil: none yet).
func (s *Service) Known() *Known { return s.known.Load() }

// reportJob is the payload of a store.ScanJobReportURL job.
type reportJob struct {
	CaseID int64  `json:"case_id"`
	URL    string `json:"url"`
}

// jobHost is a job's key for the queue's per-host limit: the registrable domain of rawURL's
// host (HostKey, the same key as the client's own limiter), "" when it has none.
func jobHost(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return HostKey(u.Hostname())
}

// Enqueue queues a scan of each URL of a case (an identical pending job is not queued twice)
// and wakes a worker.
func (s *Service) Enqueue(ctx context.Context, caseID int64, urls []string) error {
	var errs []error
	for _, raw := range urls {
		host := jobHost(raw)
		payload, err := json.Marshal(reportJob{CaseID: caseID, URL: raw})
		if err != nil {
			return err
		}
		_, _, err = s.o.Store.EnqueueScanJob(ctx, store.NewScanJob{Kind: store.ScanJobReportURL, Payload: payload, Host: host,
			MaxAttempts: s.o.MaxAttempts}, s.o.Now())
		if err != nil {
			errs = append(errs, err)
		}
	}
	s.wakeWorkers(len(urls))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scanner: enqueue case %d: %w", caseID, err)
	}
	return nil
}

// OnReport is hotline.Options.OnReport: it queues a new report's URLs, logging (without the
// URLs) when the queue cannot take them.
func (s *Service) OnReport(ctx context.Context, r hotline.ReportEvent) {
	urls := make([]string, 0, len(r.URLs))
	for _, u := range r.URLs {
		urls = append(urls, u.Fetchable())
	}
	if err := s.Enqueue(ctx, r.CaseID, urls); err != nil {
		s.o.Logger.Warn("scanner: URLs of a new report not queued", "case", r.CaseRef, "err", err)
	}
}

// Run runs the workers, queues the notice re-checks every RecheckEvery and the sources' polls
// every source's Every, and runs the maintenance (catch-up and pruning) at start and every
// MaintainEvery, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if s.o.RecheckEvery > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.recheckLoop(ctx)
		}()
	}
	if s.o.MaintainEvery > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.maintainLoop(ctx)
		}()
	}
	if len(s.o.Sources) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.monitorLoop(ctx)
		}()
	}
	for i := range s.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.worker(ctx, fmt.Sprintf("%s#%d", s.o.Owner, i))
		}()
	}
	wg.Wait()
}

func (s *Service) worker(ctx context.Context, owner string) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		for ctx.Err() == nil {
			n, err := s.runOne(ctx, owner)
			if err != nil && ctx.Err() == nil {
				s.o.Logger.Warn("scanner: queue", "err", err)
			}
			if n == 0 || err != nil {
				break
			}
		}
		t.Reset(s.o.Poll)
	}
}

// RunOnce leases and runs at most one job as owner; it returns how many it ran (0 when
// nothing is runnable). For tests and tools; Run is the service's loop.
func (s *Service) RunOnce(ctx context.Context, owner string) (int, error) {
	return s.runOne(ctx, owner)
}

func (s *Service) runOne(ctx context.Context, owner string) (int, error) {
	js, err := s.o.Store.LeaseScanJobs(ctx, store.ScanLease{Owner: owner, Max: 1, TTL: s.o.LeaseTTL, PerHost: s.o.PerHost, Now: s.o.Now()})
	if err != nil || len(js) == 0 {
		return 0, err
	}
	j := js[0]
	// The job ends well before its lease does, so that a slow site cannot make two workers
	// run it at once.
	jctx, cancel := context.WithTimeout(ctx, s.o.LeaseTTL*3/4)
	defer cancel()
	runErr, permanent := s.run(jctx, j)
	now := s.o.Now()
	if runErr == nil {
		if err := s.o.Store.CompleteScanJob(ctx, j.ID, owner, now); err != nil {
			return 1, err
		}
		return 1, nil
	}
	if ctx.Err() != nil {
		// Shutting down: the job goes back to the queue for another worker (or this node,
		// restarted); if even that fails, its lease expires and it is requeued then.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.o.Store.ReleaseScanJob(rctx, j.ID, owner, now); err != nil {
			s.o.Logger.Warn("scanner: job not released at shutdown; its lease will expire", "job", j.ID, "err", err)
		}
		return 1, nil
	}
	state, err := s.o.Store.FailScanJob(ctx, j.ID, owner, kindedError{runErr}, permanent, s.o.Backoff, now)
	if err != nil {
		return 1, err
	}
	// The error stays in the store (the job's last error, the case's scan result): it may
	// quote the URL, whose path and query can carry personal data, so it is not logged. Its
	// kind (FailureKind) says why without the URL, and a monitored source is named, so that
	// an administrator can tell which source is failing.
	attrs := []any{"job", j.ID, "kind", j.Kind, "host", j.Host, "attempt", j.Attempts, "state", state, "reason", FailureKind(runErr)}
	var src struct {
		Source string `json:"source"`
	}
	if (j.Kind == store.ScanJobSourcePoll || j.Kind == store.ScanJobSourceItem) && json.Unmarshal(j.Payload, &src) == nil && src.Source != "" {
		attrs = append(attrs, "source", src.Source)
	}
	s.o.Logger.Info("scanner: job failed", attrs...)
	if state == store.ScanFailed && j.Kind == store.ScanJobReportURL {
		var p reportJob
		if json.Unmarshal(j.Payload, &p) == nil && p.CaseID > 0 {
			return 1, s.recordFailure(ctx, j.ID, p, runErr, now)
		}
	}
	return 1, nil
}

// recordFailure puts a report URL's failed scan on its case: why nothing was scanned, in a
// kind the page explains, and what its host alone says (the network list's category, cues
// in the name) — a listed or tell-tale host matters most when the page itself cannot be
// fetched (taken down, or refusing scanners).
func (s *Service) recordFailure(ctx context.Context, jobID int64, p reportJob, runErr error, now time.Time) error {
	res := store.ScanResult{JobID: jobID, CaseID: p.CaseID, URL: p.URL, Fetched: now, Error: runErr.Error(), ErrorKind: FailureKind(runErr)}
	dom, err := s.classifyHosts(ctx, p.URL)
	if err != nil {
		return err
	}
	if len(dom.Reasons) > 0 {
		res.Suggestion = store.ScanSuggestion{Scores: dom.Scores, Top: dom.Top}
		for _, r := range dom.Reasons {
			res.Suggestion.Reasons = append(res.Suggestion.Reasons, store.ScanReason{Category: r.Category, Rule: r.Rule, Evidence: r.Evidence})
		}
	}
	_, err = s.o.Store.AddScanResult(ctx, res)
	return err
}

// run runs one job; permanent says a retry cannot succeed.
func (s *Service) run(ctx context.Context, j *store.ScanJob) (err error, permanent bool) {
	switch j.Kind {
	case store.ScanJobReportURL:
		var p reportJob
		if err := json.Unmarshal(j.Payload, &p); err != nil || p.CaseID <= 0 || p.URL == "" {
			return fmt.Errorf("scanner: job %d: bad payload", j.ID), true
		}
		return s.scanReportURL(ctx, j.ID, p)
	case store.ScanJobNoticeRecheck:
		var p recheckJob
		if err := json.Unmarshal(j.Payload, &p); err != nil || p.NoticeID <= 0 || p.ItemID <= 0 || p.URL == "" {
			return fmt.Errorf("scanner: job %d: bad payload", j.ID), true
		}
		return s.recheckItem(ctx, p)
	case store.ScanJobSourcePoll:
		var p pollJob
		if err := json.Unmarshal(j.Payload, &p); err != nil || p.Source == "" {
			return fmt.Errorf("scanner: job %d: bad payload", j.ID), true
		}
		return s.pollSource(ctx, p)
	case store.ScanJobSourceItem:
		var p itemJob
		if err := json.Unmarshal(j.Payload, &p); err != nil || p.Source == "" || p.URL == "" {
			return fmt.Errorf("scanner: job %d: bad payload", j.ID), true
		}
		return s.scanItem(ctx, p)
	default:
		return fmt.Errorf("scanner: job %d: unknown kind %q", j.ID, j.Kind), true
	}
}

// fetchImages fetches a page's images within ImageBudget; those not reached in time are
// results with the context's error, so a re-check counts them as unfetched.
func (s *Service) fetchImages(ctx context.Context, urls []string, monitor bool) []fetch.ImageResult {
	ictx, cancel := context.WithTimeout(ctx, s.o.ImageBudget)
	defer cancel()
	out := s.o.Client.FetchImages(ictx, urls, monitor)
	for _, u := range urls[len(out):] {
		out = append(out, fetch.ImageResult{URL: u, Err: fmt.Errorf("scanner: image budget of %s spent: %w", s.o.ImageBudget, ictx.Err())})
	}
	return out
}

// defaultSuggestCategories is every text category but hate_bullying (Options.SuggestCategories).
func defaultSuggestCategories() []string {
	var out []string
	for _, c := range classify.Categories {
		if c != classify.HateBullying {
			out = append(out, c)
		}
	}
	return out
}

// wakeWorkers wakes up to n idle workers for n new jobs; a worker that is busy finds them when
// it next leases, so a full wake channel drops the signal rather than block.
func (s *Service) wakeWorkers(n int) {
	for range n {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}
