package pdq

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// maxJPEGDistance is what the issue allows between Go's JPEG decoder and libjpeg-turbo.
const maxJPEGDistance = 4

// readCSV reads the reference's `hash,…,quality,file` lines.
func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			rows = append(rows, strings.Split(line, ","))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no rows", path)
	}
	return rows
}

func decodeFile(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := Decode(f, DefaultLimits)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func TestReferenceJPEGs(t *testing.T) {
	dir := testdataDir(t)
	rows := readCSV(t, filepath.Join(dir, "expected-cpp.csv"))
	worst := 0
	for _, r := range rows {
		if len(r) != 3 {
			t.Fatalf("bad row %q", r)
		}
		want := mustParse(t, r[0])
		wantQ, _ := strconv.Atoi(r[1])
		got, q := HashImage(decodeFile(t, filepath.Join(dir, "images", r[2])))
		d := got.Distance(want)
		worst = max(worst, d)
		t.Logf("%-32s distance %d  quality %d (reference %d)", r[2], d, q, wantQ)
		if d > maxJPEGDistance {
			t.Errorf("%s: distance %d from the reference, want ≤ %d: got %s, want %s", r[2], d, maxJPEGDistance, got, want)
		}
		if q < wantQ-5 || q > wantQ+5 {
			t.Errorf("%s: quality %d, reference %d", r[2], q, wantQ)
		}
	}
	t.Logf("%d JPEGs, worst distance %d", len(rows), worst)
}

func TestReferenceDihedralJPEG(t *testing.T) {
	dir := testdataDir(t)
	rows := readCSV(t, filepath.Join(dir, "expected-cpp-dihedral.csv"))
	for _, r := range rows {
		if len(r) != 10 {
			t.Fatalf("bad row %q", r)
		}
		got, _ := HashDihedral(decodeFile(t, filepath.Join(dir, "images", r[9])))
		for i := range 8 {
			d := got[i].Distance(mustParse(t, r[i]))
			t.Logf("%s %-6s distance %d", r[9], Dihedral[i], d)
			if d > maxJPEGDistance {
				t.Errorf("%s %s: distance %d, want ≤ %d", r[9], Dihedral[i], d, maxJPEGDistance)
			}
		}
	}
}

// The dihedral hashes derived from the DCT must be near the hashes of the transformed photos
// (the reference's own dih-bridge files): a check of the transform table that does not rely
// on the reference's dihedral output.
func TestDihedralMatchesTransformedFiles(t *testing.T) {
	dir := testdataDir(t)
	files := []string{"dih-bridge-1-original.jpg", "dih-bridge-2-rotate-90.jpg", "dih-bridge-3-rotate-180.jpg",
		"dih-bridge-4-rotate-270.jpg", "dih-bridge-5-flipx.jpg", "dih-bridge-6-flipy.jpg",
		"dih-bridge-7-flip-plus-1.jpg", "dih-bridge-8-flip-minus-1.jpg"}
	dih, _ := HashDihedral(decodeFile(t, filepath.Join(dir, "images", files[0])))
	for i, f := range files {
		h, _ := HashImage(decodeFile(t, filepath.Join(dir, "images", f)))
		d := h.Distance(dih[i])
		t.Logf("%s vs %s of the original: distance %d", f, Dihedral[i], d)
		if d > 31 {
			t.Errorf("%s: distance %d from the original's %s hash, want a match (≤ 31)", f, d, Dihedral[i])
		}
	}
}

func TestPNGRoundTrip(t *testing.T) {
	for _, size := range []int{96, 600} {
		img := synthetic(size, size)
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		dec, format, err := Decode(&buf, DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		if format != FormatPNG {
			t.Errorf("format %q", format)
		}
		want, wq := HashImage(img)
		got, q := HashImage(dec)
		if got != want || q != wq {
			t.Errorf("%d: PNG round trip: %s/%d, want %s/%d", size, got, q, want, wq)
		}
	}
}

// pngHeader is a valid PNG signature and IHDR chunk claiming w×h, with no pixel data.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeHostile(t *testing.T) {
	jpg, err := os.ReadFile(filepath.Join(testdataDir(t), "images", "square-128x128.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	small := encodePNG(t, synthetic(40, 40))
	tests := []struct {
		name    string
		data    []byte
		lim     Limits
		wantErr error // nil: any error
	}{
		{"empty", nil, DefaultLimits, ErrUnknownFormat},
		{"not an image", []byte("<html><body>hello</body></html>"), DefaultLimits, ErrUnknownFormat},
		{"truncated JPEG", jpg[:len(jpg)/2], DefaultLimits, nil},
		{"JPEG magic only", jpg[:3], DefaultLimits, nil},
		{"truncated PNG", small[:len(small)/2], DefaultLimits, nil},
		{"PNG header 100000×100000, no data", pngHeader(100000, 100000), DefaultLimits, ErrTooLarge},
		{"PNG 0×0", pngHeader(0, 0), DefaultLimits, nil},
		{"over the byte limit", small, Limits{MaxBytes: int64(len(small) - 1)}, ErrTooLarge},
		{"over the pixel limit", small, Limits{MaxPixels: 40*40 - 1}, ErrTooLarge},
		{"GIF magic only", []byte("GIF89a"), DefaultLimits, nil},
		{"WebP RIFF only", []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), DefaultLimits, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, _, err := Decode(bytes.NewReader(tc.data), tc.lim)
			if err == nil {
				t.Fatalf("decoded %v, want an error", img.Bounds())
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %q, want %q", err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "pdq: ") {
				t.Errorf("error %q does not say where it comes from", err)
			}
		})
	}
}

// The 100000×100000 header must be refused from the header alone: a decoder that started on
// it would ask for 30 GB.
func TestBombRefusedBeforeAllocating(t *testing.T) {
	data := pngHeader(100000, 100000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := Decode(bytes.NewReader(data), DefaultLimits)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("allocated %d bytes refusing a bomb", got)
	}
}

func TestStrips(t *testing.T) {
	tests := []struct {
		w, h        int
		zero        bool
		wantQuality int // -1: any
	}{
		{1, 100000, false, -1}, // squashed to 512×512 first, as the reference does
		{100000, 1, false, -1},
		{4, 300, true, 0},
		{300, 4, true, 0},
	}
	for _, tc := range tests {
		data := encodePNG(t, synthetic(tc.w, tc.h))
		img, _, err := Decode(bytes.NewReader(data), DefaultLimits)
		if err != nil {
			t.Fatalf("%d×%d: %v", tc.w, tc.h, err)
		}
		h, q := HashImage(img)
		if h.IsZero() != tc.zero || (tc.wantQuality >= 0 && q != tc.wantQuality) {
			t.Errorf("%d×%d: hash %s quality %d, want zero=%v", tc.w, tc.h, h, q, tc.zero)
		}
		dh, dq := HashDihedral(img)
		if dh[0] != h || dq != q {
			t.Errorf("%d×%d: HashDihedral orig %s/%d differs from HashImage %s/%d", tc.w, tc.h, dh[0], dq, h, q)
		}
	}
	// An image.Image with empty bounds (not decodable from a file, but a caller may pass one).
	if h, q := HashImage(image.NewRGBA(image.Rectangle{})); !h.IsZero() || q != 0 {
		t.Errorf("0×0: %s %d", h, q)
	}
}

func TestAnimatedGIFFirstFrame(t *testing.T) {
	first := synthetic(96, 96)
	frames := []*image.Paletted{image.NewPaletted(first.Bounds(), palette.Plan9), image.NewPaletted(first.Bounds(), palette.Plan9)}
	for y := range 96 {
		for x := range 96 {
			frames[0].Set(x, y, first.At(x, y))
			frames[1].Set(x, y, color.Gray{Y: uint8(255 - (x+y)%256)})
		}
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, &gif.GIF{Image: frames, Delay: []int{10, 10}}); err != nil {
		t.Fatal(err)
	}
	img, format, err := Decode(&buf, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if format != FormatGIF {
		t.Errorf("format %q", format)
	}
	got, _ := HashImage(img)
	want0, _ := HashImage(frames[0])
	want1, _ := HashImage(frames[1])
	if got != want0 {
		t.Errorf("GIF hash %s, want the first frame's %s (second frame: %s)", got, want0, want1)
	}
}

func TestDecodeFormats(t *testing.T) {
	img := synthetic(96, 96)
	var jbuf bytes.Buffer
	if err := jpeg.Encode(&jbuf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	dec, format, err := Decode(&jbuf, DefaultLimits)
	if err != nil || format != FormatJPEG {
		t.Fatalf("JPEG: %v %q", err, format)
	}
	want, _ := HashImage(img)
	got, _ := HashImage(dec)
	t.Logf("JPEG q95 of the 96×96 pattern: distance %d from the lossless hash", got.Distance(want))
	if d := got.Distance(want); d > 31 {
		t.Errorf("JPEG re-encode: distance %d", d)
	}
}

// The WebP branch is reached and refuses a bomb from its header alone. (The standard library
// has no WebP encoder, so a valid WebP round trip is not tested here.)
func TestWebPHeaderBomb(t *testing.T) {
	// VP8L header: signature 0x2f, then 14-bit width-1 and height-1.
	w, h := uint32(16384), uint32(16384)
	bitsField := (w - 1) | (h-1)<<14
	vp8l := []byte{0x2f, byte(bitsField), byte(bitsField >> 8), byte(bitsField >> 16), byte(bitsField >> 24)}
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(4+8+len(vp8l)+1))
	b.WriteString("WEBPVP8L")
	binary.Write(&b, binary.LittleEndian, uint32(len(vp8l)))
	b.Write(vp8l)
	b.WriteByte(0)
	_, format, err := Decode(&b, DefaultLimits)
	if format != FormatWebP || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("format %q err %v, want webp and ErrTooLarge", format, err)
	}
}
