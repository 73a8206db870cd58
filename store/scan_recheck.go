package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

// Re-checks of the URLs named in takedown notices (migration 0010): the scanner fetches each URL
// item of a notice that waits on its recipient and records here what it found, so that the
// removal is recorded on the notice once every URL is gone, and content that comes back after
// a removal is seen as a change.

// ScanJobNoticeRecheck is the kind of job that re-checks one URL item of a notice.
const ScanJobNoticeRecheck = "notice_recheck"

// RecheckAwaiting are the notice states in which a removal is awaited: their URLs are
// re-checked, and a removal the scanner sees is recorded (→ actioned).
var RecheckAwaiting = []string{lifecycle.NoticeSent, lifecycle.NoticeAcknowledged, lifecycle.NoticeOverdue, lifecycle.NoticeReminded,
	lifecycle.NoticeEscalated}

// RecheckRemoved are the states of a notice whose content was removed: their URLs are still
// re-checked for a while (NoticeItemsToRecheck's removedSince) to see the content come back.
var RecheckRemoved = []string{lifecycle.NoticeActioned, lifecycle.NoticeVerified, lifecycle.NoticeClosed}

// NoticeItemCheck is the last re-check of one URL item of a notice.
type NoticeItemCheck struct {
	ItemID     int64
	NoticeID   int64
	Checked    time.Time
	HTTPStatus int
	FinalURL   string
	SHA256     string
	// Gone says the content was not there; Reason says why ("http_404", "http_410",
	// "marker:<platform>", "hash_absent") or why it counts as there ("page_present",
	// "hash_present").
	Gone   bool
	Reason string
	// GoneSince is when the content was first found gone in the current run of gone checks.
	GoneSince time.Time
}

// RecheckItem is one URL item of a notice due for a re-check, with its last check (nil: never
// checked).
type RecheckItem struct {
	NoticeID    int64
	NoticeRef   string
	NoticeState string
	CaseID      int64
	ItemID      int64
	URL         string
	Hashes      string
	Last        *NoticeItemCheck
}

const itemCheckCols = `item_id, notice_id, checked_us, http_status, final_url, sha256, gone, reason, gone_since_us`

func scanItemCheck(sc interface{ Scan(...any) error }) (*NoticeItemCheck, error) {
	var c NoticeItemCheck
	var checked, since, gone int64
	if err := sc.Scan(&c.ItemID, &c.NoticeID, &checked, &c.HTTPStatus, &c.FinalURL, &c.SHA256, &gone, &c.Reason, &since); err != nil {
		return nil, err
	}
	c.Checked, c.GoneSince, c.Gone = usTime(checked), usTime(since), gone != 0
	return &c, nil
}

