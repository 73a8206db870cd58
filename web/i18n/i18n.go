// Package i18n holds kidshield's translation catalogs. Vietnamese is the default language of
// every public page; English is the second. A test fails when a key is missing or empty in
// either language, so no page can ship half-translated.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
)

//go:embed catalog/*.json
var files embed.FS

// Default is the language of public pages.
const Default = "vi"

// Languages are the supported languages, the default first.
var Languages = []string{"vi", "en"}

// Catalog maps keys to text in one language.
type Catalog map[string]string

var catalogs = func() map[string]Catalog {
	out := map[string]Catalog{}
	for _, l := range Languages {
		b, err := files.ReadFile("catalog/" + l + ".json")
		if err != nil {
			panic(fmt.Sprintf("i18n: catalog %s: %v", l, err))
		}
		var c Catalog
		if err := json.Unmarshal(b, &c); err != nil {
			panic(fmt.Sprintf("i18n: catalog %s: %v", l, err))
		}
		out[l] = c
	}
	return out
}()

// Get returns a language's catalog (the default for an unknown language).
func Get(lang string) Catalog {
	if c, ok := catalogs[lang]; ok {
		return c
	}
	return catalogs[Default]
}

// T translates a key; a missing key shows as the key itself, which the tests forbid.
func (c Catalog) T(key string) string {
	if v, ok := c[key]; ok && v != "" {
		return v
	}
	return key
}

// Keys returns a catalog's keys, sorted.
func (c Catalog) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FromRequest picks the language: ?lang=, then the "lang" cookie, then Vietnamese. Public pages
// do not follow Accept-Language: the default is Vietnamese for everyone, and one tap switches.
func FromRequest(r *http.Request) string {
	for _, v := range []string{r.URL.Query().Get("lang"), cookie(r)} {
		if _, ok := catalogs[v]; ok {
			return v
		}
	}
	return Default
}

func cookie(r *http.Request) string {
	if c, err := r.Cookie("lang"); err == nil {
		return c.Value
	}
	return ""
}
