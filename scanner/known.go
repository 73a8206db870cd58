package scanner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kidshield/kidshield/scanner/pdq"
	"github.com/kidshield/kidshield/store"
)

// Known is the in-memory set of known PDQ hashes: those of the administrator's hash-list files
// and the network list's `pdq:` hash entries. It is immutable; a reload builds a new one.
type Known struct {
	index *pdq.Index
	// source[id-1] says where the hash with index id came from: "list:<entry id>" or
	// "file:<path>:<line>".
	source []string
	Files  int // hashes read from files
	List   int // hashes from the network list
}

// Len is the number of known hashes.
func (k *Known) Len() int {
	if k == nil || k.index == nil {
		return 0
	}
	return k.index.Len()
}

// Source says where the known hash id came from.
func (k *Known) Source(id int64) string {
	if k == nil || id < 1 || id > int64(len(k.source)) {
		return ""
	}
	return k.source[id-1]
}

// SourceLabel words a known hash's source (Known.Source, ScanMatch.Source) for the records
// people read — evidence notes, the case history, the audit log: "network list entry 12" or
// "hash list known.pdq line 3". A file is named by its base name only: the server's
// directories mean nothing to an analyst and have no place in what is exported to partners.
// The full source stays in the scan result. The case page words the same parts in the
// analyst's language (hotline/ui), so the two forms must stay in step.
func SourceLabel(source string) string {
	if id, ok := strings.CutPrefix(source, "list:"); ok {
		return "network list entry " + id
	}
	if rest, ok := strings.CutPrefix(source, "file:"); ok {
		if i := strings.LastIndexByte(rest, ':'); i > 0 {
			return "hash list " + filepath.Base(rest[:i]) + " line " + rest[i+1:]
		}
		return "hash list " + filepath.Base(rest)
	}
	return source
}

// Match probes the index with the eight dihedral hashes of an image at pdq.MatchDistance.
func (k *Known) Match(hs [8]pdq.Hash) []pdq.Match {
	if k.Len() == 0 {
		return nil
	}
	return k.index.QueryDihedral(hs, pdq.MatchDistance)
}

// KnownSources names where Known hashes come from.
type KnownSources struct {
	// Files are hash-list files in pdq.ParseHashList's format.
	Files []string
	// List reads the network list's active entries (nil: none), e.g. store.ActiveListEntries.
	List func(ctx context.Context) ([]*store.ListEntry, error)
}

// LoadKnown reads every source into a new Known. A file that cannot be read or parsed is an
// error (a half-read list is never used); so is a network-list entry whose pdq: value is not
// a hash.
func LoadKnown(ctx context.Context, src KnownSources) (*Known, error) {
	k := &Known{}
	var entries []pdq.Entry
	add := func(h pdq.Hash, source string) {
		k.source = append(k.source, source)
		entries = append(entries, pdq.Entry{Hash: h, ID: int64(len(k.source))})
	}
	for _, path := range src.Files {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("scanner: hash list: %w", err)
		}
		hl, err := pdq.ParseHashList(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("scanner: hash list %s: %w", path, err)
		}
		for _, e := range hl.Entries {
			add(e.Hash, fmt.Sprintf("file:%s:%d", path, e.Line))
			k.Files++
		}
	}
	if src.List != nil {
		es, err := src.List(ctx)
		if err != nil {
			return nil, fmt.Errorf("scanner: network list hashes: %w", err)
		}
		for _, e := range es {
			v, ok := strings.CutPrefix(e.Value, "pdq:")
			if e.Kind != store.ListHash || !ok {
				continue
			}
			h, err := pdq.ParseHash(v)
			if err != nil {
				return nil, fmt.Errorf("scanner: network list entry %d: %w", e.ID, err)
			}
			add(h, fmt.Sprintf("list:%d", e.ID))
			k.List++
		}
	}
	ix, err := pdq.NewIndex(entries)
	if err != nil {
		return nil, fmt.Errorf("scanner: known hashes: %w", err)
	}
	k.index = ix
	return k, nil
}
