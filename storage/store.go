// Package storage is the encrypted local store of the ccmcollect client, on
// Badger. It is the only client package that imports Badger and owns every
// key (keys.go).
//
// Invariants:
//   - The database is encrypted with Badger's AES-256 encryption under a
//     random data key; the data key is wrapped with a key derived from the
//     passphrase with Argon2id and kept in a small header file beside the
//     database, so changing the passphrase rewrites only the header.
//   - Every write is a synced Badger transaction: a call that returned
//     survives a crash or power cut.
//   - Every revision ever made or pulled is kept. Finalised revisions wait in
//     the outbox in creation order until the hub acknowledges them; rejected
//     ones stay with the hub's reason.
//   - Indexes and summaries hold no sensitive field values.
package storage

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccmcollect/ccmcollect/forms"
	badger "github.com/dgraph-io/badger/v4"
)

// Errors callers must tell apart.
var (
	// ErrWrongPassphrase reports a passphrase that does not unlock the store.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrNotFound reports a record or setting that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNoStore reports a directory that holds no store yet.
	ErrNoStore = errors.New("no store")
	// ErrExists reports a directory that already holds a store (Restore).
	ErrExists = errors.New("a store already exists")
	// ErrCorruptHeader reports an unreadable key header file.
	ErrCorruptHeader = errors.New("corrupt key header")
	// ErrNoDraft reports Finalise on a record without a draft.
	ErrNoDraft = errors.New("record has no draft")
	// ErrDeleted reports an edit of a deleted record.
	ErrDeleted = errors.New("record is deleted")
	// ErrFormMismatch reports data for another form than the record's.
	ErrFormMismatch = errors.New("record belongs to another form")
	// ErrDraftOnly reports an edit or deletion of a record that was never
	// finalised; DiscardDraft removes such a record.
	ErrDraftOnly = errors.New("record is only a draft")
	// ErrEmptyPassphrase reports an empty passphrase.
	ErrEmptyPassphrase = errors.New("empty passphrase")
)

// Options configure Open.
type Options struct {
	// Dir is the data directory; it is created on first use.
	Dir        string
	Passphrase []byte
	// Forms validates data on finalise and import; nil means forms.Builtin().
	Forms *forms.Registry
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives operational messages, never record contents; nil discards.
	Logger *slog.Logger

	// kdf overrides the Argon2id parameters of a new store (tests only).
	kdf *kdfParams
	// gcInterval overrides the value-log GC period (tests only).
	gcInterval time.Duration
	// memTableSize overrides Badger's memtable size, and with it the
	// largest transaction (tests only).
	memTableSize int64
}

// Status is the state of a record as the user sees it.
type Status string

// Record statuses.
const (
	StatusDraft    Status = "draft"    // only a local draft, never finalised
	StatusPending  Status = "pending"  // finalised, waiting to sync
	StatusSynced   Status = "synced"   // every local revision reached the hub
	StatusRejected Status = "rejected" // the hub rejected a revision; see Rejection
	StatusConflict Status = "conflict" // several live leaves

	// StatusFinal is a Query filter only: every finalised record, whatever
	// its sync state (pending, synced, rejected or conflict).
	StatusFinal Status = "final"
)

// Identity is who this device is, as the hub enrolled it. Fields may be empty
// before enrolment.
type Identity struct {
	Programme  string `json:"programme"`
	DeviceID   string `json:"device_id"`
	DeviceName string `json:"device_name"`
	User       string `json:"user"`
	Role       string `json:"role"`
}

