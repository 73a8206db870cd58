package pdq

import (
	"bufio"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readHashes(t *testing.T, path string) []Hash {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Hash
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, mustParse(t, s))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func randomHash(r *rand.Rand) Hash {
	var h Hash
	for i := range h {
		h[i] = byte(r.Uint32())
	}
	return h
}

// flip returns h with n distinct random bits inverted.
func flip(r *rand.Rand, h Hash, n int) Hash {
	for _, k := range r.Perm(256)[:n] {
		h[k/8] ^= 1 << (k % 8)
	}
	return h
}

// clustered makes near-duplicate clusters, like real hash sets: each base hash with copies
// at distances spread across the match threshold.
func clustered(r *rand.Rand, bases, perCluster int) []Hash {
	var out []Hash
	for range bases {
		b := randomHash(r)
		out = append(out, b)
		for range perCluster - 1 {
			out = append(out, flip(r, b, r.IntN(48)))
		}
	}
	return out
}

func entries(hs []Hash) []Entry {
	e := make([]Entry, len(hs))
	for i, h := range hs {
		e[i] = Entry{Hash: h, ID: int64(i)}
	}
	return e
}

// checkAgainstScan compares the index with the linear scan for every query and distance.
func checkAgainstScan(t *testing.T, ix *Index, queries []Hash, dists []int) (matches int) {
	t.Helper()
	for _, d := range dists {
		for qi, q := range queries {
			got, want := ix.Query(q, d), ix.Scan(q, d)
			if !slices.Equal(got, want) {
				t.Fatalf("query %d (%s) at distance %d: index returned %d matches, linear scan %d",
					qi, q, d, len(got), len(want))
			}
			matches += len(want)
		}
	}
	return matches
}

// Scan is the reference the index is checked against, so it is checked on its own first.
func TestScanIsBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	hs := clustered(r, 20, 10)
	ix := mustIndex(t, entries(hs))
	q := hs[0]
	got := ix.Scan(q, 31)
	n := 0
	for _, h := range hs {
		if q.Distance(h) <= 31 {
			n++
		}
	}
	if len(got) != n || n < 2 {
		t.Fatalf("Scan found %d, brute force %d", len(got), n)
	}
}

func TestIndexNeedlesHaystack(t *testing.T) {
	dir := testdataDir(t)
	needles := readHashes(t, filepath.Join(dir, "needles.txt"))
	hay := readHashes(t, filepath.Join(dir, "haystack.txt"))
	ix := mustIndex(t, entries(hay))
	m := checkAgainstScan(t, ix, needles, []int{0, 1, 10, 15, 16, 20, 31, 32, 40})
	at31 := 0
	for _, q := range needles {
		at31 += len(ix.Query(q, MatchDistance))
	}
	t.Logf("%d needles × %d haystack hashes: %d matches over all distances, %d at ≤ 31", len(needles), len(hay), m, at31)
	if at31 == 0 {
		t.Fatal("no matches at 31: the regression data should have some")
	}
}

func TestIndexRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name string
		hay  []Hash
	}{
		{"uniform", func() []Hash {
			hs := make([]Hash, 20000)
			for i := range hs {
				hs[i] = randomHash(r)
			}
			return hs
		}()},
		{"clustered", clustered(r, 500, 40)},
		{"one slot shared", func() []Hash {
			// Hashes equal to a base in one slot only: the worst case for a slot table.
			base := randomHash(r)
			hs := make([]Hash, 5000)
			for i := range hs {
				hs[i] = randomHash(r)
				copy(hs[i][4:6], base[4:6])
			}
			return hs
		}()},
		{"duplicates", func() []Hash {
			h := randomHash(r)
			return []Hash{h, h, h, flip(r, h, 31), flip(r, h, 32)}
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ix := mustIndex(t, entries(tc.hay))
			var queries []Hash
			for range 100 {
				// Near copies of stored hashes (at the edges of the radius) and fresh ones.
				h := tc.hay[r.IntN(len(tc.hay))]
				queries = append(queries, flip(r, h, r.IntN(40)), flip(r, h, 31), flip(r, h, 15), flip(r, h, 16), randomHash(r))
			}
			m := checkAgainstScan(t, ix, queries, []int{0, 15, 16, 31, 32})
			t.Logf("%d hashes, %d queries: %d matches", len(tc.hay), len(queries), m)
			if m == 0 {
				t.Fatal("no matches: the test would not notice a broken index")
			}
		})
	}
}

