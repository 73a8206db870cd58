package pdq

import (
	"math/rand/v2"
	"testing"
)

// mutFlipPerSlot returns q with n distinct bits flipped in every one of the 16 slots.
func mutFlipPerSlot(r *rand.Rand, q Hash, n int) Hash {
	h := q
	for s := range slots {
		for _, b := range r.Perm(16)[:n] {
			h[2*s+b/8] ^= 1 << (b % 8)
		}
	}
	return h
}

// Every slot differing by one bit (distance 16) leaves no slot equal: at maxDist 16 only
// the one-bit probes find it. Every slot differing by two bits (distance 32) is found by
// no probe of radius 1: at maxDist 32 only the linear fallback finds it.
func TestIndexEverySlotDiffers(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 20 {
		q := randomHash(r)
		one, two := mutFlipPerSlot(r, q, 1), mutFlipPerSlot(r, q, 2)
		if q.Distance(one) != 16 || q.Distance(two) != 32 {
			t.Fatalf("built distances %d and %d", q.Distance(one), q.Distance(two))
		}
		ix := mustIndex(t, []Entry{{Hash: one, ID: 1}, {Hash: two, ID: 2}})
		for _, tc := range []struct {
			maxDist int
			ids     []int64
		}{{15, nil}, {16, []int64{1}}, {31, []int64{1}}, {32, []int64{1, 2}}, {33, []int64{1, 2}}} {
			got := ix.Query(q, tc.maxDist)
			if len(got) != len(tc.ids) {
				t.Fatalf("maxDist %d: %d matches %+v, want IDs %v", tc.maxDist, len(got), got, tc.ids)
			}
			for i, id := range tc.ids {
				if got[i].ID != id {
					t.Errorf("maxDist %d: match %d is ID %d, want %d", tc.maxDist, i, got[i].ID, id)
				}
			}
		}
	}
}

// MatchDistance and MinQuality are the documented thresholds (docs/scanner.md: "Hamming
// distance ≤ 31 of 256 bits (PDQ's recommended threshold; fixed)", "quality below 50 are
// not matched"), and a query at MatchDistance finds a hash at 31 bits but not at 32.
func TestMatchThresholdsAreTheDocumentedOnes(t *testing.T) {
	if MatchDistance != 31 {
		t.Errorf("MatchDistance = %d, docs/scanner.md says 31", MatchDistance)
	}
	if MinQuality != 50 {
		t.Errorf("MinQuality = %d, docs/scanner.md says 50", MinQuality)
	}
	r := rand.New(rand.NewPCG(13, 14))
	q := randomHash(r)
	at31, at32 := flip(r, q, 31), flip(r, q, 32)
	ix := mustIndex(t, []Entry{{Hash: at31, ID: 31}, {Hash: at32, ID: 32}})
	got := ix.QueryDihedral([8]Hash{q, q, q, q, q, q, q, q}, MatchDistance)
	if len(got) != 1 || got[0].ID != 31 || got[0].Distance != 31 {
		t.Fatalf("QueryDihedral at MatchDistance: %+v, want only the hash at 31", got)
	}
}
