package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kidshield/kidshield/hotline/lifecycle"
)

// Notice is a takedown notice or a referral to one partner about one case (HOTLINE.md "A
// takedown notice holds"). Its state follows lifecycle.Notice; every change goes through
// ChangeNotice.
type Notice struct {
	ID     int64
	Ref    string
	CaseID int64
	// CaseRef is the case's reference: an opaque code, the only thing of the case a partner
	// sees.
	CaseRef         string
	PartnerID       int64
	PartnerName     string
	PartnerKind     string
	PartnerCountry  string
	PartnerEmail    string
	PartnerLanguage string
	Kind            string // "takedown" or "referral"
	State           string
	Language        string
	Ground          string // taxonomy.Ground
	LegalText       string
	Explanation     string
	Category        string // the harm code
	Detection       string // "report", "flagger", "crawler"
	Automated       bool
	Action          string // requested action
	Scope           string
	Preserve        bool // evidence preservation requested
	TLP             string
	DeadlineH       int // hours the recipient has once the notice is sent
	Deadline        time.Time
	CreatedBy       int64
	CreatedByName   string
	Created         time.Time
	ApprovedBy      int64
	ApprovedByName  string
	Approved        time.Time
	Sent            time.Time
	Acknowledged    time.Time
	Actioned        time.Time
	ActionTaken     string // taxonomy.NoticeActions
	Verified        time.Time
	Closed          time.Time
	Reminders       int
	LastReminder    time.Time
	Response        string // the recipient's reason for a dispute or refusal
	Reappeared      time.Time
	Signature       string
	Updated         time.Time
	Items           []NoticeItem
}

// NoticeItem is one locator a notice names: never the media, only where it is and its hashes.
type NoticeItem struct {
	ID          int64
	URL         string
	PlatformID  string
	ContentType string
	FirstSeen   time.Time
	Hashes      string // "sha256:…,pdq:…"
}

// Overdue reports whether the notice waits on its recipient past its deadline at now.
func (n *Notice) Overdue(now time.Time) bool {
	return lifecycle.NoticeOpen(n.State) && !n.Deadline.IsZero() && now.After(n.Deadline)
}

// TimeToRemoval is the takedown clock (sent → actioned); 0 until both are known.
func (n *Notice) TimeToRemoval() time.Duration {
	if n.Sent.IsZero() || n.Actioned.IsZero() {
		return 0
	}
	return n.Actioned.Sub(n.Sent)
}

// NoticeCaseStates are the case states a notice may be drafted in.
var NoticeCaseStates = []string{lifecycle.CaseActionable, lifecycle.CaseSecondReview, lifecycle.CaseReferred, lifecycle.CaseMonitoring}

// ErrCaseNotReady is returned (wrapped) when a notice is drafted on a case that is not
// actionable, in second review, referred or monitored.
var ErrCaseNotReady = errors.New("a notice can be drafted only on a case that is actionable, in second review, referred or monitored")

// ErrAnswerTime is returned (wrapped) when the time given for a recipient's answer is before the
// notice was first sent or after the change itself (in the future).
var ErrAnswerTime = errors.New("the time of the answer must lie between the sending of the notice and now")

// ErrPartnerInactive is returned (wrapped) when a notice is addressed to an inactive partner.
var ErrPartnerInactive = errors.New("the partner is inactive")

// NewNotice is a draft ready to store: validated by package hotline.
type NewNotice struct {
	Ref         string
	CaseID      int64
	PartnerID   int64
	Kind        string
	Language    string
	Ground      string
	LegalText   string
	Explanation string
	Category    string
	Detection   string
	Automated   bool
	Action      string
	Scope       string
	Preserve    bool
	TLP         string
	DeadlineH   int
	Items       []NoticeItem
	ActorID     int64
	Actor       string
	Time        time.Time
}

