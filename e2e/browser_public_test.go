package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
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

// a11yLibJS are the page-side helpers of the contrast and keyboard checks: colour parsing, the
// WCAG 2.1 contrast ratio, the effective background of an element, what counts as visible,
// and the keyboard focus ring. They are pasted into each evaluated snippet (a page load
// forgets them).
const a11yLibJS = `
const parse = (s) => {
	const m = /^rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:\s*[,\/]\s*([\d.]+%?))?\s*\)$/.exec(s || '');
	if (!m) return null;
	const a = m[4] === undefined ? 1 : (m[4].endsWith('%') ? parseFloat(m[4]) / 100 : parseFloat(m[4]));
	return [+m[1], +m[2], +m[3], a];
};
const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
const lum = (c) => {
	const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
	return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
};
const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
const hex = (c) => '#' + c.slice(0, 3).map(v => Math.round(v).toString(16).padStart(2, '0')).join('');
const name1 = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
	(e.classList.length ? '.' + Array.from(e.classList).slice(0, 2).join('.') : '');
const path = (e) => {
	const p = [];
	for (let x = e; x && x !== document.body && p.length < 4; x = x.parentElement) p.unshift(name1(x));
	return p.join(' > ');
};
// bgOf: the colour painted behind e, from the first opaque background up the tree (white at
// the root), translucent layers blended on the way.
const bgOf = (e) => {
	const layers = [];
	for (let x = e; x; x = x.parentElement) {
		const cs = getComputedStyle(x);
		if (cs.backgroundImage && cs.backgroundImage !== 'none') return { err: 'background-image on ' + path(x) + ': contrast not computable' };
		const c = parse(cs.backgroundColor);
		if (!c) return { err: 'unparsed background-color ' + cs.backgroundColor + ' on ' + path(x) };
		if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
	}
	let bg = [255, 255, 255, 1];
	for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
	return { bg };
};
// visible: rendered, not hidden, not moved off the page (the honeypot), not clipped to a pixel.
const visible = (e) => {
	if (!e.getClientRects().length) return false;
	const cs = getComputedStyle(e);
	if (cs.visibility !== 'visible') return false;
	const r = e.getBoundingClientRect();
	if (r.right + window.scrollX <= 0 || r.bottom + window.scrollY <= 0) return false;
	for (let x = e; x; x = x.parentElement) {
		const s = getComputedStyle(x);
		if (parseFloat(s.opacity) === 0) return false;
		const q = x.getBoundingClientRect();
		if (s.overflow !== 'visible' && (q.width <= 1 || q.height <= 1)) return false;
	}
	return true;
};
const opacityOf = (e) => { let o = 1; for (let x = e; x; x = x.parentElement) o *= parseFloat(getComputedStyle(x).opacity); return o; };
// focusables: what Tab should reach, in document order; one stop for a group of radios.
const focusables = () => {
	const keys = [], bad = [];
	const all = Array.from(document.querySelectorAll('*'));
	for (const e of document.querySelectorAll('a[href], input, select, textarea, button, [tabindex]')) {
		if (e.tagName === 'INPUT' && e.type === 'hidden') continue;
		if (e.disabled || e.tabIndex < 0 || !visible(e)) continue;
		if (e.tabIndex > 0) bad.push(path(e) + ': tabindex ' + e.tabIndex + ' breaks the document order');
		const k = keyOf(e, all);
		if (!keys.includes(k)) keys.push(k);
	}
	return { keys, bad };
};
const keyOf = (e, all) => {
	if (e.tagName === 'INPUT' && e.type === 'radio' && e.name) return 'radio group ' + e.name;
	const what = e.tagName === 'A' ? ' href=' + e.getAttribute('href') : (e.name ? ' name=' + e.name : '');
	return path(e) + what + ' (element ' + (all || Array.from(document.querySelectorAll('*'))).indexOf(e) + ')';
};
// ringProblem: why the focus ring of e is not visible ('' when it is): an outline or a
// box-shadow, in a colour with 3:1 against the background around the element.
const ringProblem = (e) => {
	const cs = getComputedStyle(e);
	const colours = [];
	if (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) {
		if (cs.outlineStyle === 'auto') return ''; // the browser's own two-colour ring
		colours.push(['outline ' + cs.outlineWidth + ' ' + cs.outlineStyle, parse(cs.outlineColor)]);
	}
	if (cs.boxShadow && cs.boxShadow !== 'none') {
		for (const m of cs.boxShadow.match(/rgba?\([^)]*\)/g) || []) colours.push(['box-shadow', parse(m)]);
	}
	if (!colours.length) return 'no focus ring: outline-style ' + cs.outlineStyle + ', no box-shadow';
	const b = bgOf(e.parentElement || e);
	if (b.err) return b.err;
	let best = 0, desc = '';
	for (const [what, c] of colours) {
		if (!c) continue;
		const r = ratio(over(c, b.bg), b.bg);
		desc += (desc ? ', ' : '') + what + ' ' + hex(c) + ' ' + r.toFixed(2) + ':1';
		best = Math.max(best, r);
	}
	if (best < 3) return 'focus ring too faint on ' + hex(b.bg) + ' (' + desc + '), needs 3:1';
	return '';
};
`

