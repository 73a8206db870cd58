package ui

import (
	"fmt"
	"strings"

	"github.com/kidshield/kidshield/web/i18n"
)

// scanRules are the rule ids a classifier reason carries (scanner/classify): "lexicon" and the
// grooming rules are the section names of scanner/classify/lexicon/*.txt, "model" the
// hate/offensive model, "list" and "name" a host's listing or the cues in its name
// (classify/domain.go). Each has a key scan.rule.<id> in web/i18n/catalog/scanrule.*.json; a
// test checks that every section of the lexicons is here, so a new rule is not shown raw.
var scanRules = []string{"lexicon", "model", "list", "name", "secrecy", "age_question", "move_app", "photo_request", "gift_offer", "meet_request"}

// scanRule names a classifier rule for an analyst; a rule this build does not know (a new
// lexicon section, a result stored by a newer scanner) is shown as its id.
func scanRule(cat i18n.Catalog, id string) string {
	return deskT(cat, "scan.rule."+id, id)
}

// scanQuoteChars are the quotes evidence may already carry: the classifier quotes the words it
// matched ('đừng nói với bố mẹ'), and pasted text brings its own.
const scanQuoteChars = `'"“”‘’«»`

// scanEvidence writes a reason's evidence once, in the analyst's language, with one pair of
// quotes around what was matched. The classifier's evidence is the words it matched, followed
// by the lexicon entry in brackets when it read them as that entry ("dung noi (đừng nói)":
// without diacritics, teencode, leetspeak; classify.prepared.evidence), the model's strongest
// words, or for a host "'cue' in 'label'" and "host is listed as adult" (classify/domain.go).
// Anything else is shown as it is, quoted only when it has no quotes of its own.
func scanEvidence(cat i18n.Catalog, ev string) string {
	ev = strings.TrimSpace(ev)
	if ev == "" {
		return ""
	}
	if w, ok := scanQuoted(ev); ok {
		return "“" + w + "”"
	}
	if host, c, ok := strings.Cut(ev, " is listed as "); ok && host != "" && c != "" && !strings.ContainsAny(ev, scanQuoteChars) {
		return fmt.Sprintf(cat.T("scanrule.ev.listed"), host, scanCategory(cat, c))
	}
	if a, b, ok := strings.Cut(ev, "' in '"); ok {
		if a, ok1 := scanQuoted(a + "'"); ok1 {
			if b, ok2 := scanQuoted("'" + b); ok2 {
				return fmt.Sprintf(cat.T("scanrule.ev.in"), a, b)
			}
		}
	}
	if strings.ContainsAny(ev, scanQuoteChars) {
		return ev
	}
	if i := strings.LastIndex(ev, " ("); i > 0 && strings.HasSuffix(ev, ")") && i+2 < len(ev)-1 {
		return fmt.Sprintf(cat.T("scanrule.ev.for"), ev[:i], ev[i+2:len(ev)-1])
	}
	return "“" + ev + "”"
}

// scanQuoted returns s without its surrounding pair of quotes, when s is one quoted piece (no
// other quote inside).
func scanQuoted(s string) (string, bool) {
	for _, q := range [][2]string{{"'", "'"}, {`"`, `"`}, {"“", "”"}, {"‘", "’"}, {"«", "»"}} {
		inner, ok := strings.CutPrefix(s, q[0])
		if !ok {
			continue
		}
		inner, ok = strings.CutSuffix(inner, q[1])
		if !ok || strings.TrimSpace(inner) == "" || strings.ContainsAny(inner, scanQuoteChars) {
			continue
		}
		return inner, true
	}
	return "", false
}
