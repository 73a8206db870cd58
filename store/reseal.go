package store

import (
	"context"
	"database/sql"
	"fmt"
)

// sealedColumn is a column whose values are sealed by package seal. The column's name
// ("reports.contact_sealed") is the additional data it is sealed with.
type sealedColumn struct {
	table, column string
	blob          bool // BLOB/BYTEA holding the sealed string's bytes
}

func (c sealedColumn) name() string { return c.table + "." + c.column }

// SealedColumns lists every column holding sealed values, as "table.column": the additional
// data each is sealed with.
func SealedColumns() []string {
	out := make([]string, len(sealedColumns))
	for i, c := range sealedColumns {
		out[i] = c.name()
	}
	return out
}

var sealedColumns = []sealedColumn{
	{table: "reports", column: "description_sealed"},
	{table: "reports", column: "contact_sealed"},
	{table: "case_events", column: "note_sealed"},
	{table: "attachments", column: "data_sealed", blob: true},
	{table: "users", column: "totp_secret"},
}

// resealBatch is how many rows one transaction re-seals: small enough that the writer is
// not held long while the hotline runs, large enough that a big table takes few round trips.
const resealBatch = 200

// Reseal passes every non-empty sealed value to fn with its column's name ("reports.contact_sealed")
// and stores what fn returns when it differs: `kidshield keys rotate` re-seals with the current
// key. It works in batches of rows, each one transaction (rows locked on PostgreSQL, so a
// concurrent change of a row is not overwritten) audited as "keys.rotate" with its count; a
// final "keys.rotate" record holds the totals. It returns how many values changed per column,
// also when it stops on an error (the batches before it are committed; run it again).
func (s *Store) Reseal(ctx context.Context, fn func(column, sealed string) (string, error)) (map[string]int, error) {
	counts := map[string]int{}
	for _, c := range sealedColumns {
		counts[c.name()] = 0
	}
	for _, c := range sealedColumns {
		var after int64
		for {
			if err := ctx.Err(); err != nil {
				return counts, fmt.Errorf("store: reseal: %w", err)
			}
			n, last, more, err := s.resealBatch(ctx, c, after, fn)
			counts[c.name()] += n
			if err != nil {
				return counts, err
			}
			if !more {
				break
			}
			after = last
		}
	}
	detail := map[string]any{"done": true}
	for k, v := range counts {
		detail[k] = v
	}
	if err := s.AppendAudit(ctx, AuditEvent{Actor: "system", Action: "keys.rotate", Object: "data-keys", Detail: detail}); err != nil {
		return counts, err
	}
	return counts, nil
}

// resealBatch re-seals up to resealBatch rows of c with id > after. It returns how many values
// changed, the last id read and whether more rows may follow.
func (s *Store) resealBatch(ctx context.Context, c sealedColumn, after int64, fn func(column, sealed string) (string, error)) (n int, last int64, more bool, err error) {
	nonEmpty := c.column + " <> ''"
	if c.blob {
		nonEmpty = "length(" + c.column + ") > 0"
	}
	q := fmt.Sprintf("SELECT id, %s FROM %s WHERE id > $1 AND %s ORDER BY id LIMIT %d", c.column, c.table, nonEmpty, resealBatch)
	if s.dialect == DialectPostgres {
		q += " FOR UPDATE"
	}
	upd := fmt.Sprintf("UPDATE %s SET %s = $1 WHERE id = $2", c.table, c.column)
	err = s.write(ctx, func(tx *sql.Tx) error {
		type row struct {
			id  int64
			val []byte
		}
		rows, err := tx.QueryContext(ctx, q, after)
		if err != nil {
			return err
		}
		var batch []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.val); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		more = len(batch) == resealBatch
		n = 0
		for _, r := range batch {
			last = r.id
			old := string(r.val)
			val, err := fn(c.name(), old)
			if err != nil {
				return fmt.Errorf("%s id %d: %w", c.table, r.id, err)
			}
			if val == old {
				continue
			}
			var arg any = val
			if c.blob {
				arg = []byte(val)
			}
			if _, err := tx.ExecContext(ctx, upd, arg, r.id); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return nil
		}
		return s.appendAudit(ctx, tx, AuditEvent{Actor: "system", Action: "keys.rotate", Object: c.name(),
			Detail: map[string]any{"resealed": n, "first_id": batch[0].id, "last_id": last}})
	})
	if err != nil {
		return 0, last, false, fmt.Errorf("store: reseal %s: %w", c.name(), err)
	}
	return n, last, more, nil
}
