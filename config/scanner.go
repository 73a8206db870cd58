package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Scanner configures the scanner of the hotline role: every new report's URLs are fetched
// through the guarded client, their text classified and their images hashed and matched
// against known hashes. Its results are suggestions on the case; it never sends a notice or
// changes a list. Documented in docs/scanner.md.
type Scanner struct {
	// Enabled runs the scanner with the hotline (default true).
	Enabled *bool `yaml:"enabled"`
	// Workers is how many jobs run at once on this node (default 2).
	Workers int `yaml:"workers"`
	// PerHost is the most jobs of one site (registrable domain: www.example.vn and
	// cdn.example.vn are example.vn) running at once across all nodes (default 2).
	PerHost int `yaml:"per_host"`
	// UserAgentURL is the operator's page about the scanner, named in the User-Agent so a site
	// owner can see who fetched their page and why (default: the project's page).
	UserAgentURL string `yaml:"user_agent_url"`
	// HashLists are files of known PDQ hashes, one `pdq <64 hex>` per line
	// (python-threatexchange's format); read at start and on reload. The network list's
	// `pdq:` hash entries are matched too.
	HashLists []string `yaml:"hash_lists"`
	// Timeout caps one fetch, all redirects and the body included (default 30s).
	Timeout time.Duration `yaml:"timeout"`
	// MaxPageBytes and MaxImageBytes cap bodies (defaults 10 MiB and 20 MiB).
	MaxPageBytes  int64 `yaml:"max_page_bytes"`
	MaxImageBytes int64 `yaml:"max_image_bytes"`
	// MaxImages is how many of a page's images are fetched and hashed (default 20).
	MaxImages int `yaml:"max_images"`
	// MaxAttempts is how many times a job is tried before it fails for good (default 5).
	MaxAttempts int `yaml:"max_attempts"`
	// Ports the scanner may connect to besides 80 and 443 (default none).
	Ports []int `yaml:"ports"`
	// TextThreshold is the score above which a sexual, grooming or self-harm suggestion raises
	// the case to P1 (default 0.65; 0 < t ≤ 1). The grooming rules score 0.66–0.70 for a
	// message with two distinct cues: a higher threshold would leave such pages unraised.
	TextThreshold float64 `yaml:"text_threshold"`
	// SuggestCategories are the text categories that make a monitored page a suggestion (a
	// known-hash match always does). Default: every category but hate_bullying, whose model
	// was trained on social-media comments and marks ordinary news wording as offensive.
	SuggestCategories []string `yaml:"suggest_categories"`
	// AllowLoopbackForTests lets the scanner connect to 127.0.0.0/8 and ::1 (and nothing else
	// of the private ranges). UNSAFE, FOR TESTS ONLY: a scanner that reaches loopback lets
	// anyone who submits a URL reach the services on the scanner's own host.
	AllowLoopbackForTests bool `yaml:"allow_loopback_for_tests"`
	// RecheckEvery is how often the URLs of takedown notices awaiting removal are re-checked
	// (default 1h; between 1s and 7 days).
	RecheckEvery time.Duration `yaml:"recheck_every"`
	// RecheckRemovedFor is how long after a removal the URLs are still re-checked to see the
	// content come back (default 720h, 30 days; between 1h and 366 days).
	RecheckRemovedFor time.Duration `yaml:"recheck_removed_for"`
	// KeepJobs is how long finished scan jobs (done or failed) and the monitored sources' seen
	// items are kept before the daily maintenance deletes them (default 720h, 30 days; between
	// 168h and 87600h). A job whose result a case shows is kept with the case. At least a week:
	// the catch-up of report scans lost in a crash looks back three days and must still see
	// the jobs it would otherwise queue again.
	KeepJobs time.Duration `yaml:"keep_jobs"`
	// Sources are the monitored feeds and sitemaps: polled every Every (robots.txt honoured),
	// their new items scanned, and those with a known-hash match or a category past its
	// threshold put in the analysts' suggestions queue.
	Sources []ScannerSource `yaml:"sources"`
}

// ScannerSource is one monitored source.
type ScannerSource struct {
	// Name identifies the source in the suggestions queue (letters, digits, '-', '_', '.';
	// unique; at most 64 characters). Renaming a source forgets which items it has seen.
	Name string `yaml:"name"`
	// URL of the feed or sitemap (http or https).
	URL string `yaml:"url"`
	// Kind is rss, atom, sitemap or auto (default: auto, from the document's root element).
	Kind string `yaml:"kind"`
	// Every is the polling interval (default 1h; between 1s and 7 days).
	Every time.Duration `yaml:"every"`
}

