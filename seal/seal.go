// Package seal encrypts the hotline's personal fields at rest: a reporter's contact and
// description, case notes, screenshots, staff TOTP secrets. The database only ever holds them
// sealed, so a copied database file or backup discloses no one without the keys.
//
// A value is sealed with AES-256-GCM under the current data key and stored as
//
//	ks1:<key id>:<base64url(nonce || ciphertext || tag)>
//
// The key id lets a rotated key set open old values while new ones are sealed with the new
// key (`kidshield keys rotate` re-seals everything). The additional data is the column's name
// ("reports.contact_sealed"), so a sealed value copied into another column does not open.
// Empty plaintext seals to "", so an empty column stays empty and needs no key.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kidshield/kidshield/config"
)

// Errors returned (wrapped) by Open.
var (
	// ErrFormat: the value is not a sealed value of this package.
	ErrFormat = errors.New("not a sealed value")
	// ErrUnknownKey: the value names a key id that is not configured (a key was removed
	// before `kidshield keys rotate` re-sealed everything, or the wrong key set is loaded).
	ErrUnknownKey = errors.New("unknown data key id")
	// ErrAuth: authentication failed: the value was altered, or it was sealed for another
	// column (aad). GCM cannot tell the two apart.
	ErrAuth = errors.New("authentication failed: the value was altered or belongs to another column")
)

const (
	prefix    = "ks1:"
	keySize   = 32
	nonceSize = 12
	tagSize   = 16
	// EnvKeys is the environment variable holding comma-separated key specs.
	EnvKeys = "KIDSHIELD_DATA_KEYS"
	// KeysFileName is the file in the data directory a key is generated into on first start.
	KeysFileName = "data-keys"
)

// Keys is a set of data keys; the first is current and seals, every one opens. It is safe
// for concurrent use.
type Keys struct {
	current string
	ids     []string
	aead    map[string]cipher.AEAD
}

// validID: 1-32 of [A-Za-z0-9_-]: no ':' (the separator), nothing to quote anywhere.
func validID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, c := range id {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ParseKeys reads key specs "ID:BASE64" (standard base64 of 32 random bytes, padded or not);
// the first is the current key. Blank specs are skipped. Errors never include key material.
func ParseKeys(specs []string) (*Keys, error) {
	k := &Keys{aead: map[string]cipher.AEAD{}}
	for i, spec := range specs {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		id, b64, ok := strings.Cut(spec, ":")
		if !ok || !validID(id) {
			return nil, fmt.Errorf("seal: key %d: want ID:BASE64 with an ID of 1-32 letters, digits, '-' or '_'", i+1)
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			raw, err = base64.RawStdEncoding.DecodeString(b64)
		}
		if err != nil || len(raw) != keySize {
			return nil, fmt.Errorf("seal: key %q: want base64 of %d bytes (make one with `kidshield keys generate`)", id, keySize)
		}
		if _, dup := k.aead[id]; dup {
			return nil, fmt.Errorf("seal: key id %q appears twice", id)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("seal: key %q: %w", id, err)
		}
		g, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal: key %q: %w", id, err)
		}
		k.aead[id] = g
		k.ids = append(k.ids, id)
	}
	if len(k.ids) == 0 {
		return nil, errors.New("seal: no data keys")
	}
	k.current = k.ids[0]
	return k, nil
}

// Generate returns a new key spec "ID:BASE64" with a fresh random key; the id is "k", the UTC
// date and four random hex digits ("k20261126-3fa9").
func Generate() (string, error) {
	b := make([]byte, keySize+2)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("seal: generate: %w", err)
	}
	id := "k" + time.Now().UTC().Format("20060102") + "-" + hex.EncodeToString(b[keySize:])
	return id + ":" + base64.StdEncoding.EncodeToString(b[:keySize]), nil
}

// Load finds the data keys, in this order: the environment variable KIDSHIELD_DATA_KEYS
// (comma-separated specs), cfg.DataKeysFile (one spec a line, '#' comments), cfg.DataKeys, and
// finally DATA_DIR/data-keys, which is generated (mode 0600) when missing. A generated key
// file must be backed up apart from the database: without it the sealed fields are lost.
func Load(cfg config.Hotline, dataDir string) (*Keys, error) {
	if v := strings.TrimSpace(os.Getenv(EnvKeys)); v != "" {
		k, err := ParseKeys(strings.Split(v, ","))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKeys, err)
		}
		return k, nil
	}
	if cfg.DataKeysFile != "" {
		return loadFile(cfg.DataKeysFile, false)
	}
	if len(cfg.DataKeys) > 0 {
		k, err := ParseKeys(cfg.DataKeys)
		if err != nil {
			return nil, fmt.Errorf("hotline.data_keys: %w", err)
		}
		return k, nil
	}
	path := filepath.Join(dataDir, KeysFileName)
	k, err := loadFile(path, true)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	if err := generateFile(path); err != nil {
		return nil, err
	}
	return loadFile(path, true)
}

