package store

import (
	"context"
	"database/sql"
	"fmt"
)

// PublishedEntries returns the published entries (ActiveNetworkEntries: the network's own
// confirmed entries, the hosts its URL entries block by DNS, and imported values no entry of
// the network shadows) whose value is one of values. It answers "what does the list say of
// these names" with a narrowed query, so that a caller looking up one page's host and its
// parents (the scanner's domain suggestion) never reads the whole list, which may hold
// millions of imported names. No values, no entries.
func (s *Store) PublishedEntries(ctx context.Context, values []string) ([]*ListEntry, error) {
	if len(values) == 0 {
		return nil, nil // publishedEntries reads everything for nil values
	}
	var out []*ListEntry
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.publishedEntries(ctx, tx, values)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: published entries of %d value(s): %w", len(values), err)
	}
	return out, nil
}