const noticeCols = `n.id, n.ref, n.case_id, c.ref, n.partner_id, p.name, p.kind, p.country, p.email, p.language, n.kind, n.state,
	n.language, n.ground, n.legal_text, n.explanation, n.category, n.detection, n.automated, n.action, n.scope, n.preserve, n.tlp,
	n.deadline_h, n.deadline_us, COALESCE(n.created_by, 0), COALESCE(uc.name, ''), n.created_us, COALESCE(n.approved_by, 0),
	COALESCE(ua.name, ''), n.approved_us, n.sent_us, n.acknowledged_us, n.actioned_us, n.action_taken, n.verified_us, n.closed_us,
	n.reminders, n.last_reminder_us, n.response, n.reappeared_us, n.signature, n.updated_us`

const noticeFrom = ` FROM notices n JOIN cases c ON c.id = n.case_id JOIN partners p ON p.id = n.partner_id
	LEFT JOIN users uc ON uc.id = n.created_by LEFT JOIN users ua ON ua.id = n.approved_by`

func scanNotice(sc interface{ Scan(...any) error }) (*Notice, error) {
	var n Notice
	var automated, preserve int64
	var deadline, created, approved, sent, ack, actioned, verified, closed, lastRem, reapp, updated int64
	err := sc.Scan(&n.ID, &n.Ref, &n.CaseID, &n.CaseRef, &n.PartnerID, &n.PartnerName, &n.PartnerKind, &n.PartnerCountry, &n.PartnerEmail,
		&n.PartnerLanguage, &n.Kind, &n.State, &n.Language, &n.Ground, &n.LegalText, &n.Explanation, &n.Category, &n.Detection, &automated,
		&n.Action, &n.Scope, &preserve, &n.TLP, &n.DeadlineH, &deadline, &n.CreatedBy, &n.CreatedByName, &created, &n.ApprovedBy,
		&n.ApprovedByName, &approved, &sent, &ack, &actioned, &n.ActionTaken, &verified, &closed, &n.Reminders, &lastRem, &n.Response,
		&reapp, &n.Signature, &updated)
	if err != nil {
		return nil, err
	}
	n.Automated, n.Preserve = automated != 0, preserve != 0
	n.Deadline, n.Created, n.Approved, n.Sent = usTime(deadline), usTime(created), usTime(approved), usTime(sent)
	n.Acknowledged, n.Actioned, n.Verified, n.Closed = usTime(ack), usTime(actioned), usTime(verified), usTime(closed)
	n.LastReminder, n.Reappeared, n.Updated = usTime(lastRem), usTime(reapp), usTime(updated)
	return &n, nil
}

// CreateNotice stores a draft notice with its items in one transaction, after checking that
// the case may be acted on and the partner is active. It returns the notice's id.
func (s *Store) CreateNotice(ctx context.Context, nn NewNotice) (int64, error) {
	if nn.Time.IsZero() {
		nn.Time = time.Now()
	}
	now := nn.Time.UnixMicro()
	if nn.DeadlineH <= 0 {
		nn.DeadlineH = 24
	}
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var cstate string
		err := tx.QueryRowContext(ctx, `SELECT state FROM cases WHERE id = $1`, nn.CaseID).Scan(&cstate)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("case %d: %w", nn.CaseID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if !slices.Contains(NoticeCaseStates, cstate) {
			return fmt.Errorf("case is %q: %w", cstate, ErrCaseNotReady)
		}
		var active int64
		err = tx.QueryRowContext(ctx, `SELECT active FROM partners WHERE id = $1`, nn.PartnerID).Scan(&active)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("partner %d: %w", nn.PartnerID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if active == 0 {
			return ErrPartnerInactive
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO notices (ref, case_id, partner_id, kind, state, language, ground, legal_text, explanation,
			category, detection, automated, action, scope, preserve, tlp, deadline_h, created_by, created_us, updated_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19) RETURNING id`,
			nn.Ref, nn.CaseID, nn.PartnerID, nn.Kind, lifecycle.Notice.Initial(), nn.Language, nn.Ground, cleanText(nn.LegalText),
			cleanText(nn.Explanation), nn.Category, nn.Detection, ptnBool(nn.Automated), nn.Action, nn.Scope, ptnBool(nn.Preserve), nn.TLP,
			nn.DeadlineH, nullID(nn.ActorID), now).Scan(&id)
		if err != nil {
			return err
		}
		for _, it := range nn.Items {
			if _, err := tx.ExecContext(ctx, `INSERT INTO notice_items (notice_id, url, platform_id, content_type, first_seen_us, hashes)
				VALUES ($1, $2, $3, $4, $5, $6)`, id, cleanText(it.URL), cleanText(it.PlatformID), cleanText(it.ContentType),
				usOf(it.FirstSeen), cleanText(it.Hashes)); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO case_events (case_id, time_us, actor_id, kind, detail) VALUES ($1, $2, $3, 'notice', $4)`,
			nn.CaseID, now, nullID(nn.ActorID), "notice "+nn.Ref+" drafted"); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, AuditEvent{Time: nn.Time, Actor: nn.Actor, Action: "notice.create", Object: fmt.Sprintf("notice:%d", id),
			Detail: map[string]any{"case": nn.CaseID, "partner": nn.PartnerID, "kind": nn.Kind, "items": len(nn.Items), "ground": nn.Ground}})
	})
	if err != nil {
		return 0, fmt.Errorf("store: create notice: %w", err)
	}
	return id, nil
}

