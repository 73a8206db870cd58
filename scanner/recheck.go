package scanner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/kidshield/kidshield/hotline"
	"github.com/kidshield/kidshield/hotline/canon"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/scanner/fetch"
	"github.com/kidshield/kidshield/scanner/pdq"
	"github.com/kidshield/kidshield/store"
	"golang.org/x/text/unicode/norm"
)

// Re-checks of takedown notices. Every RecheckEvery, each URL item of a notice that waits on its
// recipient (store.RecheckAwaiting) is queued as a notice_recheck job; the job fetches the URL
// (as our own notice, not monitoring: robots.txt does not apply) and decides whether the
// content is gone:
//
//   - the page answers 404 or 410;
//   - the page carries a platform's removal marker (RemovalMarkers: heuristics);
//   - the item's known image hashes (the notice item's pdq:/sha256: hashes and the scanner's
//     matches on the case for that URL) no longer appear among the page's images.
//
// When every URL of a notice is gone, the removal is recorded on the notice through the same
// store path as a partner's or staff's answer (→ actioned, action "removed", actor "scanner"),
// with an evidence record of the capture on the case, so the takedown clock has its end. Items
// of removed notices are still re-checked for RecheckRemovedFor: content found back (the page
// present again when it was 404/410/marked, or the hash present again) marks the notice
// reappeared and reopens the case through the case lifecycle with the reason. Anything else
// (a site down, a 403 or 5xx, an image that could not be fetched) proves nothing and changes
// nothing.

// RemovalMarker is a text a platform shows in place of removed content, on its hosts.
type RemovalMarker struct {
	Platform string
	// Hosts are registrable domains: the marker applies to them and their subdomains.
	Hosts []string
	// Texts are matched case-insensitively in the page's title and visible text (NFC,
	// typographic apostrophes as ').
	Texts []string
}

// DefaultRemovalMarkers are the texts some large platforms show on a removed or unavailable
// item, in Vietnamese and English. They are heuristics, gathered by hand and bound to change:
// a marker only counts on its platform's hosts, and a page that merely quotes one elsewhere is
// not taken as removed.
var DefaultRemovalMarkers = []RemovalMarker{
	{Platform: "tiktok", Hosts: []string{"tiktok.com"}, Texts: []string{
		"Video currently unavailable", "This video is unavailable", "Couldn't find this account",
		"Video hiện không khả dụng", "Video này không khả dụng", "Không thể tìm thấy tài khoản này"}},
	{Platform: "facebook", Hosts: []string{"facebook.com", "fb.com", "fb.watch"}, Texts: []string{
		"This content isn't available right now", "This content isn't available at the moment", "This page isn't available",
		"Nội dung này hiện không hiển thị", "Nội dung này hiện không khả dụng", "Trang này không hiển thị"}},
	{Platform: "instagram", Hosts: []string{"instagram.com"}, Texts: []string{
		"Sorry, this page isn't available", "Rất tiếc, trang này hiện không khả dụng"}},
	{Platform: "youtube", Hosts: []string{"youtube.com", "youtu.be"}, Texts: []string{
		"Video unavailable", "This video has been removed", "This video isn't available anymore",
		"Video không có sẵn", "Video này không còn nữa", "Video này đã bị xóa"}},
	{Platform: "x", Hosts: []string{"x.com", "twitter.com"}, Texts: []string{
		"This post is unavailable", "This Tweet was deleted", "Hmm...this page doesn't exist",
		"Bài đăng này không khả dụng", "Hmm...trang này không tồn tại"}},
}

