package pdq

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"os"
	"path/filepath"
	"testing"
)

const testdata = "/work/shared/testdata/pdq"

// testdataDir finds the shared PDQ vectors; tests that need them skip when they are absent.
func testdataDir(t testing.TB) string {
	t.Helper()
	d := os.Getenv("KIDSHIELD_PDQ_TESTDATA")
	if d == "" {
		d = testdata
	}
	if _, err := os.Stat(filepath.Join(d, "expected-cpp.csv")); err != nil {
		t.Skipf("PDQ test vectors not found in %s (set KIDSHIELD_PDQ_TESTDATA)", d)
	}
	return d
}

// synthetic is the README's image-free test pattern.
func synthetic(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{
				R: uint8((x*13 + y*3) % 256),
				G: uint8((x*x + y*7) % 256),
				B: uint8((x*5 + y*y) % 256),
				A: 255,
			})
		}
	}
	return img
}

func greyOf(src image.Image) *image.Gray {
	g := image.NewGray(src.Bounds())
	draw.Draw(g, g.Bounds(), src, src.Bounds().Min, draw.Src)
	return g
}

func TestSyntheticVectors(t *testing.T) {
	tests := []struct {
		name    string
		img     image.Image
		hash    string
		quality int
	}{
		{"96x96", synthetic(96, 96), "b5583108cffd7d1fc79c7d3c32cb828b7eda02f34fdaf518b000bb10f600b4a2", 100},
		{"64x64", synthetic(64, 64), "06399aedcf71532316fbb776c924405e0baebf55d544603f81fd3700e5602fc0", 100},
		{"5x5", synthetic(5, 5), "64d96cd93b0e9b26695ad62b6499cb529b2664d9649996a59b26cb62695a96a5", 11},
		{"4x4", synthetic(4, 4), "0000000000000000000000000000000000000000000000000000000000000000", 0},
		{"600x600", synthetic(600, 600), "58c01e3b5040e77f50c0af7f54c0e3323ad1e73f50c0f4b7d4c12d3b30d2ad3f", 100},
		{"grey 96x96", greyOf(synthetic(96, 96)), "b5583108cffd7d1fc79c7d3c32cb828b7eda02f34fdaf518b000bb10f600b4a2", 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := ParseHash(tc.hash)
			if err != nil {
				t.Fatal(err)
			}
			got, q := HashImage(tc.img)
			if d := got.Distance(want); d != 0 || q != tc.quality {
				t.Errorf("HashImage = %s quality %d; want %s quality %d (distance %d)", got, q, want, tc.quality, d)
			}
		})
	}
}

func TestSyntheticDihedral(t *testing.T) {
	want := []string{
		"b5583108cffd7d1fc79c7d3c32cb828b7eda02f34fdaf518b000bb10f600b4a2",
		"891dc34dd69e29e814a4434c2be603cb29a15d1f2441435bffb0cbff12e1ccbf",
		"e00d9ba212a8d7b792cdd796671e28233b8fa8cb1a8f5fa2f55511ba23553e08",
		"dc4869e583cb834241f1e1e67eb3a9617c74f7b57114e9b1a8e5615547b46415",
		"b558cef747fd82e0c39882c332427d766e5afd8c4fda0af7a00044ef36006b5d",
		"e00d645d12a8284a92cd2869671ed7dc3b8f57361a8fa05df555ee452355c1f7",
		"a91f3cb2d69fd69f34a4bcb32be6fc342be1a2e02441bcf4ffb03c0013e13340",
		"dc48961883cb7cbd41f116197eb3569e7cf4084a7114160eaae59eaa57f499ea",
	}
	got, q := HashDihedral(synthetic(96, 96))
	if q != 100 {
		t.Errorf("quality %d, want 100", q)
	}
	for i, w := range want {
		if got[i].String() != w {
			t.Errorf("%s: got %s, want %s (distance %d)", Dihedral[i], got[i], w, got[i].Distance(mustParse(t, w)))
		}
	}
}

func mustParse(t testing.TB, s string) Hash {
	t.Helper()
	h, err := ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Workspaces are pooled: concurrent hashing of different images must not mix buffers.
func TestConcurrentHashing(t *testing.T) {
	imgs := []image.Image{synthetic(96, 96), synthetic(600, 600), synthetic(5, 5), synthetic(64, 64), synthetic(300, 40)}
	want := make([]Hash, len(imgs))
	for i, img := range imgs {
		want[i], _ = HashImage(img)
	}
	done := make(chan error, 8)
	for g := range 8 {
		go func() {
			for k := range 20 {
				i := (g + k) % len(imgs)
				if h, _ := HashImage(imgs[i]); h != want[i] {
					done <- fmt.Errorf("image %d: %s, want %s", i, h, want[i])
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
