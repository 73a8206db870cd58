package pdq

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Timing is measured here and in bench/pdqbench, never asserted.

func BenchmarkHashImage(b *testing.B) {
	for _, s := range []struct{ w, h int }{{512, 512}, {1024, 768}} {
		img := synthetic(s.w, s.h)
		b.Run(fmt.Sprintf("%dx%d", s.w, s.h), func(b *testing.B) {
			for b.Loop() {
				HashImage(img)
			}
		})
	}
}

func BenchmarkHashDihedral(b *testing.B) {
	img := synthetic(512, 512)
	for b.Loop() {
		HashDihedral(img)
	}
}

func BenchmarkDecodeHashJPEG(b *testing.B) {
	for _, s := range []struct{ w, h int }{{512, 512}, {1024, 768}} {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, synthetic(s.w, s.h), &jpeg.Options{Quality: 90}); err != nil {
			b.Fatal(err)
		}
		data := buf.Bytes()
		b.Run(fmt.Sprintf("%dx%d", s.w, s.h), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, _, err := HashReader(bytes.NewReader(data), DefaultLimits); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var (
	benchIndexOnce sync.Once
	benchIndex     *Index
	benchQueries   []Hash
)

// benchSet is 1M uniform random hashes, built once for the matcher benchmarks.
func benchSet() (*Index, []Hash) {
	benchIndexOnce.Do(func() {
		r := rand.New(rand.NewPCG(1, 1))
		hs := make([]Entry, 1_000_000)
		for i := range hs {
			hs[i] = Entry{Hash: randomHash(r), ID: int64(i)}
		}
		benchIndex, _ = NewIndex(hs)
		for i := range 1000 {
			q := randomHash(r)
			if i%2 == 0 {
				q = flip(r, hs[r.IntN(len(hs))].Hash, r.IntN(32))
			}
			benchQueries = append(benchQueries, q)
		}
	})
	return benchIndex, benchQueries
}

func BenchmarkIndexQuery1M(b *testing.B) {
	ix, qs := benchSet()
	i := 0
	for b.Loop() {
		ix.Query(qs[i%len(qs)], MatchDistance)
		i++
	}
}

func BenchmarkLinearScan1M(b *testing.B) {
	ix, qs := benchSet()
	i := 0
	for b.Loop() {
		ix.Scan(qs[i%len(qs)], MatchDistance)
		i++
	}
}

func BenchmarkHashPhotoJPEG512(b *testing.B) {
	f, err := os.Open(filepath.Join(testdata, "images", "square-512x512.jpg"))
	if err != nil {
		b.Skip(err)
	}
	defer f.Close()
	img, _, err := Decode(f, DefaultLimits)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		HashImage(img)
	}
}