// markerNorm folds a text for marker matching.
func markerNorm(s string) string {
	s = norm.NFC.String(s)
	s = strings.NewReplacer("\u2019", "'", "\u2018", "'", "\u00a0", " ").Replace(s)
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// MatchRemovalMarker returns the platform whose marker the page text shows on host ("" none).
func MatchRemovalMarker(markers []RemovalMarker, host, text string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	t := ""
	for _, m := range markers {
		on := false
		for _, h := range m.Hosts {
			h = strings.ToLower(h)
			if host == h || strings.HasSuffix(host, "."+h) {
				on = true
				break
			}
		}
		if !on {
			continue
		}
		if t == "" {
			t = markerNorm(text)
		}
		for _, x := range m.Texts {
			if x = markerNorm(x); x != "" && strings.Contains(t, x) {
				return m.Platform
			}
		}
	}
	return ""
}

// ItemHashes are the hashes that identify a notice item's content on its page.
type ItemHashes struct {
	SHA256 []string
	PDQ    []pdq.Hash
}

// Len is how many hashes there are.
func (h ItemHashes) Len() int { return len(h.SHA256) + len(h.PDQ) }

// ParseItemHashes reads a notice item's hashes ("sha256:…,pdq:…"); unknown or malformed parts
// are skipped.
func ParseItemHashes(s string) ItemHashes {
	var h ItemHashes
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			continue
		}
		switch strings.ToLower(k) {
		case "sha256":
			if b, err := hex.DecodeString(v); err == nil && len(b) == sha256.Size {
				h.SHA256 = append(h.SHA256, strings.ToLower(v))
			}
		case "pdq":
			if p, err := pdq.ParseHash(v); err == nil {
				h.PDQ = append(h.PDQ, p)
			}
		}
	}
	return h
}

// Check is what one re-check of a URL found.
type Check struct {
	Capture *fetch.Capture
	// Gone says the content is not there, Present that it is; neither when the check proves
	// nothing (a 403 or 5xx, an image that could not be fetched).
	Gone, Present bool
	// Reason: http_404, http_410, marker:<platform>, hash_absent; page_present, hash_present;
	// or why the check proves nothing (http_<status>, images_unfetched, images_partial).
	Reason string
}

// Recheck fetches rawURL and decides whether the content named by hashes is still there.
// Page hashes (sha256 of the page itself) are not used to say "gone": pages change with every
// visit; only the images' hashes are.
func (s *Service) Recheck(ctx context.Context, rawURL string, hashes ItemHashes) (*Check, error) {
	c, err := s.o.Client.Fetch(ctx, rawURL, fetch.FetchOptions{Monitor: false})
	if err != nil {
		return nil, err
	}
	out := &Check{Capture: c}
	switch {
	case c.Status == 404 || c.Status == 410:
		out.Gone, out.Reason = true, fmt.Sprintf("http_%d", c.Status)
		return out, nil
	case c.Status < 200 || c.Status > 299:
		out.Reason = fmt.Sprintf("http_%d", c.Status)
		return out, nil
	}
	host := ""
	if u, err := url.Parse(c.FinalURL); err == nil {
		host = u.Hostname()
	}
	var images []fetch.ImageResult
	// partial says that not every image of the page was looked at (the page was cut at the
	// byte cap, or has more images than MaxImages): the known image may be among the rest, so
	// not finding it proves nothing. Without this a site could make the scanner record a
	// removal, and stop the takedown clock, by putting MaxImages decoys before the content.
	partial := false
	switch {
	case c.IsHTML():
		page := fetch.ExtractCapture(c, fetch.ExtractLimits{MaxImages: s.o.MaxImages})
		if p := MatchRemovalMarker(s.markers, host, page.Title+"\n"+page.Text); p != "" {
			out.Gone, out.Reason = true, "marker:"+p
			return out, nil
		}
		partial = c.Truncated || page.ImagesTruncated || len(page.Images) > s.o.MaxImages
		if hashes.Len() > 0 && len(page.Images) > 0 {
			imgs := page.Images
			if len(imgs) > s.o.MaxImages {
				imgs = imgs[:s.o.MaxImages]
			}
			images = s.fetchImages(ctx, imgs, false)
		}
	case pdq.Sniff(c.Body) != "":
		images = []fetch.ImageResult{{URL: c.FinalURL, Capture: c}}
	}
	if hashes.Len() == 0 {
		out.Present, out.Reason = true, "page_present"
		return out, nil
	}
	unfetched := false
	for _, im := range images {
		if im.Err == nil && im.Capture != nil && (im.Capture.Status == 404 || im.Capture.Status == 410) {
			continue // this image is gone
		}
		if im.Err != nil || im.Capture == nil || im.Capture.Status < 200 || im.Capture.Status > 299 || len(im.Capture.Body) == 0 ||
			im.Capture.Truncated {
			unfetched = true
			continue
		}
		if hasImage(im.Capture, hashes) {
			out.Present, out.Reason = true, "hash_present"
			return out, nil
		}
	}
	if unfetched || ctx.Err() != nil {
		out.Reason = "images_unfetched"
		return out, nil
	}
	if partial {
		out.Reason = "images_partial"
		return out, nil
	}
	out.Gone, out.Reason = true, "hash_absent"
	return out, nil
}

