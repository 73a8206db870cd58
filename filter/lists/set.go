package lists

import (
	"unsafe"
)

// Mask is a set of categories: bit i is category i.
type Mask uint64

// Entry tags a list with its category.
type Entry struct {
	List     *List
	Category uint8 // 0..63
}

// Set is several lists, each tagged with a category, matched together. It is immutable and
// holds the lists by reference: building a new Set after one list changed reuses the other
// compiled lists as they are.
type Set struct {
	entries []Entry
	lists   []setList
	maxLen  int
}

// setList is the part of a List a probe reads, copied to save a pointer hop per probe.
type setList struct {
	table  []uint64
	names  []byte
	bloom  []uint64
	maxLen int
	bit    Mask
}

// NewSet combines lists. Entries with a nil or empty List, or a Category above 63, are ignored:
// validate categories where they are configured. Several lists may share a category.
func NewSet(entries []Entry) *Set {
	s := &Set{entries: append([]Entry(nil), entries...)}
	for _, e := range entries {
		if e.List == nil || e.List.n == 0 || e.Category > 63 {
			continue
		}
		s.lists = append(s.lists, setList{table: e.List.table, names: e.List.names, bloom: e.List.bloom, maxLen: e.List.maxLen, bit: 1 << e.Category})
		s.maxLen = max(s.maxLen, e.List.maxLen)
	}
	return s
}

// Entries returns a copy of the entries the Set was built from, to build its successor.
func (s *Set) Entries() []Entry { return append([]Entry(nil), s.entries...) }

// Match reports which categories block the query name and which have an exception for it.
// The name is in presentation form, a trailing dot is ignored, ASCII letters match
// case-insensitively. It hashes each suffix of the name once, whatever the number of lists,
// and does not allocate. When a list has both a block and an allow rule for the name, both
// bits are set: the caller decides (within a category, allow wins).
func (s *Set) Match(name []byte) (block, allow Mask) {
	n := len(name)
	if n > 0 && name[n-1] == '.' {
		n--
	}
	if n == 0 {
		return 0, 0
	}
	h, end := seed, n
	for {
		dot := lastDot(name, end)
		start := dot + 1
		if n-start > s.maxLen {
			break
		}
		h = hashLabel(h, name, start, end)
		q := name[start:n]
		mask := flagsSubs
		if start == 0 {
			mask = flagsSelf
		}
		for i := range s.lists {
			sl := &s.lists[i]
			if len(q) > sl.maxLen || !bloomMay(sl.bloom, h) {
				continue
			}
			f := probe(sl.table, sl.names, h, q) & mask
			if f&(flagBlockSelf|flagBlockSubs) != 0 {
				block |= sl.bit
			}
			if f&(flagAllowSelf|flagAllowSubs) != 0 {
				allow |= sl.bit
			}
		}
		if dot < 0 {
			break
		}
		end = dot
	}
	return block, allow
}

// MatchString is Match for a name held in a string (as DNS libraries hold them), without
// copying it: Match neither writes nor retains the bytes.
func (s *Set) MatchString(name string) (block, allow Mask) {
	return s.Match(unsafe.Slice(unsafe.StringData(name), len(name)))
}
