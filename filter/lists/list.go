package lists

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"math/bits"
	"os"
	"unsafe"
)

// List is one compiled list: a set of names, each with the flags of the rules that named it.
// It is immutable after Compile or NewList and safe for concurrent readers.
//
// Layout: every name is stored once, lowercase, in one byte slice; an open-addressing table
// (linear probing, load factor at most 3/4) holds one uint64 per slot:
//
//	bits  0..31  offset of the name in names
//	bits 32..39  length of the name (0: empty slot)
//	bits 40..43  flags (block/allow × the name itself/its subdomains)
//	bits 44..63  20 bits of the name's hash
//
// A probe compares length and hash bits in one word, so a miss almost never touches names.
//
// A blocked Bloom filter (about 10 bits per name, 3 bits set in one 64-bit word) sits in front
// of the table of a large list: most suffixes of most queries are in no list, and the filter,
// small enough to stay in cache, answers them without a trip to memory.
type List struct {
	names  []byte
	table  []uint64
	bloom  []uint64 // nil for small lists, whose table stays in cache anyway
	n      int      // distinct names
	maxLen int      // longest name: longer suffixes need no probe
}

// Lists with fewer names than this have no Bloom filter.
const bloomMinNames = 512

func bloomWords(n int) int { return n*10/64 + 1 }

func bloomPos(h uint64, words int) (int, uint64) {
	i, _ := bits.Mul64(h*0x9e3779b97f4a7c15, uint64(words))
	return int(i), 1<<(h>>20&63) | 1<<(h>>26&63) | 1<<(h>>32&63)
}

// bloomMay reports whether the name hashed to h may be in the list.
func bloomMay(bloom []uint64, h uint64) bool {
	if len(bloom) == 0 {
		return true
	}
	i, m := bloomPos(h, len(bloom))
	return bloom[i]&m == m
}

const (
	slotLenShift  = 32
	slotFlagShift = 40
	slotTagShift  = 44
	// keyMask selects length and tag in the upper half of a slot.
	keyMask = 0xFFFFF0FF
)

// Len returns the number of distinct names in the list. A nil *List is an empty list.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	return l.n
}

// SizeBytes returns the memory held by the list.
func (l *List) SizeBytes() int {
	if l == nil {
		return 0
	}
	return int(unsafe.Sizeof(*l)) + cap(l.names) + 8*cap(l.table) + 8*cap(l.bloom)
}

// Lookup reports whether the list blocks the query name and whether it has an exception for it.
// The name is in presentation form ("www.example.com"), a trailing dot is ignored, ASCII letters
// match case-insensitively. Lookup does not allocate.
func (l *List) Lookup(name []byte) (block, allow bool) {
	n := len(name)
	if n > 0 && name[n-1] == '.' {
		n--
	}
	if n == 0 || l == nil || len(l.table) == 0 {
		return false, false
	}
	var f uint8
	h, end := seed, n
	for {
		dot := lastDot(name, end)
		start := dot + 1
		if n-start > l.maxLen {
			break
		}
		h = hashLabel(h, name, start, end)
		var g uint8
		if bloomMay(l.bloom, h) {
			g = probe(l.table, l.names, h, name[start:n])
		}
		if start == 0 {
			f |= g & flagsSelf
		} else {
			f |= g & flagsSubs
		}
		if dot < 0 {
			break
		}
		end = dot
	}
	return f&(flagBlockSelf|flagBlockSubs) != 0, f&(flagAllowSelf|flagAllowSubs) != 0
}

// probe looks up one suffix q (not yet lowercased) whose hash is h and returns its flags.
// len(q) must not exceed the list's maxLen (at most 253): it shares a word with the tag.
func probe(table []uint64, names []byte, h uint64, q []byte) uint8 {
	if len(table) == 0 {
		return 0
	}
	want := uint32(len(q)) | uint32(h)<<(slotTagShift-32)
	hi, _ := bits.Mul64(h, uint64(len(table)))
	i := int(hi)
	for {
		s := table[i]
		if s == 0 {
			return 0
		}
		if uint32(s>>32)&keyMask == want {
			off := uint32(s)
			if equalFold(names[off:off+uint32(len(q))], q) {
				return uint8(s>>slotFlagShift) & 0xf
			}
		}
		if i++; i == len(table) {
			i = 0
		}
	}
}

// All returns the rules of the list, in no particular order. A name that carries both a block
// and an allow rule yields both.
func (l *List) All() iter.Seq[Rule] {
	return func(yield func(Rule) bool) {
		if l == nil {
			return
		}
		for _, s := range l.table {
			if s == 0 {
				continue
			}
			off, n := uint32(s), uint32(s>>slotLenShift)&0xff
			if !flagsRules(string(l.names[off:off+n]), uint8(s>>slotFlagShift)&0xf, yield) {
				return
			}
		}
	}
}

// Compile parses a list and compiles it. Like Parse, bad lines are only counted in the Stats;
// the error reports a read failure (and then no list is returned: a partial list must not
// replace a complete one) or a list too large for the structure (4 GiB of names).
func Compile(r io.Reader, f Format) (*List, Stats, error) {
	var b builder
	if hint := sizeHint(r); hint > 0 {
		b.recs = make([]byte, 0, hint+hint/8)
	}
	var p parser
	p.emit = b.add
	if err := p.run(r, f); err != nil {
		return nil, p.stats, fmt.Errorf("compile list: %w", err)
	}
	l, err := b.build()
	if err != nil {
		return nil, p.stats, fmt.Errorf("compile list: %w", err)
	}
	return l, p.stats, nil
}

