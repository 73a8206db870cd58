package hotline

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSigningRoundTripAndTamper(t *testing.T) {
	dir := t.TempDir()
	k, err := LoadNoticeSigner(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, NoticeKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	again, err := LoadNoticeSigner(dir, "")
	if err != nil || again.KeyID() != k.KeyID() || len(k.KeyID()) != 16 {
		t.Fatalf("reloaded key %v %v", again, err)
	}
	doc := NoticeDocument{Format: "kidshield-notice/1", NoticeID: "N260302-ABC", Kind: "takedown", CaseRef: "C1", Ground: "illegal_vn",
		Category: "CSE.CSAM", TLP: "AMBER", KeyID: k.KeyID(), Explanation: "<b>&</b> tiếng Việt",
		Items: []NoticeEntry{{URL: "https://a.example/x?b=1&a=2", Hashes: []string{"sha256:00"}}}}
	signed, err := k.Sign(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyNotice(signed, k.PublicKey()); err != nil {
		t.Fatalf("verify: %v\n%s", err, signed)
	}
	// Re-encoding (another key order, other whitespace) keeps it valid.
	var m map[string]any
	json.Unmarshal(signed, &m)
	compact, _ := json.Marshal(m)
	if err := VerifyNotice(compact, k.PublicKey()); err != nil {
		t.Fatalf("verify compact: %v", err)
	}
	for name, change := range map[string]func(map[string]any){
		"field":     func(m map[string]any) { m["tlp"] = "CLEAR" },
		"item":      func(m map[string]any) { m["items"].([]any)[0].(map[string]any)["url"] = "https://a.example/y" },
		"added":     func(m map[string]any) { m["extra"] = true },
		"removed":   func(m map[string]any) { delete(m, "explanation") },
		"signature": func(m map[string]any) { m["signature"] = "AAAA" },
		"unsigned":  func(m map[string]any) { delete(m, "signature") },
	} {
		var m map[string]any
		json.Unmarshal(signed, &m)
		change(m)
		b, _ := json.Marshal(m)
		if err := VerifyNotice(b, k.PublicKey()); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s changed: %v", name, err)
		}
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if err := VerifyNotice(signed, other); err == nil {
		t.Error("verified with another key")
	}
	if err := VerifyNotice([]byte("[1]"), k.PublicKey()); err == nil {
		t.Error("verified an array")
	}
	// A configured key wins over the file; PEM of the file parses as configuration too.
	pemKey, _ := os.ReadFile(filepath.Join(dir, NoticeKeyFile))
	cfgd, err := LoadNoticeSigner(t.TempDir(), string(pemKey))
	if err != nil || cfgd.KeyID() != k.KeyID() {
		t.Fatalf("configured key: %v", err)
	}
	if !bytes.Contains([]byte(k.PublicPEM()), []byte("PUBLIC KEY")) {
		t.Fatal("public PEM")
	}
	if _, err := ParseNoticeKey("bm90IGEga2V5"); err == nil {
		t.Fatal("short key accepted")
	}
}
