package storage

import (
	"bufio"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	badger "github.com/dgraph-io/badger/v4"
)

// The backup file format. Everything after the key header is encrypted with
// the store's data key, so the file is as safe as the store itself:
//
//	"CCMBAK1\n"
//	uint32 n, n bytes: the key header (salt, Argon2id parameters, wrapped data key)
//	4 bytes: random nonce prefix
//	chunks: uint32 n, n bytes of AES-GCM output of up to 64 KiB of Badger's backup stream;
//	        nonce = prefix || uint64 chunk index; additional data = chunk index || final flag
//
// The last chunk carries the final flag, so a truncated file is detected.
const backupMagic = "CCMBAK1\n"

const chunkSize = 64 << 10

// ErrBadBackup reports a backup file that is not one, is damaged or truncated.
var ErrBadBackup = errors.New("bad backup file")

// Backup writes an encrypted backup of the whole store to w. It can be
// restored with the passphrase that was current when it was made.
func (s *Store) Backup(ctx context.Context, w io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	gcm, err := newGCM(s.key)
	if err != nil {
		return err
	}
	// The header on disk wraps the same data key under the passphrase that
	// is current now (ChangePassphrase may have run since Open).
	hdr := s.hdr
	if b, err := os.ReadFile(filepath.Join(s.dir, headerName)); err == nil {
		hdr = b
	}
	bw := bufio.NewWriter(w)
	var hl [4]byte
	binary.BigEndian.PutUint32(hl[:], uint32(len(hdr)))
	prefix := make([]byte, 4)
	if _, err := rand.Read(prefix); err != nil {
		return err
	}
	for _, b := range [][]byte{[]byte(backupMagic), hl[:], hdr, prefix} {
		if _, err := bw.Write(b); err != nil {
			return fmt.Errorf("writing backup: %w", err)
		}
	}
	cw := &chunkWriter{w: bw, gcm: gcm, prefix: prefix}
	if _, err := s.db.Backup(ctxWriter{ctx, cw}, 0); err != nil {
		return fmt.Errorf("writing backup: %w", err)
	}
	if err := cw.close(); err != nil {
		return fmt.Errorf("writing backup: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing backup: %w", err)
	}
	return nil
}

// ctxWriter stops a long backup when its context is cancelled.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

type chunkWriter struct {
	w      io.Writer
	gcm    cipher.AEAD
	prefix []byte
	buf    []byte
	n      uint64
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		k := min(chunkSize-len(c.buf), len(p))
		c.buf = append(c.buf, p[:k]...)
		p = p[k:]
		if len(c.buf) == chunkSize {
			if err := c.emit(false); err != nil {
				return 0, err
			}
		}
	}
	return total, nil
}

func (c *chunkWriter) close() error { return c.emit(true) }

func chunkNonceAD(prefix []byte, n uint64, final bool) ([]byte, []byte) {
	nonce := make([]byte, 12)
	copy(nonce, prefix)
	binary.BigEndian.PutUint64(nonce[4:], n)
	ad := make([]byte, 9)
	binary.BigEndian.PutUint64(ad, n)
	if final {
		ad[8] = 1
	}
	return nonce, ad
}

func (c *chunkWriter) emit(final bool) error {
	nonce, ad := chunkNonceAD(c.prefix, c.n, final)
	sealed := c.gcm.Seal(nil, nonce, c.buf, ad)
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(sealed)))
	if _, err := c.w.Write(l[:]); err != nil {
		return err
	}
	if _, err := c.w.Write(sealed); err != nil {
		return err
	}
	c.n++
	c.buf = c.buf[:0]
	return nil
}

type chunkReader struct {
	r      io.Reader
	gcm    cipher.AEAD
	prefix []byte
	buf    []byte
	n      uint64
	done   bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.done {
			return 0, io.EOF
		}
		var l [4]byte
		if _, err := io.ReadFull(c.r, l[:]); err != nil {
			return 0, fmt.Errorf("%w: truncated", ErrBadBackup)
		}
		size := binary.BigEndian.Uint32(l[:])
		if size > chunkSize+uint32(c.gcm.Overhead()) {
			return 0, fmt.Errorf("%w: chunk of %d bytes", ErrBadBackup, size)
		}
		sealed := make([]byte, size)
		if _, err := io.ReadFull(c.r, sealed); err != nil {
			return 0, fmt.Errorf("%w: truncated", ErrBadBackup)
		}
		var err error
		for _, final := range []bool{false, true} {
			nonce, ad := chunkNonceAD(c.prefix, c.n, final)
			var plain []byte
			if plain, err = c.gcm.Open(nil, nonce, sealed, ad); err == nil {
				c.buf, c.done = plain, final
				break
			}
		}
		if err != nil {
			return 0, fmt.Errorf("%w: chunk %d does not authenticate", ErrBadBackup, c.n)
		}
		c.n++
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// Restore creates the store in dir from a backup made by Backup, unlocked by
// the passphrase that was current when the backup was made. It refuses a
// directory that already holds a store (ErrExists). A wrong passphrase gives
// ErrWrongPassphrase and writes nothing; a damaged backup leaves no store.
func Restore(ctx context.Context, dir string, r io.Reader, passphrase []byte) error {
	if Exists(dir) {
		return fmt.Errorf("restoring into %s: %w", dir, ErrExists)
	}
	br := bufio.NewReader(r)
	magic := make([]byte, len(backupMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != backupMagic {
		return fmt.Errorf("%w: not a ccmcollect backup", ErrBadBackup)
	}
	var hl [4]byte
	if _, err := io.ReadFull(br, hl[:]); err != nil {
		return fmt.Errorf("%w: truncated", ErrBadBackup)
	}
	n := binary.BigEndian.Uint32(hl[:])
	if n > 1<<16 {
		return fmt.Errorf("%w: header of %d bytes", ErrBadBackup, n)
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(br, raw); err != nil {
		return fmt.Errorf("%w: truncated", ErrBadBackup)
	}
	h, err := parseHeader(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadBackup, err)
	}
	key, err := h.unwrap(passphrase)
	if err != nil {
		return err
	}
	prefix := make([]byte, 4)
	if _, err := io.ReadFull(br, prefix); err != nil {
		return fmt.Errorf("%w: truncated", ErrBadBackup)
	}
	gcm, err := newGCM(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	dbDir := filepath.Join(dir, dbDirName)
	if entries, _ := os.ReadDir(dbDir); len(entries) > 0 {
		return fmt.Errorf("restoring into %s: %w (a database without key header)", dir, ErrExists)
	}
	fail := func(err error) error {
		os.RemoveAll(dbDir)
		return fmt.Errorf("restoring: %w", err)
	}
	db, err := badger.Open(badger.DefaultOptions(dbDir).WithEncryptionKey(key).
		WithIndexCacheSize(16 << 20).WithSyncWrites(true).WithLogger(nil))
	if err != nil {
		return fail(err)
	}
	cr := &chunkReader{r: br, gcm: gcm, prefix: prefix}
	if err := db.Load(ctxReader{ctx, cr}, 256); err != nil {
		db.Close()
		return fail(err)
	}
	if !cr.done {
		db.Close()
		return fail(fmt.Errorf("%w: truncated", ErrBadBackup))
	}
	if err := db.Sync(); err != nil {
		db.Close()
		return fail(err)
	}
	if err := db.Close(); err != nil {
		return fail(err)
	}
	if err := writeFileAtomic(filepath.Join(dir, headerName), raw); err != nil {
		return fail(err)
	}
	return nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
