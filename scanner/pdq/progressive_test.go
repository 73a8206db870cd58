package pdq

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// frameAt returns the offset of the first SOFn marker of a JPEG.
func frameAt(t *testing.T, b []byte) int {
	t.Helper()
	for i := 2; i+1 < len(b); i++ {
		if b[i] == 0xff && (b[i+1] == 0xc0 || b[i+1] == 0xc2) {
			return i
		}
	}
	t.Fatal("no frame header")
	return 0
}

// A progressive JPEG's decoder keeps every coefficient until the last scan: a header that
// claims 30 megapixels (under the pixel cap) is refused before decoding, a baseline one of the
// same size is not refused for it.
func TestProgressiveJPEGBudget(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 64, 48)), nil); err != nil {
		t.Fatal(err)
	}
	base := buf.Bytes()
	at := frameAt(t, base)
	big := func(marker byte) []byte {
		b := bytes.Clone(base)
		b[at+1] = marker
		// Height then width, after the length and the precision.
		b[at+5], b[at+6], b[at+7], b[at+8] = 5000>>8, 5000&0xff, 6000>>8, 6000&0xff
		return b
	}
	prog := big(0xc2)
	need, ok := progressiveJPEGBytes(prog)
	if !ok || need <= DefaultLimits.MaxPixels*4 {
		t.Fatalf("progressive 6000×5000: need %d ok %v, want over %d", need, ok, DefaultLimits.MaxPixels*4)
	}
	_, _, err := DecodeBytes(prog, DefaultLimits)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "progressive") {
		t.Fatalf("progressive 6000×5000: %v, want a refusal naming it", err)
	}
	// The same header, baseline: the budget does not apply (the decoder then fails on the
	// missing scan data, which is another error).
	if _, ok := progressiveJPEGBytes(big(0xc0)); ok {
		t.Error("a baseline frame was read as progressive")
	}
	if _, _, err := DecodeBytes(big(0xc0), DefaultLimits); errors.Is(err, ErrTooLarge) {
		t.Errorf("baseline 6000×5000 refused as too large: %v", err)
	}
	// Truncated and malformed headers are not read as progressive.
	for _, b := range [][]byte{prog[:at+6], prog[:at+2], {0xff, 0xd8}, {0xff, 0xd8, 0xff, 0xc2, 0, 3, 8}} {
		if _, ok := progressiveJPEGBytes(b); ok {
			t.Errorf("% x read as a progressive frame", b[:min(len(b), 12)])
		}
	}
}

// On a real progressive file the estimate is what image/jpeg allocates to decode it.
func TestProgressiveJPEGEstimate(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testdataDir(t), "images", "dih-bridge-2-rotate-90.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	need, ok := progressiveJPEGBytes(data)
	if !ok {
		t.Fatal("the reference's progressive JPEG was not read as progressive")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	got := int64(after.TotalAlloc - before.TotalAlloc)
	t.Logf("estimate %d bytes, image/jpeg allocated %d", need, got)
	if need < got*9/10 || need > got*12/10 {
		t.Errorf("estimate %d bytes, image/jpeg allocated %d: want within -10%%/+20%%", need, got)
	}
	// Under the default budget it decodes.
	if _, _, err := DecodeBytes(data, DefaultLimits); err != nil {
		t.Fatal(err)
	}
}
