package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

// Kinds of network-list entries.
const (
	ListDomain = "domain" // the domain and every subdomain
	ListHost   = "host"   // exactly this host name
	ListURL    = "url"    // one canonical URL
	ListHash   = "hash"   // a content hash ("sha256:…", "pdq:…")
)

// ListKinds lists the kinds of entries.
var ListKinds = []string{ListDomain, ListHost, ListURL, ListHash}

// ErrListed is returned (wrapped, with ErrConflict) when a value already has a live entry
// (proposed, active or appealed).
var ErrListed = errors.New("this value is already on the list or waiting for approval")

// ErrListValue is returned (wrapped) for a value that is not a valid entry of its kind.
var ErrListValue = errors.New("not a valid list value")

// lstProfile is the IDNA lookup profile of list names (as filter/lists and hotline/canon use):
// non-transitional, without the hyphen and STD3 checks browsers do not make either.
var lstProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
	idna.CheckHyphens(false),
	idna.StrictDomainName(false),
)

var lstLabel = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$`)
var lstHash = regexp.MustCompile(`^(sha256:[0-9a-f]{64}|pdq:[0-9a-f]{64}|md5:[0-9a-f]{32}|sha1:[0-9a-f]{40})$`)

// NormalizeListValue returns the stored form of a value of kind: names in lower case, IDN in
// punycode, without a trailing dot; URLs as given (they are canonical already) but trimmed;
// hashes as "algo:lowerhex".
func NormalizeListValue(kind, v string) (string, error) {
	v = strings.TrimSpace(v)
	switch kind {
	case ListDomain, ListHost:
		v = strings.TrimSuffix(v, ".")
		if v == "" {
			return "", fmt.Errorf("empty name: %w", ErrListValue)
		}
		if _, err := netip.ParseAddr(v); err == nil {
			return "", fmt.Errorf("%q is an address, not a name: %w", v, ErrListValue)
		}
		if !utf8.ValidString(v) {
			// IDNA would turn the invalid bytes into U+FFFD and a punycode label that does not
			// decode again: refuse rather than store a name nobody typed.
			return "", fmt.Errorf("%q is not valid UTF-8: %w", v, ErrListValue)
		}
		a, err := lstProfile.ToASCII(v)
		if err != nil {
			return "", fmt.Errorf("%q: %v: %w", v, err, ErrListValue)
		}
		a = strings.ToLower(a)
		if len(a) > 253 || !strings.Contains(a, ".") {
			return "", fmt.Errorf("%q is not a domain name: %w", v, ErrListValue)
		}
		for l := range strings.SplitSeq(a, ".") {
			if !lstLabel.MatchString(l) {
				return "", fmt.Errorf("%q: bad label %q: %w", v, l, ErrListValue)
			}
		}
		return a, nil
	case ListURL:
		if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") || len(v) > 2048 || strings.ContainsAny(v, " \t\r\n") {
			return "", fmt.Errorf("%q is not a URL: %w", v, ErrListValue)
		}
		return cleanText(v), nil
	case ListHash:
		v = strings.ToLower(v)
		if !lstHash.MatchString(v) {
			return "", fmt.Errorf("%q is not sha256:, pdq:, sha1: or md5: with hex digits: %w", v, ErrListValue)
		}
		return v, nil
	}
	return "", fmt.Errorf("unknown kind %q: %w", kind, ErrListValue)
}

// ListEntry is one entry of the network list, live or a tombstone.
type ListEntry struct {
	ID             int64
	Kind           string
	Value          string
	Category       string
	State          string
	CaseID         int64
	CaseRef        string
	Source         string // "case", "import", ...
	Reason         string
	ProposedBy     int64
	ProposedByName string
	Proposed       time.Time
	ApprovedBy     int64
	ApprovedByName string
	Activated      time.Time
	Ended          time.Time
	LastVerified   time.Time
	Expires        time.Time
	Updated        time.Time
	// DNSName is, for a URL entry proposed with "also block its host in DNS", its host's
	// normalised name: the published list then also carries a host entry of that name
	// (Source "url") for DNS consumers. Empty otherwise.
	DNSName string
}

// RecheckDue reports whether the entry blocks and its expiry has passed at now: someone must
// look at the content again (VerifyListEntry). It keeps blocking meanwhile.
func (e *ListEntry) RecheckDue(now time.Time) bool {
	return lifecycle.ListBlocks(e.State) && !e.Expires.IsZero() && !e.Expires.After(now)
}

const listCols = `e.id, e.kind, e.value, e.category, e.state, COALESCE(e.case_id, 0), COALESCE(c.ref, ''), e.source, e.reason,
	COALESCE(e.proposed_by, 0), COALESCE(up.name, ''), e.proposed_us, COALESCE(e.approved_by, 0), COALESCE(ua.name, ''),
	e.activated_us, e.ended_us, e.last_verified_us, e.expires_us, e.updated_us, e.dns_name`

const listFrom = ` FROM list_entries e LEFT JOIN cases c ON c.id = e.case_id LEFT JOIN users up ON up.id = e.proposed_by
	LEFT JOIN users ua ON ua.id = e.approved_by`

func scanListEntry(sc interface{ Scan(...any) error }) (*ListEntry, error) {
	var e ListEntry
	var prop, act, end, ver, exp, upd int64
	err := sc.Scan(&e.ID, &e.Kind, &e.Value, &e.Category, &e.State, &e.CaseID, &e.CaseRef, &e.Source, &e.Reason, &e.ProposedBy,
		&e.ProposedByName, &prop, &e.ApprovedBy, &e.ApprovedByName, &act, &end, &ver, &exp, &upd, &e.DNSName)
	if err != nil {
		return nil, err
	}
	e.Proposed, e.Activated, e.Ended = usTime(prop), usTime(act), usTime(end)
	e.LastVerified, e.Expires, e.Updated = usTime(ver), usTime(exp), usTime(upd)
	return &e, nil
}

// ListProposal proposes a value for the network list.
type ListProposal struct {
	Kind     string
	Value    string
	Category string
	CaseID   int64
	Source   string // default "case"
	Reason   string
	ActorID  int64
	Actor    string
	Time     time.Time
	// DNSHost, for a URL, also blocks the URL's host by DNS (everything on that host): the
	// entry keeps the host's name (ListEntry.DNSName) and publishes it as a host entry.
	DNSHost bool
}

// URLDNSName returns the name a URL entry with DNSHost publishes: the URL's host, normalised
// as a host entry (NormalizeListValue). A URL whose host is an address or no name is refused.
func URLDNSName(rawURL string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("%q has no host name: %w", rawURL, ErrListValue)
	}
	n, err := NormalizeListValue(ListHost, u.Hostname())
	if err != nil {
		return "", err
	}
	if n == CanaryValue {
		return "", ErrCanary
	}
	return n, nil
}

// ProposeListEntry stores a proposal (state proposed) after normalising the value; a value with
// a live entry already is refused with ErrListed. The change bumps the list serial.
func (s *Store) ProposeListEntry(ctx context.Context, lp ListProposal) (int64, error) {
	v, err := NormalizeListValue(lp.Kind, lp.Value)
	if err != nil {
		return 0, fmt.Errorf("store: propose list entry: %w", err)
	}
	dnsName := ""
	if lp.DNSHost {
		if lp.Kind != ListURL {
			return 0, fmt.Errorf("store: propose list entry: only a URL entry blocks its host by DNS (a %s entry is a name already): %w", lp.Kind, ErrListValue)
		}
		if dnsName, err = URLDNSName(v); err != nil {
			return 0, fmt.Errorf("store: propose list entry: %w", err)
		}
	}
	if lp.Time.IsZero() {
		lp.Time = time.Now()
	}
	if lp.Source == "" {
		lp.Source = "case"
	}
	if strings.TrimSpace(lp.Category) == "" {
		return 0, fmt.Errorf("store: propose list entry: no category: %w", ErrListValue)
	}
	now := lp.Time.UnixMicro()
	var id int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM list_entries WHERE kind = $1 AND value = $2 AND state IN ('proposed', 'active', 'appealed')`,
			lp.Kind, v).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%s %s: %w: %w", lp.Kind, v, ErrListed, ErrConflict)
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO list_entries (kind, value, category, state, case_id, source, reason, proposed_by, proposed_us, updated_us, dns_name)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) RETURNING id`,
			lp.Kind, v, cleanText(lp.Category), lifecycle.List.Initial(), nullID(lp.CaseID), lp.Source, cleanText(lp.Reason), nullID(lp.ActorID), now, dnsName).Scan(&id)
		if err != nil {
			if lstUniqueViolation(err) {
				return fmt.Errorf("%s %s: %w: %w", lp.Kind, v, ErrListed, ErrConflict)
			}
			return err
		}
		if err := s.lockListSerial(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO list_changes (entry_id, op, time_us) VALUES ($1, 'propose', $2)`, id, now); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, AuditEvent{Time: lp.Time, Actor: lp.Actor, Action: "list.propose", Object: fmt.Sprintf("list:%d", id),
			Detail: map[string]any{"kind": lp.Kind, "category": lp.Category, "case": lp.CaseID, "source": lp.Source, "dns_host": dnsName != ""}})
	})
	if err != nil {
		return 0, fmt.Errorf("store: propose list entry: %w", err)
	}
	return id, nil
}

