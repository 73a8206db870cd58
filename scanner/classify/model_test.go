package classify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestModelLoads(t *testing.T) {
	m, err := HateModel()
	if err != nil {
		t.Fatal(err)
	}
	nz := 0
	for _, w := range m.Weights {
		if w != 0 {
			nz++
		}
	}
	t.Logf("model: %d bytes embedded, %d non-zero weights of %d, threshold %.2f", len(hateModelData), nz, len(m.Weights), m.Threshold)
	if nz < 1000 {
		t.Errorf("only %d non-zero weights", nz)
	}
	if !bytes.Equal(EncodeModel(m), hateModelData) {
		t.Error("re-encoding the embedded model gives other bytes")
	}
}

func TestModelScoresOffensiveHigher(t *testing.T) {
	m, err := HateModel()
	if err != nil {
		t.Fatal(err)
	}
	bad, good := m.Score("thằng này ngu vl, óc chó thật sự"), m.Score("cảm ơn bạn, bài viết rất hay")
	if bad < float64(m.Threshold) || good >= float64(m.Threshold) {
		t.Errorf("offensive %.3f, polite %.3f, threshold %.2f", bad, good, m.Threshold)
	}
	r := Classify("thằng này ngu vl, óc chó thật sự")
	if !hasRule(r, "model") {
		t.Errorf("no model reason: %+v", r.Reasons)
	}
}

func TestDecodeModelRejects(t *testing.T) {
	good := EncodeModel(&Model{Bits: 8, Bias: 0.1, Threshold: 0.5, Weights: func() []float32 {
		w := make([]float32, 256)
		w[3], w[200] = 1, -0.5
		return w
	}()})
	m, err := DecodeModel(good)
	if err != nil || m.Weights[3] != 1 || m.Weights[200] > -0.49 || m.Weights[200] < -0.51 {
		t.Fatalf("round trip: %v, %v", err, m)
	}
	bad := map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("XXXXX\n"), good[6:]...),
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte{}, good...), 0),
		"bits":      func() []byte { b := append([]byte{}, good...); b[6] = 40; return b }(),
		"count":     func() []byte { b := append([]byte{}, good...); b[19] = 0xff; return b }(),
		"index":     func() []byte { b := append([]byte{}, good...); b[len(b)-2] = 0x7f; return b }(),
	}
	for name, b := range bad {
		if _, err := DecodeModel(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecodeModel(f *testing.F) {
	f.Add(hateModelData[:min(len(hateModelData), 200)])
	f.Add([]byte(modelMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeModel(b)
		if err != nil {
			return
		}
		if len(m.Weights) != 1<<m.Bits {
			t.Fatalf("decoded model has %d weights for %d bits", len(m.Weights), m.Bits)
		}
		if p := m.Prob([]uint32{0, 1}); p < 0 || p > 1 {
			t.Fatalf("probability %v", p)
		}
	})
}

// vihosDir finds ../shared/data/vihos from the repository root (this package is three levels
// down), or KIDSHIELD_VIHOS.
func vihosDir(t *testing.T) string {
	if d := os.Getenv("KIDSHIELD_VIHOS"); d != "" {
		return d
	}
	d := filepath.Join("..", "..", "..", "shared", "data", "vihos")
	if _, err := os.Stat(filepath.Join(d, "test.csv")); err != nil {
		t.Skipf("ViHOS not found at %s (set KIDSHIELD_VIHOS): the model's held-out figures cannot be recomputed", d)
	}
	return d
}

// The embedded model scores the held-out split exactly as the training program measured
// (model/eval.json, written by ./train with the report in docs/classify-eval.md).
func TestModelMatchesTrainingEval(t *testing.T) {
	dir := vihosDir(t)
	raw, err := os.ReadFile(filepath.Join("model", "eval.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		ModelSHA256 string  `json:"model_sha256"`
		Threshold   float32 `json:"threshold"`
		TestModel   Counts  `json:"test_model"`
		TestLexicon Counts  `json:"test_lexicon"`
		TestAnyHit  Counts  `json:"test_lexicon_any_hit"`
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(hateModelData)
	if hex.EncodeToString(sum[:]) != want.ModelSHA256 {
		t.Fatalf("embedded model %x is not the one evaluated (%s): retrain", sum, want.ModelSHA256)
	}
	test, err := ReadViHOS(filepath.Join(dir, "test.csv"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := HateModel()
	if err != nil {
		t.Fatal(err)
	}
	got := EvalModel(m, test)
	t.Logf("test split: %d comments; model P %.3f R %.3f F1 %.3f %+v", len(test), got.Precision(), got.Recall(), got.F1(), got)
	if got != want.TestModel {
		t.Errorf("model on test.csv: %+v, training program measured %+v", got, want.TestModel)
	}
	lex := EvalLexicon(test, DefaultThreshold)
	t.Logf("lexicon baseline: P %.3f R %.3f F1 %.3f %+v", lex.Precision(), lex.Recall(), lex.F1(), lex)
	if lex != want.TestLexicon {
		t.Errorf("lexicon on test.csv: %+v, training program measured %+v (lexicon changed: rerun ./train)", lex, want.TestLexicon)
	}
	if any := EvalLexicon(test, 1e-9); any != want.TestAnyHit {
		t.Errorf("lexicon (any hit) on test.csv: %+v, training program measured %+v", any, want.TestAnyHit)
	}
}
