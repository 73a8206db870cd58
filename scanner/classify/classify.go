package classify

import (
	"fmt"
	"math"
	"strings"
	"sync"
)

// MaxTextBytes is how much of a text Classify reads; the rest is ignored and the result
// says so (Truncated), so a 10 MB page costs a bounded time.
const MaxTextBytes = 1 << 20

// DefaultThreshold is every category's default: a score at or above it names the category.
// Lexicon weights and the model's rescaling are chosen around it (see lexicon/*.txt).
const DefaultThreshold = 0.5

// Reason is one piece of evidence behind a score: which category, which rule ("lexicon",
// "model", a grooming rule's name, "list", "name"), which words. Evidence is for an analyst
// to read and is shown in quotes by the pages, so it carries none of its own: the words
// matched ("gửi cho anh vài tấm ảnh"), followed by the lexicon's term in parentheses when
// they were read as it ("no hu (nổ hũ)"); for the model, its strongest words ("ngu, vl").
type Reason struct {
	Category string `json:"category"`
	Rule     string `json:"rule"`
	Evidence string `json:"evidence"`
}

// Result is a suggestion: each category's score in [0,1], the top category at or above its
// threshold ("clean" when none is), and the reasons.
type Result struct {
	Scores    map[string]float64 `json:"scores"`
	Top       string             `json:"top"`
	Reasons   []Reason           `json:"reasons"`
	Truncated bool               `json:"truncated,omitempty"`
}

// Classifier holds the lexicons, the model and the thresholds; it is safe for concurrent use.
type Classifier struct {
	lex        *lexicon
	model      *Model
	thresholds map[string]float64
}

var defaultLexicon = sync.OnceValue(func() *lexicon {
	lx, err := loadLexicon()
	if err != nil {
		// The lexicons are embedded and checked by the tests; failing here is a build defect.
		panic(fmt.Sprintf("classify: embedded lexicon: %v", err))
	}
	return lx
})

var defaultModel = sync.OnceValues(func() (*Model, error) { return DecodeModel(hateModelData) })

// HateModel returns the embedded hate_bullying model.
func HateModel() (*Model, error) { return defaultModel() }

// New returns a classifier with the embedded lexicons and model. thresholds overrides the
// default (DefaultThreshold) per category; a name that is not a category or a value outside
// [0,1] is an error.
func New(thresholds map[string]float64) (*Classifier, error) {
	m, err := defaultModel()
	if err != nil {
		return nil, fmt.Errorf("classify: embedded model: %w", err)
	}
	c := &Classifier{lex: defaultLexicon(), model: m, thresholds: map[string]float64{}}
	for _, cat := range Categories {
		c.thresholds[cat] = DefaultThreshold
	}
	for k, v := range thresholds {
		if _, ok := c.thresholds[k]; !ok {
			return nil, fmt.Errorf("classify: threshold for unknown category %q (known: %s)", k, strings.Join(Categories, ", "))
		}
		if math.IsNaN(v) || v < 0 || v > 1 {
			return nil, fmt.Errorf("classify: threshold %s=%v is not in [0,1]", k, v)
		}
		c.thresholds[k] = v
	}
	return c, nil
}

var std = sync.OnceValue(func() *Classifier {
	c, err := New(nil)
	if err != nil {
		panic(err) // the embedded model is checked by the tests: a build defect
	}
	return c
})

// Classify classifies text with the default thresholds.
func Classify(text string) Result { return std().Classify(text) }

// Threshold returns the threshold in use for category (DefaultThreshold for categories the
// classifier does not know, such as a list's own category in ClassifyDomain).
func (c *Classifier) Threshold(category string) float64 {
	if t, ok := c.thresholds[category]; ok {
		return t
	}
	return DefaultThreshold
}

// rescale maps the model's probability so that its tuned threshold lands on 0.5: the model
// then shares the categories' common threshold scale.
func rescale(p, t float64) float64 {
	if p < t {
		return 0.5 * p / t
	}
	return 0.5 + 0.5*(p-t)/(1-t)
}

