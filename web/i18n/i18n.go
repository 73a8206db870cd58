// Package i18n holds kidshield's translation catalogs. Vietnamese is the default language of
// every public page; English is the second. A test fails when a key is missing or empty in
// either language, so no page can ship half-translated.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"
)

//go:embed catalog/*.json
var files embed.FS

// Default is the language of public pages.
const Default = "vi"

// Languages are the supported languages, the default first.
var Languages = []string{"vi", "en"}

// Catalog maps keys to text in one language.
type Catalog map[string]string

// catalogs merges catalog/<lang>.json with the per-part files catalog/<part>.<lang>.json, so
// each part of the platform keeps its texts beside the others without editing one shared file.
// A key defined twice panics at start (and fails the tests).
var catalogs = func() map[string]Catalog {
	out := map[string]Catalog{}
	names, err := fs.Glob(files, "catalog/*.json")
	if err != nil {
		panic(fmt.Sprintf("i18n: %v", err))
	}
	for _, l := range Languages {
		out[l] = Catalog{}
	}
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".json")
		lang := base[strings.LastIndexByte(base, '.')+1:]
		c, ok := out[lang]
		if !ok {
			panic(fmt.Sprintf("i18n: %s: unknown language %q", name, lang))
		}
		b, err := files.ReadFile(name)
		if err != nil {
			panic(fmt.Sprintf("i18n: catalog %s: %v", name, err))
		}
		var part Catalog
		if err := json.Unmarshal(b, &part); err != nil {
			panic(fmt.Sprintf("i18n: catalog %s: %v", name, err))
		}
		for k, v := range part {
			if _, dup := c[k]; dup {
				panic(fmt.Sprintf("i18n: catalog %s: key %q is defined in another %s file too", name, k, lang))
			}
			c[k] = v
		}
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
