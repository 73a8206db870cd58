package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestScannerDefaults(t *testing.T) {
	v := Default().Scanner.Settings()
	if !v.Enabled || v.Workers != 2 || v.PerHost != 2 || v.MaxImages != 20 || v.MaxAttempts != 5 || v.Timeout != 30*time.Second ||
		v.MaxPageBytes != 10<<20 || v.MaxImageBytes != 20<<20 || v.TextThreshold != 0.65 || slices.Contains(v.SuggestCategories, "hate_bullying") || !slices.Contains(v.SuggestCategories, "grooming") || v.UserAgentURL != DefaultScannerUserAgentURL ||
		v.AllowLoopbackForTests || v.RecheckEvery != time.Hour || v.RecheckRemovedFor != 30*24*time.Hour || v.KeepJobs != 30*24*time.Hour {
		t.Fatalf("defaults: %+v", v)
	}
	if w := Default().Scanner.Warnings(); len(w) != 0 {
		t.Fatalf("default warnings: %v", w)
	}
}

func TestScannerParse(t *testing.T) {
	c, err := Parse([]byte(`scanner:
  enabled: false
  workers: 4
  per_host: 1
  user_agent_url: https://hotline.example.vn/scanner
  hash_lists: [/etc/kidshield/known.pdq]
  timeout: 10s
  max_images: 5
  text_threshold: 0.9
  allow_loopback_for_tests: true
  recheck_every: 2s
  recheck_removed_for: 48h
  keep_jobs: 2160h
`))
	if err != nil {
		t.Fatal(err)
	}
	v := c.Scanner.Settings()
	if v.Enabled || v.Workers != 4 || v.PerHost != 1 || v.UserAgentURL != "https://hotline.example.vn/scanner" || len(v.HashLists) != 1 ||
		v.Timeout != 10*time.Second || v.MaxImages != 5 || v.TextThreshold != 0.9 || !v.AllowLoopbackForTests ||
		v.RecheckEvery != 2*time.Second || v.RecheckRemovedFor != 48*time.Hour || v.KeepJobs != 90*24*time.Hour {
		t.Fatalf("parsed: %+v", v)
	}
	if w := c.Scanner.Warnings(); len(w) != 1 || !strings.Contains(w[0], "allow_loopback_for_tests") {
		t.Fatalf("warnings: %v", w)
	}
}

func TestScannerInvalid(t *testing.T) {
	for _, tc := range []struct{ yaml, field string }{
		{"workers: -1", "scanner.workers"},
		{"workers: 65", "scanner.workers"},
		{"per_host: 17", "scanner.per_host"},
		{"user_agent_url: ftp://x.vn/", "scanner.user_agent_url"},
		{"user_agent_url: 'https://x.vn/a b'", "scanner.user_agent_url"},
		{"hash_lists: ['']", "scanner.hash_lists[0]"},
		{"timeout: 100ms", "scanner.timeout"},
		{"max_page_bytes: 10", "scanner.max_page_bytes"},
		{"max_image_bytes: 1000000000", "scanner.max_image_bytes"},
		{"max_images: 201", "scanner.max_images"},
		{"max_attempts: 51", "scanner.max_attempts"},
		{"ports: [70000]", "scanner.ports[0]"},
		{"text_threshold: 1.5", "scanner.text_threshold"},
		{"recheck_every: 500ms", "scanner.recheck_every"},
		{"recheck_every: 200h", "scanner.recheck_every"},
		{"recheck_every: -1s", "scanner.recheck_every"},
		{"recheck_removed_for: 30m", "scanner.recheck_removed_for"},
		{"recheck_removed_for: 9000h", "scanner.recheck_removed_for"},
		{"keep_jobs: 72h", "scanner.keep_jobs"},
		{"keep_jobs: 87601h", "scanner.keep_jobs"},
		{"keep_jobs: -1h", "scanner.keep_jobs"},
		{"unknown_key: 1", "unknown_key"},
	} {
		_, err := Parse([]byte("scanner:\n  " + tc.yaml + "\n"))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: got %v, want an error naming %s", tc.yaml, err, tc.field)
		}
	}
}

// The limits of keep_jobs are accepted, and the error under the floor says why it is there.
func TestScannerKeepJobsBounds(t *testing.T) {
	for _, v := range []string{"168h", "87600h"} {
		if _, err := Parse([]byte("scanner:\n  keep_jobs: " + v + "\n")); err != nil {
			t.Errorf("keep_jobs: %s: %v", v, err)
		}
	}
	_, err := Parse([]byte("scanner:\n  keep_jobs: 24h\n"))
	if err == nil || !strings.Contains(err.Error(), "168h") || !strings.Contains(err.Error(), "catch-up") || !strings.Contains(err.Error(), "24h0m0s") {
		t.Errorf("keep_jobs: 24h: %v", err)
	}
}

func TestScannerSources(t *testing.T) {
	c, err := Parse([]byte(`scanner:
  sources:
    - {name: bao-a, url: "https://bao-a.example.vn/rss"}
    - {name: map.b, url: "http://b.example.vn/sitemap.xml", kind: Sitemap, every: 30m}
`))
	if err != nil {
		t.Fatal(err)
	}
	v := c.Scanner.Settings()
	if len(v.Sources) != 2 || v.Sources[0].Kind != "auto" || v.Sources[0].Every != time.Hour || v.Sources[1].Kind != "sitemap" ||
		v.Sources[1].Every != 30*time.Minute {
		t.Fatalf("sources: %+v", v.Sources)
	}
	for _, tc := range []struct{ yaml, field string }{
		{`[{name: "", url: "https://a.vn/"}]`, "scanner.sources[0].name"},
		{`[{name: "a b", url: "https://a.vn/"}]`, "scanner.sources[0].name"},
		{`[{name: a, url: "https://a.vn/"}, {name: a, url: "https://b.vn/"}]`, "scanner.sources[1].name"},
		{`[{name: a, url: "ftp://a.vn/"}]`, "scanner.sources[0].url"},
		{`[{name: a, url: "https://u:p@a.vn/"}]`, "scanner.sources[0].url"},
		{`[{name: a, url: "https://a.vn/", kind: json}]`, "scanner.sources[0].kind"},
		{`[{name: a, url: "https://a.vn/", every: 100ms}]`, "scanner.sources[0].every"},
		{`[{name: a, url: "https://a.vn/", every: 200h}]`, "scanner.sources[0].every"},
	} {
		_, err := Parse([]byte("scanner:\n  sources: " + tc.yaml + "\n"))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: got %v, want an error naming %s", tc.yaml, err, tc.field)
		}
	}
}

func TestScannerSuggestCategoriesValidated(t *testing.T) {
	_, err := Parse([]byte("scanner:\n  suggest_categories: [grooming, hate]\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown category "hate"`) {
		t.Fatalf("unknown suggest category: %v", err)
	}
	c, err := Parse([]byte("scanner:\n  suggest_categories: [hate_bullying]\n"))
	if err != nil || !slices.Equal(c.Scanner.Settings().SuggestCategories, []string{"hate_bullying"}) {
		t.Fatalf("explicit categories: %v %v", err, c)
	}
}
