package pdq

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"testing"
)

// mutPNGHeaderOnly is a PNG signature and an IHDR chunk (8-bit RGB) with no image data:
// DecodeConfig reads its size, and decoding it fails for want of pixels. A refusal from the
// header check is ErrTooLarge; getting past the check gives a decode error instead.
func mutPNGHeaderOnly(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // bit depth 8, colour type RGB
	chunk := append([]byte("IHDR"), ihdr...)
	_ = binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// The pixel cap is 40 megapixels (docs/scanner.md), applied from the header: exactly the cap
// gets past the header check, one pixel more is refused, with the zero Limits (the
// defaults) and with an explicit cap.
func TestDecodePixelCapBoundary(t *testing.T) {
	tests := []struct {
		name    string
		w, h    uint32
		lim     Limits
		refused bool
	}{
		{"default cap exactly", 8000, 5000, Limits{}, false},
		{"default cap plus one", 40_000_001, 1, Limits{}, true},
		{"explicit cap exactly", 100, 100, Limits{MaxPixels: 10_000}, false},
		{"explicit cap plus one", 10_001, 1, Limits{MaxPixels: 10_000}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := mutPNGHeaderOnly(tc.w, tc.h)
			for _, dec := range []struct {
				name string
				fn   func() error
			}{
				{"Decode", func() error { _, _, err := Decode(bytes.NewReader(data), tc.lim); return err }},
				{"DecodeBytes", func() error { _, _, err := DecodeBytes(data, tc.lim); return err }},
			} {
				err := dec.fn()
				if err == nil {
					t.Fatalf("%s: a header without pixels decoded", dec.name)
				}
				if got := errors.Is(err, ErrTooLarge); got != tc.refused {
					t.Errorf("%s %d×%d: ErrTooLarge %v, want %v (err %v)", dec.name, tc.w, tc.h, got, tc.refused, err)
				}
			}
		})
	}
}

// The byte cap of DecodeBytes: MaxBytes bytes are read, one more is refused before sniffing.
func TestDecodeBytesByteCapBoundary(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	n := int64(len(data))
	if _, _, err := DecodeBytes(data, Limits{MaxBytes: n}); err != nil {
		t.Fatalf("at the byte cap: %v", err)
	}
	_, _, err := DecodeBytes(data, Limits{MaxBytes: n - 1})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("one byte over the cap: err %v, want ErrTooLarge", err)
	}
	// The zero Limits are the defaults, not a cap of zero.
	got, format, err := DecodeBytes(data, Limits{})
	if err != nil || format != FormatPNG || got.Bounds() != img.Bounds() {
		t.Fatalf("DecodeBytes with zero Limits: %v %q %v", got, format, err)
	}
}

// The default byte cap is 20 MiB (docs/scanner.md): 20 MiB and one byte are refused without
// looking at them.
func TestDecodeDefaultByteCap(t *testing.T) {
	over := make([]byte, 20<<20+1)
	copy(over, mutPNGHeaderOnly(10, 10))
	if _, _, err := Decode(bytes.NewReader(over), Limits{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode of 20 MiB + 1 with default limits: %v, want ErrTooLarge", err)
	}
	if _, _, err := DecodeBytes(over, Limits{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("DecodeBytes of 20 MiB + 1 with default limits: %v, want ErrTooLarge", err)
	}
	at := over[:20<<20]
	if _, _, err := DecodeBytes(at, Limits{}); errors.Is(err, ErrTooLarge) {
		t.Errorf("DecodeBytes of exactly 20 MiB refused as too large: %v", err)
	}
}

// A GIF whose screen and first frame are 0×0 decodes without error in image/gif; Decode must
// refuse it rather than hand back an empty image that hashes to zero.
func TestDecodeEmptyGIFRefused(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("GIF89a")
	b.Write([]byte{0, 0, 0, 0, 0x80, 0, 0}) // 0×0 screen, global table of 2 colours
	b.Write([]byte{0, 0, 0, 255, 255, 255})
	b.Write([]byte{0x2c, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // 0×0 frame at (0,0)
	b.Write([]byte{2, 1, 0x2c, 0})                   // LZW: clear code, end code
	b.WriteByte(0x3b)
	img, _, err := Decode(bytes.NewReader(b.Bytes()), DefaultLimits)
	if err == nil {
		t.Fatalf("decoded an empty GIF: %v", img.Bounds())
	}
}
