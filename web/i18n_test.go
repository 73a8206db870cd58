package web

import (
	"io/fs"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/config"
	"github.com/kidshield/kidshield/web/i18n"
)

// TestCatalogsComplete fails when a key is missing or empty in a language, or when a
// translation drops or adds a %s placeholder.
func TestCatalogsComplete(t *testing.T) {
	base := i18n.Get(i18n.Default)
	for _, lang := range i18n.Languages {
		c := i18n.Get(lang)
		for _, k := range base.Keys() {
			v, ok := c[k]
			if !ok || strings.TrimSpace(v) == "" {
				t.Errorf("%s: key %q missing or empty", lang, k)
				continue
			}
			if strings.Count(v, "%") != strings.Count(base[k], "%") {
				t.Errorf("%s: key %q has different placeholders than %s", lang, k, i18n.Default)
			}
		}
		for _, k := range c.Keys() {
			if _, ok := base[k]; !ok {
				t.Errorf("%s: key %q is not in %s", lang, k, i18n.Default)
			}
		}
	}
}

var keyUse = regexp.MustCompile(`\{\{-?\s*(?:t|tf)\s+"([^"]+)"`)

// TestTemplateKeysTranslated fails when a template uses a key a catalog does not have.
func TestTemplateKeysTranslated(t *testing.T) {
	n := 0
	err := fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(templateFS, p)
		for _, m := range keyUse.FindAllStringSubmatch(string(b), -1) {
			n++
			for _, lang := range i18n.Languages {
				if _, ok := i18n.Get(lang)[m[1]]; !ok {
					t.Errorf("%s uses %q, missing in %s", p, m[1], lang)
				}
			}
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("walked templates: %v, %d keys", err, n)
	}
	// Categories are translated through a computed key: every built-in one must be there.
	for _, c := range append(config.BuiltinCategories, "custom", "schedule") {
		for _, lang := range i18n.Languages {
			if _, ok := i18n.Get(lang)["category."+c]; !ok {
				t.Errorf("category %q has no %s translation", c, lang)
			}
		}
	}
}

func TestRenderDefaultsToVietnamese(t *testing.T) {
	v, err := LoadViews()
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]any{"Host": "bad.example", "Category": "adult", "Profile": "anna"}
	for _, tc := range []struct{ url, cookie, want, lang string }{
		{"/", "", "Trang này đã bị chặn", "vi"},
		{"/?lang=en", "", "This page is blocked", "en"},
		{"/", "en", "This page is blocked", "en"},
		{"/?lang=xx", "", "Trang này đã bị chặn", "vi"},
	} {
		r := httptest.NewRequest("GET", tc.url, nil)
		r.Header.Set("Accept-Language", "en-US") // public pages stay Vietnamese unless asked
		if tc.cookie != "" {
			r.Header.Set("Cookie", "lang="+tc.cookie)
		}
		w := httptest.NewRecorder()
		if err := v.Render(w, r, 403, "block", data); err != nil {
			t.Fatal(err)
		}
		body := w.Body.String()
		if !strings.Contains(body, tc.want) || !strings.Contains(body, `<html lang="`+tc.lang+`">`) {
			t.Errorf("%s cookie=%q: want %q in %s", tc.url, tc.cookie, tc.want, tc.lang)
		}
		if !strings.Contains(body, "111") || !strings.Contains(body, "bad.example") {
			t.Errorf("%s: block page lacks the hotline number or the host", tc.url)
		}
	}
	if err := v.Render(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), 200, "nope", nil); err == nil {
		t.Fatal("rendered an undeclared view")
	}
}

func TestRenderEscapes(t *testing.T) {
	v, _ := LoadViews()
	w := httptest.NewRecorder()
	_ = v.Render(w, httptest.NewRequest("GET", "/", nil), 403, "block", map[string]any{"Host": "<script>alert(1)</script>", "Category": "x\"><b>"})
	if strings.Contains(w.Body.String(), "<script>alert") || strings.Contains(w.Body.String(), "\"><b>") {
		t.Fatal("host name not escaped")
	}
}
