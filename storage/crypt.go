package storage

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/crypto/argon2"
)

// headerName is the small unencrypted file beside the database. It holds
// only the Argon2id salt and parameters and the data key wrapped (AES-GCM)
// with the key derived from the passphrase: no personal data.
const headerName = "store.key"

// dbDirName is the Badger directory inside the data directory.
const dbDirName = "db"

// kdfParams are the Argon2id parameters recorded in the header.
type kdfParams struct {
	Time    uint32 `json:"time"`
	Memory  uint32 `json:"memory_kib"`
	Threads uint8  `json:"threads"`
}

// defaultKDF is what a new store uses: 3 passes over 64 MiB with 2 lanes.
var defaultKDF = kdfParams{Time: 3, Memory: 64 * 1024, Threads: 2}

// header is the JSON content of headerName.
type header struct {
	Version int       `json:"version"`
	KDF     string    `json:"kdf"`
	Params  kdfParams `json:"params"`
	Salt    []byte    `json:"salt"`
	Nonce   []byte    `json:"nonce"`
	Wrapped []byte    `json:"wrapped_key"`
}

const headerVersion = 1

func deriveKEK(pass []byte, salt []byte, p kdfParams) []byte {
	return argon2.IDKey(pass, salt, p.Time, p.Memory, p.Threads, 32)
}

// wrapKey returns a new header holding dataKey wrapped under pass.
func wrapKey(dataKey, pass []byte, p kdfParams) (*header, error) {
	h := &header{Version: headerVersion, KDF: "argon2id", Params: p, Salt: make([]byte, 16)}
	if _, err := rand.Read(h.Salt); err != nil {
		return nil, fmt.Errorf("salt: %w", err)
	}
	gcm, err := newGCM(deriveKEK(pass, h.Salt, p))
	if err != nil {
		return nil, err
	}
	h.Nonce = make([]byte, gcm.NonceSize())
	if _, err := rand.Read(h.Nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	h.Wrapped = gcm.Seal(nil, h.Nonce, dataKey, []byte("ccmcollect data key v1"))
	return h, nil
}

// unwrap returns the data key, or ErrWrongPassphrase when pass does not
// authenticate the wrapped key.
func (h *header) unwrap(pass []byte) ([]byte, error) {
	if h.Version != headerVersion || h.KDF != "argon2id" {
		return nil, fmt.Errorf("%w: unsupported key header version %d (%s)", ErrCorruptHeader, h.Version, h.KDF)
	}
	if h.Params.Time == 0 || h.Params.Memory == 0 || h.Params.Threads == 0 || len(h.Salt) < 8 {
		return nil, fmt.Errorf("%w: bad key derivation parameters", ErrCorruptHeader)
	}
	gcm, err := newGCM(deriveKEK(pass, h.Salt, h.Params))
	if err != nil {
		return nil, err
	}
	if len(h.Nonce) != gcm.NonceSize() {
		return nil, fmt.Errorf("%w: bad nonce", ErrCorruptHeader)
	}
	key, err := gcm.Open(nil, h.Nonce, h.Wrapped, []byte("ccmcollect data key v1"))
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("%w: data key of %d bytes", ErrCorruptHeader, len(key))
	}
	return key, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("cipher: %w", err)
	}
	gcm, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, fmt.Errorf("cipher: %w", err)
	}
	return gcm, nil
}

func readHeader(dir string) (*header, []byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, headerName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w in %s", ErrNoStore, dir)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading key header: %w", err)
	}
	h, err := parseHeader(b)
	return h, b, err
}

func parseHeader(b []byte) (*header, error) {
	var h header
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptHeader, err)
	}
	return &h, nil
}

// writeHeader writes h into dir atomically: a temporary file, fsync,
// rename, fsync of the directory.
func writeHeader(dir string, h *header) error {
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, headerName), b)
}

func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