// NoticeByID returns a notice with its items.
func (s *Store) NoticeByID(ctx context.Context, id int64) (*Notice, error) {
	var n *Notice
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = s.noticeTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: notice %d: %w", id, err)
	}
	return n, nil
}

func (s *Store) noticeTx(ctx context.Context, tx *sql.Tx, id int64) (*Notice, error) {
	n, err := scanNotice(tx.QueryRowContext(ctx, `SELECT `+noticeCols+noticeFrom+` WHERE n.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, url, platform_id, content_type, first_seen_us, hashes FROM notice_items WHERE notice_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var it NoticeItem
		var fs int64
		if err := rows.Scan(&it.ID, &it.URL, &it.PlatformID, &it.ContentType, &fs, &it.Hashes); err != nil {
			return nil, err
		}
		it.FirstSeen = usTime(fs)
		n.Items = append(n.Items, it)
	}
	return n, rows.Err()
}

// NoticeFilter selects notices for a list. Zero fields match everything.
type NoticeFilter struct {
	States    []string
	PartnerID int64
	CaseID    int64
	// OverdueAt, when set, keeps only open notices whose deadline passed at that time.
	OverdueAt time.Time
	Limit     int // default 100, at most 1000
	Offset    int
}

// Notices lists notices, newest first, with the total matching count. Items are not loaded.
func (s *Store) Notices(ctx context.Context, f NoticeFilter) ([]*Notice, int, error) {
	var p params
	var conds []string
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		for i, st := range f.States {
			ph[i] = p.add(st)
		}
		conds = append(conds, "n.state IN ("+strings.Join(ph, ",")+")")
	}
	if f.PartnerID != 0 {
		conds = append(conds, "n.partner_id = "+p.add(f.PartnerID))
	}
	if f.CaseID != 0 {
		conds = append(conds, "n.case_id = "+p.add(f.CaseID))
	}
	if !f.OverdueAt.IsZero() {
		conds = append(conds, "n.state IN ('sent', 'acknowledged', 'overdue', 'reminded', 'escalated') AND n.deadline_us > 0 AND n.deadline_us < "+
			p.add(f.OverdueAt.UnixMicro()))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var out []*Notice
	var total int
	err := s.read(ctx, func(tx *sql.Tx) error {
		w := where(conds)
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM notices n WHERE `+w, p...).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+noticeCols+noticeFrom+` WHERE `+w+
			fmt.Sprintf(` ORDER BY n.id DESC LIMIT %d OFFSET %d`, limit, max(0, f.Offset)), p...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			n, err := scanNotice(rows)
			if err != nil {
				return err
			}
			out = append(out, n)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: notices: %w", err)
	}
	return out, total, nil
}

