package pdq

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// Limits bound what Decode accepts. Images come from strangers: a few kilobytes of PNG can
// claim billions of pixels, and the decoders allocate for what the header claims.
type Limits struct {
	// MaxBytes is the largest encoded input read; 0 means DefaultLimits.MaxBytes.
	MaxBytes int64
	// MaxPixels is the largest width×height decoded; 0 means DefaultLimits.MaxPixels.
	MaxPixels int64
}

// DefaultLimits are the scanner's caps (SCANNER.md): 20 MB of input, 40 megapixels.
var DefaultLimits = Limits{MaxBytes: 20 << 20, MaxPixels: 40_000_000}

// Errors Decode wraps, for callers that tell a refusal from a broken file.
var (
	ErrTooLarge      = errors.New("image too large")
	ErrUnknownFormat = errors.New("not a JPEG, PNG, GIF or WebP image")
)

// Format names what Decode found, as image.Decode would.
const (
	FormatJPEG = "jpeg"
	FormatPNG  = "png"
	FormatGIF  = "gif"
	FormatWebP = "webp"
)

type codec struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

// codecs are called directly rather than through image.Decode's registry, so that a format
// another package registers cannot slip past the guard.
var codecs = map[string]codec{
	FormatJPEG: {jpeg.DecodeConfig, jpeg.Decode},
	FormatPNG:  {png.DecodeConfig, png.Decode},
	FormatGIF:  {gif.DecodeConfig, gif.Decode}, // the first frame of an animation
	FormatWebP: {webp.DecodeConfig, webp.Decode},
}

// Sniff names the image format from the first bytes, or returns "".
func Sniff(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff:
		return FormatJPEG
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return FormatPNG
	case bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a")):
		return FormatGIF
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return FormatWebP
	}
	return ""
}

// Decode reads one image under lim: the type is sniffed from the bytes (not trusted from a
// name or a Content-Type), the header is read with DecodeConfig, and an image over the pixel
// cap is refused before any pixel buffer is allocated. A GIF yields its first frame.
func Decode(r io.Reader, lim Limits) (image.Image, string, error) {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultLimits.MaxBytes
	}
	if lim.MaxPixels <= 0 {
		lim.MaxPixels = DefaultLimits.MaxPixels
	}
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("pdq: read image: %w", err)
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, "", fmt.Errorf("pdq: decode: %w: more than %d bytes", ErrTooLarge, lim.MaxBytes)
	}
	return DecodeBytes(data, lim)
}

// DecodeBytes is Decode for input already in memory; lim.MaxBytes is checked against len(data).
func DecodeBytes(data []byte, lim Limits) (image.Image, string, error) {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultLimits.MaxBytes
	}
	if lim.MaxPixels <= 0 {
		lim.MaxPixels = DefaultLimits.MaxPixels
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, "", fmt.Errorf("pdq: decode: %w: more than %d bytes", ErrTooLarge, lim.MaxBytes)
	}
	format := Sniff(data)
	c, ok := codecs[format]
	if !ok {
		return nil, "", fmt.Errorf("pdq: decode: %w", ErrUnknownFormat)
	}
	cfg, err := c.config(bytes.NewReader(data))
	if err != nil {
		return nil, format, fmt.Errorf("pdq: decode %s header: %w", format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, format, fmt.Errorf("pdq: decode %s: empty image (%d×%d)", format, cfg.Width, cfg.Height)
	}
	// Both factors fit in 32 bits for every supported format, so the int64 product is exact.
	if px := int64(cfg.Width) * int64(cfg.Height); px > lim.MaxPixels {
		return nil, format, fmt.Errorf("pdq: decode %s: %w: %d×%d is %d pixels, limit %d",
			format, ErrTooLarge, cfg.Width, cfg.Height, px, lim.MaxPixels)
	}
	// The pixel cap assumes four bytes a pixel; a 16-bit PNG decodes to eight (a 300 KB file
	// of 40 megapixels made the decoder allocate 300 MB), so the decoded size is capped too, at
	// what MaxPixels pixels of four bytes would take.
	if bpp := bytesPerPixel(cfg.ColorModel); bpp > 4 {
		if px := int64(cfg.Width) * int64(cfg.Height); px*bpp > lim.MaxPixels*4 {
			return nil, format, fmt.Errorf("pdq: decode %s: %w: %d×%d at %d bytes a pixel is over %d bytes",
				format, ErrTooLarge, cfg.Width, cfg.Height, bpp, lim.MaxPixels*4)
		}
	}
	// A progressive JPEG is held as coefficients until its last scan: image/jpeg allocates
	// 256 bytes an 8×8 block of every component on top of the pixels, up to 12 bytes a pixel
	// more than a baseline one (a 2 MB progressive file of 40 megapixels took 600 MB). Its
	// decoder's whole allocation is held to the same budget.
	if format == FormatJPEG {
		if need, ok := progressiveJPEGBytes(data); ok && need > lim.MaxPixels*4 {
			return nil, format, fmt.Errorf("pdq: decode %s: %w: progressive %d×%d needs %d bytes to decode, over %d",
				format, ErrTooLarge, cfg.Width, cfg.Height, need, lim.MaxPixels*4)
		}
	}
	img, err := c.decode(bytes.NewReader(data))
	if err != nil {
		return nil, format, fmt.Errorf("pdq: decode %s: %w", format, err)
	}
	// The header was checked, but the pixels are what gets hashed: refuse a decoder result
	// that disagrees with it rather than trust either.
	if b := img.Bounds(); int64(b.Dx())*int64(b.Dy()) > lim.MaxPixels {
		return nil, format, fmt.Errorf("pdq: decode %s: %w: decoded %d×%d", format, ErrTooLarge, b.Dx(), b.Dy())
	}
	return img, format, nil
}