// contrastJS checks every visible element with text of its own (and the text shown in
// fields) against its effective background: 4.5:1, or 3:1 for large text (24 px, or 18.66 px
// bold).
const contrastJS = `(() => {` + a11yLibJS + `
	const bad = [];
	let checked = 0;
	for (const e of document.body.querySelectorAll('*')) {
		const tag = e.tagName;
		if (['SCRIPT', 'STYLE', 'OPTION', 'OPTGROUP', 'TEMPLATE', 'NOSCRIPT'].includes(tag)) continue;
		let text = '';
		if (tag === 'SELECT') text = e.selectedIndex >= 0 ? e.options[e.selectedIndex].text : '';
		else if (tag === 'TEXTAREA' || (tag === 'INPUT' && ['text', 'search', 'email', 'tel', 'url', 'number'].includes(e.type))) text = e.value;
		else if (tag === 'INPUT') continue;
		else for (const n of e.childNodes) if (n.nodeType === Node.TEXT_NODE) text += n.textContent;
		text = text.replace(/\s+/g, ' ').trim();
		if (!text || !visible(e)) continue;
		checked++;
		const cs = getComputedStyle(e);
		const fg = parse(cs.color);
		if (!fg) { bad.push(path(e) + ': unparsed color ' + cs.color); continue; }
		const b = bgOf(e);
		if (b.err) { bad.push(path(e) + ': ' + b.err); continue; }
		fg[3] *= opacityOf(e);
		const shown = over(fg, b.bg);
		const size = parseFloat(cs.fontSize), weight = parseInt(cs.fontWeight, 10) || 400;
		const need = (size >= 24 || (size >= 18.66 && weight >= 700)) ? 3 : 4.5;
		const r = ratio(shown, b.bg);
		if (r < need) bad.push(path(e) + ' "' + text.slice(0, 40) + '": ' + hex(shown) + ' on ' + hex(b.bg) +
			' = ' + r.toFixed(2) + ':1 (' + size + 'px ' + weight + '), needs ' + need + ':1');
	}
	return { checked, bad };
})()`

// focusablesJS lists what Tab should reach (see focusables).
const focusablesJS = `(() => {` + a11yLibJS + `
	return focusables();
})()`

// focusedJS describes the focused element: its key (as in focusables), whether it is the
// honeypot, and what is wrong with its focus ring.
const focusedJS = `(() => {` + a11yLibJS + `
	const e = document.activeElement;
	if (!e || e === document.body || e === document.documentElement) return { body: true };
	return { key: keyOf(e), honeypot: e.name === 'website' || !!e.closest('.hp'), ring: ringProblem(e),
		id: e.id || '', checked: !!e.checked, value: e.value === undefined ? '' : String(e.value) };
})()`

