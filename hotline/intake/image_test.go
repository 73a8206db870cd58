package intake

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/kidshield/kidshield/hotline"
)

func TestScreenshotAccepts(t *testing.T) {
	tests := []struct {
		name          string
		data          []byte
		ct            string
		width, height int
	}{
		{"png", pngBytes(t, 40, 30), "image/png", 40, 30},
		{"png with tEXt and eXIf", pngWithText(t), "image/png", 40, 30},
		{"jpeg with EXIF, GPS and comment", jpegWithEXIF(t), "image/jpeg", 64, 48},
		{"gif", gifBytes(t, 20, 10), "image/png", 20, 10},
		{"webp lossless", webpLossless(t), "image/png", 1, 1},
		{"webp lossy", webpLossy(t), "image/png", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := Screenshot(tt.data, testLimits)
			if err != nil {
				t.Fatal(err)
			}
			if img.ContentType != tt.ct || img.Width != tt.width || img.Height != tt.height {
				t.Fatalf("got %s %d×%d, want %s %d×%d", img.ContentType, img.Width, img.Height, tt.ct, tt.width, tt.height)
			}
			// What comes out decodes as what it says, at the size it says.
			var cfg image.Config
			if tt.ct == "image/png" {
				cfg, err = png.DecodeConfig(bytes.NewReader(img.Data))
			} else {
				cfg, err = jpeg.DecodeConfig(bytes.NewReader(img.Data))
			}
			if err != nil || cfg.Width != tt.width || cfg.Height != tt.height {
				t.Fatalf("output: %v, %d×%d", err, cfg.Width, cfg.Height)
			}
			// No metadata survives.
			for _, secret := range []string{"KSTEST", "Exif", "tEXt", "eXIf", "iTXt", "zTXt", "iCCP", "MM\x00\x2a"} {
				if bytes.Contains(img.Data, []byte(secret)) {
					t.Errorf("output still contains %q", secret)
				}
			}
			if tt.ct == "image/jpeg" {
				for _, marker := range [][]byte{{0xff, 0xe1}, {0xff, 0xfe}, {0xff, 0xe2}} {
					if bytes.Contains(img.Data, marker) {
						t.Errorf("output JPEG has segment %x", marker)
					}
				}
			}
		})
	}
	// The inputs really carried the metadata the test says they did.
	if !bytes.Contains(jpegWithEXIF(t), []byte("KSTEST-CAMERA")) || !bytes.Contains(pngWithText(t), []byte("KSTEST-PNG-SECRET")) {
		t.Fatal("test inputs lack their metadata")
	}
}

func TestScreenshotRefuses(t *testing.T) {
	j := jpegBytes(t, 64, 48)
	p := pngBytes(t, 40, 30)
	small := testLimits
	small.MaxScreenshotBytes = 100
	fewPixels := testLimits
	fewPixels.MaxScreenshotPixels = 1000
	tests := []struct {
		name string
		data []byte
		lim  hotline.Limits
		key  string
	}{
		{"empty", nil, testLimits, "report.err.screenshot_type"},
		{"30000x30000 header bomb", pngHeaderBomb(30000, 30000), testLimits, "report.err.screenshot_pixels"},
		{"bomb over a custom limit", p, fewPixels, "report.err.screenshot_pixels"},
		{"zero width", pngHeaderBomb(0, 10), testLimits, "report.err.screenshot_corrupt"},
		{"too many bytes", p, small, "report.err.screenshot_size"},
		{"truncated png", p[:len(p)/2], testLimits, "report.err.screenshot_corrupt"},
		{"truncated jpeg", j[:len(j)/2], testLimits, "report.err.screenshot_corrupt"},
		{"png header only", p[:8], testLimits, "report.err.screenshot_corrupt"},
		{"text named .png", []byte("this is not a picture, whatever its name says"), testLimits, "report.err.screenshot_type"},
		{"svg", []byte(svg), testLimits, "report.err.screenshot_type"},
		{"html", []byte("<html><script>alert(1)</script></html>"), testLimits, "report.err.screenshot_type"},
		{"pdf", []byte("%PDF-1.7\n"), testLimits, "report.err.screenshot_type"},
		{"bmp", []byte("BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00"), testLimits, "report.err.screenshot_type"},
		{"riff but not webp", []byte("RIFF\x10\x00\x00\x00WAVEfmt "), testLimits, "report.err.screenshot_type"},
		{"webp header, garbage", []byte("RIFF\x10\x00\x00\x00WEBPVP8 \x04\x00\x00\x00abcd"), testLimits, "report.err.screenshot_corrupt"},
		{"gif header only", []byte("GIF89a"), testLimits, "report.err.screenshot_corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := Screenshot(tt.data, tt.lim)
			var ie *ImageError
			if !errors.As(err, &ie) {
				t.Fatalf("got %s %d×%d, %v; want %s", img.ContentType, img.Width, img.Height, err, tt.key)
			}
			if ie.Key != tt.key {
				t.Fatalf("key %s (%s), want %s", ie.Key, ie.Msg, tt.key)
			}
		})
	}
}

func TestScreenshotBombIsNotDecoded(t *testing.T) {
	bomb := pngHeaderBomb(30000, 30000)
	if len(bomb) > 100 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	allocs := testing.AllocsPerRun(5, func() {
		_, err := Screenshot(bomb, testLimits)
		var ie *ImageError
		if !errors.As(err, &ie) || ie.Key != "report.err.screenshot_pixels" {
			t.Fatalf("error %v, want screenshot_pixels", err)
		}
	})
	// Reading the header costs a few small allocations; decoding would allocate 2.7 GB.
	if allocs > 50 {
		t.Errorf("%v allocations: the picture was decoded", allocs)
	}
}

func FuzzImage(f *testing.F) {
	f.Add(pngBytes(f, 8, 8))
	f.Add(pngWithText(f))
	f.Add(jpegWithEXIF(f))
	f.Add(gifBytes(f, 8, 4))
	f.Add(webpLossless(f))
	f.Add(webpLossy(f))
	f.Add(pngHeaderBomb(30000, 30000))
	f.Add([]byte(svg))
	f.Add([]byte("GIF89a"))
	lim := testLimits
	lim.MaxScreenshotPixels = 1 << 20 // keep each run fast
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Screenshot(data, lim)
		if err != nil {
			var ie *ImageError
			if !errors.As(err, &ie) || ie.Key == "" || ie.Msg == "" {
				t.Fatalf("error %v is not a complete *ImageError", err)
			}
			return
		}
		if int64(img.Width)*int64(img.Height) > lim.MaxScreenshotPixels || img.Width <= 0 || img.Height <= 0 {
			t.Fatalf("accepted %d×%d", img.Width, img.Height)
		}
		var cfg image.Config
		switch img.ContentType {
		case "image/png":
			cfg, err = png.DecodeConfig(bytes.NewReader(img.Data))
		case "image/jpeg":
			cfg, err = jpeg.DecodeConfig(bytes.NewReader(img.Data))
		default:
			t.Fatalf("content type %q", img.ContentType)
		}
		if err != nil || cfg.Width != img.Width || cfg.Height != img.Height {
			t.Fatalf("output does not decode as %s %d×%d: %v", img.ContentType, img.Width, img.Height, err)
		}
	})
}
