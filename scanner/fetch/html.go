package fetch

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
)

// ExtractLimits cap what Extract keeps from one page. Zero fields take the defaults.
type ExtractLimits struct {
	MaxTitle  int // bytes (default 1 KiB)
	MaxText   int // bytes (default 1 MiB)
	MaxLinks  int // default 2000
	MaxImages int // default 200
}

func (l ExtractLimits) withDefaults() ExtractLimits {
	if l.MaxTitle <= 0 {
		l.MaxTitle = 1 << 10
	}
	if l.MaxText <= 0 {
		l.MaxText = 1 << 20
	}
	if l.MaxLinks <= 0 {
		l.MaxLinks = 2000
	}
	if l.MaxImages <= 0 {
		l.MaxImages = 200
	}
	return l
}

// Page is what Extract finds in an HTML document. Text and Title are valid UTF-8 with
// whitespace collapsed; Links and Images are absolute http(s) URLs without fragments,
// deduplicated, in document order.
type Page struct {
	Title           string   `json:"title"`
	Text            string   `json:"text"`
	Links           []string `json:"links"`
	Images          []string `json:"images"`
	TextTruncated   bool     `json:"text_truncated,omitempty"`
	LinksTruncated  bool     `json:"links_truncated,omitempty"`
	ImagesTruncated bool     `json:"images_truncated,omitempty"`
}

// skippedText are elements whose content is not visible text.
var skippedText = map[string]bool{
	"script": true, "style": true, "noscript": true, "template": true,
	"iframe": true, "noembed": true, "noframes": true, "object": true,
}

// blockElements separate words: their start and end become a space in the text.
var blockElements = map[string]bool{
	"address": true, "article": true, "aside": true, "blockquote": true, "br": true,
	"dd": true, "details": true, "dialog": true, "div": true, "dl": true, "dt": true,
	"fieldset": true, "figcaption": true, "figure": true, "footer": true, "form": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true, "header": true,
	"hr": true, "li": true, "main": true, "nav": true, "ol": true, "option": true, "p": true,
	"pre": true, "section": true, "summary": true, "table": true, "td": true, "th": true,
	"tr": true, "ul": true, "title": true, "button": true, "img": true, "input": true,
	"select": true, "textarea": true, "caption": true, "label": true,
}

// attrTags are the elements whose attributes Extract reads.
var attrTags = map[string]bool{"a": true, "area": true, "base": true, "img": true, "source": true, "meta": true}

// imageMeta are the <meta> names and properties that point at the page's image.
var imageMeta = map[string]bool{
	"og:image": true, "og:image:url": true, "og:image:secure_url": true,
	"twitter:image": true, "twitter:image:src": true,
}