// HashReader decodes one image under lim and hashes it.
func HashReader(r io.Reader, lim Limits) (Hash, int, error) {
	img, _, err := Decode(r, lim)
	if err != nil {
		return Hash{}, 0, err
	}
	h, q := HashImage(img)
	return h, q, nil
}

// bytesPerPixel is what the decoders allocate a pixel for an image of model m: 8 for the
// 16-bit colour models, at most 4 for every other model they produce (taken as 4).
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	return 4
}

// progressiveJPEGBytes reads a JPEG's frame header and, for a progressive frame (SOF2),
// returns what image/jpeg allocates to decode it: each component's coefficient blocks (256
// bytes each, sized as the decoder sizes them, in whole MCUs of the first component's
// sampling) plus its pixel planes. ok is false for any other frame or a header it cannot read
// (the decoder then reports the problem itself).
func progressiveJPEGBytes(data []byte) (need int64, ok bool) {
	i := 2 // after SOI
	for i+4 <= len(data) {
		if data[i] != 0xff {
			return 0, false
		}
		m := data[i+1]
		if m == 0xff { // fill byte
			i++
			continue
		}
		if m == 0x01 || m >= 0xd0 && m <= 0xd7 { // no length
			i += 2
			continue
		}
		n := int(data[i+2])<<8 | int(data[i+3])
		if n < 2 || i+2+n > len(data) {
			return 0, false
		}
		seg := data[i+4 : i+2+n]
		switch {
		case m == 0xc2:
			return progressiveFrameBytes(seg)
		case m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc, m == 0xda:
			return 0, false // another frame type, or scan data before any frame
		}
		i += 2 + n
	}
	return 0, false
}

func progressiveFrameBytes(seg []byte) (int64, bool) {
	if len(seg) < 6 {
		return 0, false
	}
	h, w, nc := int64(seg[1])<<8|int64(seg[2]), int64(seg[3])<<8|int64(seg[4]), int(seg[5])
	if nc < 1 || nc > 4 || len(seg) < 6+3*nc || w == 0 || h == 0 {
		return 0, false
	}
	hs, vs := make([]int64, nc), make([]int64, nc)
	for c := range nc {
		f := seg[6+3*c+1]
		hs[c], vs[c] = int64(f>>4), int64(f&0x0f)
		if hs[c] < 1 || vs[c] < 1 {
			return 0, false
		}
	}
	if nc == 1 {
		hs[0], vs[0] = 1, 1 // the decoder ignores a grey frame's sampling factors
	}
	mxx, myy := (w+8*hs[0]-1)/(8*hs[0]), (h+8*vs[0]-1)/(8*vs[0])
	var need int64
	for c := range nc {
		blocks := mxx * myy * hs[c] * vs[c]
		need += blocks * (256 + 64) // coefficients, and the block's pixels
	}
	return need, true
}
