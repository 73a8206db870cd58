package hotline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/kidshield/kidshield/filter/lists"
	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/store"
)

// Administrators' list work outside a case: an emergency entry (still proposed, approved by a
// second person like any other), removal, and imports of public category lists as separate,
// attributed sources (store.ImportList; the network's own entries win over them in
// store.ActiveNetworkEntries).

// ListSourceAdmin is the source of an entry an administrator made without a case.
const ListSourceAdmin = "admin"

// AddListEntry proposes a value without a case (an administrator's emergency entry). It waits
// for a second person's approval like every proposal. The canary and public suffixes are refused.
func (s *Service) AddListEntry(ctx context.Context, by Actor, kind, value, category, reason string) (int64, error) {
	if store.IsCanary(value) {
		return 0, store.ErrCanary
	}
	if !slices.Contains(store.ListKinds, kind) {
		return 0, fmt.Errorf("unknown kind %q (want %s): %w", kind, strings.Join(store.ListKinds, ", "), store.ErrListValue)
	}
	n, err := store.NormalizeListValue(kind, value)
	if err != nil {
		return 0, err
	}
	if kind == store.ListDomain {
		if ps, _ := publicsuffix.PublicSuffix(n); ps == n {
			return 0, fmt.Errorf("%q is a public suffix, not a site: %w", value, store.ErrListValue)
		}
	}
	if strings.TrimSpace(reason) == "" {
		return 0, errors.New("a reason is required")
	}
	return s.o.Store.ProposeListEntry(ctx, store.ListProposal{Kind: kind, Value: n, Category: category, Source: ListSourceAdmin,
		Reason: strings.TrimSpace(reason), ActorID: by.UserID, Actor: by.Label, Time: s.o.Now()})
}

// RemoveListEntry ends an entry: a proposal is rejected, an active or appealed entry delisted
// (the tombstone stays, and keeps imports of the value off the list).
func (s *Service) RemoveListEntry(ctx context.Context, by Actor, id int64, reason string) (*store.ListEntry, error) {
	if id == 0 {
		return nil, store.ErrCanary // the canary is the only entry without an id
	}
	if strings.TrimSpace(reason) == "" {
		return nil, errors.New("a reason is required")
	}
	e, err := s.o.Store.ListEntryByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if e.State == lifecycle.ListProposed {
		return s.RejectListEntry(ctx, by, id, reason)
	}
	return s.DelistListEntry(ctx, by, id, reason)
}

// MaxImportBytes bounds an imported list: the largest public lists are tens of MB.
const MaxImportBytes = 512 << 20

// ListImportInput is an import of a public list.
type ListImportInput struct {
	Source   string // the source's name; a new import of it replaces the previous one
	Category string
	Location string // a file path, or an http(s) URL an administrator gave
	Format   string // as lists.ParseFormat: auto (default), domains, hosts, adblock
	// Client fetches URLs; nil: a client with a 2-minute timeout.
	Client   *http.Client
	MaxBytes int64 // 0: MaxImportBytes
}

// ListImportReport says what an import read and changed.
type ListImportReport struct {
	store.ImportResult
	Parse lists.Stats
	// Ignored counts rules the network list cannot hold: exceptions (@@), "subdomains only"
	// rules and public suffixes. Refused (from ImportResult) then says why for the first few
	// of these and of the values the store refused.
	Ignored int
	Digest  string
}

// ImportList reads a public list (file or URL) in one of the filter's formats and replaces the
// source's previous import with it (store.ImportList): domains block with their subdomains,
// exact rules only their host. A read error, a list over the size cap or a list without a
// single rule changes nothing. OnListChange runs when the import changed the list.
func (s *Service) ImportList(ctx context.Context, by Actor, in ListImportInput) (*ListImportReport, error) {
	if in.Format == "" {
		in.Format = "auto"
	}
	f, err := lists.ParseFormat(in.Format)
	if err != nil {
		return nil, err
	}
	if in.MaxBytes <= 0 {
		in.MaxBytes = MaxImportBytes
	}
	body, err := openImport(ctx, in)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	cr := &cappedReader{r: body, max: in.MaxBytes, h: sha256.New()}
	l, st, err := lists.Compile(cr, f)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", in.Location, err)
	}
	rep := &ListImportReport{Parse: st, Digest: "sha256:" + hex.EncodeToString(cr.h.Sum(nil))}
	var entries []store.ImportEntry
	var why []string // the first few ignored rules, with the reason
	for r := range l.All() {
		var kind, reason string
		switch {
		case r.Allow:
			reason = "an exception (@@): the network list only blocks"
		case r.Kind == lists.SubdomainsOnly:
			reason = "a subdomains-only rule: the network list has no such kind"
		case r.Kind == lists.Subtree:
			if ps, _ := publicsuffix.PublicSuffix(r.Name); ps != r.Name {
				kind = store.ListDomain
			} else {
				reason = "a public suffix or a single-label name: blocking it would block every site under it"
			}
		case r.Kind == lists.Exact:
			kind = store.ListHost
		}
		if kind == "" {
			rep.Ignored++
			if len(why) < store.MaxRefusedShown {
				why = append(why, fmt.Sprintf("%q is %s", r.Name, reason))
			}
			continue
		}
		entries = append(entries, store.ImportEntry{Kind: kind, Value: r.Name})
	}
	if len(entries) == 0 {
		return rep, fmt.Errorf("import %s: no usable entries (%d lines, %d bad): nothing changed (wrong --format?)", in.Location, st.Lines, st.Bad)
	}
	res, err := s.o.Store.ImportList(ctx, store.ListImport{Source: in.Source, Category: in.Category, Origin: in.Location, Format: f.String(),
		Digest: rep.Digest, Entries: entries, Actor: by.Label, Time: s.o.Now()})
	if err != nil {
		return rep, err
	}
	rep.ImportResult = res
	rep.Refused = append(why, res.Refused...)[:min(len(why)+len(res.Refused), store.MaxRefusedShown)]
	if res.Changed() && s.o.OnListChange != nil {
		s.o.OnListChange()
	}
	return rep, nil
}

// openImport opens a file, or GETs a URL: an administrator's URL, not a user's, so private
// addresses are allowed (a list mirror on the LAN), but time and size are bounded.
func openImport(ctx context.Context, in ListImportInput) (io.ReadCloser, error) {
	loc := in.Location
	if !strings.HasPrefix(loc, "http://") && !strings.HasPrefix(loc, "https://") {
		if strings.Contains(loc, "://") {
			return nil, fmt.Errorf("import %s: only files and http(s) URLs", loc)
		}
		return os.Open(loc)
	}
	c := in.Client
	if c == nil {
		c = &http.Client{Timeout: 2 * time.Minute}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	req.Header.Set("User-Agent", "kidshield-list-import")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("import %s: HTTP %s", loc, resp.Status)
	}
	if resp.ContentLength > in.MaxBytes {
		resp.Body.Close()
		return nil, fmt.Errorf("import %s: larger than %d bytes", loc, in.MaxBytes)
	}
	return resp.Body, nil
}

// cappedReader hashes what it reads and fails once more than max bytes came through, so a list
// over the cap is refused rather than imported cut short.
type cappedReader struct {
	r   io.Reader
	n   int64
	max int64
	h   hash.Hash
}

func (c *cappedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.h.Write(p[:n])
	if c.n > c.max {
		return n, fmt.Errorf("larger than %d bytes", c.max)
	}
	return n, err
}
