package pdq

import (
	"bytes"
	"image/gif"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fuzzLimits are small so that the fuzzer explores the refusal paths and each input stays cheap.
var fuzzLimits = Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 18}

// allocBound is what one Decode may allocate under fuzzLimits: the input copy, the decoders'
// working buffers (a progressive JPEG keeps its coefficients: about 12 bytes a pixel, plus the
// image) and slack for the runtime. Anything past it means a header slipped past the guard.
const allocBound = 4*(1<<20) + 32*(1<<18) + 4<<20

// FuzzDecode checks the guard: Decode never panics, never returns an image past the limits,
// and never allocates past allocBound. Run it with a short -fuzzminimizetime (for example
// `go test ./scanner/pdq -run XXX -fuzz FuzzDecode -fuzztime 1m -fuzzminimizetime 2s`): the
// default minimisation of each new input, which measures memory around every call, can stall
// progress reports for a minute.
func FuzzDecode(f *testing.F) {
	small := func(kind string) []byte {
		var b bytes.Buffer
		img := synthetic(24, 17)
		switch kind {
		case "png":
			return encodePNG(f, img)
		case "jpeg":
			jpeg.Encode(&b, img, nil)
		case "gif":
			gif.Encode(&b, img, nil)
		}
		return b.Bytes()
	}
	f.Add(small("png"))
	f.Add(small("jpeg"))
	f.Add(small("gif"))
	f.Add(pngHeader(100000, 100000))
	f.Add(pngHeader(512, 1))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8L\x05\x00\x00\x00\x2f\xff\xff\xff\xff"))
	f.Add([]byte("GIF89a\xff\xff\xff\xff"))
	if jpg, err := os.ReadFile(filepath.Join(testdata, "images", "shrink-a-lot.jpg")); err == nil {
		f.Add(jpg)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		img, format, err := Decode(bytes.NewReader(data), fuzzLimits)
		runtime.ReadMemStats(&after)
		if a := after.TotalAlloc - before.TotalAlloc; a > allocBound {
			t.Fatalf("Decode (%s, err %v) allocated %d bytes, bound %d", format, err, a, allocBound)
		}
		if err != nil {
			if img != nil {
				t.Fatal("image and error")
			}
			if !strings.HasPrefix(err.Error(), "pdq: ") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		b := img.Bounds()
		if px := int64(b.Dx()) * int64(b.Dy()); px > fuzzLimits.MaxPixels || px <= 0 {
			t.Fatalf("decoded %v past the limit", b)
		}
		h, q := HashImage(img)
		if q < 0 || q > 100 || (h.IsZero() && q != 0 && (b.Dx() < 5 || b.Dy() < 5)) {
			t.Fatalf("hash %s quality %d for %v", h, q, b)
		}
	})
}

func FuzzParseHash(f *testing.F) {
	f.Add("d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22")
	f.Add(strings.Repeat("F", 64))
	f.Add(strings.Repeat("0", 63) + "x")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHash(s)
		if err != nil {
			if h != (Hash{}) {
				t.Fatal("hash returned with an error")
			}
			return
		}
		if !strings.EqualFold(h.String(), s) {
			t.Fatalf("%q parsed as %s", s, h)
		}
		if h2, err := ParseHash(h.String()); err != nil || h2 != h {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseHashList(f *testing.F) {
	f.Add([]byte("# a list\npdq d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22\n\nmd5 d41d8cd98f00b204e9800998ecf8427e\n"))
	f.Add([]byte("\xef\xbb\xbfd8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22\r\n"))
	f.Add([]byte("pdq zz\n"))
	f.Add([]byte("pdq\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseHashList(bytes.NewReader(data))
		if err != nil {
			if len(l.Entries) != 0 || !strings.Contains(err.Error(), "line") {
				t.Fatalf("error %v with %d entries", err, len(l.Entries))
			}
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		prev := 0
		for _, e := range l.Entries {
			if e.Line <= prev || e.Line > lines {
				t.Fatalf("line %d after %d (of %d)", e.Line, prev, lines)
			}
			prev = e.Line
			if !bytes.Contains(bytes.ToLower(data), []byte(e.Hash.String())) {
				t.Fatalf("hash %s not in the input", e.Hash)
			}
		}
	})
}
