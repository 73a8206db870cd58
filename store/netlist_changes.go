package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ListChanges is how the published list (ActiveNetworkEntries) moved between two serials.
type ListChanges struct {
	From, Serial int64
	// Entries holds every value a change numbered in (From, Serial] touched, with its
	// published entry at Serial; nil: the value is not published any more (or never was: a
	// proposal, a rejection or an import shadowed by the network's own entry touch a value
	// without changing what is published).
	Entries map[string]*ListEntry
	// Params is true when the feed's zone parameters changed in the range (MarkFeedParams):
	// every record of the zone changed, not only these values.
	Params bool
}

// opFeedParams numbers a change of the RPZ zone's parameters in list_changes, with the new
// parameters' fingerprint as its source.
const opFeedParams = "feed.params"

// NetworkListChanges returns what changed in the published list after serial from, read in
// one read transaction: the values touched by the changes numbered since, each with its
// published entry now. It costs the changes, not the list, so a publisher of a million entries
// follows an analyst's confirmation in milliseconds. ok is false when more than max values
// changed (Params is still set), or from is not a serial of this list (ahead of it: a
// restored store); the caller then reads the whole list (NetworkListSnapshot).
func (s *Store) NetworkListChanges(ctx context.Context, from int64, max int) (ch ListChanges, ok bool, err error) {
	ch.From = from
	err = s.read(ctx, func(tx *sql.Tx) error {
		var n sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(serial) FROM list_changes`).Scan(&n); err != nil {
			return err
		}
		ch.Serial = n.Int64
		if from > ch.Serial || from < 0 {
			return nil
		}
		// The value of an entry's change is the entry's; an import's is on the row itself. A
		// URL entry that blocks its host by DNS publishes that name too (publishedEntries),
		// so its change touches both: the URL for HTTP consumers, the name for DNS ones.
		rows, err := tx.QueryContext(ctx, `SELECT c.op, COALESCE(e.value, c.value), COALESCE(e.dns_name, '') FROM list_changes c
			LEFT JOIN list_entries e ON e.id = c.entry_id WHERE c.serial > $1 AND c.serial <= $2`, from, ch.Serial)
		if err != nil {
			return err
		}
		touched := map[string]bool{}
		tooMany := false
		for rows.Next() {
			var op, v, dnsName string
			if err := rows.Scan(&op, &v, &dnsName); err != nil {
				rows.Close()
				return err
			}
			if op == opFeedParams {
				ch.Params = true
				continue
			}
			// Past max, the rows are still read for a parameter change (Params is right
			// even when ok is false), but no more values are kept.
			for _, v := range []string{v, dnsName} {
				if v != "" && !tooMany {
					touched[v] = true
					tooMany = len(touched) > max
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil || tooMany {
			return err
		}
		values := make([]string, 0, len(touched))
		for v := range touched {
			values = append(values, v)
		}
		slices.Sort(values)
		published, err := s.publishedEntries(ctx, tx, values)
		if err != nil {
			return err
		}
		ch.Entries = make(map[string]*ListEntry, len(values))
		for _, v := range values {
			ch.Entries[v] = nil
		}
		for _, e := range published {
			ch.Entries[e.Value] = e
		}
		ok = true
		return nil
	})
	if err != nil {
		return ListChanges{}, false, fmt.Errorf("store: network list changes since %d: %w", from, err)
	}
	return ch, ok, nil
}

// MarkFeedParams records that the RPZ zone is published with the parameters whose fingerprint
// is given (origin, action, timers). When they differ from the last recorded ones it numbers a
// list change (a new serial: secondaries only transfer a zone whose serial moved, and a new
// TTL or action changes every record) and audits it; recording the same fingerprint again
// changes nothing, so several control nodes with the same configuration agree.
func (s *Store) MarkFeedParams(ctx context.Context, fingerprint string, actor string) (changed bool, serial int64, err error) {
	err = s.write(ctx, func(tx *sql.Tx) error {
		if err := s.lockListSerial(ctx, tx); err != nil {
			return err
		}
		var last string
		err := tx.QueryRowContext(ctx, `SELECT source FROM list_changes WHERE op = $1 ORDER BY serial DESC LIMIT 1`, opFeedParams).Scan(&last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if last == fingerprint {
			return nil
		}
		now := time.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO list_changes (op, time_us, source) VALUES ($1, $2, $3)`, opFeedParams, now.UnixMicro(), fingerprint); err != nil {
			return err
		}
		changed = true
		return s.appendAudit(ctx, tx, AuditEvent{Time: now, Actor: actor, Action: "feed.params", Object: "feed:zone",
			Detail: map[string]any{"params": fingerprint, "previous": last}})
	})
	if err != nil {
		return false, 0, fmt.Errorf("store: mark feed parameters: %w", err)
	}
	serial, err = s.ListSerial(ctx)
	return changed, serial, err
}
