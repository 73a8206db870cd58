package lists

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden parses every testdata/golden/NAME.FORMAT.txt and compares the rules, stats, errors
// and the compiled list with NAME.FORMAT.golden. Run with -update after an intended change.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/golden/*.txt")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			parts := strings.Split(filepath.Base(in), ".")
			f, err := ParseFormat(parts[len(parts)-2])
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := renderParse(t, data, f)
			goldenPath := strings.TrimSuffix(in, ".txt") + ".golden"
			if *update {
				if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (run go test -update if the change is intended)\n--- got\n%s\n--- want\n%s", in, goldenPath, got, want)
			}
		})
	}
}

func renderParse(t *testing.T, data []byte, f Format) []byte {
	var b bytes.Buffer
	st, err := Parse(bytes.NewReader(data), f, func(r Rule) { fmt.Fprintln(&b, ruleString(r)) })
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "---- stats: lines=%d rules=%d skipped=%d bad=%d\n", st.Lines, st.Rules, st.Skipped, st.Bad)
	for _, e := range st.Errors {
		fmt.Fprintln(&b, e.Error())
	}
	l, cst, err := Compile(bytes.NewReader(data), f)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cst) != fmt.Sprint(st) {
		t.Errorf("Compile stats %+v differ from Parse stats %+v", cst, st)
	}
	fmt.Fprintf(&b, "---- compiled: %d names\n", l.Len())
	for _, r := range sortedRules(l) {
		fmt.Fprintln(&b, ruleString(r))
	}
	return b.Bytes()
}

func sortedRules(l *List) []Rule {
	rules := slices.Collect(l.All())
	slices.SortFunc(rules, func(a, b Rule) int {
		return strings.Compare(ruleString(a), ruleString(b))
	})
	return rules
}
