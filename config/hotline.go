package config

import (
	"fmt"
	"strings"
	"time"
)

// Hotline configures report intake, case handling, accounts and retention. Names of agencies,
// partners and hotlines are data in the store, not configuration.
type Hotline struct {
	// Enabled serves the hotline pages and API (default true).
	Enabled *bool `yaml:"enabled"`
	// PublicURL is the base URL printed in notices and receipts ("https://hotline.example.vn").
	// Empty: links are relative to the host a request came to.
	PublicURL string `yaml:"public_url"`
	// IssuerName is the hotline's name printed as the issuer of notices (the signed JSON, the
	// printable notice, the partner view), e.g. "Tổng đài quốc gia bảo vệ trẻ em 111". It is
	// data an administrator sets, not code: the names of Vietnamese bodies change with
	// reorganisations. Default "kidshield hotline".
	IssuerName string `yaml:"issuer_name"`
	// SLA is the target time from receipt to assessment, per priority P0..P4.
	SLA SLA `yaml:"sla"`
	// DataKeys encrypt personal fields at rest: "ID:BASE64(32 bytes)", the first one seals new
	// data, the others only open old data (rotation: docs/hotline.md). Also read from the
	// environment variable KIDSHIELD_DATA_KEYS (comma-separated, same form). Empty: a key is
	// generated into DATA_DIR/data-keys on first start.
	DataKeys []string `yaml:"data_keys"`
	// DataKeysFile reads the keys from a file, one per line, instead.
	DataKeysFile string    `yaml:"data_keys_file"`
	Retention    Retention `yaml:"retention"`
	Intake       Intake    `yaml:"intake"`
	Auth         Auth      `yaml:"auth"`
	// NoticeDeadline is the default deadline of a takedown notice (Decree 147/2024: 24 h).
	NoticeDeadline time.Duration `yaml:"notice_deadline"`
	// ReminderEvery is how often an overdue notice is due a reminder.
	ReminderEvery time.Duration `yaml:"reminder_every"`
	// ListRecheckAfter is how long after its approval or last re-check a network-list entry
	// is due a re-check (its expiry; default 30 days, at most 365). An expired entry keeps
	// blocking; the desk lists it as "re-check due". IWF re-verifies its URL list twice a
	// day, but URLs come and go; our entries are mostly domains and hosts, whose purpose
	// changes slowly, so a month is the default.
	ListRecheckAfter time.Duration `yaml:"list_recheck_after"`
}

// MaxListRecheckAfter is the longest hotline.list_recheck_after: an entry is looked at again
// at least once a year.
const MaxListRecheckAfter = 365 * 24 * time.Hour

// SLA holds the per-priority targets.
type SLA struct {
	P0 time.Duration `yaml:"p0"`
	P1 time.Duration `yaml:"p1"`
	P2 time.Duration `yaml:"p2"`
	P3 time.Duration `yaml:"p3"`
	P4 time.Duration `yaml:"p4"`
}

// For returns the target for priority p (0..4).
func (s SLA) For(p int) time.Duration {
	switch p {
	case 0:
		return s.P0
	case 1:
		return s.P1
	case 2:
		return s.P2
	case 3:
		return s.P3
	default:
		return s.P4
	}
}

// Retention says how long each kind of record is kept before the purge job removes it. The
// purge keeps anonymous statistics (counts per day, harm, channel, clocks).
type Retention struct {
	// Contact: reporters' contact details, counted from the case's closing.
	Contact time.Duration `yaml:"contact"`
	// Reports: descriptions, attachments and notes of closed cases, counted from closing.
	Reports time.Duration `yaml:"reports"`
	// Sessions: expired sessions.
	Sessions time.Duration `yaml:"sessions"`
	// Every is how often the purge job runs.
	Every time.Duration `yaml:"every"`
}

// Intake limits public reporting.
type Intake struct {
	// RatePerHour is how many reports one address may submit per hour (default 30; 0 disables
	// the limit, e.g. behind a proxy that limits already). Read it with PerHour.
	RatePerHour *int `yaml:"rate_per_hour"`
	// MaxURLs per report, MaxDescription in characters.
	MaxURLs        int `yaml:"max_urls"`
	MaxDescription int `yaml:"max_description"`
	// Screenshots: how many, how large (bytes, before re-encoding) and how many pixels.
	MaxScreenshots      int   `yaml:"max_screenshots"`
	MaxScreenshotBytes  int64 `yaml:"max_screenshot_bytes"`
	MaxScreenshotPixels int64 `yaml:"max_screenshot_pixels"`
}

// PerHour returns the per-address report limit per hour, 0 for no limit.
func (in Intake) PerHour() int {
	if in.RatePerHour == nil {
		return 30
	}
	return *in.RatePerHour
}

// Auth configures staff accounts.
type Auth struct {
	// RequireTOTP makes a second factor mandatory for staff (default true).
	RequireTOTP *bool `yaml:"require_totp"`
	// SessionTTL is the longest a session lives; IdleTimeout ends it earlier when unused.
	SessionTTL  time.Duration `yaml:"session_ttl"`
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// LoginAttempts per address and per login in 15 minutes before logins are refused.
	LoginAttempts int `yaml:"login_attempts"`
	// SecureCookies marks cookies Secure even on plain HTTP (behind a TLS proxy). Cookies on
	// HTTPS are always Secure.
	SecureCookies bool `yaml:"secure_cookies"`
}

