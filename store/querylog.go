package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// QueryLogEntry is one answered DNS query in the filter's query log.
type QueryLogEntry struct {
	ID      int64     `json:"id"` // assigned by the store; ignored by AddQueryLog
	Time    time.Time `json:"time"`
	Profile string    `json:"profile"`
	Device  string    `json:"device"`
	// Client is the client address as text, already anonymised by the caller
	// when the operator configured it; "" when unknown.
	Client   string `json:"client"`
	Name     string `json:"name"` // domain without trailing dot, lower case
	Type     string `json:"type"` // "A", "AAAA", "TYPE65", ...
	Result   string `json:"result"`
	Category string `json:"category"` // "" unless blocked
}

// QueryLogFilter selects query log entries. Zero fields match everything.
type QueryLogFilter struct {
	Profile, Device, Client string
	// Name matches the name and its subdomains: "example.com" matches
	// "example.com" and "www.example.com", not "badexample.com".
	Name     string
	Result   string
	Category string
	From, To time.Time // Time in [From, To)
	// BeforeID pages backwards: only entries with ID < BeforeID.
	BeforeID int64
	Limit    int // default 100, at most 1000
}

const (
	defaultLogLimit = 100
	maxLogLimit     = 1000
)

// AddQueryLog appends entries to the query log in one transaction.
func (s *Store) AddQueryLog(ctx context.Context, entries []QueryLogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		return s.insertBatched(ctx, tx,
			"INSERT INTO filter_query_log (time_us, profile, device, client, name, qtype, result, category) VALUES ", "",
			8, len(entries), func(i int, dst []any) []any {
				e := &entries[i]
				return append(dst, e.Time.UnixMicro(), cleanText(e.Profile), cleanText(e.Device), cleanText(e.Client),
					cleanName(e.Name), cleanText(e.Type), cleanText(e.Result), cleanText(e.Category))
			})
	})
	if err != nil {
		return fmt.Errorf("store: add query log: %w", err)
	}
	return nil
}

// QueryLog returns the entries selected by f, newest (highest ID) first.
func (s *Store) QueryLog(ctx context.Context, f QueryLogFilter) ([]QueryLogEntry, error) {
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return nil, errors.New("store: query log: To must be after From")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultLogLimit
	}
	limit = min(limit, maxLogLimit)

	var p params
	var conds []string
	for _, eq := range []struct{ col, val string }{
		{"profile", f.Profile}, {"device", f.Device}, {"client", f.Client},
		{"result", f.Result}, {"category", f.Category},
	} {
		if eq.val != "" {
			conds = append(conds, eq.col+" = "+p.add(eq.val))
		}
	}
	if f.Name != "" {
		name := cleanName(f.Name)
		conds = append(conds, "(name = "+p.add(name)+" OR name LIKE "+p.add("%."+escapeLike(name))+` ESCAPE '\')`)
	}
	if !f.From.IsZero() {
		conds = append(conds, "time_us >= "+p.add(f.From.UnixMicro()))
	}
	if !f.To.IsZero() {
		conds = append(conds, "time_us < "+p.add(f.To.UnixMicro()))
	}
	if f.BeforeID > 0 {
		conds = append(conds, "id < "+p.add(f.BeforeID))
	}
	query := "SELECT id, time_us, profile, device, client, name, qtype, result, category FROM filter_query_log WHERE " +
		where(conds) + " ORDER BY id DESC LIMIT " + p.add(limit)

	out := []QueryLogEntry{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		return scanAll(ctx, tx, query, p, func(rows *sql.Rows) error {
			var e QueryLogEntry
			var us int64
			if err := rows.Scan(&e.ID, &us, &e.Profile, &e.Device, &e.Client, &e.Name, &e.Type, &e.Result, &e.Category); err != nil {
				return err
			}
			e.Time = time.UnixMicro(us).UTC()
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: query log: %w", err)
	}
	return out, nil
}

// escapeLike escapes LIKE's wildcards; '_' is common in DNS names (SRV, DKIM).
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// PurgeQueryLog deletes entries older than before and returns how many.
func (s *Store) PurgeQueryLog(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, "DELETE FROM filter_query_log WHERE time_us < $1", before.UnixMicro())
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: purge query log: %w", err)
	}
	return n, nil
}
