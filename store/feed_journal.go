package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// FeedVersion is one published version of the RPZ zone in the feed's journal: its serial (the
// list serial), the serial of the version it was built from, and each name whose kinds differ
// between the two with the kinds it had in Prev. The delta between two published serials is
// a function of the list at those serials, so control nodes sharing the store that build the
// same version write the same rows.
type FeedVersion struct {
	Serial  int64
	Prev    int64
	Created time.Time
	Changes []FeedChange // sorted by name when read
}

// FeedChange is one name changed by a FeedVersion: Was is the kinds listing it in the previous
// version as the feed encodes them (feed/rpz: 1 domain, 2 host, 0 not listed).
type FeedChange struct {
	Name string
	Was  int
}

// AddFeedVersion records v in the feed's journal and trims the journal to the keep newest
// versions (keep <= 0: no trimming), in one transaction. A version whose serial is already
// recorded (another control node built it) is left as it is: added is false.
func (s *Store) AddFeedVersion(ctx context.Context, v FeedVersion, keep int) (added bool, err error) {
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO feed_versions (serial, prev, created_us) VALUES ($1, $2, $3)
			ON CONFLICT (serial) DO NOTHING`, v.Serial, v.Prev, v.Created.UnixMicro())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if added = n == 1; added && len(v.Changes) > 0 {
			err := s.insertBatched(ctx, tx, `INSERT INTO feed_deltas (serial, name, was) VALUES `,
				` ON CONFLICT (serial, name) DO NOTHING`, 3, len(v.Changes), func(i int, dst []any) []any {
					return append(dst, v.Serial, cleanText(v.Changes[i].Name), v.Changes[i].Was)
				})
			if err != nil {
				return err
			}
		}
		if keep <= 0 {
			return nil
		}
		var oldest sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MIN(serial) FROM (SELECT serial FROM feed_versions ORDER BY serial DESC LIMIT $1) k`,
			keep).Scan(&oldest); err != nil || !oldest.Valid {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM feed_deltas WHERE serial < $1`, oldest.Int64); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM feed_versions WHERE serial < $1`, oldest.Int64)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: feed version %d: %w", v.Serial, err)
	}
	return added, nil
}

// FeedVersions returns the journal's versions whose serial is above after, in serial order,
// with their changes.
func (s *Store) FeedVersions(ctx context.Context, after int64) ([]FeedVersion, error) {
	var out []FeedVersion
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT serial, prev, created_us FROM feed_versions WHERE serial > $1 ORDER BY serial`, after)
		if err != nil {
			return err
		}
		at := map[int64]int{}
		for rows.Next() {
			var v FeedVersion
			var us int64
			if err := rows.Scan(&v.Serial, &v.Prev, &us); err != nil {
				rows.Close()
				return err
			}
			v.Created = time.UnixMicro(us).UTC()
			at[v.Serial] = len(out)
			out = append(out, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT serial, name, was FROM feed_deltas WHERE serial > $1 ORDER BY serial, name`+s.collate(), after)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var serial int64
			var c FeedChange
			if err := rows.Scan(&serial, &c.Name, &c.Was); err != nil {
				return err
			}
			if i, ok := at[serial]; ok {
				out[i].Changes = append(out[i].Changes, c)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: feed versions after %d: %w", after, err)
	}
	return out, nil
}

// ClearFeedJournal empties the feed's journal: for a list whose serial went back (a store
// restored from an older backup), whose recorded versions are no longer the list's.
func (s *Store) ClearFeedJournal(ctx context.Context) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM feed_deltas`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM feed_versions`)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: clear feed journal: %w", err)
	}
	return nil
}
