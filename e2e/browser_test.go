package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The browser tests drive the real binary with headless Chromium, the way a person uses the
// hotline: they open pages, type into fields, press keys and click buttons, and wait for the
// next page. Every person of a story has a tab of their own in a browser context of their own
// (their own cookies), like separate computers.
//
// Chromium: /usr/bin/chromium (Debian's package), or $KIDSHIELD_CHROMIUM. Without it the tests
// are skipped, or fail under CI=true. Screenshots go to $KIDSHIELD_ARTIFACTS (default
// e2e/artifacts/).

// browserTimeout bounds one step in the browser (a page load, a click and the page it leads
// to): generous, since the server may be race-built and the machine shared.
const browserTimeout = 60 * time.Second

// chromiumPath finds the browser, or skips the test (fails it under CI=true).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KIDSHIELD_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome", "chrome", "headless-shell"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is not installed and CI=true: the browser tests need it (apt-get install chromium)")
	}
	t.Skip("Chromium is not installed; skipping the browser test (apt-get install chromium, or set KIDSHIELD_CHROMIUM; CI=true makes this a failure)")
	return ""
}

// browser is one headless Chromium for a test.
type browser struct {
	t   *testing.T
	ctx context.Context // chromedp context of the browser (it has run once)
	out *chromiumLog    // the browser's own output, shown when the test fails
}

type chromiumLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *chromiumLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() < 1<<20 {
		s.b.Write(p)
	}
	return len(p), nil
}

func (s *chromiumLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newBrowser starts Chromium with a fresh profile; it is stopped when the test ends.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	b := &browser{t: t, out: &chromiumLog{}}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // root in a container: the sandbox needs namespaces we may not have
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// HTTPS-Upgrades would try https:// first for the loopback http:// pages.
		chromedp.Flag("disable-features", "Translate,HttpsUpgrades"),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("lang", "en-US"), // the pages must pick Vietnamese themselves, not from the browser
		chromedp.CombinedOutput(b.out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// The first Run starts the browser and binds its life to ctx: no timeout here.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start Chromium (%s): %v\n%s", path, err, lastLines(b.out.String(), 40))
	}
	b.ctx = ctx
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if t.Failed() {
			if s := chromiumNoise.ReplaceAllString(b.out.String(), ""); strings.TrimSpace(s) != "" {
				t.Logf("Chromium output (last 40 lines):\n%s", lastLines(s, 40))
			}
		}
	})
	return b
}

// chromiumNoise are lines of Chromium's output that say nothing about the test: no D-Bus in a
// container, and a warning of Debian's wrapper script.
var chromiumNoise = regexp.MustCompile(`(?m)^.*(dbus/|/usr/bin/chromium: \d+: \[).*\n?`)

// tab is one person at the browser: a tab in a browser context of its own.
type tab struct {
	t    *testing.T
	name string
	ctx  context.Context
}

// newTab opens a tab with its own cookies. name says whose tab it is in failure messages.
func (b *browser) newTab(name string) *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	tb := &tab{t: b.t, name: name, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("%s: open a tab: %v", name, err)
	}
	return tb
}

// run runs one step with a deadline and returns its value; an error fails the test with what
// the tab was doing and where it was.
func browserRun[T any](tb *tab, what string, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatalf("%s: %s: %v (page %s)", tb.name, what, err, tb.where())
	}
	return v
}

// do runs steps that return nothing.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	browserRun(tb, what, chromedp.Steps(steps...))
}

// where is the tab's current URL, for messages ("?" when even that fails).
func (tb *tab) where() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return u
}

// navigation runs steps that make the page go somewhere (a link, a form) and waits until the
// new page has loaded; it returns the HTTP status of the page's document (after redirects).
func (tb *tab) navigation(what string, steps ...chromedp.Action[chromedp.Void]) int64 {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		tb.t.Fatalf("%s: %s: %v (page %s)", tb.name, what, err, tb.where())
	}
	if resp == nil {
		return 0
	}
	return resp.Status
}

// open loads url and returns the status of its document.
func (tb *tab) open(url string) int64 {
	tb.t.Helper()
	resp := browserRun(tb, "open "+url, chromedp.NavigateResponse(url))
	if resp == nil {
		return 0
	}
	return resp.Status
}