// NoticeItemsToRecheck lists the URL items to re-check: those of notices awaiting a removal
// (RecheckAwaiting), and those of notices whose removal was recorded at or after removedSince
// (RecheckRemoved), to see the content come back. Items of purged cases and items without an
// http(s) URL are left out.
func (s *Store) NoticeItemsToRecheck(ctx context.Context, removedSince time.Time) ([]RecheckItem, error) {
	var p params
	aw := make([]string, 0, len(RecheckAwaiting))
	for _, st := range RecheckAwaiting {
		aw = append(aw, p.add(st))
	}
	rm := make([]string, 0, len(RecheckRemoved))
	for _, st := range RecheckRemoved {
		rm = append(rm, p.add(st))
	}
	q := `SELECT n.id, n.ref, n.state, n.case_id, i.id, i.url, i.hashes, COALESCE(k.checked_us, -1), COALESCE(k.http_status, 0),
			COALESCE(k.final_url, ''), COALESCE(k.sha256, ''), COALESCE(k.gone, 0), COALESCE(k.reason, ''), COALESCE(k.gone_since_us, 0)
		FROM notice_items i JOIN notices n ON n.id = i.notice_id JOIN cases c ON c.id = n.case_id
		LEFT JOIN notice_item_checks k ON k.item_id = i.id
		WHERE c.state <> ` + p.add(lifecycle.CasePurged) + ` AND (i.url LIKE 'http://%' OR i.url LIKE 'https://%')
		AND (n.state IN (` + joinComma(aw) + `) OR (n.state IN (` + joinComma(rm) + `) AND n.actioned_us >= ` + p.add(removedSince.UnixMicro()) + `))
		ORDER BY n.id, i.id`
	rows, err := s.r.QueryContext(ctx, q, p...)
	if err != nil {
		return nil, fmt.Errorf("store: notice items to re-check: %w", err)
	}
	defer rows.Close()
	var out []RecheckItem
	for rows.Next() {
		var it RecheckItem
		var c NoticeItemCheck
		var checked, gone, since int64
		if err := rows.Scan(&it.NoticeID, &it.NoticeRef, &it.NoticeState, &it.CaseID, &it.ItemID, &it.URL, &it.Hashes, &checked, &c.HTTPStatus,
			&c.FinalURL, &c.SHA256, &gone, &c.Reason, &since); err != nil {
			return nil, fmt.Errorf("store: notice items to re-check: %w", err)
		}
		if checked >= 0 {
			c.ItemID, c.NoticeID, c.Checked, c.Gone, c.GoneSince = it.ItemID, it.NoticeID, usTime(checked), gone != 0, usTime(since)
			it.Last = &c
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: notice items to re-check: %w", err)
	}
	return out, nil
}

func joinComma(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}

// RecordNoticeItemCheck stores c as the item's last check (replacing the one before).
func (s *Store) RecordNoticeItemCheck(ctx context.Context, c NoticeItemCheck) error {
	if c.ItemID <= 0 || c.NoticeID <= 0 {
		return errors.New("store: record notice item check: no item or notice")
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO notice_item_checks (`+itemCheckCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (item_id) DO UPDATE SET checked_us = excluded.checked_us, http_status = excluded.http_status,
			final_url = excluded.final_url, sha256 = excluded.sha256, gone = excluded.gone, reason = excluded.reason,
			gone_since_us = excluded.gone_since_us`,
			c.ItemID, c.NoticeID, usOf(c.Checked), c.HTTPStatus, cleanText(c.FinalURL), cleanText(c.SHA256), b2i(c.Gone), cleanText(c.Reason),
			usOf(c.GoneSince))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: record check of notice item %d: %w", c.ItemID, err)
	}
	return nil
}

// NoticeItemChecks returns the last check of each item of a notice that has one, by item id.
func (s *Store) NoticeItemChecks(ctx context.Context, noticeID int64) (map[int64]*NoticeItemCheck, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+itemCheckCols+` FROM notice_item_checks WHERE notice_id = $1`, noticeID)
	if err != nil {
		return nil, fmt.Errorf("store: checks of notice %d: %w", noticeID, err)
	}
	defer rows.Close()
	out := map[int64]*NoticeItemCheck{}
	for rows.Next() {
		c, err := scanItemCheck(rows)
		if err != nil {
			return nil, fmt.Errorf("store: checks of notice %d: %w", noticeID, err)
		}
		out[c.ItemID] = c
	}
	return out, rows.Err()
}

// MarkNoticeReappeared records that content of a removed notice is back (the notice's
// reappeared time), with an audit record of the notice ("notice.reappeared") holding detail.
// The notice's state does not change: sending it again is a person's decision.
func (s *Store) MarkNoticeReappeared(ctx context.Context, noticeID int64, at time.Time, actor string, detail map[string]any) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE notices SET reappeared_us = $1, updated_us = $1 WHERE id = $2`, at.UnixMicro(), noticeID)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		return s.appendAudit(ctx, tx, AuditEvent{Time: at, Actor: actor, Action: "notice.reappeared", Object: fmt.Sprintf("notice:%d", noticeID), Detail: detail})
	})
	if err != nil {
		return fmt.Errorf("store: notice %d reappeared: %w", noticeID, err)
	}
	return nil
}
