package lists

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
)

// Generate writes n distinct, realistic-looking domain names, one per line, to w. The output
// depends only on n and seed, so benchmarks and end-to-end tests can share a list without
// shipping one. Names have 2 to 4 labels (50%, 35%, 15%), second-level labels made of syllables
// and digits like those of real block lists, and a weighted mix of TLDs (com, net, org, vn,
// com.vn, xyz, ...); the mean length is about 19 bytes.
func Generate(w io.Writer, n int, seed int64) error {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6b696473686c6421))
	bw := bufio.NewWriterSize(w, 64<<10)
	seen := make(map[uint64]struct{}, n)
	var line []byte
	for len(seen) < n {
		line = genName(rng, line[:0])
		h := fnv.New64a()
		h.Write(line)
		k := h.Sum64()
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("generate list: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("generate list: %w", err)
	}
	return nil
}

var (
	genSyllables = []string{
		"ba", "bet", "bong", "ca", "casino", "cho", "club", "da", "dep", "game", "gai", "hay",
		"hot", "in", "jav", "ka", "khuyen", "king", "la", "lo", "ma", "mai", "max", "mega",
		"mi", "na", "net", "news", "nha", "no", "online", "phim", "play", "pro", "qq", "ru",
		"sa", "sex", "shop", "so", "star", "ta", "tai", "tin", "top", "tv", "tube", "uy", "va",
		"vip", "vui", "win", "xem", "xo", "yo", "zing", "zo", "asia", "bank", "cloud", "data",
		"link", "live", "media", "mobile", "page", "road", "smart", "social", "sport", "world",
	}
	genPrefixes = []string{
		"www", "m", "api", "cdn", "img", "static", "mail", "app", "blog", "shop", "ads", "track",
		"go", "my", "web", "s1", "s2", "v", "vn", "en", "login", "pay", "media", "video",
	}
	genTLDs = []struct {
		tld    string
		weight int
	}{
		{"com", 45}, {"net", 8}, {"org", 5}, {"vn", 8}, {"com.vn", 6}, {"info", 3}, {"xyz", 4},
		{"top", 3}, {"vip", 3}, {"io", 2}, {"me", 2}, {"co", 2}, {"club", 2}, {"online", 2},
		{"site", 2}, {"app", 1}, {"bet", 2},
	}
	genTLDTotal = func() (t int) {
		for _, x := range genTLDs {
			t += x.weight
		}
		return t
	}()
)

func genName(rng *rand.Rand, b []byte) []byte {
	labels := 2
	switch r := rng.IntN(100); {
	case r >= 85:
		labels = 4
	case r >= 50:
		labels = 3
	}
	tld := genTLDs[0].tld
	r := rng.IntN(genTLDTotal)
	for _, x := range genTLDs {
		if r < x.weight {
			tld = x.tld
			break
		}
		r -= x.weight
	}
	if tld == "com.vn" {
		labels-- // com.vn brings two labels
		labels = max(labels, 2)
	}
	for i := 2; i < labels; i++ {
		if rng.IntN(3) == 0 {
			b = genLabel(rng, b, 2)
		} else {
			b = append(b, genPrefixes[rng.IntN(len(genPrefixes))]...)
		}
		b = append(b, '.')
	}
	b = genLabel(rng, b, 4)
	b = append(b, '.')
	return append(b, tld...)
}

// genLabel appends a second-level-like label: 1..maxSyl syllables, maybe a hyphen, maybe digits.
func genLabel(rng *rand.Rand, b []byte, maxSyl int) []byte {
	k := 1 + rng.IntN(maxSyl)
	if maxSyl > 2 && k == 1 && rng.IntN(2) == 0 {
		k = 2 // one-syllable second-level names are rare
	}
	for i := range k {
		if i > 0 && rng.IntN(8) == 0 {
			b = append(b, '-')
		}
		b = append(b, genSyllables[rng.IntN(len(genSyllables))]...)
	}
	switch rng.IntN(10) {
	case 0, 1, 2, 5, 6:
		b = fmt.Appendf(b, "%d", rng.IntN(10000))
	case 3:
		b = fmt.Appendf(b, "%d", rng.IntN(100))
	case 4:
		b = append(b, byte('a'+rng.IntN(26)), byte('a'+rng.IntN(26)))
	}
	return b
}
