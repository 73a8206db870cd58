package lists

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
)

// The hash of a name is built label by label from the right, so that walking a query name from
// its TLD towards its first label yields the hash of every suffix at the cost of hashing the name
// once. Every List in the process shares one random seed, so one hash per suffix serves all the
// lists of a Set, and a list cannot be crafted offline to collide.
var seed = rand.Uint64()

const (
	k0 = 0xa0761d6478bd642f
	k1 = 0xe7037ed1a0b428db
)

// mix folds a word into the state (the folded 128-bit product of wyhash).
func mix(h, w uint64) uint64 {
	hi, lo := bits.Mul64(h^w^k0, k1)
	return hi ^ lo
}

// lower8 lowercases the ASCII letters among the 8 bytes of x and leaves other bytes alone.
func lower8(x uint64) uint64 {
	const (
		low7 = 0x7f7f7f7f7f7f7f7f
		high = 0x8080808080808080
	)
	b := x & low7
	geA := b + 0x3f3f3f3f3f3f3f3f // high bit set where b >= 'A'
	gtZ := b + 0x2525252525252525 // high bit set where b > 'Z'
	upper := geA &^ gtZ &^ x & high
	return x | upper>>2
}

// hashLabel folds the label name[start:end] into h, lowercasing ASCII letters on the fly. The
// label length is folded in with the last word, so "ab"+"c" and "a"+"bc" differ. The last
// 0..7 bytes are read with one load that may reach outside the label (but not outside name)
// and are shifted into place: a switch on the length would cost a branch misprediction per label.
func hashLabel(h uint64, name []byte, start, end int) uint64 {
	i := start
	for ; end-i >= 8; i += 8 {
		h = mix(h, lower8(binary.LittleEndian.Uint64(name[i:])))
	}
	r := uint(end-i) * 8 // bits left: 0..56
	var w uint64
	switch {
	case end >= 8:
		w = binary.LittleEndian.Uint64(name[end-8:]) >> (64 - r)
	case len(name) >= 8:
		w = binary.LittleEndian.Uint64(name) >> (uint(i) * 8) & (1<<r - 1)
	default:
		for j := end - 1; j >= i; j-- {
			w = w<<8 | uint64(name[j])
		}
	}
	return mix(h, lower8(w)|uint64(end-start)<<56)
}

// lastDot returns the index of the last '.' in name[:end], or -1. It tests 8 bytes at a time.
func lastDot(name []byte, end int) int {
	const (
		dots = 0x2e2e2e2e2e2e2e2e
		low7 = 0x7f7f7f7f7f7f7f7f
		high = 0x8080808080808080
	)
	for end >= 8 {
		x := binary.LittleEndian.Uint64(name[end-8:]) ^ dots
		// The high bit of each byte of z is set where x has a zero byte, exactly (no carries).
		if z := ^((x&low7 + low7) | x) & high; z != 0 {
			return end - 8 + (63-bits.LeadingZeros64(z))>>3
		}
		end -= 8
	}
	if end <= 0 {
		return -1
	}
	if len(name) >= 8 {
		// Bytes past end are masked to zero, which is not a dot.
		x := binary.LittleEndian.Uint64(name)&(1<<(uint(end)*8)-1) ^ dots
		if z := ^((x&low7 + low7) | x) & high; z != 0 {
			return (63 - bits.LeadingZeros64(z)) >> 3
		}
		return -1
	}
	for end > 0 {
		end--
		if name[end] == '.' {
			return end
		}
	}
	return -1
}

// hashName hashes a whole name the way Lookup and Match walk it.
func hashName(name []byte) uint64 {
	h := seed
	end := len(name)
	for {
		dot := lastDot(name, end)
		h = hashLabel(h, name, dot+1, end)
		if dot < 0 {
			return h
		}
		end = dot
	}
}

// equalFold reports whether q, ASCII-lowercased, equals the lowercase name s. len(q) == len(s).
func equalFold(s, q []byte) bool {
	if len(s) != len(q) {
		return false
	}
	for len(q) >= 8 {
		if binary.LittleEndian.Uint64(s) != lower8(binary.LittleEndian.Uint64(q)) {
			return false
		}
		s, q = s[8:], q[8:]
	}
	for i, c := range q {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if s[i] != c {
			return false
		}
	}
	return true
}