// NoticeChange is one step of a notice's lifecycle by one actor.
type NoticeChange struct {
	To      string // the new state, checked against lifecycle.Notice
	ActorID int64
	Actor   string // for the audit log
	Time    time.Time
	// PartnerID, when non-zero, restricts the change to a notice addressed to that partner: any
	// other notice is ErrNotFound, so a partner cannot learn that it exists.
	PartnerID int64
	// ActionTaken is what the recipient did (To = actioned).
	ActionTaken string
	// AnswerAt is when the recipient answered (To = acknowledged or actioned): the receipt or
	// the action, not the moment someone typed it in. Zero means Time. A time given must lie
	// between the notice's first sending and Time, else ErrAnswerTime: the takedown clock
	// (actioned − sent) is built on it.
	AnswerAt time.Time
	// Source, for an answer a staff member records on the recipient's behalf, says how it
	// arrived ("email", "phone", "letter"...); empty when the recipient answered in the partner
	// view. It goes into the audit record, so the notice's history shows who typed what.
	Source string
	// Response is the recipient's reason (To = disputed) or a note of who escalated it.
	Response string
	// Sign, for To = sent from approved, returns the signature of the notice as sent (its sent and
	// deadline times set); it runs inside the transaction.
	Sign func(*Notice) (string, error)
}

// ChangeNotice moves a notice along one edge of lifecycle.Notice in one transaction, with the
// side effects of the target state: the two-person rule for approval, the clocks, the deadline
// and signature when sent, the reminder count; sending a notice of a case that is actionable or
// in second review moves the case to referred (checked by lifecycle.Case). The change and its
// audit record commit together.
func (s *Store) ChangeNotice(ctx context.Context, id int64, ch NoticeChange) (*Notice, error) {
	if ch.Time.IsZero() {
		ch.Time = time.Now()
	}
	err := s.write(ctx, func(tx *sql.Tx) error { return s.changeNoticeTx(ctx, tx, id, ch) })
	if err != nil {
		return nil, fmt.Errorf("store: change notice %d: %w", id, err)
	}
	return s.NoticeByID(ctx, id)
}

func (s *Store) changeNoticeTx(ctx context.Context, tx *sql.Tx, id int64, ch NoticeChange) error {
	n, err := s.noticeTx(ctx, tx, id)
	if err != nil {
		return err
	}
	if ch.PartnerID != 0 && n.PartnerID != ch.PartnerID {
		return ErrNotFound
	}
	if err := lifecycle.Notice.Check(n.State, ch.To); err != nil {
		return err
	}
	now := ch.Time.UnixMicro()
	sets := []string{"state = $1", "updated_us = $2"}
	p := params{ch.To, now}
	detail := map[string]any{"from": n.State, "to": ch.To}
	if ch.Source != "" {
		detail["source"] = cleanText(ch.Source)
		detail["recorded"] = "recorded by staff: " + cleanText(ch.Source)
	}
	switch ch.To {
	case lifecycle.NoticeApproved:
		if err := lifecycle.CheckApproval(n.CreatedBy, ch.ActorID); err != nil {
			return err
		}
		sets = append(sets, "approved_by = "+p.add(ch.ActorID), "approved_us = $2")
	case lifecycle.NoticeSent:
		deadline := ch.Time.Add(time.Duration(n.DeadlineH) * time.Hour)
		sets = append(sets, "deadline_us = "+p.add(deadline.UnixMicro()))
		if n.State == lifecycle.NoticeApproved {
			// The first sending: the takedown clock starts, and the notice is signed as sent.
			sets = append(sets, "sent_us = $2")
			n.Sent, n.Deadline, n.State = ch.Time.UTC(), deadline.UTC(), ch.To
			if ch.Sign != nil {
				sig, err := ch.Sign(n)
				if err != nil {
					return err
				}
				sets = append(sets, "signature = "+p.add(sig))
			}
			if err := s.referCaseTx(ctx, tx, n, ch); err != nil {
				return err
			}
		} else {
			// Verification found the content still there: back to the recipient with a new
			// deadline; the first sending time stays, so the takedown clock keeps running.
			sets = append(sets, "actioned_us = 0", "action_taken = ''", "verified_us = 0")
			detail["resent"] = true
		}
	case lifecycle.NoticeAcknowledged:
		at, err := answerTime(n, ch)
		if err != nil {
			return err
		}
		if n.Acknowledged.IsZero() {
			sets = append(sets, "acknowledged_us = "+p.add(at.UnixMicro()))
		}
		if !ch.AnswerAt.IsZero() {
			detail["answered"] = at.UTC().Format(time.RFC3339)
		}
	case lifecycle.NoticeActioned:
		at, err := answerTime(n, ch)
		if err != nil {
			return err
		}
		sets = append(sets, "actioned_us = "+p.add(at.UnixMicro()), "action_taken = "+p.add(ch.ActionTaken))
		detail["action"] = ch.ActionTaken
		if !ch.AnswerAt.IsZero() {
			detail["answered"] = at.UTC().Format(time.RFC3339)
		}
	case lifecycle.NoticeVerified:
		sets = append(sets, "verified_us = $2")
	case lifecycle.NoticeClosed, lifecycle.NoticeWithdrawn:
		sets = append(sets, "closed_us = $2")
	case lifecycle.NoticeReminded:
		sets = append(sets, "reminders = reminders + 1", "last_reminder_us = $2")
	case lifecycle.NoticeDisputed:
		sets = append(sets, "response = "+p.add(cleanText(ch.Response)))
	}
	if _, err := tx.ExecContext(ctx, `UPDATE notices SET `+strings.Join(sets, ", ")+` WHERE id = `+p.add(id), p...); err != nil {
		return err
	}
	return s.appendAudit(ctx, tx, AuditEvent{Time: ch.Time, Actor: ch.Actor, Action: "notice." + ch.To, Object: fmt.Sprintf("notice:%d", id), Detail: detail})
}

