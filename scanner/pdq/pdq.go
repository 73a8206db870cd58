// Package pdq computes Meta's PDQ perceptual image hash in pure Go and matches hashes at scale.
//
// The hash follows the reference implementation's rules (ThreatExchange pdq/cpp, summarised in
// the project's testdata/pdq/README.md) step by step, in float32 and in the reference's order of
// operations, because the last bits of a PDQ hash depend on rounding: an "equivalent" formula
// flips bits near the median. On lossless input it agrees bit for bit with the reference; on
// JPEG input the remaining differences come from the JPEG decoders, not from this code.
//
// Matching (Index) is a multi-index hash over 16 slots of 16 bits, exact at the distances
// PDQ uses (≤ 31): it returns what a linear scan would, only faster.
package pdq

import (
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/bits"
	"sync"
)

// Hash is a 256-bit PDQ hash. Byte 0 is the first byte of the hex form, which prints the
// reference's 16-bit words from the highest (w[15]) to the lowest (w[0]).
type Hash [32]byte

// String returns the 64 lowercase hex digits the reference tools print.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash reads 64 hex digits (either case).
func ParseHash(s string) (Hash, error) {
	h, err := parseHash(s)
	if err != nil {
		return Hash{}, fmt.Errorf("pdq: parse hash: %w", err)
	}
	return h, nil
}

func parseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 64 {
		return h, fmt.Errorf("want 64 hex digits, got %d characters", len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return Hash{}, err
	}
	return h, nil
}

// Distance is the Hamming distance between two hashes (0–256).
func (h Hash) Distance(o Hash) int {
	a, b := h.words(), o.words()
	return bits.OnesCount64(a[0]^b[0]) + bits.OnesCount64(a[1]^b[1]) +
		bits.OnesCount64(a[2]^b[2]) + bits.OnesCount64(a[3]^b[3])
}

// IsZero reports the all-zero hash, which the reference returns for images too small to hash.
func (h Hash) IsZero() bool { return h == Hash{} }

func (h Hash) words() [4]uint64 {
	var w [4]uint64
	for i := range w {
		for j := range 8 {
			w[i] = w[i]<<8 | uint64(h[i*8+j])
		}
	}
	return w
}

// setBit sets bit k of the reference's numbering: bit k&15 of 16-bit word k>>4.
func (h *Hash) setBit(k int) {
	word := k >> 4
	b := k & 15
	pos := 2 * (15 - word) // high byte of the word
	if b < 8 {
		pos++
	}
	h[pos] |= 1 << (b & 7)
}

const (
	minHashableDim = 5   // the reference returns a zero hash below this
	squashDim      = 512 // larger images are resampled to exactly this square first
	bufDim         = 64  // the image-domain buffer the DCT reads
)

// The reference declares its coefficients as float: these are the float32 roundings.
const (
	lumaR float32 = 0.299
	lumaG float32 = 0.587
	lumaB float32 = 0.114
)

// dctMatrix is rows 1–16 of the 64-point DCT-II basis (the DC row left out), scaled by
// sqrt(2/64). As in the reference, the scale is a float32 and the product is taken in float64
// before rounding to float32.
var dctMatrix = func() (d [16][64]float32) {
	scale := float64(float32(math.Sqrt(2.0 / 64.0)))
	for i := range 16 {
		for j := range 64 {
			d[i][j] = float32(scale * math.Cos((math.Pi/2/64.0)*float64(i+1)*float64(2*j+1)))
		}
	}
	return d
}()

// Dihedral names the eight transforms of HashDihedral's result, in the reference's order.
var Dihedral = [8]string{"orig", "rot90", "rot180", "rot270", "flipx", "flipy", "flipp", "flipm"}

// HashImage returns the PDQ hash of img and its quality (0–100; below 50 the hash is too weak
// to act on). Images under 5 pixels in either dimension (after the 512 squash) hash to zero
// with quality 0.
func HashImage(img image.Image) (Hash, int) {
	w := workspaces.Get().(*workspace)
	defer workspaces.Put(w)
	dct, q, ok := w.dct(img)
	if !ok {
		return Hash{}, 0
	}
	return bitsOf(dct), q
}

