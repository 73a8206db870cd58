package hotline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/kidshield/kidshield/hotline/lifecycle"
	"github.com/kidshield/kidshield/hotline/taxonomy"
	"github.com/kidshield/kidshield/store"
)

// The network list is the hotline's contribution to the DNS filter: domains confirmed on a
// case, entered by one person and approved by another, blocked while removal is pending and
// delisted once the content is gone. Each change bumps the list serial; OnListChange tells the
// filter to reload.

// ListProposalInput is a proposal from a case.
type ListProposalInput struct {
	// Values are the names (or URLs) to list; empty: every host (or URL) of the case's URLs.
	Values []string
	Kind   string // store.ListDomain (default), store.ListHost or store.ListURL
	// DNSHost, for URLs, also blocks each URL's host by DNS: everything on that host, for
	// every DNS consumer (store.ListProposal.DNSHost).
	DNSHost bool
	// Category is the filter category; empty: the case's harm's (taxonomy.Harm.Category).
	Category string
	Reason   string
}

// ListSuggestion is what the proposal form starts from.
type ListSuggestion struct {
	Case     *store.Case
	Hosts    []string
	URLs     []string // the case's canonical URLs
	Category string
	Live     []*store.ListEntry // entries of this case already on the list or waiting
}

// SuggestListEntries returns the case's hosts and default category for the proposal form.
func (s *Service) SuggestListEntries(ctx context.Context, caseID int64) (*ListSuggestion, error) {
	c, err := s.o.Store.CaseByID(ctx, caseID)
	if err != nil {
		return nil, err
	}
	sg := &ListSuggestion{Case: c, Category: "hotline"}
	if h, ok := taxonomy.Lookup(c.Harm); ok {
		sg.Category = h.Category
	}
	urls, err := s.o.Store.CaseURLs(ctx, caseID)
	if err != nil {
		return nil, err
	}
	for _, u := range urls {
		if u.Host != "" && !slices.Contains(sg.Hosts, u.Host) {
			sg.Hosts = append(sg.Hosts, u.Host)
		}
		if u.Canonical != "" && !slices.Contains(sg.URLs, u.Canonical) {
			sg.URLs = append(sg.URLs, u.Canonical)
		}
	}
	if sg.Live, err = s.o.Store.ListEntries(ctx, store.ListFilter{CaseID: caseID, States: []string{lifecycle.ListProposed, lifecycle.ListActive, lifecycle.ListAppealed}}); err != nil {
		return nil, err
	}
	return sg, nil
}

