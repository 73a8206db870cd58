package pdq

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// MatchDistance is the distance at which two PDQ hashes are taken to show the same picture.
const MatchDistance = 31

// MinQuality is the quality below which a hash is too weak to act on.
const MinQuality = 50

// Entry is a stored hash and the caller's identifier for it (a list entry's row, for example;
// labels live with the caller, so the index stays at a fixed size per hash).
type Entry struct {
	Hash Hash
	ID   int64
}

// Match is a stored hash found near a query.
type Match struct {
	ID       int64
	Hash     Hash
	Distance int
	// Transform is the index in Dihedral of the query hash that matched best (QueryDihedral);
	// 0 for Query.
	Transform int
}

const (
	slots    = 16 // 256 bits in 16 slots of 16 bits
	slotBits = 16
	buckets  = 1 << slotBits
)

// Index answers "which stored hashes are within d of this one" without comparing against
// every stored hash: multi-index hashing (Norouzi, Punjani and Fleet, 2012). The 256 bits are
// cut into 16 slots of 16 bits, each slot has a table from its value to the hashes with that
// value. By the pigeonhole principle, two hashes within d ≤ 31 differ by at most one bit in
// at least one slot (16 slots with 2 or more differing bits would make 32), so probing each
// slot's value and its 16 one-bit neighbours finds every match; for d ≤ 15 one slot agrees
// exactly and the neighbours are not needed. Candidates are verified by the full distance,
// so results equal a linear scan's. Above 31 the index falls back to a linear scan.
//
// An Index is immutable once built and safe for concurrent queries.
type Index struct {
	hashes [][4]uint64
	ids    []int64
	// For slot s, post[s][off[s][v]:off[s][v+1]] are the positions of the hashes whose slot s
	// has value v: one sorted array instead of 65,536 small slices, which would cost a slice
	// header each and scatter in memory.
	off  [slots][]uint32
	post [slots][]uint32
	// pre[s][k] is a copy of 128 of the 192 bits outside slot s (words filterWord(s) and the
	// next) of the hash at post[s][k]. Read in order with the postings, it rejects nearly every
	// candidate without touching the hash itself: two random hashes are within 31 bits on 128
	// of them about once in a billion. At 10M hashes each touch of the hash array is a cache
	// miss, and those misses were what a query cost: 128 more bytes a hash (16 slots × 8
	// more bytes than a 64-bit filter) bought about 8× the queries per second.
	pre [slots][][2]uint64
}

// filterWord is the first of the two words copied into slot s's postings: the two words
// after the one slot s is in.
func filterWord(s int) int { return (s>>2 + 1) & 3 }

// NewIndex builds an index of entries: about 360 bytes a hash (the hash, the ID, and per
// slot a 4-byte posting and a 16-byte filter) plus 4 MiB of bucket offsets. Positions are 32-bit, so it holds
// fewer than 2³² hashes.
func NewIndex(entries []Entry) (*Index, error) {
	if uint64(len(entries)) >= math.MaxUint32 {
		return nil, fmt.Errorf("pdq: new index: %d hashes, more than one index holds", len(entries))
	}
	ix := &Index{
		hashes: make([][4]uint64, len(entries)),
		ids:    make([]int64, len(entries)),
	}
	for i, e := range entries {
		ix.hashes[i] = e.Hash.words()
		ix.ids[i] = e.ID
	}
	// A counting sort per slot: two passes over the hashes, no comparison sort.
	for s := range slots {
		off := make([]uint32, buckets+1)
		for _, w := range ix.hashes {
			off[slotOf(&w, s)+1]++
		}
		for v := 1; v <= buckets; v++ {
			off[v] += off[v-1]
		}
		post := make([]uint32, len(ix.hashes))
		pre := make([][2]uint64, len(ix.hashes))
		next := make([]uint32, buckets)
		copy(next, off[:buckets])
		fw := filterWord(s)
		for i := range ix.hashes {
			v := slotOf(&ix.hashes[i], s)
			post[next[v]] = uint32(i)
			pre[next[v]] = [2]uint64{ix.hashes[i][fw], ix.hashes[i][(fw+1)&3]}
			next[v]++
		}
		ix.off[s], ix.post[s], ix.pre[s] = off, post, pre
	}
	return ix, nil
}

// slotOf returns slot s (0 = the first four hex digits).
func slotOf(w *[4]uint64, s int) uint32 {
	return uint32(w[s>>2]>>(48-16*(s&3))) & 0xffff
}

func distance(a, b *[4]uint64) int {
	return bits.OnesCount64(a[0]^b[0]) + bits.OnesCount64(a[1]^b[1]) +
		bits.OnesCount64(a[2]^b[2]) + bits.OnesCount64(a[3]^b[3])
}

// Len is the number of stored hashes.
func (ix *Index) Len() int { return len(ix.hashes) }

// Bytes is the memory the index holds, for capacity planning.
func (ix *Index) Bytes() int64 {
	n := int64(len(ix.hashes))*32 + int64(len(ix.ids))*8
	for s := range slots {
		n += int64(len(ix.off[s]))*4 + int64(len(ix.post[s]))*4 + int64(len(ix.pre[s]))*16
	}
	return n
}