type contrastResult struct {
	Checked int      `json:"checked"`
	Bad     []string `json:"bad"`
}

type focusablesResult struct {
	Keys []string `json:"keys"`
	Bad  []string `json:"bad"`
}

type focused struct {
	Body     bool   `json:"body"`
	Key      string `json:"key"`
	Honeypot bool   `json:"honeypot"`
	Ring     string `json:"ring"`
	ID       string `json:"id"`
	Checked  bool   `json:"checked"`
	Value    string `json:"value"`
}

// checkContrast fails the test for every text on the page that is too faint on its background.
func checkContrast(tb *tab, page string) {
	tb.t.Helper()
	r := browserEval[contrastResult](tb, "contrast of "+page, contrastJS)
	if r.Checked < 5 {
		tb.t.Errorf("%s: contrast: only %d elements with text were checked: the check does not see the page", page, r.Checked)
	}
	for _, p := range r.Bad {
		tb.t.Errorf("%s: contrast: %s", page, p)
	}
}

// focusNow describes the focused element.
func (tb *tab) focusNow() focused {
	tb.t.Helper()
	return browserEval[focused](tb, "the focused element", focusedJS)
}

// pressTab presses Tab once and returns where the focus went; landing on the honeypot or on a
// control without a visible focus ring fails the test.
func (tb *tab) pressTab(page string) focused {
	tb.t.Helper()
	tb.keys(kb.Tab)
	f := tb.focusNow()
	if f.Honeypot {
		tb.t.Errorf("%s: Tab landed on the honeypot (%s): a keyboard user would fill it and be taken for a robot", page, f.Key)
	}
	if !f.Body && f.Ring != "" {
		tb.t.Errorf("%s: focus on %s: %s", page, f.Key, f.Ring)
	}
	return f
}

// checkTabOrder presses Tab from the top of the freshly loaded page until the focus leaves
// the page or comes round again, and fails unless it stopped on every visible control, in
// document order, each with a visible focus ring.
func checkTabOrder(tb *tab, page string) {
	tb.t.Helper()
	want := browserEval[focusablesResult](tb, "focusable controls of "+page, focusablesJS)
	for _, p := range want.Bad {
		tb.t.Errorf("%s: %s", page, p)
	}
	if len(want.Keys) == 0 {
		tb.t.Errorf("%s: no focusable controls found", page)
		return
	}
	var got []string
	for i := 0; i < len(want.Keys)+3; i++ {
		f := tb.pressTab(page)
		if f.Body {
			if len(got) > 0 {
				break
			}
			continue
		}
		if len(got) > 0 && f.Key == got[0] {
			break // round again
		}
		got = append(got, f.Key)
	}
	if !slices.Equal(got, want.Keys) {
		tb.t.Errorf("%s: Tab visits\n\t%s\nwant every visible control in document order:\n\t%s",
			page, strings.Join(got, "\n\t"), strings.Join(want.Keys, "\n\t"))
	}
}

// tabTo presses Tab until the focus is on the element #id (the keyboard way to a field).
func (tb *tab) tabTo(page, id string) focused {
	tb.t.Helper()
	for i := 0; i < 80; i++ {
		if f := tb.pressTab(page); f.ID == id {
			return f
		}
	}
	tb.t.Fatalf("%s: 80 presses of Tab never reached #%s", page, id)
	return focused{}
}

