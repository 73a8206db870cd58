package httpfeed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/feed/rpz"
	"github.com/kidshield/kidshield/store"
)

// The formats of a list file: the file name is "<list>.<ext>", list being "all" or a category.
const (
	FormatDomains = "domains.txt"
	FormatHosts   = "hosts.txt"
	FormatAdblock = "adblock.txt"
	FormatJSON    = "json"
)

// Formats lists the per-list formats, in the order the manifest names them.
var Formats = []string{FormatDomains, FormatHosts, FormatAdblock, FormatJSON}

// RPZFile is the name of the RPZ zone file: the whole list, as the RPZ primary serves it.
const RPZFile = "rpz.zone"

// categoryFileRE is the categories that get files of their own: a name safe in a URL path and
// a file name. Entries of other categories (free text typed by an operator) are in all.* only.
var categoryFileRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// fileCategory reports whether cat gets its own files.
func fileCategory(cat string) bool {
	return categoryFileRE.MatchString(cat) && cat != "all" && cat != "rpz"
}

// dnsKind reports whether entries of kind reach DNS-style formats (domains, hosts, adblock,
// RPZ): only names can be blocked by a resolver; URLs and hashes are in the JSON file.
func dnsKind(kind string) bool { return kind == store.ListDomain || kind == store.ListHost }

// sortEntries orders entries by value then kind with Go's byte order, so every node (SQLite or
// PostgreSQL, whatever the collation) publishes byte-identical files for one serial.
func sortEntries(es []*store.ListEntry) {
	slices.SortFunc(es, func(a, b *store.ListEntry) int {
		if c := strings.Compare(a.Value, b.Value); c != 0 {
			return c
		}
		return strings.Compare(a.Kind, b.Kind)
	})
}

// counts returns the number of entries per kind.
func counts(es []*store.ListEntry, only func(string) bool) (int, map[string]int) {
	m := map[string]int{}
	n := 0
	for _, e := range es {
		if only == nil || only(e.Kind) {
			m[e.Kind]++
			n++
		}
	}
	return n, m
}

// The text formats carry no time, only the serial: a file's bytes are a function of the list's
// state, so its digest (ETag) is the same on every node and across restarts.

func header(b *bytes.Buffer, c, title string, serial int64, lines ...string) {
	fmt.Fprintf(b, "%s kidshield network list: %s\n", c, title)
	fmt.Fprintf(b, "%s serial: %d\n", c, serial)
	for _, l := range lines {
		fmt.Fprintf(b, "%s %s\n", c, l)
	}
}

