package ui

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kidshield/kidshield/web/i18n"
)

// catalogKey is the shape of a message key written out in Go code: a known section and at least
// two more dot-separated parts ("notice.err.same_person", "desk.sla.over"). Two-part strings are
// left out (they are audit actions: "notice.create"), except as the value of a field named
// ...Key (a FieldError's Key, a LabelKey).
var catalogKey = regexp.MustCompile(`^(report|status|desk|notice|list|partner|stats)\.[a-z0-9_]+(\.[a-z0-9_]+)+$`)

// TestGoKeysTranslated extends TestErrorKeysTranslated (report.err and status.err only) to every
// message key the hotline's Go code names: field errors of notices, partners, the network list
// and the desk, flash and history texts. A key missing from a catalog shows staff the raw key.
func TestGoKeysTranslated(t *testing.T) {
	var files []string
	for _, pat := range []string{"*.go", "../*.go", "../intake/*.go"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	fset := token.NewFileSet()
	keys := map[string]string{} // key → where it was first seen
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		add := func(lit *ast.BasicLit) {
			if k, err := strconv.Unquote(lit.Value); err == nil {
				if _, ok := keys[k]; !ok {
					keys[k] = fset.Position(lit.Pos()).String()
				}
			}
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.KeyValueExpr:
				// Key (a FieldError's), LabelKey, TitleKey...: a field naming a message; values
				// without a dot are not message keys ("other").
				if id, ok := n.Key.(*ast.Ident); ok && strings.HasSuffix(id.Name, "Key") {
					if lit, ok := n.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if k, err := strconv.Unquote(lit.Value); err == nil && strings.Contains(k, ".") && !strings.HasSuffix(k, ".") {
							add(lit)
						}
					}
				}
			case *ast.BasicLit:
				if k, err := strconv.Unquote(n.Value); n.Kind == token.STRING && err == nil && catalogKey.MatchString(k) {
					add(n)
				}
			}
			return true
		})
	}
	if len(keys) < 50 {
		t.Fatalf("found only %d keys: the scan is broken", len(keys))
	}
	for k, where := range keys {
		for _, lang := range i18n.Languages {
			if strings.TrimSpace(i18n.Get(lang)[k]) == "" {
				t.Errorf("%s: key %q is missing in the %s catalog", where, k, lang)
			}
		}
	}
}