// unanchoredScale damps the model's score when the window it scored has no word of the
// hate_bullying lexicon. Most of the model's weight is in letter sequences of the
// diacritic-free text, learnt from social-media comments: on a message or a page that is
// not a comment it fires on ordinary words (a grooming message scored 0.97 on 'mẹ',
// 'chuyện', 'tấm'; a news headline on 'giáo', 'dục'), words an analyst cannot check as
// evidence. Without an offensive word beside it, the model may lean but not decide: at most
// 0.45, under the default threshold, and still shown in Scores. docs/classify-eval.md
// measures what this costs on the held-out comments.
const unanchoredScale = 0.45

// lexiconScores combines hits per category: score = 1 − Π(1 − weight). A "lexicon" entry
// counts once per entry (two different gambling words are two pieces of evidence); a named
// rule (the grooming cues) counts once whatever number of its entries matched, at its
// strongest: "đừng nói với ai", "giữ bí mật", "xóa tin nhắn" are one cue, secrecy, said three
// ways, and a message with three different cues must outscore it.
func lexiconScores(hits []hit) map[string]float64 {
	miss := make(map[string]float64, len(Categories))
	for _, cat := range Categories {
		miss[cat] = 1
	}
	rules := map[ruleKey]float64{}
	for _, h := range hits {
		if h.e.rule == "lexicon" {
			miss[h.e.category] *= 1 - h.e.weight
			continue
		}
		k := ruleKey{h.e.category, h.e.rule}
		rules[k] = max(rules[k], h.e.weight)
	}
	for k, w := range rules {
		miss[k.category] *= 1 - w
	}
	out := make(map[string]float64, len(miss))
	for cat, m := range miss {
		out[cat] = round(1 - m)
	}
	return out
}

// Classify scores text in every category.
func (c *Classifier) Classify(text string) Result {
	var r Result
	if len(text) > MaxTextBytes {
		text, r.Truncated = text[:MaxTextBytes], true
	}
	toks := tokens(text)
	p := prepare(toks)
	hits := c.lex.scan(p)
	for _, h := range hits {
		r.Reasons = append(r.Reasons, Reason{Category: h.e.category, Rule: h.e.rule, Evidence: p.evidence(h)})
	}
	r.Scores = lexiconScores(hits)
	if c.model != nil && len(toks) > 0 {
		prob, win, from := c.model.score(toks)
		s := rescale(prob, float64(c.model.Threshold))
		if !anchored(hits, from, from+len(win)) {
			s *= unanchoredScale
		}
		s = round(s)
		if s > r.Scores[HateBullying] {
			r.Scores[HateBullying] = s
		}
		if s >= c.Threshold(HateBullying) {
			// The probability is in the score already; the evidence is what an analyst
			// can check: the words that pushed the model the most.
			r.Reasons = append(r.Reasons, Reason{Category: HateBullying, Rule: "model", Evidence: strings.Join(c.model.topWords(win, 3), ", ")})
		}
	}
	r.Top = c.top(r.Scores)
	if r.Reasons == nil {
		r.Reasons = []Reason{}
	}
	return r
}

// anchored reports whether a hate_bullying lexicon entry matched inside the syllables
// [from, to) the model scored.
func anchored(hits []hit, from, to int) bool {
	for _, h := range hits {
		if h.e.category == HateBullying && h.from < to && from < h.to {
			return true
		}
	}
	return false
}

// Severity orders the categories for Top, most urgent first: of the categories at or above
// their thresholds, Top is the most severe, not the highest-scoring. A child being groomed
// or shown sexual content outranks an insult whatever the two scores are (the model scores
// hate_bullying and tends to score higher than the lexicons do); the queue an analyst works
// from is sorted on it, and every score stays in Scores.
var Severity = []string{Grooming, Sexual, SelfHarm, Violence, Scam, Gambling, HateBullying}

// top is the most severe category (Severity; categories not in it come last, by name) at or
// above its threshold, or Clean.
func (c *Classifier) top(scores map[string]float64) string {
	rank := func(k string) int {
		for i, cat := range Severity {
			if cat == k {
				return i
			}
		}
		return len(Severity)
	}
	best := Clean
	for k, s := range scores {
		if s < c.Threshold(k) {
			continue
		}
		if best == Clean || rank(k) < rank(best) || rank(k) == rank(best) && k < best {
			best = k
		}
	}
	return best
}

// round keeps scores readable in JSON and stable across platforms' last bits.
func round(x float64) float64 { return math.Round(x*1e4) / 1e4 }