// NewList builds a list from rules, typically the few names of a profile's own allow and deny
// lists. Names are normalized as NormalizeName does; a rule whose name is invalid is ignored, so
// validate configuration with NormalizeName first.
func NewList(rules []Rule) *List {
	var b builder
	var buf [maxName]byte
	for _, r := range rules {
		n, reason := normalize(&buf, []byte(r.Name))
		if reason != "" {
			continue
		}
		b.add(buf[:n], kindFlags(r.Kind, r.Allow))
	}
	l, err := b.build()
	if err != nil {
		return &List{} // 4 GiB of names cannot come from a []Rule held in memory
	}
	return l
}

// sizeHint guesses the input size to allocate the record buffer once.
func sizeHint(r io.Reader) int {
	var n int64
	switch v := r.(type) {
	case interface{ Len() int }: // bytes.Reader, strings.Reader, bytes.Buffer
		n = int64(v.Len())
	case *os.File:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			n = fi.Size()
		}
	}
	return int(min(n, 1<<30))
}

var errTooLarge = errors.New("list holds more than 4 GiB of names")

// builder collects records [len][flags][name...] while parsing, then builds the table in one
// pass over them: no allocation per rule.
type builder struct {
	recs []byte
	n    int
	sink uint64 // keeps the prefetching loads alive
}

func (b *builder) add(name []byte, flags uint8) {
	b.recs = append(b.recs, byte(len(name)), flags)
	b.recs = append(b.recs, name...)
	b.n++
}

func tableSize(n int) int { return n + n/3 + 1 }

func (b *builder) build() (*List, error) {
	l := &List{}
	if b.n == 0 {
		return l, nil
	}
	l.table = make([]uint64, tableSize(b.n))
	if b.n >= bloomMinNames {
		l.bloom = make([]uint64, bloomWords(b.n))
	}
	l.names = make([]byte, 0, len(b.recs)-2*b.n)
	// Inserting is bound by cache misses in the table and the filter. Hash a batch of names,
	// then touch their slots in a tight loop: the loads are independent and few instructions
	// apart, so they overlap instead of waiting for each other.
	const batch = 16
	var hashes [batch]uint64
	var offs [batch]int
	for i := 0; i < len(b.recs); {
		k := 0
		for ; k < batch && i < len(b.recs); k++ {
			n := int(b.recs[i])
			hashes[k], offs[k] = hashName(b.recs[i+2:i+2+n]), i
			i += 2 + n
		}
		var touch uint64
		for _, h := range hashes[:k] {
			slot, _ := bits.Mul64(h, uint64(len(l.table)))
			touch ^= l.table[slot]
		}
		if l.bloom != nil {
			for _, h := range hashes[:k] {
				j, _ := bloomPos(h, len(l.bloom))
				touch ^= l.bloom[j]
			}
		}
		b.sink ^= touch
		for j := range k {
			off := offs[j]
			n := int(b.recs[off])
			if !l.insert(hashes[j], b.recs[off+2:off+2+n], b.recs[off+1]) {
				return nil, errTooLarge
			}
		}
	}
	b.recs = nil
	if len(l.names) < cap(l.names) {
		l.names = append([]byte(nil), l.names...) // duplicates left room: trim
	}
	if tableSize(l.n) < len(l.table)*3/4 {
		l.rehash()
	}
	return l, nil
}

// insert adds a name or merges flags into its entry. It returns false when names is full.
func (l *List) insert(h uint64, name []byte, flags uint8) bool {
	want := uint32(len(name)) | uint32(h)<<(slotTagShift-32)
	hi, _ := bits.Mul64(h, uint64(len(l.table)))
	i := int(hi)
	for {
		s := l.table[i]
		if s == 0 {
			break
		}
		if uint32(s>>32)&keyMask == want {
			off := uint32(s)
			if bytes.Equal(l.names[off:off+uint32(len(name))], name) {
				l.table[i] = s | uint64(flags)<<slotFlagShift
				return true
			}
		}
		if i++; i == len(l.table) {
			i = 0
		}
	}
	off := len(l.names)
	if off+len(name) > math.MaxUint32 {
		return false
	}
	l.names = append(l.names, name...)
	l.table[i] = uint64(off) | uint64(want)<<32 | uint64(flags)<<slotFlagShift
	if l.bloom != nil {
		j, m := bloomPos(h, len(l.bloom))
		l.bloom[j] |= m
	}
	l.n++
	l.maxLen = max(l.maxLen, len(name))
	return true
}

// rehash shrinks the table (and the Bloom filter) after many duplicates.
func (l *List) rehash() {
	old := l.table
	l.table = make([]uint64, tableSize(l.n))
	l.bloom = nil
	if l.n >= bloomMinNames {
		l.bloom = make([]uint64, bloomWords(l.n))
	}
	for _, s := range old {
		if s == 0 {
			continue
		}
		off, n := uint32(s), uint32(s>>slotLenShift)&0xff
		h := hashName(l.names[off : off+n])
		if l.bloom != nil {
			j, m := bloomPos(h, len(l.bloom))
			l.bloom[j] |= m
		}
		hi, _ := bits.Mul64(h, uint64(len(l.table)))
		i := int(hi)
		for l.table[i] != 0 {
			if i++; i == len(l.table) {
				i = 0
			}
		}
		l.table[i] = s
	}
}

// LookupString is Lookup for a name held in a string (as DNS libraries hold them), without
// copying it.
func (l *List) LookupString(name string) (block, allow bool) {
	return l.Lookup(unsafe.Slice(unsafe.StringData(name), len(name)))
}
