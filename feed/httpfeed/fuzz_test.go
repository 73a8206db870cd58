package httpfeed

import (
	"bytes"
	"crypto/ed25519"
	"testing"
)

// FuzzVerifyManifest feeds arbitrary bytes, and altered signed manifests, to the manifest
// verifier every subscriber and `kidshield feed verify` run on what they download. It never
// panics; what it accepts is a manifest of this format whose signature is the publisher's: a
// changed byte of a signed manifest is accepted only when it changes nothing the signature
// covers (JSON whitespace is not covered by the canonical form).
func FuzzVerifyManifest(f *testing.F) {
	k, err := LoadSigner(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	signed, err := k.Sign(Manifest{Format: ManifestFormat, Serial: 7, Zone: "rpz.kidshield.test.",
		Files: []ManifestFile{{Name: "all.json", Size: 2, SHA256: "ab", Entries: 1}}})
	if err != nil {
		f.Fatal(err)
	}
	pub := k.PublicKey()
	f.Add(signed, 0, byte(0))
	f.Add(signed, 10, byte('x'))
	f.Add([]byte(`{"format":"x"}`), 0, byte(0))
	f.Add([]byte(`{"format":"kidshield-feed-manifest/1","signature":"AAAA"}`), 3, byte(1))
	f.Fuzz(func(t *testing.T, data []byte, at int, b byte) {
		m, err := VerifyManifest(data, pub)
		if err == nil && m.Format != ManifestFormat {
			t.Fatalf("accepted format %q", m.Format)
		}
		// The signed manifest with one byte changed.
		if at < 0 || len(signed) == 0 {
			return
		}
		alt := bytes.Clone(signed)
		alt[at%len(alt)] = b
		m2, err := VerifyManifest(alt, pub)
		if err != nil {
			return
		}
		if m2.Serial != 7 || m2.Zone != "rpz.kidshield.test." || len(m2.Files) != 1 || m2.Files[0].SHA256 != "ab" || m2.Files[0].Name != "all.json" {
			t.Fatalf("a changed manifest verified with other content: %+v\n%s", m2, alt)
		}
		// Another key never verifies it.
		other, _, _ := ed25519.GenerateKey(nil)
		if _, err := VerifyManifest(alt, other); err == nil {
			t.Fatal("verified with another key")
		}
	})
}
