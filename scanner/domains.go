package scanner

import (
	"context"
	"net/netip"
	"net/url"
	"strings"

	"github.com/kidshield/kidshield/scanner/classify"
	"github.com/kidshield/kidshield/store"
)

// classifyHosts suggests categories for the hosts a scan touched (the URL as reported and
// where its redirects ended: a shortener's own name says nothing, the site it leads to does):
// the network list's category for a host or one of its parent domains — the network's
// confirmed entries and the lists it imported, as published to members — and cues in the
// names (classify.ClassifyDomain). Addresses have no name to read and are skipped.
//
// Only the host and its parents are read from the store (store.PublishedEntries), never the
// whole list: a list with millions of imported names costs one small query per scan.
func (s *Service) classifyHosts(ctx context.Context, rawURLs ...string) (classify.Result, error) {
	var rs []classify.Result
	seen := map[string]bool{}
	for _, raw := range rawURLs {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		h := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if _, err := netip.ParseAddr(h); err == nil {
			continue
		}
		listed, err := s.listedNames(ctx, h)
		if err != nil {
			return classify.Result{}, err
		}
		rs = append(rs, s.clf.ClassifyDomain(h, func(n string) (string, bool) {
			// ClassifyDomain hands over names in Unicode; the list keeps them in punycode.
			a, err := store.NormalizeListValue(store.ListDomain, n)
			if err != nil {
				return "", false
			}
			e, ok := listed[a]
			// A host entry lists that name only; a domain entry the name and every name below.
			if !ok || e.Kind != store.ListDomain && (e.Kind != store.ListHost || a != asciiName(h)) {
				return "", false
			}
			return e.Category, true
		}))
	}
	return s.clf.Merge(rs...), nil
}

// listedNames returns the published domain and host entries for host and its parent domains
// (never the bare top-level domain), by stored (punycode) name.
func (s *Service) listedNames(ctx context.Context, host string) (map[string]*store.ListEntry, error) {
	a := asciiName(host)
	if a == "" {
		return nil, nil
	}
	labels := strings.Split(a, ".")
	var names []string
	for i := 0; i < len(labels)-1; i++ {
		names = append(names, strings.Join(labels[i:], "."))
	}
	es, err := s.o.Store.PublishedEntries(ctx, names)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*store.ListEntry, len(es))
	for _, e := range es {
		if e.Kind == store.ListDomain || e.Kind == store.ListHost {
			out[e.Value] = e
		}
	}
	return out, nil
}

// asciiName is a host name in the list's stored form, or "" when it is not a name the list
// could hold.
func asciiName(host string) string {
	a, err := store.NormalizeListValue(store.ListDomain, host)
	if err != nil {
		return ""
	}
	return a
}
