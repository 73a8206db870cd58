package fetch

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// benchPage is a news-like page: a head with scripts and styles, 300 paragraphs of
// Vietnamese text, 400 links and 100 images with srcset.
func benchPage() []byte {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><title>Tin tức</title><style>p{margin:0}</style>`)
	b.WriteString(`<script>` + strings.Repeat("var x = 1;", 500) + `</script></head><body>`)
	for i := range 300 {
		fmt.Fprintf(&b, `<p>Đoạn văn số %d với <b>chữ đậm</b> và <a href="/bai/%d?ref=home">liên kết</a>.</p>`, i, i)
		if i%3 == 0 {
			fmt.Fprintf(&b, `<img src="/anh/%d.jpg" srcset="/anh/%d-2x.jpg 2x, /anh/%d-3x.jpg 3x">`, i, i, i)
		}
	}
	for i := range 100 {
		fmt.Fprintf(&b, `<a href="https://other%d.example/">x</a>`, i)
	}
	b.WriteString(`</body></html>`)
	return []byte(b.String())
}

func BenchmarkExtract(b *testing.B) {
	page := benchPage()
	base, _ := url.Parse("https://news.example/section/")
	b.SetBytes(int64(len(page)))
	for b.Loop() {
		Extract(page, base, ExtractLimits{})
	}
}

func BenchmarkNormalizeURL(b *testing.B) {
	for b.Loop() {
		if _, err := NormalizeURL("https://Tin-Tức.example.vn:443/a/b?c=d#e"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGuardCheck(b *testing.B) {
	g, _ := newGuard([]int{80, 443})
	for b.Loop() {
		if g.control("tcp6", "[2606:4700:4700::1111]:443", nil) != nil {
			b.Fatal("refused")
		}
	}
}
