package hotline

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A notice leaves the hotline signed, so a platform or a court can check that it came from us
// and was not changed on the way: Ed25519 over the canonical JSON of the notice without its
// "signature" field. Canonical JSON here is what Go's encoding/json writes for the decoded
// document: object keys sorted, no insignificant whitespace, numbers as written, no HTML
// escaping. Ed25519 is deterministic, so the signature stored when a notice is sent is the one
// every later download of it carries.

// NoticeKeyFile is the signing key's file in the data directory (PKCS #8 PEM, mode 0600).
const NoticeKeyFile = "notice-signing.key"

// NoticeSigner signs notices with one Ed25519 key.
type NoticeSigner struct {
	priv  ed25519.PrivateKey
	pub   ed25519.PublicKey
	keyID string
}

// NewNoticeSigner returns a signer for priv.
func NewNoticeSigner(priv ed25519.PrivateKey) *NoticeSigner {
	pub := priv.Public().(ed25519.PublicKey)
	return &NoticeSigner{priv: priv, pub: pub, keyID: NoticeKeyID(pub)}
}

// NoticeKeyID is a public key's id: the first 8 bytes of its SHA-256, in hex.
func NoticeKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// PublicKey returns the key notices are verified with.
func (k *NoticeSigner) PublicKey() ed25519.PublicKey { return k.pub }

// KeyID returns the public key's id (NoticeKeyID).
func (k *NoticeSigner) KeyID() string { return k.keyID }

// PublicPEM returns the public key as a PKIX PEM block.
func (k *NoticeSigner) PublicPEM() string {
	der, err := x509.MarshalPKIXPublicKey(k.pub)
	if err != nil {
		return ""
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// ParseNoticeKey reads a private key given in configuration: a PKCS #8 PEM block, or the
// base64 of a 32-byte seed or a 64-byte private key.
func ParseNoticeKey(s string) (*NoticeSigner, error) {
	s = strings.TrimSpace(s)
	if b, _ := pem.Decode([]byte(s)); b != nil {
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("hotline: notice key: %w", err)
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("hotline: notice key: a %T, not Ed25519", k)
		}
		return NewNoticeSigner(priv), nil
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("hotline: notice key: neither PEM nor base64: %w", err)
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return NewNoticeSigner(ed25519.NewKeyFromSeed(raw)), nil
	case ed25519.PrivateKeySize:
		return NewNoticeSigner(ed25519.PrivateKey(raw)), nil
	}
	return nil, fmt.Errorf("hotline: notice key: %d bytes, want a 32-byte seed or a 64-byte key", len(raw))
}

// LoadNoticeSigner returns the signer of configured (ParseNoticeKey) when it is not empty, else
// of DATA_DIR/notice-signing.key, which is generated (mode 0600) on first start.
func LoadNoticeSigner(dataDir, configured string) (*NoticeSigner, error) {
	if strings.TrimSpace(configured) != "" {
		return ParseNoticeKey(configured)
	}
	return LoadSigningKey(filepath.Join(dataDir, NoticeKeyFile))
}

// LoadSigningKey returns the Ed25519 signer kept at path (PKCS#8 PEM), generating it (mode
// 0600, directory 0700) when the file does not exist. The notices' and the feed's keys are
// both kept this way.
func LoadSigningKey(path string) (*NoticeSigner, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := ParseNoticeKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	// Written to a temporary file and linked into place: a crash leaves no half key, and two
	// processes starting at once end with one key (the loser reads the winner's).
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	defer os.Remove(tmp.Name())
	werr := tmp.Chmod(0o600)
	if werr == nil {
		_, werr = tmp.Write(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("signing key: %w", werr)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return LoadSigningKey(path)
		}
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return NewNoticeSigner(priv), nil
}

// canonicalJSON decodes a JSON object, drops its "signature" field and encodes it again in the
// canonical form.
func canonicalJSON(data []byte) (doc map[string]any, canon []byte, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("notice JSON: %w", err)
	}
	if dec.More() {
		return nil, nil, errors.New("notice JSON: trailing data")
	}
	if doc == nil {
		return nil, nil, errors.New("notice JSON: not an object")
	}
	sig := doc["signature"]
	delete(doc, "signature")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, nil, fmt.Errorf("notice JSON: %w", err)
	}
	if sig != nil {
		doc["signature"] = sig
	}
	return doc, bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Sign returns v (a struct or map encoding to a JSON object, with a "key_id" field) as
// canonical JSON with a "signature" field: the base64 of the Ed25519 signature of the canonical
// JSON without it.
func (k *NoticeSigner) Sign(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("hotline: sign notice: %w", err)
	}
	doc, canon, err := canonicalJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("hotline: sign notice: %w", err)
	}
	doc["signature"] = base64.StdEncoding.EncodeToString(ed25519.Sign(k.priv, canon))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("hotline: sign notice: %w", err)
	}
	return buf.Bytes(), nil
}

// ErrBadSignature is returned by VerifyNotice when the signature does not match.
var ErrBadSignature = errors.New("notice signature does not verify")

// VerifyNotice checks a signed notice (the JSON GET /desk/notices/{id}.json serves) against a
// public key: any changed field, or a signature by another key, is an error.
func VerifyNotice(data []byte, pub ed25519.PublicKey) error {
	doc, canon, err := canonicalJSON(data)
	if err != nil {
		return err
	}
	s, ok := doc["signature"].(string)
	if !ok || s == "" {
		return fmt.Errorf("%w: no signature", ErrBadSignature)
	}
	sig, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature is not base64 of %d bytes", ErrBadSignature, ed25519.SignatureSize)
	}
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key of %d bytes", ErrBadSignature, len(pub))
	}
	if id, _ := doc["key_id"].(string); id != "" && id != NoticeKeyID(pub) {
		return fmt.Errorf("%w: signed by key %s, not %s", ErrBadSignature, id, NoticeKeyID(pub))
	}
	if !ed25519.Verify(pub, canon, sig) {
		return ErrBadSignature
	}
	return nil
}

// SetNoticeSigner gives the service the key it signs notices with (tests; serve passes
// Options.NoticeSigner). Without one, notices cannot be sent.
func (s *Service) SetNoticeSigner(k *NoticeSigner) { s.o.NoticeSigner = k }

// NoticeSigner returns the service's signer, nil when none was set.
func (s *Service) NoticeSigner() *NoticeSigner { return s.o.NoticeSigner }
