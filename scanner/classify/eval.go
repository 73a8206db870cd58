package classify

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strings"
)

// Example is one labelled ViHOS comment: Positive when its index_spans is non-empty (the
// annotators marked a hateful or offensive span).
type Example struct {
	Text     string
	Positive bool
}

// ReadViHOS reads a ViHOS span-extraction CSV (columns: an unnamed index, content,
// index_spans).
func ReadViHOS(path string) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read vihos: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read vihos %s: header: %w", path, err)
	}
	ci, si := -1, -1
	for i, h := range head {
		switch strings.TrimSpace(h) {
		case "content":
			ci = i
		case "index_spans":
			si = i
		}
	}
	if ci < 0 || si < 0 {
		return nil, fmt.Errorf("read vihos %s: no content and index_spans columns in %q", path, head)
	}
	var out []Example
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read vihos %s: %w", path, err)
		}
		spans := strings.TrimSpace(rec[si])
		out = append(out, Example{Text: rec[ci], Positive: spans != "" && spans != "[]"})
	}
}

// Counts is a confusion matrix.
type Counts struct {
	TP, FP, FN, TN int
}

// Add counts one prediction.
func (c *Counts) Add(predicted, actual bool) {
	switch {
	case predicted && actual:
		c.TP++
	case predicted:
		c.FP++
	case actual:
		c.FN++
	default:
		c.TN++
	}
}

// Precision, Recall and F1 of the counts (0 when undefined).
func (c Counts) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }
func (c Counts) Recall() float64    { return ratio(c.TP, c.TP+c.FN) }
func (c Counts) F1() float64 {
	p, r := c.Precision(), c.Recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// EvalModel counts the model's predictions on examples at its tuned threshold, through the
// same path Classify uses (Score).
func EvalModel(m *Model, ex []Example) Counts {
	var c Counts
	for _, e := range ex {
		c.Add(m.Score(e.Text) >= float64(m.Threshold), e.Positive)
	}
	return c
}

// EvalLexicon counts the hate_bullying lexicon alone (score at or above threshold) on
// examples: the baseline the model is compared with.
func EvalLexicon(ex []Example, threshold float64) Counts {
	lx := defaultLexicon()
	var c Counts
	for _, e := range ex {
		s := lexiconScores(lx.scan(prepare(tokens(e.Text))))[HateBullying]
		c.Add(s >= threshold, e.Positive)
	}
	return c
}

// EvalClassify counts hate_bullying as Classify decides it with the default thresholds: the
// model damped where no lexicon word backs it, and the lexicon. This is what analysts see;
// EvalModel is the model alone.
func EvalClassify(ex []Example) Counts {
	c := std()
	var n Counts
	for _, e := range ex {
		n.Add(c.Classify(e.Text).Scores[HateBullying] >= DefaultThreshold, e.Positive)
	}
	return n
}
