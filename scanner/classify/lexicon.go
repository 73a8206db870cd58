package classify

import (
	"bufio"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// The text categories. Only hate_bullying also has a model; the others are lexicon and rule
// based (no openly licensed training data exists for them in Vietnamese).
const (
	Sexual       = "sexual"
	SelfHarm     = "self_harm"
	Violence     = "violence"
	Gambling     = "gambling"
	Scam         = "scam"
	HateBullying = "hate_bullying"
	Grooming     = "grooming"
	Clean        = "clean"
)

// Categories lists the text categories in a fixed order.
var Categories = []string{Sexual, SelfHarm, Violence, Gambling, Scam, HateBullying, Grooming}

//go:embed lexicon/*.txt
var lexiconFS embed.FS

// defaultWeight is a lexicon entry's weight when neither its section nor its line gives one:
// one such hit alone passes the default threshold of 0.5.
const defaultWeight = 0.6

// maxGap is how many syllables "..." in a pattern may skip ("gửi ... ảnh" matches "gửi cho
// anh cái ảnh"). "...N" skips up to N (at most maxWideGap): Vietnamese puts a recipient, a
// quantity and a classifier between a verb and its object ("gửi cho anh vài tấm ảnh" is four),
// so the few patterns that need it say so, and every other gap stays short.
const (
	maxGap     = 3
	maxWideGap = 9
)

// maxExpansions bounds what one line's "{a/b}" groups may expand to: a typo should fail the
// build, not make a lexicon of millions of entries.
const maxExpansions = 512

type termSyl struct {
	gap                        int // when > 0, a gap of up to this many syllables
	norm, bare, c1norm, c1bare string
	// asWritten: match only a syllable written with the term's diacritics, also in a text
	// written without them. One unmarked syllable has no context to tell its word: "di" is
	// đi (go) far more often than đĩ, "cac" is các before it is cặc.
	asWritten bool
}

type entry struct {
	category, rule, term string
	weight               float64
	syls                 []termSyl
	// exclude marks a "!" line: its matches are not evidence, they veto the hits of the same
	// rule that overlap them ("gửi ảnh thẻ" is paperwork, not a photo request).
	exclude bool
}

// lexicon is every category's entries indexed by the key of their first syllable; the
// exclusions are indexed apart, as they are looked for everywhere, not once.
type lexicon struct {
	entries []entry
	index   map[string][]int
	excl    []entry
	exclIdx map[string][]int
}

type ruleKey struct{ category, rule string }

// key is the loosest form two matching syllables share: no diacritics, no repeated letters.
func key(s string) string { return collapse(Shadow(s), 1) }

func newTermSyl(s string) termSyl {
	b := Shadow(s)
	return termSyl{norm: s, bare: b, c1norm: collapse(s, 1), c1bare: collapse(b, 1)}
}

// parseLexicon reads one category's file: "[rule weight]" starts a section, "term" or
// "term | weight" is an entry, "..." inside a term skips up to maxGap syllables and "...N" up
// to N, "{a/b/c}" stands for each of its alternatives (one line, many entries), a line
// starting with "!" is an exclusion of the section's rule, "=" before a term matches it
// only as written with its diacritics, "#" starts a comment.
func parseLexicon(category, data string) ([]entry, error) {
	rule, weight := "lexicon", defaultWeight
	var out []entry
	sc := bufio.NewScanner(strings.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if line[0] == '[' {
			f := strings.Fields(strings.Trim(line, "[]"))
			if len(f) != 2 {
				return nil, fmt.Errorf("lexicon %s line %d: section %q is not [rule weight]", category, n, line)
			}
			w, err := strconv.ParseFloat(f[1], 64)
			if err != nil || w <= 0 || w > 1 {
				return nil, fmt.Errorf("lexicon %s line %d: weight %q is not in (0,1]", category, n, f[1])
			}
			rule, weight = f[0], w
			continue
		}
		exclude, asWritten := false, false
		if line[0] == '!' {
			exclude, line = true, strings.TrimSpace(line[1:])
		}
		if line != "" && line[0] == '=' {
			asWritten, line = true, strings.TrimSpace(line[1:])
		}
		w := weight
		if i := strings.IndexByte(line, '|'); i >= 0 {
			v, err := strconv.ParseFloat(strings.TrimSpace(line[i+1:]), 64)
			if err != nil || v <= 0 || v > 1 {
				return nil, fmt.Errorf("lexicon %s line %d: weight %q is not in (0,1]", category, n, line[i+1:])
			}
			w, line = v, strings.TrimSpace(line[:i])
		}
		terms, err := expand(line)
		if err != nil {
			return nil, fmt.Errorf("lexicon %s line %d: %w", category, n, err)
		}
		for _, term := range terms {
			e, err := parseTerm(term)
			if err != nil {
				return nil, fmt.Errorf("lexicon %s line %d: %w", category, n, err)
			}
			e.category, e.rule, e.weight, e.exclude = category, rule, w, exclude
			if asWritten {
				for k := range e.syls {
					e.syls[k].asWritten = true
				}
			}
			out = append(out, e)
		}
	}
	return out, sc.Err()
}

// parseTerm reads one term (no "{…}" left) into its syllables and gaps.
func parseTerm(term string) (entry, error) {
	e := entry{term: term}
	var shown []string
	for _, part := range strings.Fields(term) {
		if gap, ok := gapWidth(part); ok {
			if gap == 0 {
				return e, fmt.Errorf("%q: a gap is \"...\" or \"...N\" with N from 1 to %d", term, maxWideGap)
			}
			if len(e.syls) == 0 || e.syls[len(e.syls)-1].gap > 0 {
				return e, fmt.Errorf("%q cannot start with or repeat a gap", term)
			}
			e.syls = append(e.syls, termSyl{gap: gap})
			shown = append(shown, "…")
			continue
		}
		// A term is normalised like text, so it is written the natural way ("không")
		// and teencode or leetspeak in it reads the same as in text.
		for _, t := range tokens(part) {
			e.syls = append(e.syls, newTermSyl(t.text))
		}
		shown = append(shown, part)
	}
	if len(e.syls) == 0 || e.syls[len(e.syls)-1].gap > 0 {
		return e, fmt.Errorf("%q has no words or ends with a gap", term)
	}
	// The term as an analyst reads it in a reason: the widths of gaps are the lexicon's
	// business, "…" says words were skipped.
	e.term = strings.Join(shown, " ")
	return e, nil
}

// gapWidth reports whether part is a gap and how wide: "..." is maxGap, "...N" is N; 0 for
// a malformed width.
func gapWidth(part string) (int, bool) {
	rest, ok := strings.CutPrefix(part, "...")
	if !ok {
		return 0, false
	}
	if rest == "" {
		return maxGap, true
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || n > maxWideGap {
		return 0, true
	}
	return n, true
}

// expand writes out a line's "{a/b/c}" groups: "chuyển {sang/qua} zalo" is "chuyển sang zalo"
// and "chuyển qua zalo". Groups do not nest; an alternative may be several words.
func expand(line string) ([]string, error) {
	out := []string{""}
	for rest := line; rest != ""; {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			for k := range out {
				out[k] += rest
			}
			break
		}
		if rest[i] == '}' {
			return nil, fmt.Errorf("%q: \"}\" without \"{\"", line)
		}
		j := strings.IndexAny(rest[i+1:], "{}")
		if j < 0 || rest[i+1+j] == '{' {
			return nil, fmt.Errorf("%q: \"{\" not closed (groups do not nest)", line)
		}
		alts := strings.Split(rest[i+1:i+1+j], "/")
		if len(out)*len(alts) > maxExpansions {
			return nil, fmt.Errorf("%q expands to more than %d terms", line, maxExpansions)
		}
		next := make([]string, 0, len(out)*len(alts))
		for _, o := range out {
			for _, a := range alts {
				a = strings.TrimSpace(a)
				if a == "" {
					return nil, fmt.Errorf("%q: an empty alternative in {…}", line)
				}
				// Spaces around the group keep words apart: "{a/b}c" is not a way to
				// glue syllables.
				next = append(next, o+rest[:i]+" "+a+" ")
			}
		}
		out, rest = next, rest[i+2+j:]
	}
	for k := range out {
		out[k] = strings.Join(strings.Fields(out[k]), " ")
	}
	return out, nil
}

func loadLexicon() (*lexicon, error) {
	lx := &lexicon{index: map[string][]int{}, exclIdx: map[string][]int{}}
	files, err := fs.Glob(lexiconFS, "lexicon/*.txt")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	for _, f := range files {
		cat := strings.TrimSuffix(path.Base(f), ".txt")
		if cat == "teencode" {
			continue
		}
		data, err := lexiconFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		es, err := parseLexicon(cat, string(data))
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			k := e.syls[0].c1bare
			if e.exclude {
				lx.exclIdx[k] = append(lx.exclIdx[k], len(lx.excl))
				lx.excl = append(lx.excl, e)
				continue
			}
			lx.index[k] = append(lx.index[k], len(lx.entries))
			lx.entries = append(lx.entries, e)
		}
	}
	return lx, nil
}