// hasImage says whether an image capture is one of hashes: the same bytes, or a PDQ hash of
// any of its eight rotations and flips within pdq.MatchDistance.
func hasImage(c *fetch.Capture, hashes ItemHashes) bool {
	sum := c.SHA256
	if sum == "" {
		h := sha256.Sum256(c.Body)
		sum = hex.EncodeToString(h[:])
	}
	for _, h := range hashes.SHA256 {
		if strings.EqualFold(h, sum) {
			return true
		}
	}
	if len(hashes.PDQ) == 0 {
		return false
	}
	img, _, err := pdq.DecodeBytes(c.Body, pdq.Limits{MaxBytes: int64(len(c.Body)) + 1})
	if err != nil {
		return false
	}
	hs, quality := pdq.HashDihedral(img)
	if quality < pdq.MinQuality {
		return false
	}
	for _, k := range hashes.PDQ {
		for _, h := range hs {
			if h.Distance(k) <= pdq.MatchDistance {
				return true
			}
		}
	}
	return false
}

// recheckJob is the payload of a store.ScanJobNoticeRecheck job.
type recheckJob struct {
	NoticeID int64  `json:"notice_id"`
	ItemID   int64  `json:"item_id"`
	URL      string `json:"url"`
}

// EnqueueRechecks queues a re-check of every URL item due (an identical pending job is not
// queued twice) and wakes the workers; it returns how many jobs are new.
func (s *Service) EnqueueRechecks(ctx context.Context) (int, error) {
	items, err := s.o.Store.NoticeItemsToRecheck(ctx, s.o.Now().Add(-s.o.RecheckRemovedFor))
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, it := range items {
		host := jobHost(it.URL)
		payload, err := json.Marshal(recheckJob{NoticeID: it.NoticeID, ItemID: it.ItemID, URL: it.URL})
		if err != nil {
			return n, err
		}
		_, created, err := s.o.Store.EnqueueScanJob(ctx, store.NewScanJob{Kind: store.ScanJobNoticeRecheck, Payload: payload, Host: host,
			MaxAttempts: s.o.MaxAttempts}, s.o.Now())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if created {
			n++
		}
	}
	s.wakeWorkers(n)
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("scanner: enqueue re-checks: %w", err)
	}
	return n, nil
}

// recheckLoop queues the re-checks at once and then every RecheckEvery until ctx ends.
func (s *Service) recheckLoop(ctx context.Context) {
	every(ctx, s.o.RecheckEvery, func() {
		if n, err := s.EnqueueRechecks(ctx); err != nil && ctx.Err() == nil {
			s.o.Logger.Warn("scanner: notice re-checks not queued", "err", err)
		} else if n > 0 {
			s.o.Logger.Debug("scanner: notice re-checks queued", "jobs", n)
		}
	})
}