// At exactly 31 with every slot but one differing in two bits, only the one-bit probes of
// the remaining slot can find the hash: the pigeonhole edge.
func TestIndexPigeonholeEdge(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	q := randomHash(r)
	for lone := range slots {
		h := q
		for s := range slots {
			n := 2
			if s == lone {
				n = 1
			}
			// Flip n bits inside slot s (bytes 2s and 2s+1).
			for _, b := range r.Perm(16)[:n] {
				h[2*s+b/8] ^= 1 << (b % 8)
			}
		}
		if d := q.Distance(h); d != 31 {
			t.Fatalf("built distance %d", d)
		}
		ix := mustIndex(t, []Entry{{Hash: h, ID: 7}})
		if got := ix.Query(q, 31); len(got) != 1 || got[0].ID != 7 || got[0].Distance != 31 {
			t.Errorf("lone slot %d: %v", lone, got)
		}
		if got := ix.Query(q, 30); len(got) != 0 {
			t.Errorf("lone slot %d at 30: %v", lone, got)
		}
	}
}

func TestQueryDihedral(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	hay := clustered(r, 200, 20)
	ix := mustIndex(t, entries(hay))
	for range 50 {
		var hs [8]Hash
		for i := range hs {
			hs[i] = flip(r, hay[r.IntN(len(hay))], r.IntN(40))
		}
		got := ix.QueryDihedral(hs, MatchDistance)
		// Linear reference: each stored hash at its smallest distance over the eight.
		var want []Match
		for pos, h := range hay {
			best, bt := 257, 0
			for t, q := range hs {
				if d := q.Distance(h); d < best {
					best, bt = d, t
				}
			}
			if best <= MatchDistance {
				want = append(want, Match{ID: int64(pos), Hash: h, Distance: best, Transform: bt})
			}
		}
		sortMatches(want)
		if len(got) != len(want) {
			t.Fatalf("QueryDihedral found %d, linear %d", len(got), len(want))
		}
		for i := range got {
			// The transform may differ on a tie; the distance may not.
			if got[i].ID != want[i].ID || got[i].Distance != want[i].Distance ||
				hs[got[i].Transform].Distance(got[i].Hash) != got[i].Distance {
				t.Fatalf("match %d: %+v, want %+v", i, got[i], want[i])
			}
		}
	}
}

func TestIndexEmpty(t *testing.T) {
	ix := mustIndex(t, nil)
	if got := ix.Query(Hash{}, 31); len(got) != 0 {
		t.Fatal(got)
	}
	if ix.Len() != 0 || ix.Bytes() == 0 {
		t.Fatalf("Len %d Bytes %d", ix.Len(), ix.Bytes())
	}
}

func TestHashBits(t *testing.T) {
	// Bit 0 is the lowest bit of w[0], the last word printed.
	var h Hash
	h.setBit(0)
	if got := h.String(); got != strings.Repeat("0", 63)+"1" {
		t.Errorf("bit 0: %s", got)
	}
	h = Hash{}
	h.setBit(255)
	if got := h.String(); got != "8"+strings.Repeat("0", 63) {
		t.Errorf("bit 255: %s", got)
	}
	h = Hash{}
	h.setBit(8) // bit 8 of w[0]: the high byte of the last word
	if got := h.String(); got != strings.Repeat("0", 60)+"0100" {
		t.Errorf("bit 8: %s", got)
	}
	a := mustParse(t, "F0A10EFD51C83D429053D48D0FFFBC52E34E0E17ADA956A9D29685211EA9E58F")
	if a.String() != "f0a10efd51c83d429053d48d0fffbc52e34e0e17ada956a9d29685211ea9e58f" {
		t.Errorf("round trip %s", a)
	}
	if d := a.Distance(a); d != 0 {
		t.Error(d)
	}
	if d := a.Distance(flip(rand.New(rand.NewPCG(1, 1)), a, 37)); d != 37 {
		t.Errorf("distance %d, want 37", d)
	}
	var ones Hash
	for i := range ones {
		ones[i] = 0xff
	}
	if d := ones.Distance(Hash{}); d != 256 {
		t.Errorf("distance %d", d)
	}
	for _, bad := range []string{"", "00", strings.Repeat("g", 64), strings.Repeat("0", 65), " " + strings.Repeat("0", 63)} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) accepted", bad)
		}
	}
}

func mustIndex(t testing.TB, e []Entry) *Index {
	t.Helper()
	ix, err := NewIndex(e)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// The postings' 128-bit filter is a lower bound: a hash whose differences sit almost all in
// the filtered words must still be found at exactly 31.
func TestIndexFilterEdge(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	q := randomHash(r)
	for word := range 4 {
		h := q
		// One bit in the word's first slot, 30 in the next two words (bytes 8w..8w+7).
		h[8*word] ^= 1
		for _, b := range r.Perm(128)[:30] {
			w := (word + 1 + b/64) & 3
			bit := b % 64
			h[8*w+bit/8] ^= 1 << (bit % 8)
		}
		if d := q.Distance(h); d != 31 {
			t.Fatalf("built distance %d", d)
		}
		ix := mustIndex(t, []Entry{{Hash: h, ID: 1}})
		if got := ix.Query(q, 31); len(got) != 1 || got[0].Distance != 31 {
			t.Errorf("word %d: %v", word, got)
		}
		if got := ix.Query(q, 30); len(got) != 0 {
			t.Errorf("word %d at 30: %v", word, got)
		}
	}
}
