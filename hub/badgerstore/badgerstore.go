// Package badgerstore is the hub's embedded store: one Badger database in a
// directory, for a hub that runs as a single process (Badger locks its
// directory, so a second process cannot open it).
//
// Keys (all prefixes are one byte then '/'):
//
//	d/<device id>                     device JSON
//	t/<sha-256 of token>              device id
//	f/<programme>/<form id>/<ver BE>  published form JSON
//	r/<programme>\x00<seq BE>         revision JSON (what Pull serves)
//	v/<record id>\x00<rev>            seq BE: the revision is stored
//	l/<record id>                     record JSON: programme, form, leaves
//
// Sequence numbers are per programme and start at 1. Apply runs under one
// mutex and commits with synced writes, so commit order is sequence order
// and a pull never sees a later revision before an earlier one.
package badgerstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/record"
)

// Store is a hub.Store on Badger. It is safe for concurrent use.
type Store struct {
	db *badger.DB

	mu   sync.Mutex        // serialises Apply; guards last
	last map[string]uint64 // programme → last sequence number, loaded lazily

	closeOnce sync.Once
	closeErr  error
}

var _ hub.Store = (*Store)(nil)

// Open opens (creating if needed) the store in dir. It fails with an error
// wrapping hub.ErrLocked when another process holds dir.
func Open(dir string) (*Store, error) {
	opts := badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithLogger(nil).
		WithNumVersionsToKeep(1).
		WithValueThreshold(256)
	db, err := badger.Open(opts)
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("open hub store %s: %w", dir, hub.ErrLocked)
		}
		return nil, fmt.Errorf("open hub store %s: %w", dir, err)
	}
	return &Store{db: db, last: make(map[string]uint64)}, nil
}

// Close closes the database, waiting for an Apply in progress.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

func deviceKey(id string) []byte        { return []byte("d/" + id) }
func tokenKey(h [32]byte) []byte        { return append([]byte("t/"), h[:]...) }
func recordKey(id string) []byte        { return []byte("l/" + id) }
func revPrefix(programme string) []byte { return []byte("r/" + programme + "\x00") }

func revKey(programme string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(revPrefix(programme), seq)
}

func seenKey(recordID, rev string) []byte { return []byte("v/" + recordID + "\x00" + rev) }

func formPrefix(programme string) []byte {
	if programme == "" {
		return []byte("f/")
	}
	return []byte("f/" + programme + "/")
}

func formKey(programme, id string, version int) []byte {
	return binary.BigEndian.AppendUint32([]byte("f/"+programme+"/"+id+"/"), uint32(version))
}

// storedDevice is the JSON of a device under d/.
type storedDevice struct {
	hub.Device
	TokenHash []byte `json:"token_hash"`
}

// AddDevice implements hub.Store.
func (s *Store) AddDevice(_ context.Context, d hub.Device) error {
	b, err := json.Marshal(storedDevice{Device: d, TokenHash: d.TokenHash[:]})
	if err != nil {
		return fmt.Errorf("encode device: %w", err)
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		for _, k := range [][]byte{deviceKey(d.ID), tokenKey(d.TokenHash)} {
			if _, err := txn.Get(k); err == nil {
				return fmt.Errorf("device %s: %w", d.ID, hub.ErrExists)
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
		}
		if err := txn.Set(deviceKey(d.ID), b); err != nil {
			return err
		}
		return txn.Set(tokenKey(d.TokenHash), []byte(d.ID))
	})
	if err != nil {
		return fmt.Errorf("add device: %w", err)
	}
	return nil
}

func getDevice(txn *badger.Txn, id string) (hub.Device, error) {
	item, err := txn.Get(deviceKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return hub.Device{}, fmt.Errorf("device %s: %w", id, hub.ErrNotFound)
	} else if err != nil {
		return hub.Device{}, err
	}
	var sd storedDevice
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &sd) }); err != nil {
		return hub.Device{}, fmt.Errorf("decode device %s: %w", id, err)
	}
	d := sd.Device
	copy(d.TokenHash[:], sd.TokenHash)
	return d, nil
}

