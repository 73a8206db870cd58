package intake

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestErrorKeys keeps ErrorKeys equal to the keys the code uses.
func TestErrorKeys(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	re := regexp.MustCompile(`"(report\.err\.[a-z0-9_]+)"`)
	used := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(src)
		if i := strings.Index(text, "var ErrorKeys"); i >= 0 {
			j := strings.Index(text[i:], "\n}\n")
			text = text[:i] + text[i+j:]
		}
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			used[m[1]] = true
		}
	}
	for k := range used {
		if !slices.Contains(ErrorKeys, k) {
			t.Errorf("key %s is used but not in ErrorKeys", k)
		}
	}
	for _, k := range ErrorKeys {
		if !used[k] {
			t.Errorf("key %s is in ErrorKeys but not used", k)
		}
	}
}
