package fetch

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

func TestExtract(t *testing.T) {
	doc := `<!DOCTYPE html><html><head>
<title>  Tin   tức
 hôm nay </title>
<meta property="og:image" content="/og.jpg">
<style>body{color:red}</style>
<script>var secret = "not text";</script>
</head><body>
<noscript>enable js</noscript>
<template><p>hidden</p></template>
<h1>Tiêu đề</h1><p>Đoạn <b>một</b>,
   đoạn&nbsp;hai &amp; ba.</p><div>cuối</div>
<svg><title>icon</title></svg>
<a href="/a">a</a> <a href="/a#top">a again</a> <a href="b?x=1">b</a>
<a href="https://other.example/">o</a> <a href="javascript:alert(1)">js</a>
<a href="mailto:x@example.com">m</a> <a href="http://u:p@example.com/">cred</a>
<a href="  /c	d  ">spaces</a> <a href="ftp://example.com/">ftp</a>
<img src="/i1.png" srcset="/i2.png 2x, /i3.png 3x"><img data-src="/lazy.jpg">
<picture><source srcset="/s.webp 100w,/s2.webp 200w"></picture>
<img src="data:image/png;base64,AAAA">
</body></html>`
	p := Extract([]byte(doc), mustURL(t, "https://news.example/section/page"), ExtractLimits{})
	if p.Title != "Tin tức hôm nay" {
		t.Errorf("title %q", p.Title)
	}
	wantText := "Tiêu đề Đoạn một, đoạn\u00a0hai & ba. cuối a a again b o js m cred spaces ftp"
	// U+00A0 is whitespace to unicode.IsSpace, so it collapses too; an <svg>'s <title> is
	// a tooltip, neither the page's title nor its text.
	wantText = strings.ReplaceAll(wantText, "\u00a0", " ")
	if p.Text != wantText {
		t.Errorf("text\n got %q\nwant %q", p.Text, wantText)
	}
	wantLinks := []string{
		"https://news.example/a", "https://news.example/section/b?x=1",
		"https://other.example/", "https://news.example/cd",
	}
	if !reflect.DeepEqual(p.Links, wantLinks) {
		t.Errorf("links\n got %q\nwant %q", p.Links, wantLinks)
	}
	wantImages := []string{
		"https://news.example/og.jpg", "https://news.example/i1.png", "https://news.example/i2.png",
		"https://news.example/i3.png", "https://news.example/lazy.jpg", "https://news.example/s.webp",
		"https://news.example/s2.webp",
	}
	if !reflect.DeepEqual(p.Images, wantImages) {
		t.Errorf("images\n got %q\nwant %q", p.Images, wantImages)
	}
}

func TestExtractBase(t *testing.T) {
	doc := `<a href="x">before base</a><base href="https://cdn.example/dir/"><a href="y">after</a>
<base href="https://ignored.example/"><img src="z.png">`
	p := Extract([]byte(doc), mustURL(t, "http://site.example/p"), ExtractLimits{})
	want := []string{"https://cdn.example/dir/x", "https://cdn.example/dir/y"}
	if !reflect.DeepEqual(p.Links, want) || len(p.Images) != 1 || p.Images[0] != "https://cdn.example/dir/z.png" {
		t.Errorf("links %q images %q", p.Links, p.Images)
	}
	// A base that is not http(s) is ignored.
	p = Extract([]byte(`<base href="javascript:x"><a href="k">`), mustURL(t, "http://site.example/"), ExtractLimits{})
	if len(p.Links) != 1 || p.Links[0] != "http://site.example/k" {
		t.Errorf("javascript base: %q", p.Links)
	}
	// Without a page URL only absolute references are kept.
	p = Extract([]byte(`<a href="/rel"><a href="http://abs.example/">`), nil, ExtractLimits{})
	if len(p.Links) != 1 || p.Links[0] != "http://abs.example/" {
		t.Errorf("nil base: %q", p.Links)
	}
}