// DeviceByToken implements hub.Store.
func (s *Store) DeviceByToken(_ context.Context, hash [32]byte) (hub.Device, error) {
	var d hub.Device
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(tokenKey(hash))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return hub.ErrNotFound
		} else if err != nil {
			return err
		}
		id, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		d, err = getDevice(txn, string(id))
		return err
	})
	if err != nil {
		return hub.Device{}, fmt.Errorf("device by token: %w", err)
	}
	return d, nil
}

// Devices implements hub.Store.
func (s *Store) Devices(_ context.Context) ([]hub.Device, error) {
	var out []hub.Device
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("d/"), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var sd storedDevice
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &sd) }); err != nil {
				return fmt.Errorf("decode device %s: %w", it.Item().Key(), err)
			}
			d := sd.Device
			copy(d.TokenHash[:], sd.TokenHash)
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	slices.SortFunc(out, func(a, b hub.Device) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// RevokeDevice implements hub.Store.
func (s *Store) RevokeDevice(_ context.Context, id string, at time.Time) error {
	err := s.db.Update(func(txn *badger.Txn) error {
		d, err := getDevice(txn, id)
		if err != nil {
			return err
		}
		if d.Revoked() {
			return nil
		}
		d.RevokedAt = at.UTC()
		b, err := json.Marshal(storedDevice{Device: d, TokenHash: d.TokenHash[:]})
		if err != nil {
			return err
		}
		return txn.Set(deviceKey(id), b)
	})
	if err != nil {
		return fmt.Errorf("revoke device: %w", err)
	}
	return nil
}

// PublishForm implements hub.Store.
func (s *Store) PublishForm(_ context.Context, f hub.PublishedForm) error {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode form: %w", err)
	}
	key := formKey(f.Programme, f.FormID, f.Version)
	err = s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		switch {
		case err == nil:
			var old hub.PublishedForm
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &old) }); err != nil {
				return err
			}
			if !hub.SameJSON(old.Def, f.Def) {
				return fmt.Errorf("form %s version %d for %s: %w", f.FormID, f.Version, f.Programme, hub.ErrExists)
			}
			return nil
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		return txn.Set(key, b)
	})
	if err != nil {
		return fmt.Errorf("publish form: %w", err)
	}
	return nil
}