// Extract reads an HTML document (any encoding the tokenizer survives; text is returned as
// valid UTF-8) and resolves its links and images against base — the capture's final URL —
// and the document's first <base href>. base may be nil: then only absolute URLs are kept.
// It never fails: a broken document yields what could be read.
func Extract(body []byte, base *url.URL, lim ExtractLimits) *Page {
	lim = lim.withDefaults()
	p := &Page{}
	z := html.NewTokenizer(bytes.NewReader(body))
	text := collapser{max: lim.MaxText}
	title := collapser{max: lim.MaxTitle}
	var (
		skip      int    // depth inside skipped elements
		inTitle   bool   // inside a <title>
		capTitle  bool   // inside the first <title>, the page's
		seenTitle bool   // a title was read
		svgDepth  int    // <title> inside <svg> is not the page's title
		baseHref  string // first <base href>
		hasBase   bool
		rawLinks  []string
		rawImages []string
	)
	// Raw references are resolved once the whole document (and so its <base>) has been
	// read; keep a bounded number, generous enough for duplicates.
	maxRawLinks, maxRawImages := lim.MaxLinks*4, lim.MaxImages*4
	addLink := func(s string) {
		if len(rawLinks) < maxRawLinks {
			rawLinks = append(rawLinks, s)
		} else {
			p.LinksTruncated = true
		}
	}
	addImage := func(s string) {
		if len(rawImages) < maxRawImages {
			rawImages = append(rawImages, s)
		} else {
			p.ImagesTruncated = true
		}
	}

	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			p.Text, p.TextTruncated = text.String(), text.truncated
			p.Title = title.String()
			docBase := base
			if hasBase {
				if b := resolveRef(base, baseHref, nil); b != nil {
					docBase = b
				}
			}
			hosts := make(hostCache)
			p.Links, p.LinksTruncated = resolveAll(docBase, rawLinks, lim.MaxLinks, p.LinksTruncated, hosts)
			p.Images, p.ImagesTruncated = resolveAll(docBase, rawImages, lim.MaxImages, p.ImagesTruncated, hosts)
			return p
		case html.TextToken:
			switch {
			case inTitle:
				if capTitle {
					title.write(string(z.Text()))
				}
			case skip > 0:
			default:
				text.write(string(z.Text()))
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			nameb, hasAttr := z.TagName()
			name := string(nameb)
			if tt == html.EndTagToken {
				switch {
				case skippedText[name] && skip > 0:
					skip--
				case name == "svg" && svgDepth > 0:
					svgDepth--
				case name == "title" && inTitle:
					inTitle, capTitle = false, false
				}
				if blockElements[name] {
					text.space()
				}
				continue
			}
			if blockElements[name] {
				text.space()
			}
			// HTML ignores "/>" on elements that are not void (and the tokenizer reads what
			// follows <script/> as script), so only <svg/> is taken as closed.
			switch name {
			case "title":
				inTitle = true
				if !seenTitle && svgDepth == 0 {
					capTitle, seenTitle = true, true
				}
			case "svg":
				if tt != html.SelfClosingTagToken {
					svgDepth++
				}
			default:
				if skippedText[name] {
					skip++
				}
			}
			if !hasAttr || !attrTags[name] {
				continue
			}
			attrs := readAttrs(z)
			switch name {
			case "a", "area":
				if v, ok := attrs["href"]; ok {
					addLink(v)
				}
			case "base":
				if v, ok := attrs["href"]; ok && !hasBase {
					baseHref, hasBase = v, true
				}
			case "img":
				for _, k := range []string{"src", "data-src", "data-original", "data-lazy-src"} {
					if v, ok := attrs[k]; ok {
						addImage(v)
					}
				}
				for _, k := range []string{"srcset", "data-srcset"} {
					for _, v := range parseSrcset(attrs[k]) {
						addImage(v)
					}
				}
			case "source":
				for _, v := range parseSrcset(attrs["srcset"]) {
					addImage(v)
				}
			case "meta":
				key := strings.ToLower(attrs["property"])
				if key == "" {
					key = strings.ToLower(attrs["name"])
				}
				if imageMeta[key] {
					if v, ok := attrs["content"]; ok {
						addImage(v)
					}
				}
			}
		}
	}
}

// readAttrs reads a tag's attributes; the first of a repeated name wins, as in browsers.
func readAttrs(z *html.Tokenizer) map[string]string {
	m := make(map[string]string, 4)
	for {
		k, v, more := z.TagAttr()
		ks := string(k)
		if _, dup := m[ks]; !dup {
			m[ks] = string(v)
		}
		if !more {
			return m
		}
	}
}

// parseSrcset returns the URLs of a srcset attribute: candidates separated by commas, each a
// URL (which may itself contain commas, as data: URLs do) and optional descriptors.
func parseSrcset(s string) []string {
	var out []string
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
	for i := 0; i < len(s); {
		for i < len(s) && (isSpace(s[i]) || s[i] == ',') {
			i++
		}
		if i >= len(s) {
			break
		}
		start := i
		for i < len(s) && !isSpace(s[i]) {
			i++
		}
		u := s[start:i]
		if strings.HasSuffix(u, ",") {
			out = append(out, strings.TrimRight(u, ","))
			continue // no descriptors
		}
		out = append(out, u)
		depth := 0
		for i < len(s) {
			c := s[i]
			i++
			if c == '(' {
				depth++
			} else if c == ')' && depth > 0 {
				depth--
			} else if c == ',' && depth == 0 {
				break
			}
		}
	}
	return out
}

