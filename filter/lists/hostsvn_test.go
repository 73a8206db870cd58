package lists

import (
	"os"
	"path/filepath"
	"testing"
)

// hostsvnDir holds the hostsVN lists (github.com/bigdargon/hostsVN), real Vietnamese block lists.
// KIDSHIELD_HOSTSVN overrides the shared checkout path.
func hostsvnDir(t *testing.T) string {
	dir := os.Getenv("KIDSHIELD_HOSTSVN")
	if dir == "" {
		dir = "/work/shared/data/hostsvn"
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("hostsVN lists not found (set KIDSHIELD_HOSTSVN): %v", err)
	}
	return dir
}

func TestHostsVN(t *testing.T) {
	dir := hostsvnDir(t)
	for _, c := range []struct {
		file              string
		minRules, maxBad  int
		listed, notListed []string
	}{
		{"adult/domain.txt", 22000, 0,
			[]string{"pornhub.com", "www.pornhub.com", "xvideos.com", "0-bbs.com", "cdn.0.xxx-cdn.com", "zzychdzx.com"},
			[]string{"google.com", "tiktok.com", "bbs.com", "cdn.com", "com", "vnexpress.net"}},
		{"gambling/domain.txt", 65000, 1, // line 4729 is a bare IP address
			[]string{"188betcn2.com", "WWW.188BETCN2.COM", "000000.com", "m.0000jili.com."},
			[]string{"youtube.com", "betcn2.com", "jili.com"}},
		{"adult/domain-VN.txt", 1800, 0,
			[]string{"1001truyen.blogspot.com", "www.1001truyen.blogspot.com", "12hdem.com"},
			[]string{"blogspot.com", "truyen.blogspot.com"}},
		{"gambling/domain-VN.txt", 3700, 0, nil, []string{"vnexpress.net"}},
	} {
		t.Run(c.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, format := range []Format{FormatDomains, FormatAuto, FormatAdblock} {
				if _, err := f.Seek(0, 0); err != nil {
					t.Fatal(err)
				}
				l, st, err := Compile(f, format)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%v: %d lines, %d rules, %d names, %d skipped, %d bad, %d bytes (%.1f B/name) %v",
					format, st.Lines, st.Rules, l.Len(), st.Skipped, st.Bad, l.SizeBytes(), float64(l.SizeBytes())/float64(l.Len()), st.Errors)
				if st.Rules < c.minRules || st.Bad > c.maxBad || st.Lines != st.Rules+st.Skipped+st.Bad {
					t.Errorf("%v: %+v", format, st)
				}
				for _, n := range c.listed {
					if b, _ := l.Lookup([]byte(n)); !b {
						t.Errorf("%v: %s not blocked", format, n)
					}
				}
				for _, n := range c.notListed {
					if b, _ := l.Lookup([]byte(n)); b {
						t.Errorf("%v: %s blocked", format, n)
					}
				}
			}
		})
	}
}

// TestHostsVNSet loads both categories into one Set, as the server does.
func TestHostsVNSet(t *testing.T) {
	dir := hostsvnDir(t)
	var entries []Entry
	for i, file := range []string{"adult/domain.txt", "gambling/domain.txt"} {
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		l, _, err := Compile(f, FormatAuto)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, Entry{List: l, Category: uint8(i)})
	}
	s := NewSet(entries)
	for name, want := range map[string]Mask{"www.pornhub.com": 1, "m.188betcn2.com": 2, "vnexpress.net": 0} {
		if got, _ := s.Match([]byte(name)); got != want {
			t.Errorf("Match(%s) = %#x, want %#x", name, got, want)
		}
	}
}
