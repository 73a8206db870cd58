package intake

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// text cleans a multi-line field (the description): newlines and tabs allowed.
func (p *problems) text(field, v string, max int) string {
	return p.clean(field, v, max, true)
}

// line cleans a single-line field (platform, account, contact...): a newline in an account name
// is never typed, and would break every log line and export that shows the field.
func (p *problems) line(field, v string, max int) string {
	return p.clean(field, v, max, false)
}

// clean checks and normalises one text field. Bad text is refused with a reason, never
// silently fixed: what the reporter sees after a correction is what staff will read.
// "<script>" is text like any other: every page escapes it.
func (p *problems) clean(field, v string, max int, multiline bool) string {
	// A cheap bound first, so NFC and counting never run over megabytes. NFC rarely changes a
	// string's length by much; a field within its limit in characters is within 4× in bytes,
	// plus room for combining marks.
	if len(v) > 8*max+1024 {
		p.add(field, "report.err.too_long", "%s is too long: at most %d characters", field, max)
		return ""
	}
	if !utf8.ValidString(v) {
		p.add(field, "report.err.utf8", "%s is not valid UTF-8 text", field)
		return ""
	}
	for _, r := range v {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			p.add(field, "report.err.control", "%s contains a control character (%U)", field, r)
			return ""
		}
	}
	v = strings.TrimSpace(norm.NFC.String(v))
	if !multiline && strings.ContainsAny(v, "\r\n") {
		p.add(field, "report.err.one_line", "%s must be on one line", field)
		return ""
	}
	if n := utf8.RuneCountInString(v); n > max {
		p.add(field, "report.err.too_long", "%s is too long: %d characters, at most %d", field, n, max)
		return ""
	}
	return v
}