// answerTime is when the recipient answered: ch.AnswerAt, or ch.Time when none was given. A time
// before the first sending or after ch.Time is ErrAnswerTime. Forms give minutes, so a time in
// the very minute the notice was sent counts as the sending itself.
func answerTime(n *Notice, ch NoticeChange) (time.Time, error) {
	at := ch.AnswerAt
	if at.IsZero() {
		return ch.Time, nil
	}
	if at.After(ch.Time) {
		return time.Time{}, fmt.Errorf("answer at %s, now %s: %w", at.UTC().Format(time.RFC3339), ch.Time.UTC().Format(time.RFC3339), ErrAnswerTime)
	}
	if !n.Sent.IsZero() && at.Before(n.Sent) {
		if at.Before(n.Sent.Truncate(time.Minute)) {
			return time.Time{}, fmt.Errorf("answer at %s, sent %s: %w", at.UTC().Format(time.RFC3339), n.Sent.UTC().Format(time.RFC3339), ErrAnswerTime)
		}
		at = n.Sent
	}
	return at, nil
}

// referCaseTx moves the notice's case to referred when it is actionable or in second review.
func (s *Store) referCaseTx(ctx context.Context, tx *sql.Tx, n *Notice, ch NoticeChange) error {
	var state string
	if err := tx.QueryRowContext(ctx, `SELECT state FROM cases WHERE id = $1`, n.CaseID).Scan(&state); err != nil {
		return err
	}
	if state != lifecycle.CaseActionable && state != lifecycle.CaseSecondReview {
		return nil
	}
	if err := lifecycle.Case.Check(state, lifecycle.CaseReferred); err != nil {
		return err
	}
	now := ch.Time.UnixMicro()
	if _, err := tx.ExecContext(ctx, `UPDATE cases SET state = $1, referred_us = CASE WHEN referred_us = 0 THEN $2 ELSE referred_us END,
		updated_us = $2, version = version + 1 WHERE id = $3`, lifecycle.CaseReferred, now, n.CaseID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO case_events (case_id, time_us, actor_id, kind, from_state, to_state, detail)
		VALUES ($1, $2, $3, 'transition', $4, $5, $6)`, n.CaseID, now, nullID(ch.ActorID), state, lifecycle.CaseReferred,
		cleanText("notice "+n.Ref+" sent to "+n.PartnerName)); err != nil {
		return err
	}
	return s.appendAudit(ctx, tx, AuditEvent{Time: ch.Time, Actor: ch.Actor, Action: "case.change", Object: fmt.Sprintf("case:%d", n.CaseID),
		Detail: map[string]any{"from": state, "to": lifecycle.CaseReferred, "notice": n.ID}})
}

// SweepNotices is the deadline job, in one transaction: sent and acknowledged notices past their
// deadline become overdue, and overdue or reminded notices whose last reminder (or, before the
// first, whose deadline) is at least every old become reminded. It returns how many of each.
//
// Notices whose case is no longer open (closed, purged or not actionable: lifecycle.CaseOpen)
// are left alone: nothing is being asked of the partner any more, and reminding it of content
// the hotline itself has stopped pursuing (or whose data is purged) would be noise at best. An
// analyst withdraws or closes such a notice; reopening the case brings it back into the sweep.
func (s *Store) SweepNotices(ctx context.Context, now time.Time, every time.Duration, actor string) (overdue, reminded int, err error) {
	const caseOpen = ` AND case_id IN (SELECT id FROM cases WHERE state NOT IN ('` + lifecycle.CaseClosed + `', '` + lifecycle.CasePurged +
		`', '` + lifecycle.CaseNotActionable + `'))`
	err = s.write(ctx, func(tx *sql.Tx) error {
		overdue, reminded = 0, 0
		ids, err := ntcIDs(ctx, tx, `SELECT id FROM notices WHERE state IN ('sent', 'acknowledged') AND deadline_us > 0 AND deadline_us < $1`+
			caseOpen+` ORDER BY id`, now.UnixMicro())
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := s.changeNoticeTx(ctx, tx, id, NoticeChange{To: lifecycle.NoticeOverdue, Actor: actor, Time: now}); err != nil {
				return err
			}
			overdue++
		}
		ids, err = ntcIDs(ctx, tx, `SELECT id FROM notices WHERE state IN ('overdue', 'reminded')
			AND CASE WHEN last_reminder_us > deadline_us THEN last_reminder_us ELSE deadline_us END <= $1`+caseOpen+` ORDER BY id`,
			now.Add(-every).UnixMicro())
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := s.changeNoticeTx(ctx, tx, id, NoticeChange{To: lifecycle.NoticeReminded, Actor: actor, Time: now}); err != nil {
				return err
			}
			reminded++
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("store: sweep notices: %w", err)
	}
	return overdue, reminded, nil
}

func ntcIDs(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// CaseURLFirstSeen returns, per canonical URL of a case, when a report first named it.
func (s *Store) CaseURLFirstSeen(ctx context.Context, caseID int64) (map[string]time.Time, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT u.canonical, MIN(r.received_us) FROM report_urls u JOIN reports r ON r.id = u.report_id
		WHERE u.case_id = $1 GROUP BY u.canonical`, caseID)
	if err != nil {
		return nil, fmt.Errorf("store: first seen of case %d: %w", caseID, err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var u string
		var t int64
		if err := rows.Scan(&u, &t); err != nil {
			return nil, fmt.Errorf("store: first seen of case %d: %w", caseID, err)
		}
		out[u] = usTime(t)
	}
	return out, rows.Err()
}

// NoticeHistory returns the audit records of one notice, oldest first: its history.
func (s *Store) NoticeHistory(ctx context.Context, id int64) ([]AuditEntry, error) {
	obj := fmt.Sprintf("notice:%d", id)
	rows, err := s.r.QueryContext(ctx, `SELECT time_us, actor, action, detail FROM audit_log WHERE object = $1 ORDER BY seq`, obj)
	if err != nil {
		return nil, fmt.Errorf("store: history of notice %d: %w", id, err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var t int64
		if err := rows.Scan(&t, &e.Actor, &e.Action, &e.Detail); err != nil {
			return nil, fmt.Errorf("store: history of notice %d: %w", id, err)
		}
		e.Time = usTime(t)
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditEntry is one line of an object's history, read from the audit log.
type AuditEntry struct {
	Time   time.Time
	Actor  string
	Action string
	Detail string // JSON
}
