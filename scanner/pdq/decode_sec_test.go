package pdq

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"testing"
)

// A 16-bit PNG decodes to eight bytes a pixel, twice what the pixel cap assumes: under the
// same cap, an 8-bit image of a size is decoded and a 16-bit one of the same size that would
// need more than MaxPixels×4 bytes is refused before decoding. Before the fix both were
// decoded (a 300 KB 16-bit PNG of 40 megapixels allocated 300 MB).
func TestDecodeSixteenBitPNGCappedByDecodedSize(t *testing.T) {
	lim := Limits{MaxPixels: 10_000}
	r := image.Rect(0, 0, 100, 60) // 6,000 pixels: under the cap; 48,000 bytes at 16 bits
	enc := func(img image.Image) []byte {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if _, _, err := DecodeBytes(enc(image.NewNRGBA(r)), lim); err != nil {
		t.Fatalf("8-bit PNG under the cap: %v", err)
	}
	if _, _, err := DecodeBytes(enc(image.NewNRGBA64(r)), lim); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("16-bit PNG of %d bytes decoded under a %d-byte budget: err %v", r.Dx()*r.Dy()*8, lim.MaxPixels*4, err)
	}
	if _, _, err := DecodeBytes(enc(image.NewNRGBA64(image.Rect(0, 0, 50, 60))), lim); err != nil {
		t.Fatalf("16-bit PNG within the budget: %v", err)
	}
}