// ScannerSourceKinds are the values of scanner.sources[].kind.
var ScannerSourceKinds = []string{"auto", "rss", "atom", "sitemap"}

// WithDefaults returns the source with its kind and interval filled in.
func (s ScannerSource) WithDefaults() ScannerSource {
	s.Name, s.URL, s.Kind = strings.TrimSpace(s.Name), strings.TrimSpace(s.URL), strings.ToLower(strings.TrimSpace(s.Kind))
	if s.Kind == "" {
		s.Kind = "auto"
	}
	if s.Every == 0 {
		s.Every = time.Hour
	}
	return s
}

// ScannerSettings is a Scanner with every default filled in.
type ScannerSettings struct {
	Enabled                     bool
	Workers, PerHost            int
	UserAgentURL                string
	HashLists                   []string
	Timeout                     time.Duration
	MaxPageBytes, MaxImageBytes int64
	MaxImages, MaxAttempts      int
	Ports                       []int
	TextThreshold               float64
	SuggestCategories           []string
	AllowLoopbackForTests       bool
	RecheckEvery                time.Duration
	RecheckRemovedFor           time.Duration
	KeepJobs                    time.Duration
	Sources                     []ScannerSource
}

// DefaultScannerUserAgentURL is the page named in the User-Agent when the operator names none.
const DefaultScannerUserAgentURL = "https://github.com/kidshield/kidshield/blob/main/docs/scanner.md"

// Settings returns s with its defaults. The defaults are applied here rather than when the
// file is loaded so that a Scanner read from any source means the same.
func (s Scanner) Settings() ScannerSettings {
	out := ScannerSettings{
		Enabled: s.Enabled == nil || *s.Enabled, Workers: s.Workers, PerHost: s.PerHost, UserAgentURL: strings.TrimSpace(s.UserAgentURL),
		HashLists: s.HashLists, Timeout: s.Timeout, MaxPageBytes: s.MaxPageBytes, MaxImageBytes: s.MaxImageBytes,
		MaxImages: s.MaxImages, MaxAttempts: s.MaxAttempts, Ports: s.Ports, TextThreshold: s.TextThreshold, SuggestCategories: s.SuggestCategories,
		AllowLoopbackForTests: s.AllowLoopbackForTests, RecheckEvery: s.RecheckEvery, RecheckRemovedFor: s.RecheckRemovedFor,
		KeepJobs: s.KeepJobs,
	}
	for _, src := range s.Sources {
		out.Sources = append(out.Sources, src.WithDefaults())
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&out.Workers, 2)
	def(&out.PerHost, 2)
	def(&out.MaxImages, 20)
	def(&out.MaxAttempts, 5)
	if out.Timeout == 0 {
		out.Timeout = 30 * time.Second
	}
	if out.MaxPageBytes == 0 {
		out.MaxPageBytes = 10 << 20
	}
	if out.MaxImageBytes == 0 {
		out.MaxImageBytes = 20 << 20
	}
	if out.TextThreshold == 0 {
		out.TextThreshold = 0.65
	}
	if out.SuggestCategories == nil {
		out.SuggestCategories = []string{"sexual", "self_harm", "violence", "gambling", "scam", "grooming"}
	}
	if out.RecheckEvery == 0 {
		out.RecheckEvery = time.Hour
	}
	if out.RecheckRemovedFor == 0 {
		out.RecheckRemovedFor = 30 * 24 * time.Hour
	}
	if out.KeepJobs == 0 {
		out.KeepJobs = 30 * 24 * time.Hour
	}
	if out.UserAgentURL == "" {
		out.UserAgentURL = DefaultScannerUserAgentURL
	}
	return out
}

// Warnings are what check-config and the start log say about a configuration that is valid
// but unsafe.
func (s Scanner) Warnings() []string {
	if s.AllowLoopbackForTests {
		return []string{"scanner.allow_loopback_for_tests is on: the scanner may connect to 127.0.0.0/8 and ::1, " +
			"so anyone who submits a URL can reach services on this host. For tests only; never in production."}
	}
	return nil
}

