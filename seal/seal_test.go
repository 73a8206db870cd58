package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kidshield/kidshield/config"
)

func spec(id string, fill byte) string {
	return id + ":" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{fill}, 32))
}

func TestSealOpen(t *testing.T) {
	k, err := ParseKeys([]string{spec("new", 1), spec("old", 2)})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := ParseKeys([]string{spec("old", 2)})
	const col = "reports.contact_sealed"

	s, err := k.SealString("0901 234 567", col)
	if err != nil || !strings.HasPrefix(s, "ks1:new:") {
		t.Fatalf("seal: %q %v", s, err)
	}
	if s2, _ := k.SealString("0901 234 567", col); s2 == s {
		t.Fatal("two seals of one value are equal: nonce reused")
	}
	if got, err := k.OpenString(s, col); err != nil || got != "0901 234 567" {
		t.Fatalf("open: %q %v", got, err)
	}
	if e, err := k.Seal(nil, col); e != "" || err != nil {
		t.Fatalf("empty seals to %q %v", e, err)
	}
	if b, err := k.Open("", col); b != nil || err != nil {
		t.Fatal("empty does not open to nil")
	}

	// A value sealed with an old key opens and is stale; Reseal moves it to the current key.
	o, _ := old.SealString("note", "case_events.note_sealed")
	if !k.Stale(o) || k.Stale(s) || k.Stale("") || !k.Stale("plain text") {
		t.Fatal("Stale wrong")
	}
	r, err := k.Reseal(o, "case_events.note_sealed")
	if err != nil || !strings.HasPrefix(r, "ks1:new:") {
		t.Fatalf("reseal: %q %v", r, err)
	}
	if got, _ := k.OpenString(r, "case_events.note_sealed"); got != "note" {
		t.Fatalf("resealed opens to %q", got)
	}
	if same, _ := k.Reseal(r, "case_events.note_sealed"); same != r {
		t.Fatal("a current value was resealed")
	}

	// The errors say what is wrong.
	if _, err := old.Open(s, col); !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), `"new"`) {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := k.Open(s, "reports.description_sealed"); !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "reports.description_sealed") {
		t.Fatalf("wrong column: %v", err)
	}
	b := []byte(s)
	if b[len(b)-3] == 'A' { // another base64url digit: one ciphertext byte changes
		b[len(b)-3] = 'B'
	} else {
		b[len(b)-3] = 'A'
	}
	if _, err := k.Open(string(b), col); !errors.Is(err, ErrAuth) {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := k.Open(strings.Replace(s, "ks1:new:", "ks1:old:", 1), col); !errors.Is(err, ErrAuth) {
		t.Fatalf("relabelled key id: %v", err)
	}
	for _, bad := range []string{"plain", "ks1:", "ks1:new", "ks1:new:!!", "ks1:new:AAAA", "ks2:new:" + s[8:]} {
		if _, err := k.Open(bad, col); !errors.Is(err, ErrFormat) {
			t.Errorf("Open(%q): %v", bad, err)
		}
	}
}

func TestParseKeys(t *testing.T) {
	raw := strings.TrimRight(spec("a", 3), "=")
	if k, err := ParseKeys([]string{" ", raw, "", spec("b", 4)}); err != nil || k.Current() != "a" || len(k.IDs()) != 2 {
		t.Fatalf("unpadded and blanks: %v", err)
	}
	secret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 31))
	for _, bad := range [][]string{
		nil, {""}, {"nokey"}, {"a:" + secret}, {"a:%%%"}, {"a b:" + secret}, {spec("a", 1), spec("a", 2)}, {":" + secret},
		{spec(strings.Repeat("x", 33), 1)},
	} {
		_, err := ParseKeys(bad)
		if err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows key material: %v", err)
		}
	}
	g, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if k, err := ParseKeys([]string{g}); err != nil || !strings.HasPrefix(k.Current(), "k") {
		t.Fatalf("generated %q: %v", g, err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvKeys, "")

	// First start: a key file is generated, mode 0600, and reused afterwards.
	var wg sync.WaitGroup
	ids := make([]string, 4)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := Load(config.Hotline{}, dir)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = k.Current()
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent first starts made different keys: %v", ids)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, KeysFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi.Mode(), err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}
	os.Chmod(filepath.Join(dir, KeysFileName), 0o644)
	if _, err := Load(config.Hotline{}, dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key file: %v", err)
	}

	// Configuration over the generated file, the file over the list, the environment over all.
	file := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(file, []byte("# comment\n"+spec("fromfile", 5)+"\n\n"), 0o600)
	cfg := config.Hotline{DataKeys: []string{spec("fromcfg", 6)}}
	if k, err := Load(cfg, dir); err != nil || k.Current() != "fromcfg" {
		t.Fatalf("data_keys: %v", err)
	}
	cfg.DataKeysFile = file
	if k, err := Load(cfg, dir); err != nil || k.Current() != "fromfile" {
		t.Fatalf("data_keys_file: %v", err)
	}
	t.Setenv(EnvKeys, spec("fromenv", 7)+","+spec("older", 8)+",")
	if k, err := Load(cfg, dir); err != nil || k.Current() != "fromenv" || len(k.IDs()) != 2 {
		t.Fatalf("environment: %v", err)
	}
	t.Setenv(EnvKeys, "bad")
	if _, err := Load(cfg, dir); err == nil || !strings.Contains(err.Error(), EnvKeys) {
		t.Fatalf("bad environment: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	k, _ := ParseKeys([]string{spec("a", 1), spec("b", 2)})
	s, _ := k.SealString("hello", "c")
	f.Add(s, "c")
	f.Add("ks1:a:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "c")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, sealed, aad string) {
		plain, err := k.Open(sealed, aad)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrAuth) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		// Whatever opens must be what was sealed: only the seed can, unless GCM is broken.
		if sealed != "" && (aad != "c" || string(plain) != "hello") {
			t.Fatalf("forged value opened: %q %q → %q", sealed, aad, plain)
		}
	})
}