// HashDihedral returns the hashes of img's eight rotations and flips in the order of Dihedral
// (orig, rot90, rot180, rot270, flipX, flipY, flipPlus1, flipMinus1) and the quality. Like the
// reference it computes the DCT once and derives the others by transposing and negating
// coefficients, so it costs little more than HashImage. out[0] is always HashImage's hash:
// for an input of exactly 64×64 the reference's dihedral function blurs where its single
// hash does not, and here both follow the single hash's rule (no blur).
func HashDihedral(img image.Image) ([8]Hash, int) {
	w := workspaces.Get().(*workspace)
	defer workspaces.Put(w)
	var out [8]Hash
	a, q, ok := w.dct(img)
	if !ok {
		return out, 0
	}
	out[0] = bitsOf(a)
	var b [16][16]float32
	// Odd-indexed basis rows (i = 1, 3, …: frequencies 2, 4, …) are symmetric about the centre,
	// even-indexed ones antisymmetric: a flip negates the antisymmetric coefficients along
	// its axis, and a rotation is a transpose plus a flip.
	for t := 1; t < 8; t++ {
		for i := range 16 {
			for j := range 16 {
				v := a[i][j]
				switch t {
				case 1: // rot90
					if j&1 == 0 {
						v = -v
					}
					b[j][i] = v
				case 2: // rot180
					if (i+j)&1 == 1 {
						v = -v
					}
					b[i][j] = v
				case 3: // rot270
					if i&1 == 0 {
						v = -v
					}
					b[j][i] = v
				case 4: // flipX
					if i&1 == 0 {
						v = -v
					}
					b[i][j] = v
				case 5: // flipY
					if j&1 == 0 {
						v = -v
					}
					b[i][j] = v
				case 6: // flipPlus1
					b[j][i] = v
				case 7: // flipMinus1
					if (i+j)&1 == 1 {
						v = -v
					}
					b[j][i] = v
				}
			}
		}
		out[t] = bitsOf(&b)
	}
	return out, q
}

// workspaces are reused: a 512×512 hash needs two 1 MiB float buffers, and allocating them
// per image was a tenth of the hashing time.
var workspaces = sync.Pool{New: func() any { return new(workspace) }}

// workspace holds the buffers of one hash computation.
type workspace struct {
	luma, tmp, sums []float32
	xs, ys, yc, cc  []int
	buf             [bufDim][bufDim]float32
	t               [16][bufDim]float32
	b               [16][16]float32
}

// dct runs every step up to the 16×16 DCT. ok is false when the image is too small to hash.
func (w *workspace) dct(img image.Image) (*[16][16]float32, int, bool) {
	rows, cols := w.fillLuma(img)
	if rows < minHashableDim || cols < minHashableDim {
		return nil, 0, false
	}
	if rows == bufDim && cols == bufDim {
		// The reference takes a 64×64 input as the downsample itself (no blur).
		for i := range bufDim {
			copy(w.buf[i][:], w.luma[i*bufDim:(i+1)*bufDim])
		}
	} else {
		w.tmp = grow(w.tmp, rows*cols)
		w.sums = grow(w.sums, cols)
		jarosz(w.luma, w.tmp, w.sums, rows, cols, windowSize(cols), windowSize(rows))
		decimate(w.luma, rows, cols, &w.buf)
	}
	q := quality(&w.buf)
	dct64To16(&w.buf, &w.t, &w.b)
	return &w.b, q, true
}

