package intake

import (
	"bytes"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/taxonomy"
)

// ImageError is why a screenshot was refused: Key is the i18n key, Msg the English text.
type ImageError struct {
	Key, Msg string
}

func (e *ImageError) Error() string { return "intake: screenshot: " + e.Msg }

func imageErr(key, format string, args ...any) *ImageError {
	return &ImageError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// format is a screenshot format intake reads: how it is recognised and decoded, and what it
// becomes. Photos stay JPEG (PNG would make them several times larger); everything else becomes
// PNG, which keeps screenshots' text sharp.
type format struct {
	name   string // content type
	magic  func([]byte) bool
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
	jpeg   bool
}

var formats = []format{
	{"image/png", func(b []byte) bool { return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) }, png.DecodeConfig, png.Decode, false},
	{"image/jpeg", func(b []byte) bool { return bytes.HasPrefix(b, []byte("\xff\xd8\xff")) }, jpeg.DecodeConfig, jpeg.Decode, true},
	{"image/gif", func(b []byte) bool {
		return bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a"))
	}, gif.DecodeConfig, gif.Decode, false},
	{"image/webp", func(b []byte) bool {
		return len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP"
	}, webp.DecodeConfig, webp.Decode, false},
}

// Screenshot checks one uploaded image and returns it re-encoded. The format is read from the
// bytes, never from a name or a declared type; the dimensions are read from the header and
// checked against MaxScreenshotPixels before any pixel is decoded, so a small file that
// declares 30000×30000 costs nothing; decoding and re-encoding then keeps the pixels and
// nothing else: EXIF (with GPS position and device), ICC profiles, comments and text chunks
// do not survive. An animated GIF keeps its first frame. SVG is refused: it is a document that
// can carry script, not a picture.
//
// The returned error is an *ImageError.
func Screenshot(data []byte, lim hotline.Limits) (hotline.Image, error) {
	lim = withDefaults(lim)
	if len(data) == 0 {
		return hotline.Image{}, imageErr("report.err.screenshot_type", "the file is empty")
	}
	if int64(len(data)) > lim.MaxScreenshotBytes {
		return hotline.Image{}, imageErr("report.err.screenshot_size", "the file is larger than %s", sizeText(lim.MaxScreenshotBytes))
	}
	var f *format
	for i := range formats {
		if formats[i].magic(data) {
			f = &formats[i]
			break
		}
	}
	if f == nil {
		return hotline.Image{}, imageErr("report.err.screenshot_type", "only PNG, JPEG, GIF and WebP pictures can be attached")
	}
	cfg, err := f.config(bytes.NewReader(data))
	if err != nil {
		return hotline.Image{}, imageErr("report.err.screenshot_corrupt", "the picture is damaged or incomplete")
	}
	if err := checkPixels(cfg.Width, cfg.Height, lim.MaxScreenshotPixels); err != nil {
		return hotline.Image{}, err
	}
	img, err := f.decode(bytes.NewReader(data))
	if err != nil {
		return hotline.Image{}, imageErr("report.err.screenshot_corrupt", "the picture is damaged or incomplete")
	}
	b := img.Bounds()
	if err := checkPixels(b.Dx(), b.Dy(), lim.MaxScreenshotPixels); err != nil {
		return hotline.Image{}, err
	}
	var out bytes.Buffer
	ct := "image/png"
	if f.jpeg {
		ct = "image/jpeg"
		err = jpeg.Encode(&out, img, &jpeg.Options{Quality: 85})
	} else {
		// Paletted images (GIF) stay paletted: smaller files. A frame not at the origin is
		// written from its own corner. The encoder writes pixels and nothing else.
		err = png.Encode(&out, img)
	}
	if err != nil {
		return hotline.Image{}, imageErr("report.err.screenshot_corrupt", "the picture could not be processed")
	}
	return hotline.Image{ContentType: ct, Width: b.Dx(), Height: b.Dy(), Data: out.Bytes()}, nil
}

func checkPixels(w, h int, max int64) *ImageError {
	if w <= 0 || h <= 0 {
		return imageErr("report.err.screenshot_corrupt", "the picture is damaged or incomplete")
	}
	if int64(w)*int64(h) > max {
		return imageErr("report.err.screenshot_pixels", "the picture is too large: %d×%d pixels, at most %d million pixels",
			w, h, max/1_000_000)
	}
	return nil
}

func sizeText(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d KB", (n+1023)>>10)
}

// screenshots applies the rules on attachments: allowed only where the harm allows them (never
// for sexual content involving children), never on the operator's form, counted, each checked
// by Screenshot.
func (p *problems) screenshots(field string, in *input, harm string, lim hotline.Limits) []hotline.Image {
	if len(in.shots) == 0 {
		return nil
	}
	if in.src == fromOperator {
		p.add(field, "report.err.screenshot_operator", "the phone form takes no pictures: operators never handle media")
		return nil
	}
	h, ok := taxonomy.Lookup(harm)
	if !ok {
		return nil // the harm's own error says what to fix; the files are dropped unread
	}
	if !h.Screenshots {
		p.add(field, "report.err.screenshot_not_allowed",
			"do not upload pictures for this kind of report: sexual images of children must never be sent, even to us. Send the link instead; we will check it")
		return nil
	}
	if len(in.shots) > lim.MaxScreenshots {
		p.add(field, "report.err.screenshot_count", "too many pictures: at most %d", lim.MaxScreenshots)
		return nil
	}
	var out []hotline.Image
	for i, u := range in.shots {
		if u.tooBig || int64(len(u.data)) > lim.MaxScreenshotBytes {
			p.add(field, "report.err.screenshot_size", "picture %d: the file is larger than %s", i+1, sizeText(lim.MaxScreenshotBytes))
			continue
		}
		if u.declared != "" && u.declared != sniffed(u.data) {
			p.add(field, "report.err.screenshot_type", "picture %d: content_type does not match the data, which is %s", i+1, sniffed(u.data))
			continue
		}
		img, err := Screenshot(u.data, lim)
		if err != nil {
			ie := err.(*ImageError)
			p.add(field, ie.Key, "picture %d: %s", i+1, ie.Msg)
			continue
		}
		out = append(out, img)
	}
	return out
}

func sniffed(data []byte) string {
	for _, f := range formats {
		if f.magic(data) {
			return f.name
		}
	}
	return "not an accepted picture"
}
