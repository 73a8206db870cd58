package lists

import (
	"bytes"
	"runtime"
	"sync"
	"testing"
)

// The 1M-name corpus shared by the benchmarks and the memory test: generated once per process.
var corpus1M = sync.OnceValues(func() ([]byte, [][]byte) {
	var buf bytes.Buffer
	if err := Generate(&buf, 1_000_000, 1); err != nil {
		panic(err)
	}
	data := buf.Bytes()
	return data, bytes.Split(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'})
})

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// compileMeasured compiles data and returns the list with the heap it retains.
func compileMeasured(tb testing.TB, data []byte) (*List, int64) {
	before := heapInUse()
	l, st, err := Compile(bytes.NewReader(data), FormatDomains)
	if err != nil || st.Bad != 0 {
		tb.Fatalf("Compile: %v, %d bad lines", err, st.Bad)
	}
	after := heapInUse()
	runtime.KeepAlive(l)
	return l, int64(after) - int64(before)
}

// matchQueries builds deterministic query sets of 1<<16 names each: mix is a third listed
// names, a third subdomains of listed names, a third names of another generated corpus (misses,
// unless they collide) in upper case; hits and misses are the two kinds alone.
func matchQueries(names [][]byte) (mix, hits, misses [][]byte) {
	var other bytes.Buffer
	if err := Generate(&other, 1<<16, 2); err != nil {
		panic(err)
	}
	others := bytes.Split(bytes.TrimSuffix(other.Bytes(), []byte{'\n'}), []byte{'\n'})
	for i := 0; len(mix) < 1<<16; i++ {
		n := names[(i*7919)%len(names)]
		switch i % 3 {
		case 0:
			mix = append(mix, n)
		case 1:
			mix = append(mix, append([]byte("www."), n...))
		case 2:
			mix = append(mix, bytes.ToUpper(others[i%len(others)]))
		}
	}
	for i := 0; len(hits) < 1<<16; i++ {
		hits = append(hits, names[(i*7919)%len(names)])
	}
	for i := 0; len(misses) < 1<<16; i++ {
		misses = append(misses, others[i%len(others)])
	}
	return mix, hits, misses
}

// BenchmarkMatch measures Set.Match and List.Lookup over a 1M-name list and, as a baseline, the
// naive filter: a map[string]struct{} of the same names probed for every suffix. Each reports
// the memory it holds per domain.
func BenchmarkMatch(b *testing.B) {
	data, names := corpus1M()
	queries, hitQueries, missQueries := matchQueries(names)
	l, heap := compileMeasured(b, data)
	perDomain := func(b *testing.B, bytes int64) {
		b.ReportMetric(float64(bytes)/float64(len(names)), "B/domain")
	}
	small := NewList([]Rule{{Name: "example.com"}, {Name: "ads.example.net", Kind: Exact}, {Name: "www.tiktok.com", Allow: true}})
	set := NewSet([]Entry{{List: l, Category: 1}, {List: small, Category: 2}})

	for _, mix := range []struct {
		name string
		q    [][]byte
	}{{"Set", queries}, {"Set-hits", hitQueries}, {"Set-misses", missQueries}} {
		b.Run(mix.name, func(b *testing.B) {
			b.ReportAllocs()
			hits := 0
			for i := 0; b.Loop(); i++ {
				if blk, _ := set.Match(mix.q[i&(len(mix.q)-1)]); blk != 0 {
					hits++
				}
			}
			perDomain(b, heap)
			b.ReportMetric(float64(hits)/float64(b.N), "hit-ratio")
		})
	}
	b.Run("List.Lookup", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			l.Lookup(queries[i&(len(queries)-1)])
		}
		perDomain(b, int64(l.SizeBytes()))
	})
	b.Run("map-baseline", func(b *testing.B) {
		before := heapInUse()
		m := make(map[string]struct{})
		for _, n := range names {
			m[string(n)] = struct{}{}
		}
		mem := int64(heapInUse()) - int64(before)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			mapMatch(m, queries[i&(len(queries)-1)])
		}
		perDomain(b, mem)
		runtime.KeepAlive(m)
	})
}

// mapMatch is the naive filter: lowercase into a stack buffer, look up every suffix.
func mapMatch(m map[string]struct{}, name []byte) bool {
	var buf [256]byte
	name = bytes.TrimSuffix(name, []byte{'.'})
	if len(name) > len(buf) {
		return false
	}
	for i, c := range name {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	s := buf[:len(name)]
	for {
		if _, ok := m[string(s)]; ok {
			return true
		}
		i := bytes.IndexByte(s, '.')
		if i < 0 {
			return false
		}
		s = s[i+1:]
	}
}

// BenchmarkCompile1M measures parsing and compiling 1M names from memory, as a domains list
// and, through the per-line detection of auto, as an unknown list.
func BenchmarkCompile1M(b *testing.B) {
	data, names := corpus1M()
	for _, f := range []Format{FormatDomains, FormatAuto} {
		b.Run(f.String(), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var l *List
			for b.Loop() {
				var err error
				l, _, err = Compile(bytes.NewReader(data), f)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(l.SizeBytes())/float64(len(names)), "B/domain")
		})
	}
}

// BenchmarkMemory1M reports the memory per domain, all-in (live heap retained by the list) and
// as SizeBytes counts it, next to the map baseline.
func BenchmarkMemory1M(b *testing.B) {
	data, names := corpus1M()
	for b.Loop() {
		l, heap := compileMeasured(b, data)
		b.ReportMetric(float64(heap)/float64(len(names)), "heapB/domain")
		b.ReportMetric(float64(l.SizeBytes())/float64(len(names)), "B/domain")
		before := heapInUse()
		m := make(map[string]struct{})
		for _, n := range names {
			m[string(n)] = struct{}{}
		}
		b.ReportMetric(float64(int64(heapInUse())-int64(before))/float64(len(names)), "mapB/domain")
		runtime.KeepAlive(m)
		runtime.KeepAlive(l)
	}
}
