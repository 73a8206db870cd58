package classify

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// The hate_bullying model: logistic regression over hashed binary features (syllable
// unigrams and bigrams of the normalised text, character 3- to 5-grams of its shadow),
// trained offline by ./train on ViHOS and shipped as sparse int8 weights.

// ModelBits is the number of hash bits: 2^18 buckets.
const ModelBits = 18

// WindowSyllables is how many syllables the model reads at once. ViHOS comments are short;
// a web page is scored window by window and the highest window counts, so one hateful
// paragraph is not diluted by a long article.
const WindowSyllables = 128

// maxWindows bounds the model's work on a huge text (the lexicons still read it all).
const maxWindows = 512

//go:embed model/hate.bin
var hateModelData []byte

// Model is a trained logistic regression over hashed features.
type Model struct {
	Bits      uint8
	Bias      float32
	Threshold float32 // probability tuned on the dev split; rescaled to 0.5 in Result scores
	Weights   []float32
}

const modelMagic = "KSLR1\n"

// EncodeModel writes m with its weights quantised to int8 (one scale for all) and zero
// weights left out: a magic line, bits, bias, threshold, scale, the count of non-zero
// weights, then per weight the uvarint gap from the previous index and the int8 value.
func EncodeModel(m *Model) []byte {
	var maxAbs float64
	for _, w := range m.Weights {
		maxAbs = math.Max(maxAbs, math.Abs(float64(w)))
	}
	scale := float32(maxAbs / 127)
	if scale == 0 {
		scale = 1
	}
	type q struct {
		i uint32
		v int8
	}
	var qs []q
	for i, w := range m.Weights {
		v := math.Round(float64(w / scale))
		if v != 0 {
			qs = append(qs, q{uint32(i), int8(v)})
		}
	}
	b := []byte(modelMagic)
	b = append(b, m.Bits)
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(m.Bias))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(m.Threshold))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(scale))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(qs)))
	prev := uint32(0)
	for k, x := range qs {
		gap := x.i - prev
		if k == 0 {
			gap = x.i
		}
		b = binary.AppendUvarint(b, uint64(gap))
		b = append(b, byte(x.v))
		prev = x.i
	}
	return b
}

// DecodeModel reads what EncodeModel wrote, refusing anything malformed.
func DecodeModel(b []byte) (*Model, error) {
	if !strings.HasPrefix(string(b[:min(len(b), len(modelMagic))]), modelMagic) {
		return nil, errors.New("decode model: not a kidshield model file")
	}
	b = b[len(modelMagic):]
	if len(b) < 17 {
		return nil, errors.New("decode model: header too short")
	}
	m := &Model{Bits: b[0]}
	if m.Bits < 8 || m.Bits > 24 {
		return nil, fmt.Errorf("decode model: %d hash bits, want 8 to 24", m.Bits)
	}
	m.Bias = math.Float32frombits(binary.LittleEndian.Uint32(b[1:]))
	m.Threshold = math.Float32frombits(binary.LittleEndian.Uint32(b[5:]))
	scale := math.Float32frombits(binary.LittleEndian.Uint32(b[9:]))
	n := binary.LittleEndian.Uint32(b[13:])
	b = b[17:]
	for _, f := range []float32{m.Bias, m.Threshold, scale} {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return nil, errors.New("decode model: header holds a non-finite number")
		}
	}
	if m.Threshold <= 0 || m.Threshold >= 1 {
		return nil, fmt.Errorf("decode model: threshold %v is not in (0,1)", m.Threshold)
	}
	size := uint64(1) << m.Bits
	if uint64(n) > size {
		return nil, fmt.Errorf("decode model: %d weights for %d buckets", n, size)
	}
	m.Weights = make([]float32, size)
	idx := uint64(0)
	for k := uint32(0); k < n; k++ {
		gap, l := binary.Uvarint(b)
		if l <= 0 || len(b) < l+1 {
			return nil, fmt.Errorf("decode model: weight %d is truncated", k)
		}
		if k > 0 && gap == 0 {
			return nil, fmt.Errorf("decode model: weight %d repeats an index", k)
		}
		idx += gap
		if gap >= size || idx >= size {
			return nil, fmt.Errorf("decode model: weight %d index out of range", k)
		}
		m.Weights[idx] = float32(int8(b[l])) * scale
		b = b[l+1:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("decode model: %d bytes after the last weight", len(b))
	}
	return m, nil
}

