package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"unicode/utf8"
)

// params collects query arguments and hands out their $N placeholders.
type params []any

func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
}

// where joins conditions with AND; no conditions match every row.
func where(conds []string) string {
	if len(conds) == 0 {
		return "TRUE"
	}
	return strings.Join(conds, " AND ")
}

// collate returns a COLLATE clause that orders text by bytes on both
// backends, so ties in a top-N list break the same way on SQLite (BINARY is
// its default) and on a PostgreSQL whose database collation is a locale.
func (s *Store) collate() string {
	if s.dialect == DialectPostgres {
		return ` COLLATE "C"`
	}
	return ""
}

// batchParams bounds the parameters of one multi-row statement: well under
// SQLite's 32766 and PostgreSQL's 65535, large enough that a flush of
// thousands of rows takes a handful of round trips rather than thousands.
const batchParams = 4000

// insertBatched runs head + "($1,...),(...)" + tail for n rows of ncols
// columns, in as few statements as batchParams allows. args appends row i's
// values to dst. SQLite gets anonymous ? placeholders: its parser looks each
// $N up in a linear list, which makes a statement of thousands of them slow
// to prepare.
func (s *Store) insertBatched(ctx context.Context, tx *sql.Tx, head, tail string, ncols, n int, args func(i int, dst []any) []any) error {
	numbered := s.dialect == DialectPostgres
	per := max(1, batchParams/ncols)
	vals := make([]any, 0, min(n, per)*ncols)
	for start := 0; start < n; start += per {
		end := min(n, start+per)
		var b strings.Builder
		b.WriteString(head)
		vals = vals[:0]
		for i := start; i < end; i++ {
			if i > start {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			for c := range ncols {
				if c > 0 {
					b.WriteByte(',')
				}
				if numbered {
					b.WriteByte('$')
					b.WriteString(strconv.Itoa((i-start)*ncols + c + 1))
				} else {
					b.WriteByte('?')
				}
			}
			b.WriteByte(')')
			vals = args(i, vals)
		}
		b.WriteString(tail)
		if _, err := tx.ExecContext(ctx, b.String(), vals...); err != nil {
			return err
		}
	}
	return nil
}

// cleanText returns s as valid UTF-8 without NUL bytes. PostgreSQL rejects
// both in TEXT while SQLite stores them; replacing them keeps the two backends
// alike and keeps one odd name from failing a whole batch.
func cleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// cleanName normalises a domain name: no trailing dot, lower case (DNS names
// are case-insensitive and some resolvers randomise case), clean text.
func cleanName(s string) string {
	s = strings.TrimSuffix(s, ".")
	return cleanText(strings.ToLower(s))
}
