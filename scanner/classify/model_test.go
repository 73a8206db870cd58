package classify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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
		TestClass   Counts  `json:"test_classify"`
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
	cl := EvalClassify(test)
	t.Logf("classifier: P %.3f R %.3f F1 %.3f %+v", cl.Precision(), cl.Recall(), cl.F1(), cl)
	if cl != want.TestClass {
		t.Errorf("classifier on test.csv: %+v, training program measured %+v (lexicon or damping changed: rerun ./train)", cl, want.TestClass)
	}
}

// The model fires on ordinary words of texts that are not social-media comments (the
// trial's grooming message scored p=0.93 on 'mẹ', 'chuyện', 'tấm'). Without a word of the
// hate_bullying lexicon in its window its score is damped under the threshold: no model
// reason, hate_bullying not on top, the (small) score still shown.
func TestModelDampedWithoutOffensiveWord(t *testing.T) {
	m, err := HateModel()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"Mẹ em có biết chuyện này không? Gửi anh vài tấm ảnh nhé, đừng nói với mẹ",
		"Đừng nói với bố mẹ nhé, đây là bí mật của hai đứa mình, nhớ xóa tin nhắn đi",
		"Sáng nay, Bộ Giáo dục và Đào tạo công bố lịch thi tốt nghiệp trung học phổ thông năm 2026.",
		"Hôm qua mẹ nấu canh chua ngon lắm, cả nhà ăn hết sạch",
	} {
		// The test means something only while the model itself scores these over its
		// threshold: a retrained model that does not is good news, and this says so.
		p := m.Score(s)
		if p < float64(m.Threshold) {
			t.Errorf("%q: the model alone scores %.3f, under its threshold %.2f: pick another sample", s, p, m.Threshold)
			continue
		}
		r := Classify(s)
		if got, want := r.Scores[HateBullying], round(unanchoredScale*rescale(p, float64(m.Threshold))); got != want || got >= DefaultThreshold {
			t.Errorf("%q: hate_bullying %v, want the damped %v under %v", s, got, want, DefaultThreshold)
		}
		if hasRule(r, "model") || r.Top == HateBullying {
			t.Errorf("%q: top %s, reasons %+v", s, r.Top, r.Reasons)
		}
	}
}

// With an offensive word the model counts in full, and its evidence is the words, once
// each, for the page to quote: no probability (that is the score), no quotes of its own.
func TestModelEvidenceIsWords(t *testing.T) {
	m, err := HateModel()
	if err != nil {
		t.Fatal(err)
	}
	s := "thằng này ngu vl, óc chó thật sự"
	r := Classify(s)
	want := round(rescale(m.Score(s), float64(m.Threshold)))
	if r.Scores[HateBullying] < want {
		t.Errorf("hate_bullying %v, want the model's undamped %v", r.Scores[HateBullying], want)
	}
	var ev string
	for _, x := range r.Reasons {
		if x.Rule == "model" {
			ev = x.Evidence
		}
	}
	words := strings.Split(ev, ", ")
	if ev == "" || len(words) > 3 || strings.ContainsAny(ev, "'\"“”=") || strings.Contains(ev, "threshold") {
		t.Fatalf("model evidence %q, want up to three words separated by \", \"", ev)
	}
	norm := " " + Normalize(s) + " "
	for _, w := range words {
		if !strings.Contains(norm, " "+w+" ") {
			t.Errorf("model evidence names %q, which is not in the text %q", w, norm)
		}
	}
}

// The lexicon word must be where the model looked: a hit in another window of a long text
// does not vouch for this one.
func TestAnchoredIsWindowLocal(t *testing.T) {
	h := []hit{{e: &entry{category: HateBullying}, from: 200, to: 202}, {e: &entry{category: Grooming}, from: 10, to: 12}}
	for _, c := range []struct {
		from, to int
		want     bool
	}{{0, 128, false}, {128, 256, true}, {201, 202, true}, {202, 300, false}} {
		if got := anchored(h, c.from, c.to); got != c.want {
			t.Errorf("anchored(window %d–%d) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}
