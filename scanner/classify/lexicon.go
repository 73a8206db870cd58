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
// anh cái ảnh").
const maxGap = 3

type termSyl struct {
	gap                        bool
	norm, bare, c1norm, c1bare string
}

type entry struct {
	category, rule, term string
	weight               float64
	syls                 []termSyl
}

// lexicon is every category's entries indexed by the key of their first syllable.
type lexicon struct {
	entries []entry
	index   map[string][]int
}

// key is the loosest form two matching syllables share: no diacritics, no repeated letters.
func key(s string) string { return collapse(Shadow(s), 1) }

func newTermSyl(s string) termSyl {
	b := Shadow(s)
	return termSyl{norm: s, bare: b, c1norm: collapse(s, 1), c1bare: collapse(b, 1)}
}

// parseLexicon reads one category's file: "[rule weight]" starts a section, "term" or
// "term | weight" is an entry, "..." inside a term skips up to maxGap syllables, "#" starts a
// comment.
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
		w := weight
		if i := strings.IndexByte(line, '|'); i >= 0 {
			v, err := strconv.ParseFloat(strings.TrimSpace(line[i+1:]), 64)
			if err != nil || v <= 0 || v > 1 {
				return nil, fmt.Errorf("lexicon %s line %d: weight %q is not in (0,1]", category, n, line[i+1:])
			}
			w, line = v, strings.TrimSpace(line[:i])
		}
		e := entry{category: category, rule: rule, term: line, weight: w}
		for _, part := range strings.Fields(line) {
			if part == "..." {
				if len(e.syls) == 0 || e.syls[len(e.syls)-1].gap {
					return nil, fmt.Errorf("lexicon %s line %d: %q cannot start with or repeat a gap", category, n, line)
				}
				e.syls = append(e.syls, termSyl{gap: true})
				continue
			}
			// A term is normalised like text, so it is written the natural way ("không")
			// and teencode or leetspeak in it reads the same as in text.
			for _, t := range tokens(part) {
				e.syls = append(e.syls, newTermSyl(t.text))
			}
		}
		if len(e.syls) == 0 || e.syls[len(e.syls)-1].gap {
			return nil, fmt.Errorf("lexicon %s line %d: %q has no words or ends with a gap", category, n, line)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

func loadLexicon() (*lexicon, error) {
	lx := &lexicon{index: map[string][]int{}}
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
	if v.marked || !shadow {
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
		if s.gap {
			for skip := 0; skip <= maxGap && ti+skip < len(p.vars); skip++ {
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

// scan returns the first match of each entry that occurs in p, overlapping matches of one
// rule merged, in the order of the text.
func (lx *lexicon) scan(p *prepared) []hit {
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
				if end, exact := p.matchAt(&lx.entries[ei], i); end >= 0 {
					found[ei] = hit{e: &lx.entries[ei], from: i, to: end, exact: exact}
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
	var out []hit
	for _, ei := range idx {
		h := found[ei]
		dup := false
		for _, o := range out {
			if o.e.category == h.e.category && o.e.rule == h.e.rule && o.from < h.to && h.from < o.to {
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

// evidence says which words matched which entry: "'nổ hũ'" when written as in the lexicon,
// "'no hu' for 'nổ hũ'" otherwise.
func (p *prepared) evidence(h hit) string {
	words := make([]string, 0, h.to-h.from)
	for _, t := range p.toks[h.from:h.to] {
		words = append(words, t.text)
	}
	got := strings.Join(words, " ")
	if h.exact && !strings.Contains(h.e.term, "...") {
		return "'" + h.e.term + "'"
	}
	return "'" + got + "' for '" + h.e.term + "'"
}
