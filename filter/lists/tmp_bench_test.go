package lists

import (
	"bytes"
	"testing"
)

func BenchmarkTmpSmall(b *testing.B) {
	data, names := corpus1M()
	_ = data
	small := bytes.Join(names[:10000], []byte{'\n'})
	l, _, _ := Compile(bytes.NewReader(small), FormatDomains)
	set := NewSet([]Entry{{List: l}})
	q := make([][]byte, 0, 1024)
	for i := 0; i < 1024; i++ {
		if i%2 == 0 {
			q = append(q, names[i*7%10000])
		} else {
			q = append(q, names[500000+i])
		}
	}
	b.Run("match", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			set.Match(q[i&1023])
		}
	})
	b.Run("hash", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			hashName(q[i&1023])
		}
	})
	b.Run("bigmisses-samequeries", func(b *testing.B) {
		l, _ := compileMeasured(b, data)
		set := NewSet([]Entry{{List: l}})
		for i := 0; b.Loop(); i++ {
			set.Match(q[i&1023])
		}
	})
}

func BenchmarkTmpHashFixed(b *testing.B) {
	n := []byte("static.roadcloud4106.com")
	for b.Loop() {
		hashName(n)
	}
}
func BenchmarkTmpMix(b *testing.B) {
	h := uint64(1)
	for b.Loop() {
		h = mix(h, 7)
	}
	sinkU = h
}

var sinkU uint64

func hashNameInl(name []byte) uint64 {
	h := seed
	end := len(name)
	for {
		dot := lastDot(name, end)
		start := dot + 1
		i := start
		for ; end-i >= 8; i += 8 {
			h = mix(h, lower8(leU64(name[i:])))
		}
		r := uint(end-i) * 8
		var w uint64
		switch {
		case end >= 8:
			w = leU64(name[end-8:]) >> (64 - r)
		case len(name) >= 8:
			w = leU64(name) >> (uint(i) * 8) & (1<<r - 1)
		default:
			for j := end - 1; j >= i; j-- {
				w = w<<8 | uint64(name[j])
			}
		}
		h = mix(h, lower8(w)|uint64(end-start)<<56)
		if dot < 0 {
			return h
		}
		end = dot
	}
}

func leU64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

func BenchmarkTmpHashInl(b *testing.B) {
	n := []byte("static.roadcloud4106.com")
	if hashNameInl(n) != hashName(n) {
		b.Fatal("differ")
	}
	for b.Loop() {
		hashNameInl(n)
	}
}

func BenchmarkTmpPhases(b *testing.B) {
	data, _ := corpus1M()
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			var bl builder
			bl.recs = make([]byte, 0, len(data)+len(data)/8)
			var p parser
			p.emit = bl.add
			p.run(bytes.NewReader(data), FormatDomains)
		}
	})
	var bl builder
	bl.recs = make([]byte, 0, len(data)+len(data)/8)
	var p parser
	p.emit = bl.add
	p.run(bytes.NewReader(data), FormatDomains)
	b.Run("build", func(b *testing.B) {
		for b.Loop() {
			b2 := bl
			b2.build()
		}
	})
}

func hashNameNoMix(name []byte) uint64 {
	h := seed
	end := len(name)
	for {
		dot := lastDot(name, end)
		start := dot + 1
		i := start
		for ; end-i >= 8; i += 8 {
			h = h*31 ^ lower8(leU64(name[i:]))
		}
		r := uint(end-i) * 8
		var w uint64
		if end >= 8 {
			w = leU64(name[end-8:]) >> (64 - r)
		}
		h = h*31 ^ lower8(w)
		if dot < 0 {
			return h
		}
		end = dot
	}
}

func dotsOnly(name []byte) int {
	end := len(name)
	k := 0
	for {
		dot := lastDot(name, end)
		k += dot
		if dot < 0 {
			return k
		}
		end = dot
	}
}

func BenchmarkTmpHashNoMix(b *testing.B) {
	n := []byte("static.roadcloud4106.com")
	for b.Loop() {
		hashNameNoMix(n)
	}
}
func BenchmarkTmpDots(b *testing.B) {
	n := []byte("static.roadcloud4106.com")
	for b.Loop() {
		dotsOnly(n)
	}
}

