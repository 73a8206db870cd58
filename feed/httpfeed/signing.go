package httpfeed

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/kidshield/kidshield/hotline"
)

// The manifest is signed the way notices are (hotline/signing.go): Ed25519 over the canonical
// JSON of the manifest without its "signature" field (keys sorted, no insignificant white
// space, no HTML escaping), with the key's id in "key_id". The feed has its own key: a member
// that trusts the feed need not trust notices, and either key can be replaced alone.

// KeyFile is the feed signing key's file in the data directory (PKCS #8 PEM, mode 0600).
const KeyFile = "feed-signing.key"

// ManifestFormat names the manifest's layout.
const ManifestFormat = "kidshield-feed/1"

// Manifest describes one serial's files.
type Manifest struct {
	Format    string         `json:"format"`
	Serial    int64          `json:"serial"`
	Generated time.Time      `json:"generated"`
	Zone      string         `json:"zone"`
	KeyID     string         `json:"key_id"`
	Files     []ManifestFile `json:"files"`
	Signature string         `json:"signature,omitempty"`
}

// ManifestFile is one file of the manifest. Size and SHA256 are of the file's bytes as served
// without content coding (a gzip download is checked after decompression).
type ManifestFile struct {
	Name    string         `json:"name"`
	Size    int64          `json:"size"`
	SHA256  string         `json:"sha256"`
	Entries int            `json:"entries"`
	Counts  map[string]int `json:"counts"` // entries per kind
}

// File returns the manifest's entry for name, nil if it has none.
func (m *Manifest) File(name string) *ManifestFile {
	for i := range m.Files {
		if m.Files[i].Name == name {
			return &m.Files[i]
		}
	}
	return nil
}

// ErrMismatch is returned (wrapped) when a file does not match its manifest entry.
var ErrMismatch = errors.New("file does not match the manifest")

// Check compares a file's bytes with the manifest's entry for name.
func (m *Manifest) Check(name string, data []byte) error {
	f := m.File(name)
	if f == nil {
		return fmt.Errorf("%s: not in the manifest of serial %d: %w", name, m.Serial, ErrMismatch)
	}
	if int64(len(data)) != f.Size {
		return fmt.Errorf("%s: size %d, manifest says %d: %w", name, len(data), f.Size, ErrMismatch)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != f.SHA256 {
		return fmt.Errorf("%s: sha256 %s, manifest says %s: %w", name, got, f.SHA256, ErrMismatch)
	}
	return nil
}

// ErrBadSignature is returned (wrapped) when a manifest's signature does not verify.
var ErrBadSignature = errors.New("manifest signature does not verify")

// VerifyManifest checks a manifest's signature against pub and decodes it.
func VerifyManifest(data []byte, pub ed25519.PublicKey) (*Manifest, error) {
	if err := hotline.VerifyNotice(data, pub); err != nil {
		// The notice verifier's words, said of a manifest.
		detail := strings.TrimPrefix(err.Error(), hotline.ErrBadSignature.Error())
		detail = strings.TrimPrefix(strings.ReplaceAll(detail, "notice JSON", "manifest JSON"), ": ")
		if detail == "" {
			return nil, ErrBadSignature
		}
		return nil, fmt.Errorf("%w: %s", ErrBadSignature, detail)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("manifest: format %q, want %q", m.Format, ManifestFormat)
	}
	return &m, nil
}

// ParsePublicKey reads a feed public key: a PKIX PEM block (what GET /feed/v1/key serves) or the
// base64 of the 32-byte key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	if b, _ := pem.Decode([]byte(s)); b != nil {
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("feed public key: %w", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("feed public key: a %T, not Ed25519", k)
		}
		return pub, nil
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("feed public key: neither PEM nor base64: %w", err)
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("feed public key: %d bytes, want %d", len(raw), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}

// LoadSigner returns the signer of DATA_DIR/feed-signing.key, generated (mode 0600) on first
// start, in the notice key's format (hotline.LoadSigningKey).
func LoadSigner(dataDir string) (*hotline.NoticeSigner, error) {
	k, err := hotline.LoadSigningKey(filepath.Join(dataDir, KeyFile))
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	return k, nil
}