func fnv(prefix byte, parts ...string) uint64 {
	h := uint64(14695981039346656037)
	h ^= uint64(prefix)
	h *= 1099511628211
	for k, p := range parts {
		if k > 0 {
			h ^= ' '
			h *= 1099511628211
		}
		for i := 0; i < len(p); i++ {
			h ^= uint64(p[i])
			h *= 1099511628211
		}
	}
	return h
}

// features appends the hashed feature indices of toks (one window) to dst, sorted and
// without repeats.
func features(dst []uint32, toks []token, bits uint8) []uint32 {
	mask := uint64(1)<<bits - 1
	start := len(dst)
	var shadow strings.Builder
	shadow.WriteByte(' ')
	for i, t := range toks {
		dst = append(dst, uint32(fnv('u', t.text)&mask))
		if i > 0 {
			dst = append(dst, uint32(fnv('b', toks[i-1].text, t.text)&mask))
		}
		shadow.WriteString(Shadow(t.text))
		shadow.WriteByte(' ')
	}
	// Character n-grams of the shadow carry the signal across missing diacritics and
	// spelling variants; runes, not bytes, so a gram never splits a letter.
	rs := []rune(shadow.String())
	var buf []byte
	for n := 3; n <= 5; n++ {
		for i := 0; i+n <= len(rs); i++ {
			buf = buf[:0]
			for _, r := range rs[i : i+n] {
				buf = appendRune(buf, r)
			}
			dst = append(dst, uint32(fnv('c', string(buf))&mask))
		}
	}
	f := dst[start:]
	slices.Sort(f)
	return append(dst[:start], slices.Compact(f)...)
}

func appendRune(b []byte, r rune) []byte {
	if r < 0x80 {
		return append(b, byte(r))
	}
	return append(b, string(r)...)
}

// Features returns the model's feature indices for text read as one window; the training
// program uses it so that training and inference cannot drift apart.
func Features(text string, bits uint8) []uint32 {
	return features(nil, tokens(text), bits)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// Prob is the model's probability for one window's features.
func (m *Model) Prob(feats []uint32) float64 {
	s := float64(m.Bias)
	for _, f := range feats {
		s += float64(m.Weights[f])
	}
	return sigmoid(s)
}

// Score is the model's probability for text: the highest of its windows. It is what
// Classify starts from and what the training program evaluates as the model alone.
func (m *Model) Score(text string) float64 {
	p, _, _ := m.score(tokens(text))
	return p
}

// score returns the highest window probability, that window's syllables and the index of
// its first syllable in toks.
func (m *Model) score(toks []token) (float64, []token, int) {
	best, bestWin, bestFrom := sigmoid(float64(m.Bias)), []token(nil), 0
	var buf []uint32
	for w := 0; w < maxWindows && w*WindowSyllables < len(toks); w++ {
		from := w * WindowSyllables
		win := toks[from:min(len(toks), from+WindowSyllables)]
		buf = features(buf[:0], win, m.Bits)
		if p := m.Prob(buf); bestWin == nil || p > best {
			best, bestWin, bestFrom = p, win, from
		}
	}
	return best, bestWin, bestFrom
}

// topWords names the syllables and syllable pairs of a window that pushed the score up the
// most: the words behind a model's suggestion.
func (m *Model) topWords(win []token, n int) []string {
	mask := uint64(1)<<m.Bits - 1
	type fw struct {
		name string
		w    float32
	}
	seen := map[string]bool{}
	var all []fw
	for i, t := range win {
		if !seen[t.text] {
			seen[t.text] = true
			all = append(all, fw{t.text, m.Weights[fnv('u', t.text)&mask]})
		}
		if i > 0 {
			name := win[i-1].text + " " + t.text
			if !seen[name] {
				seen[name] = true
				all = append(all, fw{name, m.Weights[fnv('b', win[i-1].text, t.text)&mask]})
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].w > all[j].w })
	var out []string
	for _, f := range all {
		if len(out) == n || f.w <= 0 {
			break
		}
		out = append(out, f.name)
	}
	return out
}