// Store is an open local store. It is safe for concurrent use; writes are
// serialised.
type Store struct {
	db    *badger.DB
	dir   string
	hdr   []byte // the key header file as read, for backups
	key   []byte // the data key, for backups
	forms *forms.Registry
	now   func() time.Time
	log   *slog.Logger
	wmu   sync.Mutex // serialises writers, so counters never race
	// lastUpdated is the newest record update time (unix ns) handed out;
	// guarded by wmu.
	lastUpdated int64
	// outboxFloor is a sequence number below which no outbox entry
	// exists; scans of the outbox start there (see raiseOutboxFloor).
	outboxFloor atomic.Uint64
	gc          *gcLoop
	closed      sync.Once
	// afterImportBatch, when set (tests only), runs after each committed
	// import batch.
	afterImportBatch func()
}

// Exists reports whether a store was created in dir.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, headerName))
	return err == nil
}

// Open creates a store in o.Dir on first use and unlocks it afterwards. A
// wrong passphrase returns ErrWrongPassphrase before the database is touched.
func Open(ctx context.Context, o Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if o.Dir == "" {
		return nil, errors.New("storage: no data directory")
	}
	if len(o.Passphrase) == 0 {
		return nil, ErrEmptyPassphrase
	}
	var (
		key []byte
		raw []byte
	)
	if Exists(o.Dir) {
		h, b, err := readHeader(o.Dir)
		if err != nil {
			return nil, err
		}
		if key, err = h.unwrap(o.Passphrase); err != nil {
			return nil, err
		}
		raw = b
	} else {
		if err := os.MkdirAll(o.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("creating data directory: %w", err)
		}
		if entries, _ := os.ReadDir(filepath.Join(o.Dir, dbDirName)); len(entries) > 0 {
			return nil, fmt.Errorf("%w: %s holds a database but no key header", ErrCorruptHeader, o.Dir)
		}
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("data key: %w", err)
		}
		p := defaultKDF
		if o.kdf != nil {
			p = *o.kdf
		}
		h, err := wrapKey(key, o.Passphrase, p)
		if err != nil {
			return nil, err
		}
		if err := writeHeader(o.Dir, h); err != nil {
			return nil, err
		}
		if _, raw, err = readHeader(o.Dir); err != nil {
			return nil, err
		}
	}
	return openDB(o, key, raw)
}

func openDB(o Options, key, hdr []byte) (*Store, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	bo := badger.DefaultOptions(filepath.Join(o.Dir, dbDirName)).
		WithEncryptionKey(key).
		WithIndexCacheSize(16 << 20).
		WithSyncWrites(true).
		WithLogger(badgerLogger{log}).
		WithNumVersionsToKeep(1)
	if o.memTableSize > 0 {
		bo = bo.WithMemTableSize(o.memTableSize).WithValueThreshold(o.memTableSize / 16)
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	s := &Store{db: db, dir: o.Dir, hdr: hdr, key: key, forms: o.Forms, now: o.Now, log: log}
	if s.forms == nil {
		s.forms = forms.Builtin()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.loadLastUpdated(); err != nil {
		db.Close()
		return nil, err
	}
	interval := o.gcInterval
	if interval == 0 {
		interval = 10 * time.Minute
	}
	s.gc = newGCLoop(db, interval, log)
	go s.gc.Run(context.Background())
	return s, nil
}

// Close stops background work, waits for it and closes the database.
func (s *Store) Close() error {
	var err error
	s.closed.Do(func() {
		s.gc.Close()
		err = s.db.Close()
	})
	return err
}

// ChangePassphrase rewraps the data key of the store in dir under newPass.
// The data itself is not rewritten. The store should not be open.
func ChangePassphrase(dir string, oldPass, newPass []byte) error {
	if len(newPass) == 0 {
		return ErrEmptyPassphrase
	}
	h, _, err := readHeader(dir)
	if err != nil {
		return err
	}
	key, err := h.unwrap(oldPass)
	if err != nil {
		return err
	}
	nh, err := wrapKey(key, newPass, h.Params)
	if err != nil {
		return err
	}
	return writeHeader(dir, nh)
}

// Forms returns the registry the store validates with.
func (s *Store) Forms() *forms.Registry { return s.forms }

// Identity returns the stored device identity (zero before enrolment).
func (s *Store) Identity(ctx context.Context) (Identity, error) {
	var id Identity
	b, err := s.get(ctx, internalKey(xIdentity))
	if errors.Is(err, ErrNotFound) {
		return id, nil
	}
	if err != nil {
		return id, err
	}
	if err := json.Unmarshal(b, &id); err != nil {
		return id, fmt.Errorf("decoding identity: %w", err)
	}
	return id, nil
}

// SetIdentity stores the device identity.
func (s *Store) SetIdentity(ctx context.Context, id Identity) error {
	b, err := json.Marshal(id)
	if err != nil {
		return err
	}
	return s.set(ctx, internalKey(xIdentity), b)
}

// Setting returns the value of a setting, or ErrNotFound.
func (s *Store) Setting(ctx context.Context, key string) ([]byte, error) {
	if key == "" {
		return nil, errors.New("storage: empty setting name")
	}
	return s.get(ctx, settingKey(key))
}

// SetSetting stores a setting; the value is encrypted at rest like the rest.
func (s *Store) SetSetting(ctx context.Context, key string, v []byte) error {
	if key == "" {
		return errors.New("storage: empty setting name")
	}
	return s.set(ctx, settingKey(key), v)
}

// PullCursor returns the hub cursor saved by the last ApplyRemote ("" at first).
func (s *Store) PullCursor(ctx context.Context) (string, error) {
	b, err := s.get(ctx, internalKey(xCursor))
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return string(b), err
}

func (s *Store) get(ctx context.Context, k []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []byte
	err := s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(k)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		out, err = it.ValueCopy(nil)
		return err
	})
	return out, err
}

