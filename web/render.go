package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/kidshield/kidshield/web/i18n"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Views holds every page, parsed once per language at start: a template that does not parse, or
// a page that is asked for but not declared, fails at boot, not in front of a child.
type Views struct {
	byLang map[string]*template.Template
}

// Page is what every page template receives.
type Page struct {
	Lang      string
	OtherLang string
	Path      string // the request's path (navigation marks the current page with it)
	// SwitchURL is the language switch link: this page in the other language.
	SwitchURL string
	Data      any
	// User is the logged-in user (nil on public pages without a session); CSRF is the token
	// every form of a logged-in page carries in a hidden field named "csrf".
	User *Principal
	CSRF string
}

// LoadViews parses templates/*.html with the layout, for every language.
func LoadViews() (*Views, error) {
	v := &Views{byLang: map[string]*template.Template{}}
	for _, lang := range i18n.Languages {
		cat := i18n.Get(lang)
		funcs := template.FuncMap{
			"t":  cat.T,
			"tf": func(key string, args ...any) string { return fmt.Sprintf(cat.T(key), args...) },
			// tcat translates a category name, falling back to the name itself for categories
			// an operator added (they have no translation).
			"tcat": func(c string) string {
				if s := cat.T("category." + c); s != "category."+c {
					return s
				}
				return c
			},
		}
		t, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		v.byLang[lang] = t
	}
	return v, nil
}

// Render writes a page in the request's language. Rendering goes to a buffer first, so a
// template error becomes a clean error page instead of half a page.
func (v *Views) Render(w http.ResponseWriter, r *http.Request, status int, name string, data any) error {
	lang := i18n.FromRequest(r)
	t := v.byLang[lang].Lookup(name)
	if t == nil {
		return fmt.Errorf("render: no template %q", name)
	}
	other := "en"
	if lang == "en" {
		other = "vi"
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v.page(r, lang, other, data)); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	if q := r.URL.Query().Get("lang"); q == lang {
		http.SetCookie(w, &http.Cookie{Name: "lang", Value: lang, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", lang)
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// Static serves the embedded CSS and images under /static/.
func Static() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	fsrv := http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

func (v *Views) page(r *http.Request, lang, other string, data any) Page {
	p := Page{Lang: lang, OtherLang: other, Path: r.URL.Path, SwitchURL: switchURL(r, other), Data: data, User: PrincipalFrom(r.Context())}
	if p.User != nil {
		p.CSRF = p.User.CSRF
	}
	return p
}

// switchURL is where the language switch link goes: the same page with the same query (a
// statistics period, a queue filter) for a GET. A page rendered by a POST (a form shown again
// with its errors) usually lives at an action path such as /desk/cases/5/note that has no GET;
// its parent (/desk/cases/5) is the page the form came from.
func switchURL(r *http.Request, lang string) string {
	p := r.URL.Path
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		q := r.URL.Query()
		q.Set("lang", lang)
		return p + "?" + q.Encode()
	}
	if strings.Count(p, "/") >= 4 {
		p = p[:strings.LastIndexByte(p, '/')]
	}
	return p + "?lang=" + lang
}
