package pdq

import (
	"image"
	"image/color"
	"testing"
)

// The reference takes an input of exactly 64×64 as the 64×64 buffer itself, with no Jarosz
// filter (testdata README, rule 5). A window-1 box filter looks like the identity but its
// running float sums drift in the last bits, and those bits decide hash bits near the median:
// the buffer must hold each pixel's luma exactly, 0.299R + 0.587G + 0.114B in float32.
func TestExact64IsNotFiltered(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(x*37 + y*11), G: uint8(x*x + 3*y), B: uint8(y*y + 5*x), A: 255})
		}
	}
	w := new(workspace)
	if _, _, ok := w.dct(img); !ok {
		t.Fatal("64×64 not hashed")
	}
	r, g, b := float32(0.299), float32(0.587), float32(0.114)
	diff := 0
	for y := range 64 {
		for x := range 64 {
			c := img.NRGBAAt(x, y)
			want := float32(r*float32(c.R)) + float32(g*float32(c.G))
			want = want + float32(b*float32(c.B))
			if w.buf[y][x] != want {
				diff++
			}
		}
	}
	if diff != 0 {
		t.Errorf("%d of 4096 buffer values differ from the pixels' luma: the 64×64 input was filtered", diff)
	}
}