// Domains renders the plain domains format: one name per line. A domain entry is the name and
// all its subdomains; a host entry is written "=name", the exact name only (the syntax of
// kidshield's list parser, filter/lists).
func Domains(title string, serial int64, es []*store.ListEntry) []byte {
	var b bytes.Buffer
	header(&b, "#", title, serial,
		"format: one name per line; \"name\" blocks the name AND all its subdomains,",
		"\"=name\" blocks exactly that host name (no subdomains).",
		"Tools that do not understand \"=name\" should use the adblock file instead.")
	for _, e := range es {
		switch e.Kind {
		case store.ListDomain:
			b.WriteString(e.Value)
		case store.ListHost:
			b.WriteString("=" + e.Value)
		default:
			continue
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Hosts renders the hosts format: "0.0.0.0 name". A hosts file cannot say "and subdomains":
// domain and host entries are both written by name alone.
func Hosts(title string, serial int64, es []*store.ListEntry) []byte {
	var b bytes.Buffer
	header(&b, "#", title, serial,
		"format: hosts file, \"0.0.0.0 name\". A hosts line cannot say \"and subdomains\":",
		"as /etc/hosts it blocks each name exactly; DNS filters that read hosts lists as",
		"domain lists (kidshield, AdGuard Home, Blocky) block the name and its subdomains.",
		"For exact semantics use the adblock or JSON file.")
	for _, e := range es {
		if dnsKind(e.Kind) {
			b.WriteString("0.0.0.0 " + e.Value + "\n")
		}
	}
	return b.Bytes()
}

// Adblock renders the DNS subset of adblock syntax: "||name^" for a domain entry (the name and
// all its subdomains), "|name^" for a host entry (exactly that name), as filter/lists reads them.
func Adblock(title string, serial int64, es []*store.ListEntry) []byte {
	var b bytes.Buffer
	b.WriteString("[Adblock Plus 2.0]\n")
	fmt.Fprintf(&b, "! Title: kidshield network list: %s\n", title)
	fmt.Fprintf(&b, "! Version: %d\n", serial)
	b.WriteString("! ||name^ blocks the name and all its subdomains; |name^ blocks exactly that host name.\n")
	for _, e := range es {
		switch e.Kind {
		case store.ListDomain:
			b.WriteString("||" + e.Value + "^\n")
		case store.ListHost:
			b.WriteString("|" + e.Value + "^\n")
		}
	}
	return b.Bytes()
}

// JSONEntry is one entry of the JSON file. It holds no personal data: no names of staff, no
// reasons, only the case's public reference.
type JSONEntry struct {
	Kind         string     `json:"kind"` // domain (with subdomains), host (exact), url, hash
	Value        string     `json:"value"`
	Category     string     `json:"category"`
	Provenance   Provenance `json:"provenance"`
	Added        time.Time  `json:"added"`
	LastVerified *time.Time `json:"last_verified,omitempty"`
	Expires      *time.Time `json:"expires,omitempty"`
}

// Provenance says where an entry comes from: a hotline case (its reference) or a source.
type Provenance struct {
	Source string `json:"source"`
	Case   string `json:"case,omitempty"`
}

// JSONList is the JSON file.
type JSONList struct {
	List    string      `json:"list"` // "all" or the category
	Serial  int64       `json:"serial"`
	Note    string      `json:"note"`
	Entries []JSONEntry `json:"entries"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// JSON renders every kind of entry with its provenance and dates.
func JSON(list string, serial int64, es []*store.ListEntry) []byte {
	doc := JSONList{List: list, Serial: serial, Entries: []JSONEntry{},
		Note: "kind domain: the name and all its subdomains; host: exactly that name; url: one canonical URL; hash: a content hash"}
	for _, e := range es {
		added := e.Activated
		if added.IsZero() {
			added = e.Proposed
		}
		je := JSONEntry{Kind: e.Kind, Value: e.Value, Category: e.Category, Provenance: Provenance{Source: e.Source, Case: e.CaseRef},
			Added: added.UTC(), LastVerified: optTime(e.LastVerified), Expires: optTime(e.Expires)}
		doc.Entries = append(doc.Entries, je)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	_ = enc.Encode(doc) // only strings, numbers and times: cannot fail
	return b.Bytes()
}

// ZoneFile renders the RPZ zone (draft-vixie-dnsop-dns-rpz) as a master file, record for
// record what the RPZ primary (feed/rpz) serves by AXFR at this serial: its SOA (serial = list
// serial), NS, and for each domain entry "name.ZONE CNAME target" and "*.name.ZONE CNAME
// target", for each host entry the first only. The target is "." (NXDOMAIN) or the block page.
func ZoneFile(f *config.Feed, serial int64, es []*store.ListEntry) ([]byte, error) {
	o, err := rpz.OptionsFromConfig(f)
	if err != nil {
		return nil, fmt.Errorf("feed: zone file: %w", err)
	}
	z := rpz.Build(o.Params, serial, es)
	var b bytes.Buffer
	fmt.Fprintf(&b, "; kidshield network list as a response policy zone, serial %d\n", serial)
	b.WriteString("; name CNAME . = NXDOMAIN; a domain entry also has *.name (its subdomains), a host entry does not\n")
	n := 0
	z.Records(func(rr dns.RR) bool {
		if n > 0 && rr.Header().Rrtype == dns.TypeSOA {
			return false // the closing SOA of an AXFR is not part of a master file
		}
		n++
		b.WriteString(rr.String())
		b.WriteByte('\n')
		return true
	})
	return b.Bytes(), nil
}
