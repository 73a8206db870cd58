package scanner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/scanner/classify"
	"github.com/kidshield/kidshield/scanner/fetch"
	"github.com/kidshield/kidshield/scanner/pdq"
	"github.com/kidshield/kidshield/store"
)

// Outcome is what one scan found, before it is recorded.
type Outcome struct {
	Capture      *fetch.Capture
	Suggestion   classify.Result
	Matches      []store.ScanMatch
	ImagesHashed int
	Title        string // the page's title, for HTML
}

// Scan fetches rawURL as a reported URL (robots.txt does not apply: this is one page for
// review, not crawling), classifies its text and matches its images' PDQ hashes against the
// known hashes. A page that is itself an image is hashed too. Nothing is recorded.
func (s *Service) Scan(ctx context.Context, rawURL string) (*Outcome, error) {
	return s.scan(ctx, rawURL, false)
}

// scan is Scan; monitor honours robots.txt (monitored sources), for the page and its images.
func (s *Service) scan(ctx context.Context, rawURL string, monitor bool) (*Outcome, error) {
	c, err := s.o.Client.Fetch(ctx, rawURL, fetch.FetchOptions{Monitor: monitor})
	if err != nil {
		return nil, err
	}
	out := &Outcome{Capture: c}
	known := s.known.Load()
	var images []fetch.ImageResult
	switch {
	case c.IsHTML():
		page := fetch.ExtractCapture(c, fetch.ExtractLimits{MaxImages: s.o.MaxImages})
		out.Title = page.Title
		out.Suggestion = s.clf.Classify(strings.TrimSpace(page.Title + "\n" + page.Text))
		imgs := page.Images
		if len(imgs) > s.o.MaxImages {
			imgs = imgs[:s.o.MaxImages]
		}
		if len(imgs) > 0 {
			images = s.fetchImages(ctx, imgs, monitor)
		}
	case pdq.Sniff(c.Body) != "":
		images = []fetch.ImageResult{{URL: c.FinalURL, Capture: c}}
	}
	for _, im := range images {
		if im.Err != nil || im.Capture == nil || len(im.Capture.Body) == 0 || im.Capture.Truncated {
			continue
		}
		img, _, err := pdq.DecodeBytes(im.Capture.Body, pdq.Limits{MaxBytes: int64(len(im.Capture.Body)) + 1})
		if err != nil {
			continue
		}
		hs, quality := pdq.HashDihedral(img)
		if quality < pdq.MinQuality {
			continue // too weak a hash to act on
		}
		out.ImagesHashed++
		sum := im.Capture.SHA256
		if sum == "" {
			h := sha256.Sum256(im.Capture.Body)
			sum = hex.EncodeToString(h[:])
		}
		for _, m := range known.Match(hs) {
			out.Matches = append(out.Matches, store.ScanMatch{ImageURL: im.URL, ImageSHA: sum, PDQ: hs[0].String(), Known: m.Hash.String(),
				Source: known.Source(m.ID), HashID: m.ID, Distance: m.Distance, Transform: pdq.Dihedral[m.Transform], Quality: quality})
		}
	}
	return out, nil
}

// Strong says whether the outcome raises the case's priority, and why.
func (s *Service) Strong(o *Outcome) (reason string, ok bool) {
	best := -1
	for i, m := range o.Matches {
		if m.Distance <= pdq.MatchDistance && (best < 0 || m.Distance < o.Matches[best].Distance) {
			best = i
		}
	}
	if best >= 0 {
		m := o.Matches[best]
		return HashReason(m.Distance, m.Transform, m.Source), true
	}
	top := o.Suggestion.Top
	if raiseCategories[top] && o.Suggestion.Scores[top] >= s.o.TextThreshold {
		return TextReason(top, o.Suggestion.Scores[top], s.o.TextThreshold), true
	}
	return "", false
}

// The reasons of a raise are English sentences because they are the record (the case
// history, the audit log, exports), and they have a fixed shape because the case page reads
// their parts back to say the same in the analyst's language (hotline/ui deskRaise): change
// them together.

// HashReason is why a known-hash match raises a case: "known-hash match at distance 7
// (rot90, network list entry 12)". The source is worded by SourceLabel (no server path).
func HashReason(distance int, transform, source string) string {
	return fmt.Sprintf("known-hash match at distance %d (%s, %s)", distance, transform, SourceLabel(source))
}

// TextReason is why a text suggestion raises a case: "text suggests sexual (score 0.91 ≥ 0.65)".
func TextReason(category string, score, threshold float64) string {
	return fmt.Sprintf("text suggests %s (score %.2f ≥ %.2f)", category, score, threshold)
}

// RaiseDetail is the case history's line of a raise: "P2 → P1: <reason>". The priorities are
// in it so that the entry reads as the raise it is, not as a reclassification.
func RaiseDetail(from, to int, reason string) string {
	return fmt.Sprintf("P%d → P%d: %s", from, to, reason)
}

// ReappearedDetail is the case history's line when removed content of a notice is back:
// "notice N260301-ABC123: content back (page_present; was gone: http_404)", with the re-check's
// reason codes (Check.Reason) of now and of the last gone check. It holds no URL or time so
// that its shape stays fixed: the case page reads the codes back to say it in the analyst's
// language (hotline/ui deskReappeared), and the entry's note keeps the full English sentence,
// URL and times included, as the record.
func ReappearedDetail(noticeRef, reason, wasReason string) string {
	return fmt.Sprintf("notice %s: content back (%s; was gone: %s)", noticeRef, reason, wasReason)
}