// tvar is one reading of a text syllable, prepared for matching.
type tvar struct {
	norm, bare, c1, key string
	marked, doubled     bool
}

// match: a syllable written with diacritics must match the term exactly ("dám" is not
// "đâm"); one written without them matches the term's shadow ("dam" may be "đâm") when the
// whole text is written without diacritics, which is how people type on phones; in a text
// written with them an unmarked syllable means what it says ("anh" is not "ảnh"). A
// repeated letter may stand for a single one ("điii").
func (v *tvar) match(t *termSyl, shadow bool) bool {
	if v.marked || !shadow || t.asWritten {
		return v.norm == t.norm || (v.doubled && v.c1 == t.c1norm)
	}
	return v.bare == t.bare || (v.doubled && v.c1 == t.c1bare)
}

type prepared struct {
	toks   []token
	vars   [][]tvar
	shadow bool // the text is written without diacritics: match terms on their shadow
}

// markedShare is the share of syllables with diacritics above which a text counts as
// written with them. Vietnamese written properly has most syllables marked; English words,
// numbers and brand names have none, so the bar is low.
const markedShare = 0.15

func prepare(toks []token) *prepared {
	p := &prepared{toks: toks, vars: make([][]tvar, len(toks))}
	written, marked := 0, 0
	for i, t := range toks {
		vs := make([]tvar, 0, 1+len(t.alts))
		for _, s := range append([]string{t.text}, t.alts...) {
			b := Shadow(s)
			v := tvar{norm: s, bare: b, marked: s != b, doubled: doubled(s), key: collapse(b, 1)}
			if v.marked {
				v.c1 = collapse(s, 1)
			} else {
				v.c1 = v.key
			}
			vs = append(vs, v)
		}
		p.vars[i] = vs
		if !t.expanded {
			written++
			if vs[0].marked {
				marked++
			}
		}
	}
	p.shadow = float64(marked) < markedShare*float64(written)
	return p
}