func growInt(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// fillLuma writes the float32 luma of img (squashed to 512×512 when larger) into w.luma and
// returns its size. Only the sampled pixels are read, so a large image costs no more than a
// 512×512 one here.
func (w *workspace) fillLuma(img image.Image) (rows, cols int) {
	bnd := img.Bounds()
	W, H := bnd.Dx(), bnd.Dy()
	if W <= 0 || H <= 0 {
		return 0, 0
	}
	cols, rows = W, H
	if W > squashDim || H > squashDim {
		cols, rows = squashDim, squashDim
	}
	// xs, ys: source coordinates of each output column and row. Nearest neighbour with
	// floor(i·W/512) when squashing, the identity otherwise.
	w.xs, w.ys = growInt(w.xs, cols), growInt(w.ys, rows)
	xs, ys := w.xs, w.ys
	for i := range xs {
		xs[i] = bnd.Min.X + int(int64(i)*int64(W)/int64(cols)) // int64: W·i must not overflow
	}
	for i := range ys {
		ys[i] = bnd.Min.Y + int(int64(i)*int64(H)/int64(rows))
	}
	w.luma = grow(w.luma, rows*cols)
	out := w.luma
	switch m := img.(type) {
	case *image.YCbCr:
		// JPEG's own type: convert only the sampled pixels, with the standard library's
		// YCbCr→RGB (what drawing the image into an RGBA gives). An offset is a row part plus
		// a column part for every subsampling ratio, so both are computed once per column and
		// once per row rather than per pixel.
		w.yc, w.cc = growInt(w.yc, cols), growInt(w.cc, cols)
		for x, sx := range xs {
			w.yc[x] = m.YOffset(sx, m.Rect.Min.Y)
			w.cc[x] = m.COffset(sx, m.Rect.Min.Y)
		}
		for y, sy := range ys {
			yr, cr := m.YOffset(m.Rect.Min.X, sy), m.COffset(m.Rect.Min.X, sy)
			o := out[y*cols : (y+1)*cols]
			for x := range o {
				yi, ci := yr+w.yc[x], cr+w.cc[x]
				r, g, b := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				o[x] = luma(r, g, b)
			}
		}
	case *image.Gray:
		// The reference reads a grey image's value as the luma itself.
		for y := range rows {
			sy := ys[y]
			for x := range cols {
				out[y*cols+x] = float32(m.Pix[m.PixOffset(xs[x], sy)])
			}
		}
	case *image.RGBA:
		// Premultiplied: equal to the stored RGB for opaque images, the common case.
		w.rgbLuma(m.Pix, m.Stride, m.Rect.Min, rows, cols)
	case *image.NRGBA:
		// Alpha dropped: the colour channels as stored, like the reference's PNG reader.
		w.rgbLuma(m.Pix, m.Stride, m.Rect.Min, rows, cols)
	default:
		for y := range rows {
			sy := ys[y]
			for x := range cols {
				c := img.At(xs[x], sy)
				if g, ok := c.(color.Gray); ok {
					out[y*cols+x] = float32(g.Y)
					continue
				}
				n := color.NRGBAModel.Convert(c).(color.NRGBA)
				out[y*cols+x] = luma(n.R, n.G, n.B)
			}
		}
	}
	return rows, cols
}

// rgbLuma fills w.luma from 4-byte RGBx pixels (RGBA or NRGBA).
func (w *workspace) rgbLuma(pix []byte, stride int, min image.Point, rows, cols int) {
	w.cc = growInt(w.cc, cols)
	for x, sx := range w.xs {
		w.cc[x] = (sx - min.X) * 4
	}
	for y, sy := range w.ys {
		row := pix[(sy-min.Y)*stride:]
		o := w.luma[y*cols : (y+1)*cols]
		for x, off := range w.cc[:len(o)] {
			p := row[off : off+3 : off+3]
			o[x] = luma(p[0], p[1], p[2])
		}
	}
}

// luma is the reference's float expression, R·0.299 + G·0.587 + B·0.114 summed left to right.
// The products come from tables of float32(coefficient·v), the same rounded values the
// expression produces, computed once instead of per pixel.
func luma(r, g, b uint8) float32 {
	return (lumaTab[0][r] + lumaTab[1][g]) + lumaTab[2][b]
}

// lumaTab holds each coefficient's products. Each product is converted to float32
// explicitly: the Go spec lets a compiler fuse x*y+z into one rounding (it does on arm64),
// and a fused multiply-add changes low bits that can flip a hash bit. An explicit conversion
// forbids it.
var lumaTab = func() (t [3][256]float32) {
	for v := range 256 {
		t[0][v] = float32(lumaR * float32(v))
		t[1][v] = float32(lumaG * float32(v))
		t[2][v] = float32(lumaB * float32(v))
	}
	return t
}()

// windowSize is the reference's Jarosz window: ceil(dim / (2·64)).
func windowSize(dim int) int { return (dim + 2*bufDim - 1) / (2 * bufDim) }

// jarosz runs the reference's two passes of a box filter along rows then columns, which
// approximates a tent filter. The result ends in a.
func jarosz(a, b, sums []float32, rows, cols, winAlongRows, winAlongCols int) {
	for range 2 {
		boxRows(a, b, rows, cols, winAlongRows)
		boxCols(b, a, rows, cols, winAlongCols, sums)
	}
}

// boxPhases are the reference's four phases of a running-sum box filter over n samples: p1
// additions without output, p2 outputs while the window grows, p3 at full width, p4 while it
// shrinks at the end.
func boxPhases(n, win int) (p1, p2, p3, p4 int) {
	half := (win + 2) / 2
	return half - 1, win - half + 1, n - win, half - 1
}

// boxRows is the reference's box1DFloat along each row, with its order of float additions and
// subtractions: that order, not just the window, decides the low bits. Rows are filtered four
// at a time in lock step: each row's running sum is a chain of dependent additions, and four
// independent chains keep the processor busy where one would wait on each addition.
func boxRows(in, out []float32, rows, cols, win int) {
	i := 0
	for ; i+4 <= rows; i += 4 {
		boxRow4(in[i*cols:(i+4)*cols], out[i*cols:(i+4)*cols], cols, win)
	}
	for ; i < rows; i++ {
		boxRow(in[i*cols:(i+1)*cols], out[i*cols:(i+1)*cols], win)
	}
}

// boxRow filters one row.
func boxRow(in, out []float32, win int) {
	p1, p2, p3, p4 := boxPhases(len(in), win)
	li, ri, oi := 0, 0, 0
	var sum float32
	size := 0
	for range p1 {
		sum += in[ri]
		size++
		ri++
	}
	for range p2 {
		sum += in[ri]
		size++
		out[oi] = sum / float32(size)
		ri++
		oi++
	}
	if isPow2(size) {
		// x/2ᵏ and x·2⁻ᵏ are the same real number, so both round to the same float32: the
		// multiplication is exact where the reference divides, and several times faster.
		inv := 1 / float32(size)
		for range p3 {
			sum += in[ri]
			sum -= in[li]
			out[oi] = sum * inv
			li++
			ri++
			oi++
		}
	} else {
		for range p3 {
			sum += in[ri]
			sum -= in[li]
			out[oi] = sum / float32(size)
			li++
			ri++
			oi++
		}
	}
	for range p4 {
		sum -= in[li]
		size--
		out[oi] = sum / float32(size)
		li++
		oi++
	}
}

// boxRow4 is boxRow on four consecutive rows of n columns at once.
func boxRow4(in, out []float32, n, win int) {
	p1, p2, p3, p4 := boxPhases(n, win)
	a, b, c, d := in[:n], in[n:2*n], in[2*n:3*n], in[3*n:4*n]
	oa, ob, oc, od := out[:n], out[n:2*n], out[2*n:3*n], out[3*n:4*n]
	var sa, sb, sc, sd float32
	li, ri, oi := 0, 0, 0
	size := 0
	for range p1 {
		sa += a[ri]
		sb += b[ri]
		sc += c[ri]
		sd += d[ri]
		size++
		ri++
	}
	for range p2 {
		sa += a[ri]
		sb += b[ri]
		sc += c[ri]
		sd += d[ri]
		size++
		fs := float32(size)
		oa[oi], ob[oi], oc[oi], od[oi] = sa/fs, sb/fs, sc/fs, sd/fs
		ri++
		oi++
	}
	fs, inv, pow2 := float32(size), 1/float32(size), isPow2(size) // see boxRow
	for range p3 {
		sa += a[ri]
		sb += b[ri]
		sc += c[ri]
		sd += d[ri]
		sa -= a[li]
		sb -= b[li]
		sc -= c[li]
		sd -= d[li]
		if pow2 {
			oa[oi], ob[oi], oc[oi], od[oi] = sa*inv, sb*inv, sc*inv, sd*inv
		} else {
			oa[oi], ob[oi], oc[oi], od[oi] = sa/fs, sb/fs, sc/fs, sd/fs
		}
		li++
		ri++
		oi++
	}
	for range p4 {
		sa -= a[li]
		sb -= b[li]
		sc -= c[li]
		sd -= d[li]
		size--
		fs := float32(size)
		oa[oi], ob[oi], oc[oi], od[oi] = sa/fs, sb/fs, sc/fs, sd/fs
		li++
		oi++
	}
}

// boxCols is box1DFloat down every column, run a row at a time so that memory is read in
// order (walking one column at a 2 KB stride was most of the hashing time). Each column
// still sees exactly the reference's sequence of operations; sums is one float per column.
func boxCols(in, out []float32, rows, cols, win int, sums []float32) {
	p1, p2, p3, p4 := boxPhases(rows, win)
	sums = sums[:cols]
	clear(sums)
	row := func(i int) []float32 { return in[i*cols : (i+1)*cols] }
	li, ri, oi := 0, 0, 0
	size := 0
	for range p1 {
		r := row(ri)
		for j := range sums {
			sums[j] += r[j]
		}
		size++
		ri++
	}
	for range p2 {
		r := row(ri)
		size++
		o := out[oi*cols : (oi+1)*cols]
		fs := float32(size)
		for j := range sums {
			sums[j] += r[j]
			o[j] = sums[j] / fs
		}
		ri++
		oi++
	}
	pow2, inv := isPow2(size), 1/float32(size) // see boxRow
	for range p3 {
		r, l := row(ri), row(li)
		o := out[oi*cols : (oi+1)*cols]
		fs := float32(size)
		r, l = r[:len(sums)], l[:len(sums)]
		o = o[:len(sums)]
		if pow2 {
			for j := range sums {
				s := sums[j] + r[j]
				s -= l[j]
				sums[j] = s
				o[j] = s * inv
			}
		} else {
			for j := range sums {
				s := sums[j] + r[j]
				s -= l[j]
				sums[j] = s
				o[j] = s / fs
			}
		}
		li++
		ri++
		oi++
	}
	for range p4 {
		l := row(li)
		size--
		o := out[oi*cols : (oi+1)*cols]
		fs := float32(size)
		for j := range sums {
			sums[j] -= l[j]
			o[j] = sums[j] / fs
		}
		li++
		oi++
	}
}

func isPow2(n int) bool { return n > 0 && n&(n-1) == 0 }

// decimate samples the centres of a 64×64 grid of cells.
func decimate(in []float32, rows, cols int, out *[bufDim][bufDim]float32) {
	for i := range bufDim {
		// The reference computes the centre in double and truncates.
		si := int((float64(i) + 0.5) * float64(rows) / bufDim)
		for j := range bufDim {
			sj := int((float64(j) + 0.5) * float64(cols) / bufDim)
			out[i][j] = in[si*cols+sj]
		}
	}
}

// quality sums quantised neighbour gradients, as the reference does.
func quality(b *[bufDim][bufDim]float32) int {
	sum := 0
	grad := func(u, v float32) int {
		d := int(float32(float32(u-v)*100) / 255)
		if d < 0 {
			d = -d
		}
		return d
	}
	for i := range bufDim - 1 {
		for j := range bufDim {
			sum += grad(b[i][j], b[i+1][j])
		}
	}
	for i := range bufDim {
		for j := range bufDim - 1 {
			sum += grad(b[i][j], b[i][j+1])
		}
	}
	return min(sum/90, 100)
}

// dct64To16 computes D·A·Dᵀ with float32 sums in the reference's order; products are rounded
// before each addition (see luma).
func dct64To16(a *[bufDim][bufDim]float32, t *[16][bufDim]float32, b *[16][16]float32) {
	d := &dctMatrix
	for i := range 16 {
		for j := range bufDim {
			var s float32
			for k := range bufDim {
				s += float32(d[i][k] * a[k][j])
			}
			t[i][j] = s
		}
	}
	for i := range 16 {
		for j := range 16 {
			var s float32
			for k := range bufDim {
				s += float32(t[i][k] * d[j][k])
			}
			b[i][j] = s
		}
	}
}

// bitsOf sets bit i·16+j when coefficient (i, j) is strictly above the median.
func bitsOf(b *[16][16]float32) Hash {
	m := torben(b[:])
	var h Hash
	for i := range 16 {
		for j := range 16 {
			if b[i][j] > m {
				h.setBit(i*16 + j)
			}
		}
	}
	return h
}

// torben is Torben Mogensen's median without sorting or copying, as the reference uses it;
// for an even count it returns the lower middle value, which "strictly greater" then needs.
func torben(rows [][16]float32) float32 {
	n := 0
	lo, hi := rows[0][0], rows[0][0]
	for _, r := range rows {
		for _, v := range r {
			n++
			lo = min(lo, v)
			hi = max(hi, v)
		}
	}
	half := (n + 1) / 2
	var less, greater, equal int
	var guess, maxLT, minGT float32
	for {
		guess = (lo + hi) / 2
		less, greater, equal = 0, 0, 0
		maxLT, minGT = lo, hi
		for _, r := range rows {
			for _, v := range r {
				switch {
				case v < guess:
					less++
					if v > maxLT {
						maxLT = v
					}
				case v > guess:
					greater++
					if v < minGT {
						minGT = v
					}
				default:
					equal++
				}
			}
		}
		if less <= half && greater <= half {
			break
		}
		if less > greater {
			hi = maxLT
		} else {
			lo = minGT
		}
	}
	switch {
	case less >= half:
		return maxLT
	case less+equal >= half:
		return guess
	default:
		return minGT
	}
}