// scanReportURL is a report_url job: scan, record the result and the evidence, raise the
// priority on a strong signal.
func (s *Service) scanReportURL(ctx context.Context, jobID int64, p reportJob) (err error, permanent bool) {
	o, err := s.Scan(ctx, p.URL)
	if err != nil {
		// A refused destination or an unusable URL is refused again on a retry.
		return err, errors.Is(err, fetch.ErrBlocked) || errors.Is(err, fetch.ErrBadURL)
	}
	c := o.Capture
	// What the case shows joins the page's text with its hosts (the list's category, cues in
	// the names). Only the text and the images raise the priority (Strong): a host already on
	// the list is blocked already, and a name's cue is a hint, not a finding.
	dom, err := s.classifyHosts(ctx, p.URL, c.FinalURL)
	if err != nil {
		return err, false
	}
	sug := s.clf.Merge(o.Suggestion, dom)
	res := store.ScanResult{JobID: jobID, CaseID: p.CaseID, URL: p.URL, FinalURL: c.FinalURL, RemoteAddr: c.RemoteAddr, HTTPStatus: c.Status,
		Fetched: c.FetchedAt, SHA256: c.SHA256, Bytes: c.Bytes, Matches: o.Matches, ImagesHashed: o.ImagesHashed,
		Suggestion: store.ScanSuggestion{Scores: sug.Scores, Top: sug.Top}}
	for _, r := range sug.Reasons {
		res.Suggestion.Reasons = append(res.Suggestion.Reasons, store.ScanReason{Category: r.Category, Rule: r.Rule, Evidence: r.Evidence})
	}
	// Evidence and the raise come first and the result last, so that a result on the case
	// means the whole scan was recorded (a retry after a failure in between repeats them).
	// The evidence's URL is the URL exactly as requested, FinalURL where the fetch ended.
	note := fmt.Sprintf("scanner: automatic fetch of %s, %d image(s) hashed, %d known-hash match(es), suggestion %s", p.URL, o.ImagesHashed, len(o.Matches), orClean(sug.Top))
	if _, err := s.o.Cases.AddEvidence(ctx, Actor, store.Evidence{CaseID: p.CaseID, URL: p.URL, FinalURL: c.FinalURL, Captured: c.FetchedAt,
		HTTPStatus: c.Status, SHA256: c.SHA256, ContentType: c.SniffedType, Source: "scanner", Note: note}); err != nil {
		return err, false
	}
	for _, m := range o.Matches {
		if _, err := s.o.Cases.AddEvidence(ctx, Actor, store.Evidence{CaseID: p.CaseID, URL: m.ImageURL, FinalURL: m.ImageURL, Captured: c.FetchedAt, SHA256: m.ImageSHA,
			PDQ: m.PDQ, Source: "scanner", Note: fmt.Sprintf("scanner: image of %s, %s", p.URL, HashReason(m.Distance, m.Transform, m.Source))}); err != nil {
			return err, false
		}
	}
	if reason, ok := s.Strong(o); ok {
		if res.Raised, err = s.raise(ctx, p.CaseID, reason); err != nil {
			return err, false
		}
	}
	if _, err := s.o.Store.AddScanResult(ctx, res); err != nil {
		return err, false
	}
	return nil, false
}

func orClean(top string) string {
	if top == "" {
		return classify.Clean
	}
	return top
}

// raise brings an open case to at least RaiseTo through the hotline's case change (checked,
// versioned, audited, the SLA brought forward). It never lowers a priority and leaves every
// other field as it is; a concurrent change by an analyst is re-read and the raise retried.
func (s *Service) raise(ctx context.Context, caseID int64, reason string) (bool, error) {
	for try := 0; ; try++ {
		c, err := s.o.Store.CaseByID(ctx, caseID)
		if err != nil {
			return false, err
		}
		if c.Priority <= RaiseTo || !lifecycle.CaseOpen(c.State) {
			return false, nil
		}
		// One history entry says what happened ("P2 → P1: known-hash match …"), not a
		// reclassification (QuietClassify). The note repeats the detail because an event is
		// only written with a note.
		detail := RaiseDetail(c.Priority, RaiseTo, reason)
		_, err = s.o.Cases.ChangeCase(ctx, Actor, caseID, hotline.Change{Version: c.Version, Kind: "scanner", Note: detail, Detail: detail, QuietClassify: true,
			Classify: &store.Classification{Harm: c.Harm, Severity: c.Severity, Legal: c.Legal, AgeBand: c.AgeBand, Flags: c.Flags, Priority: RaiseTo}})
		if errors.Is(err, store.ErrConflict) && try < 3 {
			continue
		}
		if err != nil {
			return false, err
		}
		// The audit record of the change names the new priority; this one says why.
		if err := s.o.Store.AppendAudit(ctx, store.AuditEvent{Time: s.o.Now(), Actor: Actor.Label, Action: "scanner.raise",
			Object: fmt.Sprintf("case:%d", caseID), Detail: map[string]any{"from": c.Priority, "to": RaiseTo, "reason": reason}}); err != nil {
			return true, err
		}
		s.o.Logger.Info("scanner: case priority raised", "case", c.Ref, "from", c.Priority, "to", RaiseTo)
		return true, nil
	}
}