func (s *Store) set(ctx context.Context, k, v []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.db.Update(func(txn *badger.Txn) error { return txn.Set(k, v) })
}

// badgerLogger sends Badger's messages to slog. Badger logs no values.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLogger) Infof(f string, a ...any)    { b.l.Debug("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLogger) Debugf(f string, a ...any)   {}

// gcLoop runs Badger's value-log garbage collection periodically. Its owner
// starts Run in a goroutine and calls Close, which stops Run and waits for it.
type gcLoop struct {
	db       *badger.DB
	interval time.Duration
	log      *slog.Logger
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

func newGCLoop(db *badger.DB, interval time.Duration, log *slog.Logger) *gcLoop {
	return &gcLoop{db: db, interval: interval, log: log, stop: make(chan struct{}), done: make(chan struct{})}
}

// Run collects garbage every interval until ctx is done or Close is called.
// Each round calls RunValueLogGC until it reports nothing to do.
func (g *gcLoop) Run(ctx context.Context) {
	defer close(g.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-g.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(g.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := g.round(ctx); n > 0 {
				g.log.Info("value log garbage collected", "files", n)
			}
		}
	}
}

// Close stops Run and waits for it to return. Run must have been started.
func (g *gcLoop) Close() {
	g.once.Do(func() { close(g.stop) })
	<-g.done
}

// round rewrites value-log files until Badger says nothing is left to do and
// returns how many it rewrote.
func (g *gcLoop) round(ctx context.Context) int {
	n := 0
	for ctx.Err() == nil {
		err := g.db.RunValueLogGC(0.5)
		if err != nil {
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				g.log.Warn("value log gc", "err", err)
			}
			return n
		}
		n++
	}
	return n
}

// loadLastUpdated reads the newest update time from the all-forms index,
// whose first key is the newest record.
func (s *Store) loadLastUpdated() error {
	return s.db.View(func(txn *badger.Txn) error {
		p := []byte{pAll}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
		defer it.Close()
		it.Seek(p)
		if it.ValidForPrefix(p) {
			k := it.Item().Key()
			if len(k) >= 9 {
				s.lastUpdated = int64(^u64(k[1:9]))
			}
		}
		return nil
	})
}