// ProposeFromCase proposes the case's domains (or the chosen ones, or its URLs) for the network
// list. The case must be actionable or further along. It returns the ids of the new proposals.
func (s *Service) ProposeFromCase(ctx context.Context, by Actor, caseID int64, in ListProposalInput) ([]int64, error) {
	sg, err := s.SuggestListEntries(ctx, caseID)
	if err != nil {
		return nil, err
	}
	var verr ValidationError
	if !slices.Contains(store.NoticeCaseStates, sg.Case.State) {
		verr = append(verr, FieldError{Field: "case", Key: "list.err.case_state", Msg: "only an actionable case's domains can be listed"})
	}
	if in.Kind == "" {
		in.Kind = store.ListDomain
	}
	if in.Kind != store.ListDomain && in.Kind != store.ListHost && in.Kind != store.ListURL {
		verr = append(verr, FieldError{Field: "kind", Key: "list.err.kind", Msg: "a case proposes domains, hosts or URLs"})
	}
	if in.DNSHost && in.Kind != store.ListURL {
		verr = append(verr, FieldError{Field: "dns_host", Key: "list.err.dns_host_kind", Msg: "only a URL entry blocks its host by DNS"})
	}
	if in.Category = strings.TrimSpace(in.Category); in.Category == "" {
		in.Category = sg.Category
	}
	values := in.Values
	if len(values) == 0 {
		values = sg.Hosts
		if in.Kind == store.ListURL {
			values = sg.URLs
		}
	}
	if len(values) == 0 {
		verr = append(verr, FieldError{Field: "values", Key: "list.err.values", Msg: "choose at least one domain"})
	}
	var norm []string
	for _, v := range values {
		n, err := store.NormalizeListValue(in.Kind, v)
		if err == nil && in.Kind == store.ListDomain {
			// A public suffix ("com.vn", "github.io") is not one site: as a domain entry it
			// would block every site under it for every child the filter serves.
			if ps, _ := publicsuffix.PublicSuffix(n); ps == n {
				err = fmt.Errorf("%q is a public suffix, not a site", v)
			}
		}
		if err == nil && in.DNSHost {
			if err = checkDNSHost(n); err != nil {
				verr = append(verr, FieldError{Field: "values", Key: "list.err.dns_host", Msg: err.Error()})
				continue
			}
		}
		if err != nil {
			verr = append(verr, FieldError{Field: "values", Key: "list.err.value", Msg: err.Error()})
			continue
		}
		if !slices.Contains(norm, n) {
			norm = append(norm, n)
		}
	}
	if len([]rune(in.Reason)) > 2000 {
		verr = append(verr, FieldError{Field: "reason", Key: "report.err.too_long", Msg: "at most 2000 characters"})
	}
	if len(verr) > 0 {
		return nil, verr
	}
	var ids []int64
	for _, v := range norm {
		id, err := s.o.Store.ProposeListEntry(ctx, store.ListProposal{Kind: in.Kind, Value: v, Category: in.Category, CaseID: caseID,
			Source: "case", Reason: strings.TrimSpace(in.Reason), ActorID: by.UserID, Actor: by.Label, Time: s.o.Now(), DNSHost: in.DNSHost})
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// checkDNSHost refuses a URL whose host may not be blocked by DNS as a whole: an address, the
// canary, or a public suffix ("github.io", "blogspot.com": one host name there is many
// people's sites, as a domain entry for it would be).
func checkDNSHost(rawURL string) error {
	h, err := store.URLDNSName(rawURL)
	if err != nil {
		return err
	}
	if ps, _ := publicsuffix.PublicSuffix(h); ps == h {
		return fmt.Errorf("%q is a public suffix, not a site: its host cannot be blocked by DNS: %w", h, store.ErrListValue)
	}
	return nil
}

// ListAddInput is an entry proposed without a case (AddListEntryInput).
type ListAddInput struct {
	Kind, Value, Category, Reason string
	// DNSHost, for a URL, also blocks its host by DNS (ListProposalInput.DNSHost).
	DNSHost bool
}

// AddListEntryInput is AddListEntry with the options of a URL entry: an administrator's
// emergency entry, waiting for a second person's approval like every proposal.
func (s *Service) AddListEntryInput(ctx context.Context, by Actor, in ListAddInput) (int64, error) {
	if !in.DNSHost {
		return s.AddListEntry(ctx, by, in.Kind, in.Value, in.Category, in.Reason)
	}
	if store.IsCanary(in.Value) {
		return 0, store.ErrCanary
	}
	if in.Kind != store.ListURL {
		return 0, fmt.Errorf("only a URL entry blocks its host by DNS (a %s entry is a name or hash already): %w", in.Kind, store.ErrListValue)
	}
	n, err := store.NormalizeListValue(in.Kind, in.Value)
	if err != nil {
		return 0, err
	}
	if err := checkDNSHost(n); err != nil {
		return 0, err
	}
	if strings.TrimSpace(in.Reason) == "" {
		return 0, errors.New("a reason is required")
	}
	return s.o.Store.ProposeListEntry(ctx, store.ListProposal{Kind: in.Kind, Value: n, Category: in.Category, Source: ListSourceAdmin,
		Reason: strings.TrimSpace(in.Reason), ActorID: by.UserID, Actor: by.Label, Time: s.o.Now(), DNSHost: true})
}

// listRecheck is the re-check period of entries (hotline.list_recheck_after); zero without a
// configuration (the store's default then).
func (s *Service) listRecheck() time.Duration {
	if s.o.Config == nil {
		return 0
	}
	if c := s.o.Config(); c != nil {
		return c.ListRecheckAfter
	}
	return 0
}

// VerifyListEntry records that by looked at an active or appealed entry's content again and it
// still belongs on the list: last verified now, due again after hotline.list_recheck_after.
// It changes no blocking, so OnListChange does not run; the serial moves (the JSON feed shows
// both dates).
func (s *Service) VerifyListEntry(ctx context.Context, by Actor, id int64) (*store.ListEntry, error) {
	if id == 0 {
		return nil, store.ErrCanary // the canary is the only entry without an id
	}
	return s.o.Store.VerifyListEntry(ctx, id, store.ListVerification{ActorID: by.UserID, Actor: by.Label, Time: s.o.Now(), Recheck: s.listRecheck()})
}

// ChangeListEntry moves an entry to state to (lifecycle.List): approval needs a second person,
// and sets the entry's expiry (hotline.list_recheck_after). OnListChange runs after a commit
// that changes what is blocked.
func (s *Service) ChangeListEntry(ctx context.Context, by Actor, id int64, to, reason string) (*store.ListEntry, error) {
	if !lifecycle.List.Valid(to) {
		return nil, ValidationError{{Field: "to", Key: "list.err.state", Msg: fmt.Sprintf("unknown state %q", to)}}
	}
	e, blocking, err := s.o.Store.ChangeListEntry(ctx, id, store.ListChange{To: to, ActorID: by.UserID, Actor: by.Label, Reason: reason, Time: s.o.Now(),
		Recheck: s.listRecheck()})
	if err != nil {
		return nil, err
	}
	if blocking && s.o.OnListChange != nil {
		s.o.OnListChange()
	}
	return e, nil
}

// ApproveListEntry activates a proposal (by someone other than its proposer).
func (s *Service) ApproveListEntry(ctx context.Context, by Actor, id int64) (*store.ListEntry, error) {
	return s.ChangeListEntry(ctx, by, id, lifecycle.ListActive, "")
}

// RejectListEntry turns a proposal down.
func (s *Service) RejectListEntry(ctx context.Context, by Actor, id int64, reason string) (*store.ListEntry, error) {
	return s.ChangeListEntry(ctx, by, id, lifecycle.ListRejected, reason)
}

// DelistListEntry ends an entry because the content is gone (or an appeal was granted).
func (s *Service) DelistListEntry(ctx context.Context, by Actor, id int64, reason string) (*store.ListEntry, error) {
	return s.ChangeListEntry(ctx, by, id, lifecycle.ListDelisted, reason)
}

// DisableListEntry ends an entry that was a false positive; the tombstone stays.
func (s *Service) DisableListEntry(ctx context.Context, by Actor, id int64, reason string) (*store.ListEntry, error) {
	return s.ChangeListEntry(ctx, by, id, lifecycle.ListDisabled, reason)
}

// AppealListEntry records an appeal against an active entry (it keeps blocking meanwhile).
func (s *Service) AppealListEntry(ctx context.Context, by Actor, id int64, reason string) (*store.ListEntry, error) {
	return s.ChangeListEntry(ctx, by, id, lifecycle.ListAppealed, reason)
}

// UpholdListEntry decides an appeal for the entry: it stays active.
func (s *Service) UpholdListEntry(ctx context.Context, by Actor, id int64) (*store.ListEntry, error) {
	return s.ChangeListEntry(ctx, by, id, lifecycle.ListActive, "")
}

// NetworkDomains returns the names the DNS filter blocks for the hotline, by category, and the
// list serial they were read at. Only domain and host entries block by DNS (URLs and hashes are
// for platforms and scanners); both are given as names here. The filter itself reads the entries
// with their kind (cmd/kidshield/netlist.go): a domain blocks its subdomains, a host only itself.
func (s *Service) NetworkDomains(ctx context.Context) (map[string][]string, int64, error) {
	// The serial is read first: a change committed between the two reads makes the next call see
	// a higher serial and read again, never the other way round.
	serial, err := s.o.Store.ListSerial(ctx)
	if err != nil {
		return nil, 0, err
	}
	entries, err := s.o.Store.ActiveListEntries(ctx)
	if err != nil {
		return nil, 0, err
	}
	out := map[string][]string{}
	for _, e := range entries {
		if e.Kind == store.ListDomain || e.Kind == store.ListHost {
			out[e.Category] = append(out[e.Category], e.Value)
		}
	}
	return out, serial, nil
}
