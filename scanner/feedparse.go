package scanner

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Parsers of monitored sources: RSS 2.0 (and RSS 1.0/RDF items), Atom and sitemaps
// (sitemaps.org: urlset and sitemapindex). They read documents from outside, so they take a
// byte slice already capped by the fetch client, refuse anything above MaxFeedBytes, keep at
// most MaxFeedItems items, and keep only absolute http(s) links (relative ones are resolved
// against the document's URL). encoding/xml expands no external entities and no DTD-defined
// ones, so an entity bomb or an XXE is an error, not an expansion.

// MaxFeedBytes is the largest document the parsers read (a sitemap may be 50 MB by the
// protocol; a monitored one is capped lower).
const MaxFeedBytes = 10 << 20

// MaxFeedItems is the most items kept from one document.
const MaxFeedItems = 1000

// ErrNotFeed is returned for a document that is not the kind asked for.
var ErrNotFeed = errors.New("not a feed or sitemap")

// FeedItem is one item of a feed or one URL of a sitemap.
type FeedItem struct {
	URL   string
	Title string
}

// Feed is a parsed source document.
type Feed struct {
	Kind  string // rss, atom, sitemap, sitemapindex
	Items []FeedItem
	// Sitemaps are the child sitemaps of a sitemap index.
	Sitemaps []string
}

// ParseSource parses a document of the given kind (rss, atom, sitemap or auto) fetched from
// base.
func ParseSource(kind string, body []byte, base string) (*Feed, error) {
	switch kind {
	case "rss", "atom":
		f, err := ParseFeed(body, base)
		if err == nil && f.Kind != kind {
			return nil, fmt.Errorf("feed: want %s, got %s: %w", kind, f.Kind, ErrNotFeed)
		}
		return f, err
	case "sitemap":
		return ParseSitemap(body, base)
	case "", "auto":
		root, err := rootElement(body)
		if err != nil {
			return nil, err
		}
		if root == "urlset" || root == "sitemapindex" {
			return ParseSitemap(body, base)
		}
		return ParseFeed(body, base)
	}
	return nil, fmt.Errorf("feed: unknown kind %q", kind)
}

func newXMLDecoder(body []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	// Only UTF-8 (and its ASCII subset) is read; a document declaring another charset is
	// refused rather than misread.
	d.CharsetReader = func(charset string, r io.Reader) (io.Reader, error) {
		switch strings.ToLower(charset) {
		case "utf-8", "utf8", "us-ascii", "ascii":
			return r, nil
		}
		return nil, fmt.Errorf("charset %q not supported", charset)
	}
	return d
}

func rootElement(body []byte) (string, error) {
	if len(body) > MaxFeedBytes {
		return "", fmt.Errorf("feed: %d bytes, at most %d", len(body), MaxFeedBytes)
	}
	d := newXMLDecoder(body)
	for {
		tok, err := d.Token()
		if err != nil {
			return "", fmt.Errorf("feed: %w: %v", ErrNotFeed, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			return strings.ToLower(se.Name.Local), nil
		}
	}
}

type rssDoc struct {
	XMLName xml.Name
	Channel struct {
		Items []rssItem `xml:"item"`
	} `xml:"channel"`
	Items []rssItem `xml:"item"` // RSS 1.0: items beside the channel
}

type rssItem struct {
	Title string `xml:"title"`
	Link  string `xml:"link"`
	GUID  struct {
		Value       string `xml:",chardata"`
		IsPermaLink string `xml:"isPermaLink,attr"`
	} `xml:"guid"`
}

type atomDoc struct {
	XMLName xml.Name
	Entries []struct {
		Title string `xml:"title"`
		Links []struct {
			Href string `xml:"href,attr"`
			Rel  string `xml:"rel,attr"`
		} `xml:"link"`
	} `xml:"entry"`
}

// ParseFeed parses an RSS (2.0 or 1.0) or Atom document fetched from base.
func ParseFeed(body []byte, base string) (*Feed, error) {
	root, err := rootElement(body)
	if err != nil {
		return nil, err
	}
	b, _ := url.Parse(base)
	out := &Feed{}
	seen := map[string]bool{}
	add := func(link, title string) {
		if len(out.Items) >= MaxFeedItems {
			return
		}
		if u := absHTTP(b, link); u != "" && !seen[u] {
			seen[u] = true
			out.Items = append(out.Items, FeedItem{URL: u, Title: cleanTitle(title)})
		}
	}
	switch root {
	case "rss", "rdf":
		var doc rssDoc
		if err := newXMLDecoder(body).Decode(&doc); err != nil {
			return nil, fmt.Errorf("feed: rss: %w", err)
		}
		out.Kind = "rss"
		for _, it := range append(doc.Channel.Items, doc.Items...) {
			link := it.Link
			if strings.TrimSpace(link) == "" && !strings.EqualFold(strings.TrimSpace(it.GUID.IsPermaLink), "false") {
				link = it.GUID.Value
			}
			add(link, it.Title)
		}
	case "feed":
		var doc atomDoc
		if err := newXMLDecoder(body).Decode(&doc); err != nil {
			return nil, fmt.Errorf("feed: atom: %w", err)
		}
		out.Kind = "atom"
		for _, e := range doc.Entries {
			href := ""
			for _, l := range e.Links {
				if r := strings.TrimSpace(l.Rel); r == "" || r == "alternate" {
					href = l.Href
					break
				}
			}
			add(href, e.Title)
		}
	default:
		return nil, fmt.Errorf("feed: root element <%s>: %w", root, ErrNotFeed)
	}
	return out, nil
}

type sitemapDoc struct {
	XMLName xml.Name
	URLs    []struct {
		Loc string `xml:"loc"`
	} `xml:"url"`
	Sitemaps []struct {
		Loc string `xml:"loc"`
	} `xml:"sitemap"`
}

// ParseSitemap parses a sitemap (urlset) or a sitemap index fetched from base.
func ParseSitemap(body []byte, base string) (*Feed, error) {
	root, err := rootElement(body)
	if err != nil {
		return nil, err
	}
	if root != "urlset" && root != "sitemapindex" {
		return nil, fmt.Errorf("sitemap: root element <%s>: %w", root, ErrNotFeed)
	}
	var doc sitemapDoc
	if err := newXMLDecoder(body).Decode(&doc); err != nil {
		return nil, fmt.Errorf("sitemap: %w", err)
	}
	b, _ := url.Parse(base)
	out := &Feed{Kind: "sitemap"}
	seen := map[string]bool{}
	for _, u := range doc.URLs {
		if len(out.Items) >= MaxFeedItems {
			break
		}
		if a := absHTTP(b, u.Loc); a != "" && !seen[a] {
			seen[a] = true
			out.Items = append(out.Items, FeedItem{URL: a})
		}
	}
	if root == "sitemapindex" {
		out.Kind = "sitemapindex"
		for _, s := range doc.Sitemaps {
			if len(out.Sitemaps) >= MaxFeedItems {
				break
			}
			if a := absHTTP(b, s.Loc); a != "" && !seen[a] {
				seen[a] = true
				out.Sitemaps = append(out.Sitemaps, a)
			}
		}
	}
	return out, nil
}

// absHTTP resolves link against base and returns it when it is an absolute http(s) URL
// without credentials and of a sane length; "" otherwise.
func absHTTP(base *url.URL, link string) string {
	link = strings.TrimSpace(link)
	if link == "" || len(link) > 2048 {
		return ""
	}
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ""
	}
	u.Fragment = ""
	return u.String()
}

func cleanTitle(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300])
	}
	return s
}