// recheckItem is a notice_recheck job.
func (s *Service) recheckItem(ctx context.Context, p recheckJob) (err error, permanent bool) {
	n, err := s.o.Store.NoticeByID(ctx, p.NoticeID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false // deleted meanwhile: nothing to check
	}
	if err != nil {
		return err, false
	}
	var item *store.NoticeItem
	for i := range n.Items {
		if n.Items[i].ID == p.ItemID {
			item = &n.Items[i]
		}
	}
	awaiting := lifecycle.NoticeOpen(n.State)
	removed := n.State == lifecycle.NoticeActioned || n.State == lifecycle.NoticeVerified || n.State == lifecycle.NoticeClosed
	if item == nil || (!awaiting && !removed) {
		return nil, false // the notice moved on since the job was queued
	}
	prev, err := s.o.Store.NoticeItemChecks(ctx, n.ID)
	if err != nil {
		return err, false
	}
	hashes := ParseItemHashes(item.Hashes)
	if err := s.addScanHashes(ctx, n.CaseID, item.URL, &hashes); err != nil {
		return err, false
	}
	target, err := s.recheckURL(ctx, n.CaseID, item.URL)
	if err != nil {
		return err, false
	}
	chk, err := s.Recheck(ctx, target, hashes)
	if err != nil {
		// A site that cannot be reached proves nothing about removal; a destination the guard
		// refuses is refused on every retry.
		return err, errors.Is(err, fetch.ErrBlocked) || errors.Is(err, fetch.ErrBadURL)
	}
	if !chk.Gone && !chk.Present {
		return nil, false
	}
	now := s.o.Now()
	c := chk.Capture
	rec := store.NoticeItemCheck{ItemID: item.ID, NoticeID: n.ID, Checked: now, HTTPStatus: c.Status, FinalURL: c.FinalURL, SHA256: c.SHA256,
		Gone: chk.Gone, Reason: chk.Reason}
	last := prev[item.ID]
	if chk.Gone {
		rec.GoneSince = now
		if last != nil && last.Gone && !last.GoneSince.IsZero() {
			rec.GoneSince = last.GoneSince
		}
	}
	if err := s.o.Store.RecordNoticeItemCheck(ctx, rec); err != nil {
		return err, false
	}
	prev[item.ID] = &rec
	switch {
	case awaiting && chk.Gone:
		return s.recordRemoval(ctx, n, item, chk, prev), false
	case removed && chk.Present && last != nil && last.Gone:
		return s.recordReappeared(ctx, n, item, chk, last), false
	}
	return nil, false
}

// recheckURL is the address to fetch for a notice item: the URL as a reporter gave it when a
// report of the case named it (items hold the canonical form, always https, which a site
// served over http only would not answer), else the item's URL.
func (s *Service) recheckURL(ctx context.Context, caseID int64, itemURL string) (string, error) {
	us, err := s.o.Store.CaseURLs(ctx, caseID)
	if err != nil {
		return "", err
	}
	for _, u := range us {
		if u.Canonical == itemURL || u.Fetchable() == itemURL {
			return u.Fetchable(), nil
		}
	}
	return itemURL, nil
}

// addScanHashes adds the PDQ hashes and image SHA-256s of the scanner's known-hash matches on
// the case's page at itemURL (the notice item's own hashes are those of the evidence).
func (s *Service) addScanHashes(ctx context.Context, caseID int64, itemURL string, h *ItemHashes) error {
	rs, err := s.o.Store.CaseScanResults(ctx, caseID)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if !sameURL(r.URL, itemURL) && !sameURL(r.FinalURL, itemURL) {
			continue
		}
		for _, m := range r.Matches {
			if p, err := pdq.ParseHash(m.PDQ); err == nil {
				h.PDQ = append(h.PDQ, p)
			}
			if m.ImageSHA != "" {
				h.SHA256 = append(h.SHA256, strings.ToLower(m.ImageSHA))
			}
		}
	}
	return nil
}

func sameURL(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	ca, err1 := canon.URL(a)
	cb, err2 := canon.URL(b)
	return err1 == nil && err2 == nil && ca.URL == cb.URL
}

