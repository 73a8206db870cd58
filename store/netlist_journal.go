package store

import (
	"context"
	"database/sql"
	"fmt"
)

// ListJournalChange is one row of the list's journal (list_changes) with the entry it changed:
// what a consumer of the list (the RPZ feed) needs to move from one serial to the next.
// (ListChange is the name of a decision's input; this is the journal's output.)
type ListJournalChange struct {
	Serial   int64
	Op       string // propose, approve, appealed, uphold, delisted, disabled, rejected
	EntryID  int64
	Kind     string
	Value    string
	Category string
}

// BlockDelta says how the change moved the entry in or out of the blocking set
// (lifecycle.ListBlocks): +1 it starts blocking (approve: proposed → active), -1 it stops
// (delisted from active or appealed; disabled from active), 0 no change (propose, appeal,
// uphold, reject). It follows the ops ChangeListEntry and ProposeListEntry write.
func (c ListJournalChange) BlockDelta() int {
	switch c.Op {
	case "approve":
		return 1
	case "delisted", "disabled":
		return -1
	}
	return 0
}

// ListChangesSince returns every change of the network's own entries (list_entries) whose
// serial is above serial, in serial order. Rows of list_changes without an entry (imports of
// public lists) are not returned: what an import publishes depends on the network's entries,
// so publishers diff snapshots (NetworkListSnapshot) instead, as feed/rpz does.
func (s *Store) ListChangesSince(ctx context.Context, serial int64) ([]ListJournalChange, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT c.serial, c.op, c.entry_id, e.kind, e.value, e.category
		FROM list_changes c JOIN list_entries e ON e.id = c.entry_id WHERE c.serial > $1 ORDER BY c.serial`, serial)
	if err != nil {
		return nil, fmt.Errorf("store: list changes since %d: %w", serial, err)
	}
	defer rows.Close()
	var out []ListJournalChange
	for rows.Next() {
		var c ListJournalChange
		if err := rows.Scan(&c.Serial, &c.Op, &c.EntryID, &c.Kind, &c.Value, &c.Category); err != nil {
			return nil, fmt.Errorf("store: list changes since %d: %w", serial, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list changes since %d: %w", serial, err)
	}
	return out, nil
}

// ListSnapshot returns the list serial and the network's own entries that block at that serial
// (as ActiveListEntries, without imports or the canary: NetworkListSnapshot has those), read
// in one read transaction so the two agree.
func (s *Store) ListSnapshot(ctx context.Context) (serial int64, entries []*ListEntry, err error) {
	err = s.read(ctx, func(tx *sql.Tx) error {
		var n sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(serial) FROM list_changes`).Scan(&n); err != nil {
			return err
		}
		serial = n.Int64
		rows, err := tx.QueryContext(ctx, `SELECT `+listCols+listFrom+` WHERE e.state IN ('active', 'appealed') ORDER BY e.kind, e.value`+s.collate())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanListEntry(rows)
			if err != nil {
				return err
			}
			entries = append(entries, e)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, nil, fmt.Errorf("store: list snapshot: %w", err)
	}
	return serial, entries, nil
}