// mustOpen loads url and fails unless it answers 200.
func (tb *tab) mustOpen(url string) {
	tb.t.Helper()
	if st := tb.open(url); st != 200 {
		tb.t.Fatalf("%s: open %s: HTTP %d\n%s", tb.name, url, st, tb.bodyText())
	}
}

// click clicks the element and waits for the page it leads to; want is the expected status
// of that page (0: any).
func (tb *tab) click(sel string, want int64) {
	tb.t.Helper()
	st := tb.navigation("click "+sel, chromedp.Click(chromedp.CSS(sel)))
	if want != 0 && st != want {
		tb.t.Fatalf("%s: after clicking %s: HTTP %d, want %d (page %s)\n%s", tb.name, sel, st, want, tb.where(), tb.bodyText())
	}
}

// typeText types text into a field key by key, as a person would (diacritics included).
func (tb *tab) typeText(sel, text string) {
	tb.t.Helper()
	checkTypable(tb.t, text)
	tb.do("type into "+sel, chromedp.Click(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// text is the visible text of the first element matching sel.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return browserRun(tb, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// html is the page's HTML as the browser has it now.
func (tb *tab) html() string {
	tb.t.Helper()
	return browserRun(tb, "read the page", chromedp.OuterHTML(chromedp.CSS("html")))
}

// bodyText is the page's text for failure messages (never fails).
func (tb *tab) bodyText() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
	if err != nil {
		return "(no page: " + err.Error() + ")"
	}
	s = regexp.MustCompile(`(?s)<[^>]*>`).ReplaceAllString(s, " ")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 1500 {
		s = s[:1500] + "…"
	}
	return s
}

// has reports whether an element matches sel now (no waiting).
func (tb *tab) has(sel string) bool {
	tb.t.Helper()
	return tb.count(sel) > 0
}

// count is how many elements match sel now (a DOM query: it needs no page script).
func (tb *tab) count(sel string) int {
	tb.t.Helper()
	return len(browserRun(tb, "count "+sel, chromedp.QueryNodeIDs(chromedp.CSSAll(sel), chromedp.AtLeast(0))))
}

// eval evaluates JavaScript in the page (DevTools evaluation: it runs even where the page's own
// scripts are disabled) and decodes the result.
func browserEval[T any](tb *tab, what, js string) T {
	tb.t.Helper()
	return browserRun(tb, what, chromedp.Evaluate[T](js))
}

// disableScripts turns the page's JavaScript off for this tab, like a phone with scripts
// blocked: every page must work without it.
func (tb *tab) disableScripts() {
	tb.t.Helper()
	tb.do("disable JavaScript", func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return chromedp.Void{}, err
	})
}

// viewport sets the window's size in CSS pixels (mobile: a phone-sized touch screen).
func (tb *tab) viewport(w, h int64, mobile bool) {
	tb.t.Helper()
	var opts []chromedp.EmulateViewportOption
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	tb.do(fmt.Sprintf("viewport %dx%d", w, h), chromedp.EmulateViewport(w, h, opts...))
}

// artifactsDir is where screenshots go: $KIDSHIELD_ARTIFACTS, or e2e/artifacts/.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KIDSHIELD_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(moduleRoot, "e2e", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts directory: %v", err)
	}
	return dir
}

// shot saves a full-page PNG screenshot under name (e.g. "01-report-form-vi.png"). A failed
// screenshot is reported but does not stop the story.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(artifactsDir(tb.t), name), png, 0o644)
	}
	if err != nil {
		tb.t.Errorf("%s: screenshot %s: %v", tb.name, name, err)
	}
}

var errNoMatch = errors.New("no match")

// find returns the first submatch of re in the page's HTML, or fails.
func (tb *tab) find(re *regexp.Regexp, what string) string {
	tb.t.Helper()
	m := re.FindStringSubmatch(tb.html())
	if m == nil {
		tb.t.Fatalf("%s: %s: %v of %s on %s\n%s", tb.name, what, errNoMatch, re, tb.where(), tb.bodyText())
	}
	if len(m) > 1 {
		return m[1]
	}
	return m[0]
}