func (h *Hotline) finish() {
	if h.Enabled == nil {
		h.Enabled = ptr(true)
	}
	def := SLA{P0: 15 * time.Minute, P1: 4 * time.Hour, P2: 48 * time.Hour, P3: 7 * 24 * time.Hour, P4: 7 * 24 * time.Hour}
	for _, f := range []struct {
		dst *time.Duration
		v   time.Duration
	}{
		{&h.SLA.P0, def.P0}, {&h.SLA.P1, def.P1}, {&h.SLA.P2, def.P2}, {&h.SLA.P3, def.P3}, {&h.SLA.P4, def.P4},
		{&h.Retention.Contact, 90 * 24 * time.Hour},
		{&h.Retention.Reports, 2 * 365 * 24 * time.Hour},
		{&h.Retention.Sessions, 30 * 24 * time.Hour},
		{&h.Retention.Every, time.Hour},
		{&h.Auth.SessionTTL, 12 * time.Hour},
		{&h.Auth.IdleTimeout, time.Hour},
		{&h.NoticeDeadline, 24 * time.Hour},
		{&h.ReminderEvery, 24 * time.Hour},
		{&h.ListRecheckAfter, 30 * 24 * time.Hour},
	} {
		if *f.dst == 0 {
			*f.dst = f.v
		}
	}
	if strings.TrimSpace(h.IssuerName) == "" {
		h.IssuerName = "kidshield hotline"
	}
	if h.Intake.RatePerHour == nil {
		h.Intake.RatePerHour = ptr(30)
	}
	if h.Intake.MaxURLs == 0 {
		h.Intake.MaxURLs = 10
	}
	if h.Intake.MaxDescription == 0 {
		h.Intake.MaxDescription = 5000
	}
	if h.Intake.MaxScreenshots == 0 {
		h.Intake.MaxScreenshots = 3
	}
	if h.Intake.MaxScreenshotBytes == 0 {
		h.Intake.MaxScreenshotBytes = 5 << 20
	}
	if h.Intake.MaxScreenshotPixels == 0 {
		h.Intake.MaxScreenshotPixels = 25_000_000
	}
	if h.Auth.RequireTOTP == nil {
		h.Auth.RequireTOTP = ptr(true)
	}
	if h.Auth.LoginAttempts == 0 {
		h.Auth.LoginAttempts = 10
	}
}

func (h *Hotline) validate(add func(field, format string, args ...any)) {
	for i, d := range []time.Duration{h.SLA.P0, h.SLA.P1, h.SLA.P2, h.SLA.P3, h.SLA.P4} {
		if d < time.Minute {
			add(fmt.Sprintf("hotline.sla.p%d", i), "must be at least 1m, got %s", d)
		}
	}
	if h.Intake.PerHour() < 0 {
		add("hotline.intake.rate_per_hour", "must not be negative (0 means no limit)")
	}
	if h.Intake.MaxURLs < 1 || h.Intake.MaxURLs > 100 {
		add("hotline.intake.max_urls", "must be between 1 and 100, got %d", h.Intake.MaxURLs)
	}
	if h.Intake.MaxDescription < 100 || h.Intake.MaxDescription > 100_000 {
		add("hotline.intake.max_description", "must be between 100 and 100000 characters, got %d", h.Intake.MaxDescription)
	}
	if h.Intake.MaxScreenshots < 0 || h.Intake.MaxScreenshots > 10 {
		add("hotline.intake.max_screenshots", "must be between 0 and 10, got %d", h.Intake.MaxScreenshots)
	}
	if h.Intake.MaxScreenshotBytes < 0 || h.Intake.MaxScreenshotBytes > 50<<20 {
		add("hotline.intake.max_screenshot_bytes", "must be at most 50 MiB")
	}
	if h.Auth.SessionTTL < time.Minute || h.Auth.IdleTimeout < time.Minute {
		add("hotline.auth", "session_ttl and idle_timeout must be at least 1m")
	}
	if h.Auth.LoginAttempts < 1 {
		add("hotline.auth.login_attempts", "must be at least 1")
	}
	if h.Retention.Contact < 24*time.Hour || h.Retention.Reports < 24*time.Hour {
		add("hotline.retention", "contact and reports must be kept at least 24h")
	}
	if h.NoticeDeadline < time.Hour {
		add("hotline.notice_deadline", "must be at least 1h, got %s", h.NoticeDeadline)
	}
	if h.ReminderEvery < time.Hour {
		add("hotline.reminder_every", "must be at least 1h, got %s", h.ReminderEvery)
	}
	if h.ListRecheckAfter <= 0 || h.ListRecheckAfter > MaxListRecheckAfter {
		add("hotline.list_recheck_after", "must be more than 0 and at most 365 days (8760h), got %s", h.ListRecheckAfter)
	}
}
