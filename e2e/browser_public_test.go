package e2e

import (
	"strings"
	"testing"
)

// labelCheckJS lists the form controls of the page that a screen reader could not name: every
// visible input, select and textarea needs a <label> of its own (label[for] or a wrapping
// label) with some text. The honeypot is the exception: it must be hidden from assistive
// technology (inside aria-hidden="true") and out of the tab order (tabindex=-1).
const labelCheckJS = `(() => {
	const bad = [];
	for (const el of document.querySelectorAll('input, select, textarea')) {
		if (el.type === 'hidden') continue;
		const what = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '[name=' + el.name + ']';
		if (el.name === 'website') {
			if (!el.closest('[aria-hidden="true"]')) bad.push(what + ': honeypot not inside aria-hidden="true"');
			if (el.tabIndex !== -1) bad.push(what + ': honeypot tabindex is ' + el.tabIndex + ', not -1');
			continue;
		}
		const labels = Array.from(el.labels || []);
		if (labels.length === 0) { bad.push(what + ': no <label>'); continue; }
		if (!labels.some(l => l.textContent.trim() !== '')) bad.push(what + ': its <label> is empty');
	}
	return bad;
})()`

// TestPublicPagesEnglishAndA11y: the public report page in English on request, every control
// labelled, the honeypot out of reach of people, and a phone-sized screen without sideways
// scrolling.
func TestPublicPagesEnglishAndA11y(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	in := start(t, options{})
	tb := b.newTab("reader")

	// Vietnamese by default, whatever the browser's language (it sends en-US).
	tb.mustOpen(in.httpURL("/report"))
	if lang := browserEval[string](tb, "html lang", `document.documentElement.lang`); lang != "vi" {
		t.Errorf("/report: <html lang=%q>, want vi by default", lang)
	}

	// English on request.
	tb.mustOpen(in.httpURL("/report?lang=en"))
	if lang := browserEval[string](tb, "html lang", `document.documentElement.lang`); lang != "en" {
		t.Errorf("/report?lang=en: <html lang=%q>, want en", lang)
	}
	h1 := tb.text("h1")
	if h1 != "Tell us what happened" {
		t.Errorf("/report?lang=en: <h1> %q, want the English title", h1)
	}
	body := tb.text("body")
	for _, want := range []string{"111", "113", "Send to us"} {
		if !strings.Contains(body, want) {
			t.Errorf("/report?lang=en: the page does not say %q", want)
		}
	}
	for _, vi := range []string{"Kể cho chúng tôi", "Gửi cho chúng tôi"} {
		if strings.Contains(body, vi) {
			t.Errorf("/report?lang=en: Vietnamese text %q on the English page", vi)
		}
	}

	// Every control has a label, in both languages, on the form and the status page.
	for _, path := range []string{"/report?lang=en", "/report?lang=vi", "/status?lang=en", "/status?lang=vi"} {
		tb.mustOpen(in.httpURL(path))
		if n := tb.count("input:not([type=hidden]), select, textarea"); n == 0 {
			t.Errorf("%s: no form controls at all", path)
		}
		for _, p := range browserEval[[]string](tb, "check labels", labelCheckJS) {
			t.Errorf("%s: %s", path, p)
		}
	}
	// The honeypot exists (so the check above looked at it).
	tb.mustOpen(in.httpURL("/report?lang=en"))
	if tb.count(`input[name=website]`) != 1 {
		t.Errorf("/report: no honeypot field (input name=website)")
	}

	// A 360 px phone: no horizontal scrolling on the form, its Vietnamese version and the
	// status page.
	tb.viewport(360, 740, true)
	for i, path := range []string{"/report?lang=en", "/report?lang=vi", "/status?lang=vi"} {
		tb.mustOpen(in.httpURL(path))
		w := browserEval[int](tb, "scroll width", `document.documentElement.scrollWidth`)
		cw := browserEval[int](tb, "client width", `document.documentElement.clientWidth`)
		if w > 360 {
			t.Errorf("%s at 360 px: document.documentElement.scrollWidth = %d (client width %d): the page scrolls sideways", path, w, cw)
		}
		if i == 0 {
			tb.shot("a11y-report-form-en-360px.png")
		}
	}
}
