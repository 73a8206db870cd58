package pdq

import (
	"strings"
	"testing"
)

func TestParseHashList(t *testing.T) {
	const a = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"
	const b = "f0a10efd51c83d429053d48d0fffbc52e34e0e17ada956a9d29685211ea9e58f"
	in := "\ufeff# exported 2026-11-27\n" +
		"pdq " + a + "\r\n" +
		"\n" +
		"   \t\n" +
		"md5 d41d8cd98f00b204e9800998ecf8427e\n" +
		"raw_text some words here\n" +
		strings.ToUpper(b) + "\n" +
		"PDQ\t" + b + "\n"
	l, err := ParseHashList(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		hash string
		line int
	}{{a, 2}, {b, 7}, {b, 8}}
	if len(l.Entries) != len(want) || l.Skipped != 2 {
		t.Fatalf("entries %+v skipped %d", l.Entries, l.Skipped)
	}
	for i, w := range want {
		if l.Entries[i].Hash.String() != w.hash || l.Entries[i].Line != w.line {
			t.Errorf("entry %d: %s line %d, want %s line %d", i, l.Entries[i].Hash, l.Entries[i].Line, w.hash, w.line)
		}
	}
}

func TestParseHashListErrors(t *testing.T) {
	const a = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"
	tests := []struct {
		name, in, want string
	}{
		{"short hash", "pdq " + a + "\npdq abcd\n", "line 2"},
		{"not hex", "pdq " + strings.Repeat("zz", 32), "line 1"},
		{"trailing field", "pdq " + a + " extra", "line 1"},
		{"signal type alone", "# c\npdq\n", "line 2"},
		{"garbage", "\n\n<html>\n", "line 3"},
		{"bare short hex", "abcdef", "line 1"},
		{"line too long", "# " + strings.Repeat("x", 10000), "line 1: longer than"},
		{"binary", "\x00\x01\x02", "line 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ParseHashList(strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("accepted: %+v", l)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "pdq: hash list") {
				t.Errorf("error %q, want it to name %q", err, tc.want)
			}
			if len(l.Entries) != 0 {
				t.Errorf("entries returned with an error")
			}
		})
	}
}
