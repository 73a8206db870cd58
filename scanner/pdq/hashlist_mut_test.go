package pdq

import (
	"strings"
	"testing"
)

// A signal type is a short name: a line whose first word is a long run of lowercase letters
// is not another signal to skip but a file that is not a hash list, refused as a whole.
func TestParseHashListSignalTypeLength(t *testing.T) {
	const a = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"
	name32 := strings.Repeat("x", 32)
	l, err := ParseHashList(strings.NewReader("pdq " + a + "\n" + name32 + " value\n"))
	if err != nil || len(l.Entries) != 1 || l.Skipped != 1 {
		t.Fatalf("32-letter signal type: %+v %v, want it skipped", l, err)
	}
	name33 := strings.Repeat("x", 33)
	l, err = ParseHashList(strings.NewReader("pdq " + a + "\n" + name33 + " value\n"))
	if err == nil {
		t.Fatalf("33-letter signal type accepted: %+v", l)
	}
	if !strings.Contains(err.Error(), "line 2") || len(l.Entries) != 0 {
		t.Errorf("error %q, entries %d: want line 2 named and nothing returned", err, len(l.Entries))
	}
}