func (s *Scanner) validate(add func(field, format string, args ...any)) {
	v := s.Settings()
	if v.Workers < 0 || v.Workers > 64 {
		add("scanner.workers", "must be between 1 and 64, got %d", s.Workers)
	}
	if v.PerHost < 0 || v.PerHost > 16 {
		add("scanner.per_host", "must be between 1 and 16, got %d", s.PerHost)
	}
	if u, err := url.Parse(v.UserAgentURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		add("scanner.user_agent_url", "must be an http(s) URL of the page that explains the scanner, got %s", quote(s.UserAgentURL))
	} else if strings.ContainsAny(v.UserAgentURL, " \t\r\n()") {
		add("scanner.user_agent_url", "must not contain spaces or parentheses (it goes into the User-Agent header)")
	}
	for i, p := range v.HashLists {
		if strings.TrimSpace(p) == "" {
			add(fmt.Sprintf("scanner.hash_lists[%d]", i), "empty path")
		}
	}
	if v.Timeout < time.Second || v.Timeout > 10*time.Minute {
		add("scanner.timeout", "must be between 1s and 10m, got %s", v.Timeout)
	}
	if v.MaxPageBytes < 1<<10 || v.MaxPageBytes > 100<<20 {
		add("scanner.max_page_bytes", "must be between 1 KiB and 100 MiB, got %d", v.MaxPageBytes)
	}
	if v.MaxImageBytes < 1<<10 || v.MaxImageBytes > 100<<20 {
		add("scanner.max_image_bytes", "must be between 1 KiB and 100 MiB, got %d", v.MaxImageBytes)
	}
	if v.MaxImages < 0 || v.MaxImages > 200 {
		add("scanner.max_images", "must be between 0 and 200, got %d", v.MaxImages)
	}
	if v.MaxAttempts < 1 || v.MaxAttempts > 50 {
		add("scanner.max_attempts", "must be between 1 and 50, got %d", v.MaxAttempts)
	}
	for i, p := range v.Ports {
		if p < 1 || p > 65535 {
			add(fmt.Sprintf("scanner.ports[%d]", i), "port %d out of range", p)
		}
	}
	if v.RecheckEvery < time.Second || v.RecheckEvery > 7*24*time.Hour {
		add("scanner.recheck_every", "must be between 1s and 168h, got %s", v.RecheckEvery)
	}
	if v.RecheckRemovedFor < time.Hour || v.RecheckRemovedFor > 366*24*time.Hour {
		add("scanner.recheck_removed_for", "must be between 1h and 8784h (366 days), got %s", v.RecheckRemovedFor)
	}
	if v.KeepJobs < 7*24*time.Hour || v.KeepJobs > 3650*24*time.Hour {
		add("scanner.keep_jobs", "must be between 168h (7 days: the catch-up of lost report scans looks back 3 days) and 87600h (10 years), got %s", v.KeepJobs)
	}
	names := map[string]bool{}
	for i, src := range v.Sources {
		f := fmt.Sprintf("scanner.sources[%d]", i)
		if !validSourceName(src.Name) {
			add(f+".name", "must be 1 to 64 letters, digits, '-', '_' or '.', got %s", quote(src.Name))
		} else if names[src.Name] {
			add(f+".name", "%s is already the name of another source", quote(src.Name))
		}
		names[src.Name] = true
		if u, err := url.Parse(src.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			add(f+".url", "must be an http(s) URL without credentials, got %s", quote(src.URL))
		}
		if !slices.Contains(ScannerSourceKinds, src.Kind) {
			add(f+".kind", "must be one of %v, got %s", ScannerSourceKinds, quote(src.Kind))
		}
		if src.Every < time.Second || src.Every > 7*24*time.Hour {
			add(f+".every", "must be between 1s and 168h, got %s", src.Every)
		}
	}
	for _, c := range s.SuggestCategories {
		// The classifier's categories (scanner/classify.Categories; config imports no scanner).
		if !slices.Contains([]string{"sexual", "self_harm", "violence", "gambling", "scam", "hate_bullying", "grooming"}, c) {
			add("scanner.suggest_categories", "unknown category %q (want sexual, self_harm, violence, gambling, scam, hate_bullying or grooming)", c)
		}
	}
	if v.TextThreshold <= 0 || v.TextThreshold > 1 {
		add("scanner.text_threshold", "must be more than 0 and at most 1, got %g", s.TextThreshold)
	}
}

func validSourceName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