// matchAt returns the end (exclusive) of a match of e starting at syllable i, or -1, and
// whether every syllable matched exactly as written.
func (p *prepared) matchAt(e *entry, i int) (int, bool) {
	var try func(si, ti int, exact bool) (int, bool)
	try = func(si, ti int, exact bool) (int, bool) {
		if si == len(e.syls) {
			return ti, exact
		}
		s := &e.syls[si]
		if s.gap > 0 {
			// The widest skip first: the evidence then holds the whole request ("gui cho
			// anh vai tam anh", not the "gui cho anh" a text without diacritics also reads
			// as one).
			for skip := min(s.gap, len(p.vars)-ti-1); skip >= 0; skip-- {
				if end, ex := try(si+1, ti+skip, exact); end >= 0 {
					return end, ex
				}
			}
			return -1, false
		}
		if ti >= len(p.vars) {
			return -1, false
		}
		for _, v := range p.vars[ti] {
			if v.match(s, p.shadow) {
				return try(si+1, ti+1, exact && v.norm == s.norm)
			}
		}
		return -1, false
	}
	return try(0, i, true)
}

type hit struct {
	e     *entry
	from  int
	to    int
	exact bool
}

type span struct{ from, to int }

// excluded returns, per rule, the spans its exclusions match in p.
func (lx *lexicon) excluded(p *prepared) map[ruleKey][]span {
	if len(lx.excl) == 0 {
		return nil
	}
	out := map[ruleKey][]span{}
	for i := range p.vars {
		seen := ""
		for _, v := range p.vars[i] {
			if v.key == seen {
				continue
			}
			seen = v.key
			for _, ei := range lx.exclIdx[v.key] {
				e := &lx.excl[ei]
				if end, _ := p.matchAt(e, i); end >= 0 {
					k := ruleKey{e.category, e.rule}
					out[k] = append(out[k], span{i, end})
				}
			}
		}
	}
	return out
}