func lstUniqueViolation(err error) bool {
	m := strings.ToLower(err.Error())
	return strings.Contains(m, "unique") || strings.Contains(m, "duplicate key")
}

// ListChange is one decision on an entry.
type ListChange struct {
	To      string // checked against lifecycle.List
	ActorID int64
	Actor   string
	Reason  string // kept in the audit log's detail only as "reason given"; the entry keeps it when delisted or disabled
	Time    time.Time
	// Recheck is, on approval, how long until the entry is due a re-check (its expiry);
	// zero: DefaultListRecheck.
	Recheck time.Duration
}

// DefaultListRecheck is the re-check period of an entry when the caller gives none (the
// default of the configuration key hotline.list_recheck_after).
const DefaultListRecheck = 30 * 24 * time.Hour

// ChangeListEntry moves an entry along one edge of lifecycle.List: proposed → active needs a
// second person (lifecycle.CheckApproval); delisted, disabled and rejected entries stay as
// tombstones. The change bumps the list serial. blocking reports whether the set of blocked
// values changed (the filter must reload).
func (s *Store) ChangeListEntry(ctx context.Context, id int64, ch ListChange) (e *ListEntry, blocking bool, err error) {
	if ch.Time.IsZero() {
		ch.Time = time.Now()
	}
	now := ch.Time.UnixMicro()
	err = s.write(ctx, func(tx *sql.Tx) error {
		cur, err := scanListEntry(tx.QueryRowContext(ctx, `SELECT `+listCols+listFrom+` WHERE e.id = $1`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := lifecycle.List.Check(cur.State, ch.To); err != nil {
			return err
		}
		sets := []string{"state = $1", "updated_us = $2"}
		p := params{ch.To, now}
		op := ch.To
		switch {
		case cur.State == lifecycle.ListProposed && ch.To == lifecycle.ListActive:
			if err := lifecycle.CheckApproval(cur.ProposedBy, ch.ActorID); err != nil {
				return err
			}
			if ch.Recheck <= 0 {
				ch.Recheck = DefaultListRecheck
			}
			sets = append(sets, "approved_by = "+p.add(ch.ActorID), "activated_us = $2", "last_verified_us = $2",
				"expires_us = "+p.add(ch.Time.Add(ch.Recheck).UnixMicro()))
			op = "approve"
		case cur.State == lifecycle.ListAppealed && ch.To == lifecycle.ListActive:
			op = "uphold"
		case ch.To == lifecycle.ListRejected || ch.To == lifecycle.ListDelisted || ch.To == lifecycle.ListDisabled:
			sets = append(sets, "ended_us = $2")
			if r := strings.TrimSpace(ch.Reason); r != "" {
				sets = append(sets, "reason = "+p.add(cleanText(cur.Reason+"\n"+ch.To+": "+r)))
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE list_entries SET `+strings.Join(sets, ", ")+` WHERE id = `+p.add(id), p...); err != nil {
			return err
		}
		if err := s.lockListSerial(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO list_changes (entry_id, op, time_us) VALUES ($1, $2, $3)`, id, op, now); err != nil {
			return err
		}
		blocking = lifecycle.ListBlocks(cur.State) != lifecycle.ListBlocks(ch.To)
		return s.appendAudit(ctx, tx, AuditEvent{Time: ch.Time, Actor: ch.Actor, Action: "list." + op, Object: fmt.Sprintf("list:%d", id),
			Detail: map[string]any{"from": cur.State, "to": ch.To, "kind": cur.Kind, "category": cur.Category, "reason_given": strings.TrimSpace(ch.Reason) != ""}})
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: change list entry %d: %w", id, err)
	}
	e, err = s.ListEntryByID(ctx, id)
	return e, blocking, err
}

// ListVerification records that someone looked at an entry's content again and it still
// belongs on the list.
type ListVerification struct {
	ActorID int64
	Actor   string
	Time    time.Time
	// Recheck is how long until the next re-check; zero: DefaultListRecheck.
	Recheck time.Duration
}

// ErrNotBlocking is returned (wrapped, with ErrConflict) for a re-check of an entry that does
// not block (a proposal or a tombstone): there is nothing to keep on the list.
var ErrNotBlocking = errors.New("only an active or appealed entry can be re-checked")

// VerifyListEntry records a re-check of an active or appealed entry: last verified now, expiry
// now + the period. The state does not change, but the published entry does (the JSON feed
// carries both dates), so the change is numbered (op "verify") and audited like any other.
func (s *Store) VerifyListEntry(ctx context.Context, id int64, v ListVerification) (*ListEntry, error) {
	if v.Time.IsZero() {
		v.Time = time.Now()
	}
	if v.Recheck <= 0 {
		v.Recheck = DefaultListRecheck
	}
	now := v.Time.UnixMicro()
	err := s.write(ctx, func(tx *sql.Tx) error {
		cur, err := scanListEntry(tx.QueryRowContext(ctx, `SELECT `+listCols+listFrom+` WHERE e.id = $1`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if !lifecycle.ListBlocks(cur.State) {
			return fmt.Errorf("entry is %s: %w: %w", cur.State, ErrNotBlocking, ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE list_entries SET last_verified_us = $1, expires_us = $2, updated_us = $1 WHERE id = $3`,
			now, v.Time.Add(v.Recheck).UnixMicro(), id); err != nil {
			return err
		}
		if err := s.lockListSerial(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO list_changes (entry_id, op, time_us) VALUES ($1, 'verify', $2)`, id, now); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, AuditEvent{Time: v.Time, Actor: v.Actor, Action: "list.verify", Object: fmt.Sprintf("list:%d", id),
			Detail: map[string]any{"kind": cur.Kind, "category": cur.Category, "state": cur.State, "was_due": cur.RecheckDue(v.Time)}})
	})
	if err != nil {
		return nil, fmt.Errorf("store: verify list entry %d: %w", id, err)
	}
	return s.ListEntryByID(ctx, id)
}

// CountListRecheckDue returns how many entries that block are due a re-check at now (their
// expiry passed).
func (s *Store) CountListRecheckDue(ctx context.Context, now time.Time) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM list_entries WHERE state IN ('active', 'appealed') AND expires_us > 0 AND expires_us <= $1`,
		now.UnixMicro()).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count list re-checks due: %w", err)
	}
	return n, nil
}

// ListEntryByID returns one entry.
func (s *Store) ListEntryByID(ctx context.Context, id int64) (*ListEntry, error) {
	e, err := scanListEntry(s.r.QueryRowContext(ctx, `SELECT `+listCols+listFrom+` WHERE e.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: list entry %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: list entry %d: %w", id, err)
	}
	return e, nil
}

// ListFilter selects entries. Zero fields match everything.
type ListFilter struct {
	States []string
	CaseID int64
	// DueBy, when set, selects the entries that block and are due a re-check at that time
	// (expiry passed), oldest expiry first.
	DueBy time.Time
	Limit int // default 500, at most 5000
}

// ListEntries returns entries, newest first (with DueBy: the longest overdue first).
func (s *Store) ListEntries(ctx context.Context, f ListFilter) ([]*ListEntry, error) {
	var p params
	var conds []string
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		for i, st := range f.States {
			ph[i] = p.add(st)
		}
		conds = append(conds, "e.state IN ("+strings.Join(ph, ",")+")")
	}
	if f.CaseID != 0 {
		conds = append(conds, "e.case_id = "+p.add(f.CaseID))
	}
	order := "e.id DESC"
	if !f.DueBy.IsZero() {
		conds = append(conds, "e.state IN ('active', 'appealed')", "e.expires_us > 0", "e.expires_us <= "+p.add(f.DueBy.UnixMicro()))
		order = "e.expires_us, e.id"
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 500
	}
	limit = min(limit, 5000)
	rows, err := s.r.QueryContext(ctx, `SELECT `+listCols+listFrom+` WHERE `+where(conds)+fmt.Sprintf(` ORDER BY %s LIMIT %d`, order, limit), p...)
	if err != nil {
		return nil, fmt.Errorf("store: list entries: %w", err)
	}
	defer rows.Close()
	var out []*ListEntry
	for rows.Next() {
		e, err := scanListEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list entries: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ActiveListEntries returns every entry that blocks (active or appealed), by kind and value.
func (s *Store) ActiveListEntries(ctx context.Context) ([]*ListEntry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+listCols+listFrom+` WHERE e.state IN ('active', 'appealed') ORDER BY e.kind, e.value`+s.collate())
	if err != nil {
		return nil, fmt.Errorf("store: active list entries: %w", err)
	}
	defer rows.Close()
	var out []*ListEntry
	for rows.Next() {
		e, err := scanListEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("store: active list entries: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ListSerial is the list's serial: the number of the last change (0 for a list never changed).
// It only grows, so a consumer that saw serial N knows it is up to date while it reads N.
func (s *Store) ListSerial(ctx context.Context) (int64, error) {
	var n sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(serial) FROM list_changes`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: list serial: %w", err)
	}
	return n.Int64, nil
}

// lockListSerial serialises, on PostgreSQL, the transactions that number list changes, until
// they commit: serials are then committed in order, so a reader that saw serial N never misses
// a change numbered below N that committed later (the feed and the filter follow the highest
// serial). SQLite has one writer and needs none. Take it before the audit lock (appendAudit
// comes last in a transaction), never after.
func (s *Store) lockListSerial(ctx context.Context, tx *sql.Tx) error {
	if s.dialect != DialectPostgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(27508)`)
	return err
}