// recordRemoval records the notice's removal once every URL item's last check found it gone:
// the capture as evidence on the case, the check in the notice's history, and the notice
// actioned (action "removed") by the scanner, which stops the takedown clock.
func (s *Service) recordRemoval(ctx context.Context, n *store.Notice, item *store.NoticeItem, chk *Check, checks map[int64]*store.NoticeItemCheck) error {
	for _, it := range n.Items {
		if !strings.HasPrefix(it.URL, "http://") && !strings.HasPrefix(it.URL, "https://") {
			continue
		}
		if k := checks[it.ID]; k == nil || !k.Gone {
			return nil // another URL of the notice is still there (or not checked yet)
		}
	}
	c := chk.Capture
	now := s.o.Now()
	note := fmt.Sprintf("scanner: re-check of notice %s: %s gone (%s, HTTP %d)", n.Ref, item.URL, chk.Reason, c.Status)
	if _, err := s.o.Cases.AddEvidence(ctx, Actor, store.Evidence{CaseID: n.CaseID, URL: fetchedURL(c, item.URL), FinalURL: c.FinalURL, Captured: c.FetchedAt,
		HTTPStatus: c.Status, SHA256: c.SHA256, ContentType: c.SniffedType, Source: "scanner", Note: note}); err != nil {
		return err
	}
	if err := s.o.Store.AppendAudit(ctx, store.AuditEvent{Time: now, Actor: Actor.Label, Action: "notice.scanner_removal", Object: fmt.Sprintf("notice:%d", n.ID),
		Detail: map[string]any{"item": item.ID, "reason": chk.Reason, "status": c.Status, "final_url": c.FinalURL, "sha256": c.SHA256,
			"fetched": c.FetchedAt.UTC().Format(time.RFC3339)}}); err != nil {
		return err
	}
	_, err := s.o.Store.ChangeNotice(ctx, n.ID, store.NoticeChange{To: lifecycle.NoticeActioned, ActionTaken: "removed", Actor: Actor.Label, Time: now})
	if errors.Is(err, lifecycle.ErrTransition) {
		return nil // someone recorded an answer meanwhile: theirs stands
	}
	if err != nil {
		return err
	}
	s.o.Logger.Info("scanner: removal recorded on a notice", "notice", n.Ref, "reason", chk.Reason)
	return nil
}

// recordReappeared marks the notice reappeared and reopens its case (closed, resolved or not
// actionable → reopened) with the reason; an open case gets the reason as a note. The notice
// is not sent again: that is a person's decision.
func (s *Service) recordReappeared(ctx context.Context, n *store.Notice, item *store.NoticeItem, chk *Check, last *store.NoticeItemCheck) error {
	c := chk.Capture
	now := s.o.Now()
	reason := fmt.Sprintf("scanner: content of notice %s is back at %s (%s, HTTP %d; it was gone: %s since %s)", n.Ref, item.URL, chk.Reason,
		c.Status, last.Reason, last.GoneSince.UTC().Format(time.RFC3339))
	if _, err := s.o.Cases.AddEvidence(ctx, Actor, store.Evidence{CaseID: n.CaseID, URL: fetchedURL(c, item.URL), FinalURL: c.FinalURL, Captured: c.FetchedAt,
		HTTPStatus: c.Status, SHA256: c.SHA256, ContentType: c.SniffedType, Source: "scanner", Note: reason}); err != nil {
		return err
	}
	if err := s.o.Store.MarkNoticeReappeared(ctx, n.ID, now, Actor.Label, map[string]any{"item": item.ID, "reason": chk.Reason, "status": c.Status,
		"final_url": c.FinalURL, "sha256": c.SHA256, "was": last.Reason}); err != nil {
		return err
	}
	for try := 0; ; try++ {
		cs, err := s.o.Store.CaseByID(ctx, n.CaseID)
		if err != nil {
			return err
		}
		// The detail, short and fixed in shape, is what the case page words in the analyst's
		// language; the note keeps the sentence (URL, statuses, since when) as the record.
		ch := hotline.Change{Version: cs.Version, Kind: "scanner", Note: reason, Detail: ReappearedDetail(n.Ref, chk.Reason, last.Reason)}
		switch {
		case lifecycle.Case.Check(cs.State, lifecycle.CaseReopened) == nil:
			ch.To = lifecycle.CaseReopened
		case !lifecycle.CaseOpen(cs.State):
			return nil // purged: nothing to reopen
		}
		_, err = s.o.Cases.ChangeCase(ctx, Actor, n.CaseID, ch)
		if errors.Is(err, store.ErrConflict) && try < 3 {
			continue
		}
		if err != nil {
			return err
		}
		s.o.Logger.Info("scanner: removed content is back", "notice", n.Ref, "case", cs.Ref, "reopened", ch.To != "")
		return nil
	}
}

// fetchedURL is the URL a capture requested (the reporter's own form: http stays http), for
// evidence, which records what was fetched; the notice item's canonical URL when the capture
// has none.
func fetchedURL(c *fetch.Capture, itemURL string) string {
	if c != nil && c.RequestedURL != "" {
		return c.RequestedURL
	}
	return itemURL
}