// scan returns the first match of each entry that occurs in p and no exclusion of its rule
// overlaps, overlapping matches of one rule merged, in the order of the text.
func (lx *lexicon) scan(p *prepared) []hit {
	veto := lx.excluded(p)
	vetoed := func(e *entry, from, to int) bool {
		for _, sp := range veto[ruleKey{e.category, e.rule}] {
			if sp.from < to && from < sp.to {
				return true
			}
		}
		return false
	}
	found := map[int]hit{}
	for i := range p.vars {
		seen := ""
		for _, v := range p.vars[i] {
			if v.key == seen {
				continue
			}
			seen = v.key
			for _, ei := range lx.index[v.key] {
				if _, ok := found[ei]; ok {
					continue
				}
				e := &lx.entries[ei]
				// A vetoed match is not the entry's match: a later one may still count.
				if end, exact := p.matchAt(e, i); end >= 0 && !vetoed(e, i, end) {
					found[ei] = hit{e: e, from: i, to: end, exact: exact}
				}
			}
		}
	}
	idx := make([]int, 0, len(found))
	for ei := range found {
		idx = append(idx, ei)
	}
	// Two entries of one rule matching overlapping words ("casino", "online casino"; "gửi
	// ảnh", "gửi ... ảnh") are one piece of evidence: the longest counts, once.
	sort.Slice(idx, func(a, b int) bool {
		ha, hb := found[idx[a]], found[idx[b]]
		if la, lb := ha.to-ha.from, hb.to-hb.from; la != lb {
			return la > lb
		}
		return idx[a] < idx[b]
	})
	// The evidence covers the words of both ("gửi cho anh vài tấm ảnh" and "ảnh riêng tư"
	// read together), so what made the request worse is not cut off.
	var out []hit
	for _, ei := range idx {
		h := found[ei]
		dup := false
		for k := range out {
			o := &out[k]
			if o.e.category == h.e.category && o.e.rule == h.e.rule && o.from < h.to && h.from < o.to {
				o.from, o.to, o.exact = min(o.from, h.from), max(o.to, h.to), o.exact && h.exact
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, h)
		}
	}
	// Reasons read in the order of the text.
	sort.SliceStable(out, func(a, b int) bool { return out[a].from < out[b].from })
	return out
}

// evidence is what an analyst reads as the match: the words of the text that matched,
// without quotes (the pages quote it), and the lexicon's term after them in parentheses
// when the words differ from it ("no huu (nổ hũ)": read without diacritics, a repeated
// letter, leetspeak as written: "b1owjob (blowjob)"), so the analyst sees what they were taken for. A match that skipped
// words ("gửi cho anh vài tấm ảnh") is its own evidence when written as in the lexicon.
func (p *prepared) evidence(h hit) string {
	words := make([]string, 0, h.to-h.from)
	exact := h.exact
	for _, t := range p.toks[h.from:h.to] {
		if t.leet != "" {
			words, exact = append(words, t.leet), false
			continue
		}
		words = append(words, t.text)
	}
	got := strings.Join(words, " ")
	if exact {
		return got
	}
	return got + " (" + h.e.term + ")"
}