func loadFile(path string, private bool) (*Keys, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("seal: data keys: %w", err)
	}
	if private && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("seal: data keys %s: mode %v lets others read the keys; chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seal: data keys: %w", err)
	}
	var specs []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			specs = append(specs, line)
		}
	}
	k, err := ParseKeys(specs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// generateFile writes a new key to path. The file is written under a temporary name and then
// linked into place, which fails when path exists: two processes starting at once both end up
// reading the one key that won, and a crash never leaves half a key file.
func generateFile(path string) error {
	spec, err := Generate()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("seal: generate %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+KeysFileName+".tmp*")
	if err != nil {
		return fmt.Errorf("seal: generate %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	content := "# kidshield data keys, one ID:BASE64 a line; the first seals new data.\n" +
		"# Back this file up apart from the database: without it sealed fields cannot be read.\n" +
		spec + "\n"
	_, err = f.WriteString(content)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("seal: generate %s: %w", path, err)
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("seal: generate %s: %w", path, err)
	}
	return nil
}

// Current returns the id of the key that seals.
func (k *Keys) Current() string { return k.current }

// IDs returns every key id, the current one first.
func (k *Keys) IDs() []string { return append([]string(nil), k.ids...) }

// additional binds the ciphertext to the format version, the key id and the column.
func additional(id, aad string) []byte {
	return []byte(prefix + id + "\x00" + aad)
}

// Seal encrypts plain for the column named by aad with the current key. Empty plain seals to "".
func (k *Keys) Seal(plain []byte, aad string) (string, error) {
	if len(plain) == 0 {
		return "", nil
	}
	g := k.aead[k.current]
	buf := make([]byte, nonceSize, nonceSize+len(plain)+tagSize)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("seal: %s: %w", aad, err)
	}
	buf = g.Seal(buf, buf[:nonceSize], plain, additional(k.current, aad))
	return prefix + k.current + ":" + base64.RawURLEncoding.EncodeToString(buf), nil
}

// SealString is Seal for text.
func (k *Keys) SealString(plain, aad string) (string, error) { return k.Seal([]byte(plain), aad) }

// parse splits a sealed value into key id and nonce||ciphertext.
func parse(sealed string) (id string, data []byte, err error) {
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return "", nil, ErrFormat
	}
	id, b64, ok := strings.Cut(rest, ":")
	if !ok || !validID(id) {
		return "", nil, ErrFormat
	}
	data, err = base64.RawURLEncoding.DecodeString(b64)
	if err != nil || len(data) < nonceSize+tagSize {
		return "", nil, ErrFormat
	}
	return id, data, nil
}

// Open decrypts a value sealed for the column named by aad. "" opens to nil.
func (k *Keys) Open(sealed, aad string) ([]byte, error) {
	if sealed == "" {
		return nil, nil
	}
	id, data, err := parse(sealed)
	if err != nil {
		return nil, fmt.Errorf("seal: open %s: %w", aad, err)
	}
	g, ok := k.aead[id]
	if !ok {
		return nil, fmt.Errorf("seal: open %s: key id %q: %w", aad, id, ErrUnknownKey)
	}
	plain, err := g.Open(nil, data[:nonceSize], data[nonceSize:], additional(id, aad))
	if err != nil {
		return nil, fmt.Errorf("seal: open %s: key %q: %w", aad, id, ErrAuth)
	}
	return plain, nil
}

// OpenString is Open for text.
func (k *Keys) OpenString(sealed, aad string) (string, error) {
	b, err := k.Open(sealed, aad)
	return string(b), err
}

// Stale reports whether a non-empty value is not sealed with the current key (including a value
// that is not sealed at all): `kidshield keys rotate` re-seals it.
func (k *Keys) Stale(sealed string) bool {
	if sealed == "" {
		return false
	}
	id, _, err := parse(sealed)
	return err != nil || id != k.current
}

// Reseal opens sealed with whichever key it names and seals it again with the current key;
// a value already sealed with the current key (or empty) is returned unchanged.
func (k *Keys) Reseal(sealed, aad string) (string, error) {
	if !k.Stale(sealed) {
		return sealed, nil
	}
	plain, err := k.Open(sealed, aad)
	if err != nil {
		return "", err
	}
	return k.Seal(plain, aad)
}