func TestExtractCaps(t *testing.T) {
	var b strings.Builder
	for i := range 50 {
		b.WriteString(`<a href="/l` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `">ừ</a><img src="/i` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `.png">`)
	}
	lim := ExtractLimits{MaxText: 10, MaxLinks: 7, MaxImages: 3, MaxTitle: 4}
	p := Extract([]byte("<title>ừừừ</title>"+b.String()), mustURL(t, "http://x.example/"), lim)
	if len(p.Links) != 7 || !p.LinksTruncated || len(p.Images) != 3 || !p.ImagesTruncated {
		t.Errorf("links %d (%v) images %d (%v)", len(p.Links), p.LinksTruncated, len(p.Images), p.ImagesTruncated)
	}
	// "ừ" is 3 bytes: "ừ ừ" is 7, "ừ ừ ừ" would be 11 > 10.
	if p.Text != "ừ ừ" && p.Text != "ừừ" || !p.TextTruncated || len(p.Text) > 10 {
		t.Errorf("text %q (%d bytes) truncated %v", p.Text, len(p.Text), p.TextTruncated)
	}
	if p.Title != "ừ" {
		t.Errorf("title %q", p.Title)
	}
	// Under the caps nothing is flagged.
	p = Extract([]byte(`<a href="/a">x</a>`), mustURL(t, "http://x.example/"), lim)
	if p.LinksTruncated || p.TextTruncated || p.ImagesTruncated {
		t.Errorf("flags on a small page: %+v", p)
	}
}

func TestExtractHostile(t *testing.T) {
	for name, doc := range map[string]string{
		"invalid utf-8":    "<p>a\xff\xfeb</p><title>\xc3</title>",
		"unclosed script":  "<p>shown</p><script>hidden <p>still script",
		"self-closing raw": "<p>shown</p><script/>hidden</script><p>after</p>",
		"nul":              "<p>a\x00b</p>",
		"deep nesting":     strings.Repeat("<div>", 100000) + "deep",
		"huge attribute":   `<a href="/` + strings.Repeat("x", 1<<20) + `">`,
		"many srcset":      `<img srcset="` + strings.Repeat("/a.png 1x,", 10000) + `">`,
	} {
		p := Extract([]byte(doc), mustURL(t, "http://x.example/"), ExtractLimits{})
		if !utf8.ValidString(p.Text) || !utf8.ValidString(p.Title) {
			t.Errorf("%s: invalid UTF-8 out", name)
		}
		if strings.Contains(p.Text, "hidden") || strings.Contains(p.Text, "still script") {
			t.Errorf("%s: script text leaked: %q", name, p.Text)
		}
	}
	p := Extract([]byte("<p>shown</p><script/>hidden</script><p>after</p>"), nil, ExtractLimits{})
	if p.Text != "shown after" {
		t.Errorf("self-closing script: %q", p.Text)
	}
}

func TestParseSrcset(t *testing.T) {
	for in, want := range map[string][]string{
		"":                             nil,
		"a.png":                        {"a.png"},
		"a.png 1x, b.png 2x":           {"a.png", "b.png"},
		"a.png,b.png":                  {"a.png,b.png"}, // a URL runs to whitespace, as the HTML spec reads it
		" a.png 100w , b.png 200w ":    {"a.png", "b.png"},
		"data:image/png;base64,AA 1x":  {"data:image/png;base64,AA"},
		"a.png (min-width: 1px, x) 1x": {"a.png"},
	} {
		if got := parseSrcset(in); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func TestExtractCaptureCharset(t *testing.T) {
	enc := func(s string) []byte {
		b, err := charmap.Windows1258.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const text = "Xin chào các bạn"
	// Windows-1258 has no precomposed "ạ": NFD-like input keeps the encoder honest.
	want := norm.NFC.String(text)
	for name, c := range map[string]*Capture{
		"header": {Body: enc("<p>" + norm.NFD.String(text) + "</p>"), DeclaredType: "text/html; charset=windows-1258", FinalURL: "http://x.example/"},
		"meta":   {Body: enc(`<meta charset="windows-1258"><p>` + norm.NFD.String(text) + "</p>"), DeclaredType: "text/html", FinalURL: "http://x.example/"},
		"utf-8":  {Body: []byte("<p>" + text + "</p>"), DeclaredType: "text/html; charset=utf-8"},
	} {
		p := ExtractCapture(c, ExtractLimits{})
		if norm.NFC.String(p.Text) != want {
			t.Errorf("%s: %q, want %q", name, p.Text, want)
		}
	}
}