// TestPublicPagesContrastAndKeyboard: the report form, the status page and the receipt, in
// Vietnamese and English, have text with enough contrast (WCAG 2.1 AA), a visible focus ring
// on every control, a Tab order through every control in document order that skips the
// honeypot, and can be filled and sent with the keyboard alone.
func TestPublicPagesContrastAndKeyboard(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	in := start(t, options{})
	tb := b.newTab("keyboard user")

	for _, path := range []string{"/report", "/report?lang=en", "/status", "/status?lang=en"} {
		tb.mustOpen(in.httpURL(path))
		checkContrast(tb, path)
		checkTabOrder(tb, path)
	}

	var ref, code string
	for _, lang := range []string{"vi", "en"} {
		page := "/report?lang=" + lang + " (keyboard)"
		if lang == "vi" {
			tb.mustOpen(in.httpURL("/report"))
		} else {
			tb.mustOpen(in.httpURL("/report?lang=en"))
		}
		// What happened: Tab reaches the first answer; Space picks it; the arrows move the choice.
		f := tb.tabTo(page, "choice-sexual-images")
		if f.Checked {
			t.Fatalf("%s: the first answer is selected before any key was pressed", page)
		}
		tb.keys(" ")
		if f = tb.focusNow(); f.ID != "choice-sexual-images" || !f.Checked {
			t.Fatalf("%s: Space on the first answer of 'what happened': focus on %s, checked %v; want it selected", page, f.Key, f.Checked)
		}
		tb.keys(strings.Repeat(kb.ArrowDown, 4))
		if f = tb.focusNow(); f.ID != "choice-bullying" || !f.Checked {
			t.Fatalf("%s: 4 × ArrowDown from the first answer: focus on %s, checked %v; want bullying selected", page, f.Key, f.Checked)
		}
		text := "Mấy bạn trong lớp lập nhóm để chế giễu em và dọa đánh em."
		if lang == "en" {
			// Space ticks a check box too: "a child is in danger now" turns the help box red.
			tb.tabTo(page, "f-danger_now")
			tb.keys(" ")
			if f = tb.focusNow(); !f.Checked {
				t.Fatalf("%s: Space on the 'in danger right now' box did not tick it", page)
			}
			text = "Some kids from my class made a group to laugh at me and say they will hit me."
		}
		tb.tabTo(page, "f-description")
		tb.typeKeys(text)
		if f = tb.focusNow(); f.Value != text {
			t.Fatalf("%s: the description holds %q after typing, want %q", page, f.Value, text)
		}
		checkContrast(tb, page+" filled in")

		// Tab on to the button and press Enter.
		for i := 0; ; i++ {
			if i == 40 {
				t.Fatalf("%s: 40 presses of Tab after the description never reached the submit button", page)
			}
			if f = tb.pressTab(page); strings.Contains(f.Key, "button.send") {
				break
			}
		}
		tb.shot("a11y-keyboard-submit-focused-" + lang + ".png")
		if st := tb.navigation("press Enter on the submit button", chromedp.KeyEvent(kb.Enter)); st != 200 {
			t.Fatalf("%s: Enter on the submit button: HTTP %d\n%s", page, st, tb.bodyText())
		}
		receipt := "receipt (" + lang + ")"
		r := tb.find(reReceiptRef, "the reference on the receipt after a keyboard-only report")
		c := tb.find(reReceiptCode, "the status code on the receipt")
		if lang == "vi" {
			ref, code = r, c
		} else if !tb.has(".sos-first") {
			t.Errorf("%s: a report of a child in danger now, but the receipt does not put the emergency first", receipt)
		}
		tb.shot("a11y-keyboard-receipt-" + lang + ".png")
		checkContrast(tb, receipt)
		checkTabOrder(tb, receipt)
	}

	// The status of the Vietnamese report: the list of stages, the box to add something.
	tb.mustOpen(in.httpURL("/status?ref=" + ref))
	tb.typeText("#s-code", code)
	tb.click("form.report-form button[type=submit]", 200)
	if !tb.has(".stage-now") {
		t.Fatalf("status page: no stage shown for %s\n%s", ref, tb.bodyText())
	}
	checkContrast(tb, "status of "+ref)
	checkTabOrder(tb, "status of "+ref)
}
