package hotline

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The reporter's status code is a secret: its hash is compared with the stored one in constant
// time (crypto/subtle), so the time an answer takes says nothing about how much of a guess was
// right. == or != on the hash behaves the same in every functional test, so this test reads the
// package's source: no == or != may touch a status hash, and Status must call
// subtle.ConstantTimeCompare.
func TestStatusHashComparedInConstantTime(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	statusUsesSubtle := false
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		text := func(n ast.Node) string {
			return string(src[fset.Position(n.Pos()).Offset:fset.Position(n.End()).Offset])
		}
		secret := func(e ast.Expr) bool {
			if c, ok := e.(*ast.CallExpr); ok && text(c.Fun) == "subtle.ConstantTimeCompare" {
				return false // its result, compared with 1, is the constant-time comparison itself
			}
			s := text(e)
			return strings.Contains(s, "StatusHash") || strings.Contains(s, "hashCode(")
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BinaryExpr:
				if (n.Op == token.EQL || n.Op == token.NEQ) && (secret(n.X) || secret(n.Y)) {
					t.Errorf("%s: %q compares a status hash with %s; use subtle.ConstantTimeCompare", fset.Position(n.Pos()), text(n), n.Op)
				}
			case *ast.FuncDecl:
				if n.Name.Name == "Status" && n.Recv != nil && strings.Contains(text(n.Body), "subtle.ConstantTimeCompare(") {
					statusUsesSubtle = true
				}
			}
			return true
		})
	}
	if !statusUsesSubtle {
		t.Error("(*Service).Status does not compare the status code's hash with subtle.ConstantTimeCompare")
	}
}