// linkPolicy accepts any port: a link is a fact about the page, fetched (and checked again)
// only if someone follows it.
var linkPolicy = urlPolicy{maxSize: 4096}

// resolveRef resolves ref against base and returns it if it is a usable http(s) URL.
func resolveRef(base *url.URL, ref string, hosts hostCache) *url.URL {
	// Browsers drop ASCII tab and newline anywhere in a URL and trim spaces around it.
	ref = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, strings.TrimSpace(ref))
	if ref == "" || len(ref) > linkPolicy.maxSize {
		return nil
	}
	r, err := url.Parse(ref)
	if err != nil {
		return nil
	}
	if base != nil {
		r = base.ResolveReference(r)
	}
	if !r.IsAbs() {
		return nil
	}
	u, err := linkPolicy.checkWith(r, hosts)
	if err != nil {
		return nil
	}
	return u
}

func resolveAll(base *url.URL, refs []string, max int, truncated bool, hosts hostCache) ([]string, bool) {
	seen := make(map[string]bool, len(refs))
	var out []string
	for _, ref := range refs {
		u := resolveRef(base, ref, hosts)
		if u == nil {
			continue
		}
		s := u.String()
		if seen[s] {
			continue
		}
		if len(out) == max {
			return out, true
		}
		seen[s] = true
		out = append(out, s)
	}
	return out, truncated
}

// collapser accumulates text with runs of whitespace collapsed to one space, without
// leading or trailing space, and stops at max bytes (on a rune boundary).
type collapser struct {
	b         strings.Builder
	max       int
	pending   bool
	truncated bool
}

func (c *collapser) space() {
	if c.b.Len() > 0 {
		c.pending = true
	}
}

func (c *collapser) write(s string) {
	if c.truncated {
		return
	}
	for _, r := range s { // invalid UTF-8 arrives as U+FFFD and is written as such
		if unicode.IsSpace(r) || r == 0 {
			c.space()
			continue
		}
		n := utf8.RuneLen(r)
		if c.pending {
			n++
		}
		if c.b.Len()+n > c.max {
			c.truncated = true
			return
		}
		if c.pending {
			c.b.WriteByte(' ')
			c.pending = false
		}
		c.b.WriteRune(r)
	}
}

func (c *collapser) String() string { return c.b.String() }

// ImageResult is one image of a page fetched by FetchImages.
type ImageResult struct {
	URL     string   `json:"url"`
	Capture *Capture `json:"capture,omitempty"`
	Err     error    `json:"-"`
}

// FetchImages fetches each URL (a Page's Images) with FetchImage, one after the other: the
// same guard, per-host limits and robots rule as the page (monitor), the image byte and
// pixel caps. It stops early only when ctx ends; each failure is recorded in its result.
func (c *Client) FetchImages(ctx context.Context, urls []string, monitor bool) []ImageResult {
	out := make([]ImageResult, 0, len(urls))
	for _, u := range urls {
		if ctx.Err() != nil {
			break
		}
		capt, err := c.FetchImage(ctx, u, monitor)
		out = append(out, ImageResult{URL: u, Capture: capt, Err: err})
	}
	return out
}

// ExtractCapture is Extract for a fetched page: the body is first converted to UTF-8 from
// the encoding its byte-order mark, declared Content-Type or <meta charset> names (old
// Vietnamese pages in windows-1258 still exist), and links are resolved against the
// capture's final URL.
func ExtractCapture(c *Capture, lim ExtractLimits) *Page {
	body := c.Body
	r, err := charset.NewReader(bytes.NewReader(body), c.DeclaredType)
	if err == nil {
		// UTF-8 output of a single-byte encoding is at most three times longer.
		if b, err := io.ReadAll(io.LimitReader(r, 3*int64(len(body))+4)); err == nil {
			body = b
		}
	}
	base, err := url.Parse(c.FinalURL)
	if err != nil || c.FinalURL == "" {
		base = nil
	}
	return Extract(body, base, lim)
}
