package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Partner is an organisation the hotline sends notices and referrals to (police, ministries,
// platforms, hosts, registrars, ISPs, other hotlines, NGOs). Partners are data an administrator
// edits: the code knows none of them by name.
type Partner struct {
	ID       int64
	Name     string
	Kind     string // taxonomy.PartnerKinds
	Country  string // ISO 3166-1 alpha-2
	Email    string
	Language string // "vi" or "en": the language its notices are written in
	// Domains the partner answers for (a platform's or host's): they suggest the recipient of a
	// notice from a case's URL hosts and group removal rates per platform.
	Domains []string
	// DeadlineH is how many hours the partner has to act on a notice.
	DeadlineH int
	Active    bool
	Created   time.Time
}

// ErrPartnerName is returned (wrapped, with ErrConflict) when another partner has the name.
var ErrPartnerName = errors.New("another partner already has this name")

const partnerCols = `p.id, p.name, p.kind, p.country, p.email, p.language, p.domains, p.deadline_h, p.active, p.created_us`

func scanPartner(sc interface{ Scan(...any) error }) (*Partner, error) {
	var p Partner
	var domains string
	var active, created int64
	if err := sc.Scan(&p.ID, &p.Name, &p.Kind, &p.Country, &p.Email, &p.Language, &domains, &p.DeadlineH, &active, &created); err != nil {
		return nil, err
	}
	p.Domains = partnerSplitDomains(domains)
	p.Active = active != 0
	p.Created = usTime(created)
	return &p, nil
}

// partnerSplitDomains reads the stored comma-separated list.
func partnerSplitDomains(s string) []string {
	var out []string
	for d := range strings.SplitSeq(s, ",") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// partnerJoinDomains normalises (lower case, no trailing dot, IDN → punycode) and deduplicates
// domains for storage.
func partnerJoinDomains(ds []string) (string, error) {
	seen := map[string]bool{}
	var out []string
	for _, d := range ds {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		n, err := NormalizeListValue(ListDomain, d)
		if err != nil {
			return "", err
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return strings.Join(out, ","), nil
}

func ptnBool(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// CreatePartner adds a partner and returns its id; actor names the administrator in the audit log.
func (s *Store) CreatePartner(ctx context.Context, p Partner, actor string) (int64, error) {
	domains, err := partnerJoinDomains(p.Domains)
	if err != nil {
		return 0, fmt.Errorf("store: create partner: %w", err)
	}
	if p.Created.IsZero() {
		p.Created = time.Now()
	}
	if p.DeadlineH <= 0 {
		p.DeadlineH = 24
	}
	var id int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM partners WHERE name = $1`, cleanText(p.Name)).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: %w", ErrPartnerName, ErrConflict)
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO partners (name, kind, country, email, language, domains, deadline_h, active, created_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			cleanText(p.Name), p.Kind, cleanText(p.Country), cleanText(p.Email), p.Language, domains, p.DeadlineH, ptnBool(p.Active),
			p.Created.UnixMicro()).Scan(&id)
		if err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, AuditEvent{Time: p.Created, Actor: actor, Action: "partner.create", Object: fmt.Sprintf("partner:%d", id),
			Detail: map[string]any{"kind": p.Kind, "active": p.Active, "deadline_h": p.DeadlineH}})
	})
	if err != nil {
		return 0, fmt.Errorf("store: create partner: %w", err)
	}
	return id, nil
}

// UpdatePartner replaces a partner's fields (all but the id and creation time).
func (s *Store) UpdatePartner(ctx context.Context, id int64, p Partner, actor string) error {
	domains, err := partnerJoinDomains(p.Domains)
	if err != nil {
		return fmt.Errorf("store: update partner %d: %w", id, err)
	}
	if p.DeadlineH <= 0 {
		p.DeadlineH = 24
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM partners WHERE name = $1 AND id <> $2`, cleanText(p.Name), id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: %w", ErrPartnerName, ErrConflict)
		}
		res, err := tx.ExecContext(ctx, `UPDATE partners SET name = $1, kind = $2, country = $3, email = $4, language = $5, domains = $6,
			deadline_h = $7, active = $8 WHERE id = $9`,
			cleanText(p.Name), p.Kind, cleanText(p.Country), cleanText(p.Email), p.Language, domains, p.DeadlineH, ptnBool(p.Active), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		return s.appendAudit(ctx, tx, AuditEvent{Actor: actor, Action: "partner.update", Object: fmt.Sprintf("partner:%d", id),
			Detail: map[string]any{"kind": p.Kind, "active": p.Active, "deadline_h": p.DeadlineH}})
	})
	if err != nil {
		return fmt.Errorf("store: update partner %d: %w", id, err)
	}
	return nil
}

// PartnerByID returns a partner.
func (s *Store) PartnerByID(ctx context.Context, id int64) (*Partner, error) {
	p, err := scanPartner(s.r.QueryRowContext(ctx, `SELECT `+partnerCols+` FROM partners p WHERE p.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: partner %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: partner %d: %w", id, err)
	}
	return p, nil
}

// Partners lists partners by name; activeOnly leaves out the inactive ones.
func (s *Store) Partners(ctx context.Context, activeOnly bool) ([]*Partner, error) {
	q := `SELECT ` + partnerCols + ` FROM partners p`
	if activeOnly {
		q += ` WHERE p.active <> 0`
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY p.name`+s.collate()+`, p.id`)
	if err != nil {
		return nil, fmt.Errorf("store: partners: %w", err)
	}
	defer rows.Close()
	var out []*Partner
	for rows.Next() {
		p, err := scanPartner(rows)
		if err != nil {
			return nil, fmt.Errorf("store: partners: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PartnerForHost returns the active partner whose domains cover host (the domain itself or a
// subdomain of it), preferring the longest, most specific domain; nil when none does.
func (s *Store) PartnerForHost(ctx context.Context, host string) (*Partner, error) {
	host = cleanName(host)
	ps, err := s.Partners(ctx, true)
	if err != nil {
		return nil, err
	}
	var best *Partner
	bestLen := 0
	for _, p := range ps {
		for _, d := range p.Domains {
			if (host == d || strings.HasSuffix(host, "."+d)) && len(d) > bestLen {
				best, bestLen = p, len(d)
			}
		}
	}
	return best, nil
}
