package intake

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/hotline"
)

// testLimits are the configuration's defaults.
var testLimits = hotline.Limits{MaxURLs: 10, MaxDescription: 5000, MaxField: 200, MaxScreenshots: 3,
	MaxScreenshotBytes: 5 << 20, MaxScreenshotPixels: 25_000_000}

func formRequest(v url.Values) *http.Request {
	r := httptest.NewRequest("POST", "/report", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

type file struct {
	field, name string
	data        []byte
}

func multipartRequest(t testing.TB, v url.Values, files ...file) *http.Request {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, vs := range v {
		for _, s := range vs {
			if err := w.WriteField(k, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, f := range files {
		fw, err := w.CreateFormFile(f.field, f.name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(f.data)
	}
	w.Close()
	r := httptest.NewRequest("POST", "/report", &body)
	r.Header.Set("Content-Type", w.FormDataContentType())
	return r
}

// fieldErrors returns the field errors of err, failing the test when err is something else.
func fieldErrors(t testing.TB, err error) hotline.ValidationError {
	t.Helper()
	var verr hotline.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("error %v (%T), want a ValidationError", err, err)
	}
	for _, fe := range verr {
		if fe.Field == "" || !strings.HasPrefix(fe.Key, "report.err.") || fe.Msg == "" {
			t.Errorf("incomplete field error %+v", fe)
		}
	}
	return verr
}

// wantFieldError asserts err has a field error on field with key.
func wantFieldError(t testing.TB, err error, field, key string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s on %s", key, field)
	}
	verr := fieldErrors(t, err)
	for _, fe := range verr {
		if fe.Field == field && fe.Key == key {
			return
		}
	}
	t.Fatalf("errors %v, want %s on %s", verr, key, field)
}

// picture is a test image with some structure (gradients), so encoders have work to do.
func picture(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.NRGBA{uint8(x * 7), uint8(y * 5), uint8(x ^ y), 255})
		}
	}
	return img
}

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, picture(w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, picture(w, h), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, picture(w, h), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngChunk is one PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	var c bytes.Buffer
	binary.Write(&c, binary.BigEndian, uint32(len(data)))
	c.WriteString(typ)
	c.Write(data)
	binary.Write(&c, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return c.Bytes()
}

// pngWithText inserts tEXt and eXIf chunks (a comment and a camera name) after IHDR.
func pngWithText(t testing.TB) []byte {
	p := pngBytes(t, 40, 30)
	const afterIHDR = 8 + 25
	var b bytes.Buffer
	b.Write(p[:afterIHDR])
	b.Write(pngChunk("tEXt", []byte("Comment\x00KSTEST-PNG-SECRET")))
	b.Write(pngChunk("eXIf", tiffWithGPS()))
	b.Write(p[afterIHDR:])
	return b.Bytes()
}

// pngHeaderBomb declares width×height in IHDR but carries almost no data: decoding it would
// allocate width×height×3 bytes.
func pngHeaderBomb(width, height uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], width)
	binary.BigEndian.PutUint32(ihdr[4:], height)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	b.Write(pngChunk("IHDR", ihdr))
	b.Write(pngChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}))
	b.Write(pngChunk("IEND", nil))
	return b.Bytes()
}

// tiffWithGPS is a minimal big-endian TIFF/EXIF block: IFD0 with Make = "KSTEST-CAMERA" and a
// GPS IFD pointer, and a GPS IFD with GPSLatitudeRef "N".
func tiffWithGPS() []byte {
	var b bytes.Buffer
	be := binary.BigEndian
	b.WriteString("MM\x00\x2a")
	binary.Write(&b, be, uint32(8)) // IFD0 at 8
	// IFD0: 2 entries (12 bytes each) + next-IFD offset: 2+24+4 = 30 bytes, ends at 38.
	binary.Write(&b, be, uint16(2))
	// Make (0x010f), ASCII (2), count 14, offset 56
	binary.Write(&b, be, []uint16{0x010f, 2})
	binary.Write(&b, be, []uint32{14, 56})
	// GPSInfo (0x8825), LONG (4), count 1, value 38
	binary.Write(&b, be, []uint16{0x8825, 4})
	binary.Write(&b, be, []uint32{1, 38})
	binary.Write(&b, be, uint32(0))
	// GPS IFD at 38: 1 entry: GPSLatitudeRef (1), ASCII, count 2, "N\0" inline.
	binary.Write(&b, be, uint16(1))
	binary.Write(&b, be, []uint16{1, 2})
	binary.Write(&b, be, uint32(2))
	b.WriteString("N\x00\x00\x00")
	binary.Write(&b, be, uint32(0))
	// at 56: the Make string
	b.WriteString("KSTEST-CAMERA\x00")
	return b.Bytes()
}

// jpegWithEXIF inserts an APP1 Exif segment (camera name, GPS) and a COM comment after SOI.
func jpegWithEXIF(t testing.TB) []byte {
	j := jpegBytes(t, 64, 48)
	exif := append([]byte("Exif\x00\x00"), tiffWithGPS()...)
	var b bytes.Buffer
	b.Write(j[:2]) // SOI
	b.Write([]byte{0xff, 0xe1})
	binary.Write(&b, binary.BigEndian, uint16(len(exif)+2))
	b.Write(exif)
	com := []byte("KSTEST-JPEG-COMMENT")
	b.Write([]byte{0xff, 0xfe})
	binary.Write(&b, binary.BigEndian, uint16(len(com)+2))
	b.Write(com)
	b.Write(j[2:])
	return b.Bytes()
}

// WebP files with one pixel: lossless (VP8L) and lossy (VP8), as used by feature detection.
func webpLossless(t testing.TB) []byte {
	b, err := base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func webpLossy(t testing.TB) []byte {
	b, err := base64.StdEncoding.DecodeString("UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const svg = `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>`