// PublishedForms implements hub.Store.
func (s *Store) PublishedForms(_ context.Context, programme string) ([]hub.PublishedForm, error) {
	var out []hub.PublishedForm
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: formPrefix(programme), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var f hub.PublishedForm
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &f) }); err != nil {
				return fmt.Errorf("decode form: %w", err)
			}
			out = append(out, f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list forms: %w", err)
	}
	slices.SortFunc(out, func(a, b hub.PublishedForm) int {
		if c := strings.Compare(a.Programme, b.Programme); c != 0 {
			return c
		}
		if c := strings.Compare(a.FormID, b.FormID); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	return out, nil
}

// lastSeq returns the last sequence number of programme. s.mu must be held.
func (s *Store) lastSeq(txn *badger.Txn, programme string) uint64 {
	if n, ok := s.last[programme]; ok {
		return n
	}
	prefix := revPrefix(programme)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
	defer it.Close()
	var n uint64
	it.Seek(append(slices.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	if it.Valid() {
		k := it.Item().Key()
		n = binary.BigEndian.Uint64(k[len(prefix):])
	}
	s.last[programme] = n
	return n
}

// Apply implements hub.Store.
func (s *Store) Apply(ctx context.Context, programme string, revs []*record.Revision) ([]hub.Result, error) {
	return s.ApplyFrom(ctx, programme, "", revs)
}

// ApplyFrom implements hub.Store.
func (s *Store) ApplyFrom(ctx context.Context, programme, device string, revs []*record.Revision) ([]hub.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	docs, err := hub.EncodeRevisions(revs)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	txn := s.db.NewTransaction(true)
	defer txn.Discard()

	records := make(map[string]*hub.RecordState)
	for _, r := range revs {
		if _, ok := records[r.RecordID]; ok {
			continue
		}
		rec, err := loadRecord(txn, r.RecordID)
		if err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
		records[r.RecordID] = rec
	}
	var readErr error
	plan := hub.MakePlan(programme, device, revs, records, func(id, rev string) bool {
		ok, err := has(txn, seenKey(id, rev))
		if err != nil && readErr == nil {
			readErr = err
		}
		return ok
	})
	if readErr != nil {
		return nil, fmt.Errorf("apply: %w", readErr)
	}
	if len(plan.Applied) == 0 {
		return plan.Results, nil
	}
	seq := s.lastSeq(txn, programme)
	for _, i := range plan.Applied {
		r := revs[i]
		seq++
		if err := txn.Set(revKey(programme, seq), docs[i]); err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
		if err := txn.Set(seenKey(r.RecordID, r.Rev), binary.BigEndian.AppendUint64(nil, seq)); err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
	}
	for id, rec := range plan.Records {
		b, err := json.Marshal(rec)
		if err != nil {
			return nil, fmt.Errorf("apply: encode record: %w", err)
		}
		if err := txn.Set(recordKey(id), b); err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
	}
	if err := txn.Commit(); err != nil {
		return nil, fmt.Errorf("apply: commit: %w", err)
	}
	s.last[programme] = seq
	return plan.Results, nil
}

// loadRecord returns the stored state of record id, or nil if unknown.
func loadRecord(txn *badger.Txn, id string) (*hub.RecordState, error) {
	item, err := txn.Get(recordKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	rec := new(hub.RecordState)
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, rec) }); err != nil {
		return nil, fmt.Errorf("decode record %s: %w", id, err)
	}
	return rec, nil
}

func has(txn *badger.Txn, key []byte) (bool, error) {
	_, err := txn.Get(key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return false, nil
	}
	return false, err
}

// Pull implements hub.Store.
func (s *Store) Pull(_ context.Context, programme, cursor string, limit, maxBytes int) (hub.Page, error) {
	after, err := hub.ParseCursor(cursor)
	if err != nil {
		return hub.Page{}, err
	}
	if limit < 1 {
		limit = 1
	}
	page := hub.Page{Next: cursor}
	prefix := revPrefix(programme)
	err = s.db.View(func(txn *badger.Txn) error {
		if after.Seq > 0 {
			rev, found, err := revAt(txn, programme, after.Seq)
			if err != nil {
				return err
			}
			if err := hub.CheckCursor(after, found, rev); err != nil {
				return err
			}
		}
		// Values are read one at a time, not prefetched: prefetching holds
		// values beyond the page's byte budget in memory.
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		var last uint64
		size := 0
		for it.Seek(revKey(programme, after.Seq+1)); it.Valid(); it.Next() {
			if len(page.Revisions) == limit {
				page.More = true
				break
			}
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if len(page.Revisions) > 0 && size+len(v) > maxBytes {
				page.More = true
				break
			}
			size += len(v)
			page.Revisions = append(page.Revisions, v)
			last = binary.BigEndian.Uint64(item.Key()[len(prefix):])
		}
		if n := len(page.Revisions); n > 0 {
			rev, err := revOf(page.Revisions[n-1])
			if err != nil {
				return err
			}
			page.Next = hub.Cursor{Seq: last, Rev: rev}.String()
		}
		return nil
	})
	if err != nil {
		return hub.Page{}, fmt.Errorf("pull: %w", err)
	}
	return page, nil
}

// revAt returns the rev of programme's revision seq, or found false.
func revAt(txn *badger.Txn, programme string, seq uint64) (rev string, found bool, err error) {
	item, err := txn.Get(revKey(programme, seq))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", false, nil
	} else if err != nil {
		return "", false, err
	}
	err = item.Value(func(v []byte) error {
		rev, err = revOf(v)
		return err
	})
	return rev, err == nil, err
}

// revOf returns the rev of a stored revision document.
func revOf(doc []byte) (string, error) {
	var v struct {
		Rev string `json:"rev"`
	}
	if err := json.Unmarshal(doc, &v); err != nil {
		return "", fmt.Errorf("decode stored revision: %w", err)
	}
	return v.Rev, nil
}
