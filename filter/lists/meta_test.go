package lists

import (
	"bytes"
	goparser "go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps the package publishable alone: the standard library and golang.org/x/net/idna.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := goparser.ParseFile(token.NewFileSet(), file, nil, goparser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path != "golang.org/x/net/idna" && strings.Contains(strings.Split(path, "/")[0], ".") {
				t.Errorf("%s imports %s", file, path)
			}
		}
	}
}

func TestPackageDoc(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	f, err := goparser.ParseFile(token.NewFileSet(), "doc.go", src, goparser.ParseComments|goparser.PackageClauseOnly)
	if err != nil || f.Doc == nil || !bytes.Contains(src, []byte("// Package lists ")) {
		t.Errorf("doc.go has no package comment: %v", err)
	}
}

// TestBytesPerDomain1M holds the memory budget: at most 40 bytes per name, all in, for a list of
// a million realistic names.
func TestBytesPerDomain1M(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 1M-name list")
	}
	data, names := corpus1M()
	l, heap := compileMeasured(t, data)
	if l.Len() != len(names) {
		t.Fatalf("Len = %d, want %d", l.Len(), len(names))
	}
	size := float64(l.SizeBytes()) / float64(len(names))
	live := float64(heap) / float64(len(names))
	t.Logf("1M names of %.1f bytes: SizeBytes %.1f B/name, live heap %.1f B/name", float64(len(data))/float64(len(names))-1, size, live)
	if size > 40 || live > 40 {
		t.Errorf("%.1f B/name by SizeBytes, %.1f B/name of live heap: over the 40 B budget", size, live)
	}
	for _, n := range names[:1000] {
		if b, _ := l.Lookup(n); !b {
			t.Fatalf("%s not found", n)
		}
	}
}