// Query returns every stored hash within maxDist of h, nearest first (then by ID).
func (ix *Index) Query(h Hash, maxDist int) []Match {
	var out []Match
	q := h.words()
	ix.query(&q, maxDist, func(pos uint32, d int) {
		out = append(out, Match{ID: ix.ids[pos], Hash: wordsHash(&ix.hashes[pos]), Distance: d})
	})
	sortMatches(out)
	return out
}

// QueryDihedral probes with all eight hashes of HashDihedral, so a stored picture is found
// when the query is a rotated or mirrored copy of it. Each stored hash is reported once, at
// its smallest distance, with the transform that reached it.
func (ix *Index) QueryDihedral(hs [8]Hash, maxDist int) []Match {
	var out []Match
	var at map[uint32]int // position → index in out, only once a second transform matches
	for t, h := range hs {
		if t > 0 && h == hs[0] {
			continue // symmetric pictures give repeated hashes; one probe is enough
		}
		q := h.words()
		ix.query(&q, maxDist, func(pos uint32, d int) {
			if at == nil {
				at = make(map[uint32]int)
			}
			if i, ok := at[pos]; ok {
				if d < out[i].Distance {
					out[i].Distance, out[i].Transform = d, t
				}
				return
			}
			at[pos] = len(out)
			out = append(out, Match{ID: ix.ids[pos], Hash: wordsHash(&ix.hashes[pos]), Distance: d, Transform: t})
		})
	}
	sortMatches(out)
	return out
}

// Scan is Query by comparing with every stored hash: the baseline the index is measured and
// tested against.
func (ix *Index) Scan(h Hash, maxDist int) []Match {
	var out []Match
	q := h.words()
	ix.scan(&q, maxDist, func(pos uint32, d int) {
		out = append(out, Match{ID: ix.ids[pos], Hash: wordsHash(&ix.hashes[pos]), Distance: d})
	})
	sortMatches(out)
	return out
}

func (ix *Index) scan(q *[4]uint64, maxDist int, found func(uint32, int)) {
	for i := range ix.hashes {
		if d := distance(q, &ix.hashes[i]); d <= maxDist {
			found(uint32(i), d)
		}
	}
}

// query calls found once for every stored hash within maxDist of q.
func (ix *Index) query(q *[4]uint64, maxDist int, found func(uint32, int)) {
	if maxDist < 0 {
		return
	}
	// radius is how far from the query's value each slot is probed.
	radius := maxDist / slots
	if radius > 1 {
		ix.scan(q, maxDist, found)
		return
	}
	var qs [slots]uint32
	for s := range slots {
		qs[s] = slotOf(q, s)
	}
	for s := range slots {
		off, post, pre := ix.off[s], ix.post[s], ix.pre[s]
		fw := filterWord(s)
		qw := [2]uint64{q[fw], q[(fw+1)&3]}
		v := qs[s]
		lo, hi := off[v], off[v+1]
		ix.verify(post[lo:hi], pre[lo:hi], q, qw, &qs, s, radius, maxDist, found)
		if radius == 1 {
			for b := range slotBits {
				u := v ^ 1<<b
				lo, hi := off[u], off[u+1]
				ix.verify(post[lo:hi], pre[lo:hi], q, qw, &qs, s, radius, maxDist, found)
			}
		}
	}
}

// verify checks the candidates of one bucket of slot s: first the distance on the copied
// 128 bits (a lower bound of the full distance, read in order), then the full distance.
func (ix *Index) verify(bucket []uint32, pre [][2]uint64, q *[4]uint64, qw [2]uint64, qs *[slots]uint32, s, radius, maxDist int, found func(uint32, int)) {
	pre = pre[:len(bucket)]
	for k, pos := range bucket {
		if bits.OnesCount64(pre[k][0]^qw[0])+bits.OnesCount64(pre[k][1]^qw[1]) > maxDist {
			continue
		}
		ix.report(pos, distance(q, &ix.hashes[pos]), qs, s, radius, maxDist, found)
	}
}

// report passes on a candidate within maxDist, unless an earlier slot already had it: a
// hash that also lies within the radius in a slot probed before s was reported there. That
// rule reports each match once without a "seen" set.
func (ix *Index) report(pos uint32, d int, qs *[slots]uint32, s, radius, maxDist int, found func(uint32, int)) {
	if d > maxDist {
		return
	}
	w := &ix.hashes[pos]
	for e := range s {
		if bits.OnesCount32(slotOf(w, e)^qs[e]) <= radius {
			return
		}
	}
	found(pos, d)
}

func wordsHash(w *[4]uint64) Hash {
	var h Hash
	for i := range 4 {
		for j := range 8 {
			h[i*8+j] = byte(w[i] >> (56 - 8*j))
		}
	}
	return h
}

func sortMatches(m []Match) {
	slices.SortFunc(m, func(a, b Match) int {
		if c := cmp.Compare(a.Distance, b.Distance); c != 0 {
			return c
		}
		if c := cmp.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return slices.Compare(a.Hash[:], b.Hash[:])
	})
}
