package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/record"
	badger "github.com/dgraph-io/badger/v4"
)

// Record is the current state of one record.
type Record struct {
	ID          string
	FormID      string
	FormVersion int
	Status      Status
	// Current is the winning revision; nil when the record is only a draft.
	Current    *record.Revision
	Leaves     []record.Leaf
	Conflicted bool
	// Draft is unsaved draft data, if any (local only, never synced).
	Draft map[string]any
	// Rejection is the hub's reason when Status is rejected.
	Rejection string
	UpdatedAt time.Time
}

// Deleted reports whether the record's winner is a deletion.
func (r *Record) Deleted() bool { return r.Current != nil && r.Current.Deleted }

func (s *Store) meta(ctx context.Context) (record.Meta, error) {
	id, err := s.Identity(ctx)
	if err != nil {
		return record.Meta{}, err
	}
	return record.Meta{Programme: id.Programme, DeviceID: id.DeviceID, User: id.User, SavedAt: s.now()}, nil
}

// SaveDraft saves data as the local draft of record id (a new record when id
// is ""), checking only the values that are filled, and returns the id.
// Drafts never enter the outbox.
func (s *Store) SaveDraft(ctx context.Context, id, formID string, data map[string]any) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if id == "" && formID == "" {
		return "", errors.New("storage: a new draft needs a form")
	}
	var out string
	err := s.update(func(w *writer) error {
		var old *recordMeta
		if id != "" {
			var err error
			if old, err = loadMeta(w.txn, id); err != nil {
				return err // an unknown id is ErrNotFound: new records get their id here
			}
		}
		if old != nil {
			if formID != "" && formID != old.FormID {
				return fmt.Errorf("%w: %s is a %s record", ErrFormMismatch, id, old.FormID)
			}
			formID = old.FormID
		}
		f, err := s.forms.Latest(formID)
		if err != nil {
			return err
		}
		if err := f.ValidateDraft(data); err != nil {
			return err
		}
		if id == "" {
			id = record.NewID()
		}
		m := &recordMeta{FormID: f.ID, FormVersion: f.Version}
		if old != nil {
			m = cloneMeta(old)
		}
		m.Draft = f.Strip(data)
		if m.Draft == nil {
			m.Draft = map[string]any{}
		}
		wd, err := w.winnerData(id, m, nil)
		if err != nil {
			return err
		}
		out = id
		return w.putMeta(id, old, m, wd, true)
	})
	if err != nil {
		return "", fmt.Errorf("saving draft: %w", err)
	}
	return out, nil
}

// Finalise turns the draft of record id into a revision, validating it fully;
// the draft is removed and the revision queued in the outbox.
func (s *Store) Finalise(ctx context.Context, id string) (*record.Revision, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rm, err := s.meta(ctx)
	if err != nil {
		return nil, err
	}
	var rev *record.Revision
	err = s.update(func(w *writer) error {
		old, err := loadMeta(w.txn, id)
		if err != nil {
			return err
		}
		if old.Draft == nil {
			return fmt.Errorf("%s: %w", id, ErrNoDraft)
		}
		m := cloneMeta(old)
		rev, err = s.newRevision(w, id, m, m.Draft, false, rm)
		if err != nil {
			return err
		}
		m.Draft = nil
		return w.addRevision(id, old, m, rev)
	})
	if err != nil {
		return nil, fmt.Errorf("finalising %s: %w", id, err)
	}
	return rev.Clone(), nil
}

// newRevision validates data (unless deleted) against the latest version of
// m's form and builds the revision on top of m's leaves.
func (s *Store) newRevision(w *writer, id string, m *recordMeta, data map[string]any, deleted bool, rm record.Meta) (*record.Revision, error) {
	f, err := s.forms.Latest(m.FormID)
	if err != nil {
		return nil, err
	}
	clean := map[string]any{}
	if !deleted {
		if err := f.Validate(data, w.now); err != nil {
			return nil, err
		}
		clean = f.Strip(data)
	}
	var parents []string
	if len(m.Leaves) > 0 {
		if parents, err = w.nextParents(id, m); err != nil {
			return nil, err
		}
	}
	rm.SavedAt = w.now
	return record.Next(id, parents, f.ID, f.Version, deleted, clean, rm)
}

// Create validates data against the latest version of formID and saves it
// as a new finalised record, queued in the outbox.
func (s *Store) Create(ctx context.Context, formID string, data map[string]any) (*record.Revision, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := s.forms.Latest(formID)
	if err != nil {
		return nil, err
	}
	rm, err := s.meta(ctx)
	if err != nil {
		return nil, err
	}
	var rev *record.Revision
	err = s.update(func(w *writer) error {
		id := record.NewID()
		m := &recordMeta{FormID: f.ID, FormVersion: f.Version}
		if rev, err = s.newRevision(w, id, m, data, false, rm); err != nil {
			return err
		}
		return w.addRevision(id, nil, m, rev)
	})
	if err != nil {
		return nil, fmt.Errorf("creating %s record: %w", formID, err)
	}
	return rev.Clone(), nil
}

// Edit saves data as a new revision of record id whose parents are all the
// current leaves, so editing a conflicted record merges it. A leaf the hub
// rejected is replaced rather than built upon (see nextParents).
func (s *Store) Edit(ctx context.Context, id string, data map[string]any) (*record.Revision, error) {
	return s.change(ctx, id, data, false)
}

// Delete saves a deletion revision of record id. Earlier revisions are kept.
func (s *Store) Delete(ctx context.Context, id string) (*record.Revision, error) {
	return s.change(ctx, id, nil, true)
}

func (s *Store) change(ctx context.Context, id string, data map[string]any, deleted bool) (*record.Revision, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rm, err := s.meta(ctx)
	if err != nil {
		return nil, err
	}
	var rev *record.Revision
	err = s.update(func(w *writer) error {
		old, err := loadMeta(w.txn, id)
		if err != nil {
			return err
		}
		win, ok := old.winner()
		if !ok {
			return fmt.Errorf("%s: %w", id, ErrDraftOnly)
		}
		if win.Deleted {
			return fmt.Errorf("%s: %w", id, ErrDeleted)
		}
		m := cloneMeta(old)
		if rev, err = s.newRevision(w, id, m, data, deleted, rm); err != nil {
			return err
		}
		return w.addRevision(id, old, m, rev)
	})
	if err != nil {
		verb := "editing"
		if deleted {
			verb = "deleting"
		}
		return nil, fmt.Errorf("%s %s: %w", verb, id, err)
	}
	return rev.Clone(), nil
}

// DiscardDraft removes the draft of record id. A record that was never
// finalised disappears entirely (drafts are local and never travelled); a
// finalised record keeps every revision and only loses its draft.
func (s *Store) DiscardDraft(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.update(func(w *writer) error {
		old, err := loadMeta(w.txn, id)
		if err != nil {
			return err
		}
		if old.Draft == nil {
			return fmt.Errorf("%s: %w", id, ErrNoDraft)
		}
		m := cloneMeta(old)
		m.Draft = nil
		if len(m.Leaves) > 0 {
			data, err := w.winnerData(id, m, nil)
			if err != nil {
				return err
			}
			return w.putMeta(id, old, m, data, false)
		}
		if old.Listed {
			if err := w.txn.Delete(indexKey(old.FormID, time.Unix(0, old.Updated), id)); err != nil {
				return err
			}
			if err := w.txn.Delete(allKey(time.Unix(0, old.Updated), id)); err != nil {
				return err
			}
			w.counts[string(countKey(old.FormID, old.ListedAs))]--
		}
		return w.txn.Delete(metaKey(id))
	})
	if err != nil {
		return fmt.Errorf("discarding draft of %s: %w", id, err)
	}
	return nil
}

// Get returns the current state of record id, or an error wrapping ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var rec *Record
	err := s.db.View(func(txn *badger.Txn) error {
		m, err := loadMeta(txn, id)
		if err != nil {
			return err
		}
		rec = &Record{
			ID: id, FormID: m.FormID, FormVersion: m.FormVersion, Status: m.status(),
			Leaves: slices.Clone(m.Leaves), Conflicted: record.Conflicted(m.Leaves),
			Draft: m.Draft, UpdatedAt: time.Unix(0, m.Updated).UTC(),
		}
		if len(m.Rejected) > 0 {
			rec.Rejection = m.Rejected[0].Reason
		}
		if w, ok := m.winner(); ok {
			if rec.Current, err = loadRev(txn, id, w.Rev); err != nil {
				return err
			}
		}
		return nil
	})
	return rec, err
}

// History returns every revision of record id, oldest generation first (then
// by rev), including rejected and superseded ones.
func (s *Store) History(ctx context.Context, id string) ([]*record.Revision, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []*record.Revision
	err := s.db.View(func(txn *badger.Txn) error {
		if _, err := loadMeta(txn, id); err != nil {
			return err
		}
		p := revPrefix(id)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: true, PrefetchSize: 16})
		defer it.Close()
		for it.Seek(p); it.ValidForPrefix(p); it.Next() {
			var r record.Revision
			if err := it.Item().Value(func(v []byte) error { return jsonUnmarshal(v, &r) }); err != nil {
				return err
			}
			out = append(out, &r)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b *record.Revision) int {
		if ga, gb := a.Gen(), b.Gen(); ga != gb {
			return ga - gb
		}
		switch {
		case a.Rev < b.Rev:
			return -1
		case a.Rev > b.Rev:
			return 1
		}
		return 0
	})
	return out, err
}

// RowError lists the problems of one imported row; Line counts from 1.
type RowError struct {
	Line     int
	Problems []forms.Problem
}

// ImportError reports every invalid row of an import; nothing was saved.
type ImportError struct {
	Rows []RowError
}

func (e *ImportError) Error() string {
	n := 0
	for _, r := range e.Rows {
		n += len(r.Problems)
	}
	return fmt.Sprintf("%d invalid rows (%d problems); nothing was imported", len(e.Rows), n)
}

// Is makes errors.Is(err, forms.ErrInvalid) true for an ImportError.
func (e *ImportError) Is(target error) bool { return target == forms.ErrInvalid }

// importBatch is how many records one import transaction holds at most; a
// batch that is still too big for Badger is split.
const importBatch = 4000

// Import validates every row against the latest version of formID and, only
// if all are valid, saves each as a new finalised record queued in the
// outbox. On any invalid row it saves nothing and returns an *ImportError
// listing every failing row. It returns the number of records saved.
//
// Rows are committed in batches of synced transactions. Once writing has
// started, cancelling ctx no longer stops it, so an interrupted command
// never leaves part of an import; an I/O failure or a crash part-way
// through still leaves the earlier batches saved (the error says how many).
func (s *Store) Import(ctx context.Context, formID string, rows []map[string]any) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	f, err := s.forms.Latest(formID)
	if err != nil {
		return 0, err
	}
	rm, err := s.meta(ctx)
	if err != nil {
		return 0, err
	}
	now := s.now()
	rm.SavedAt = now
	revs, bad := prepareImport(f, rows, now, rm)
	if bad != nil {
		return 0, &ImportError{Rows: bad}
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// From here on cancellation is not heeded: a Ctrl-C must not leave half
	// an import saved (and a re-run doubling it). The writes are bounded:
	// about a second for 30,000 records.
	saved := 0
	for start := 0; start < len(revs); start += importBatch {
		batch := revs[start:min(start+importBatch, len(revs))]
		if err := s.importBatch(batch); err != nil {
			return saved, fmt.Errorf("import failed after %d records: %w", saved, err)
		}
		saved += len(batch)
		if s.afterImportBatch != nil {
			s.afterImportBatch()
		}
	}
	return saved, nil
}

// prepared is one import row ready to write: its revision and the JSON of
// the revision and of its list summary, built off the write lock.
type prepared struct {
	rev     *record.Revision
	revJSON []byte
	sumJSON []byte
}

// prepareImport validates rows and builds their revisions and encodings,
// spreading the work over the available cores. bad lists every failing row
// in order.
func prepareImport(f *forms.Form, rows []map[string]any, now time.Time, rm record.Meta) ([]prepared, []RowError) {
	out := make([]prepared, len(rows))
	problems := make([][]forms.Problem, len(rows))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(rows)/256))
	fail := func(i int, err error) {
		var ve *forms.ValidationError
		if errors.As(err, &ve) {
			problems[i] = ve.Problems
		} else {
			problems[i] = []forms.Problem{{Rule: "invalid", Message: err.Error()}}
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(rows); i += workers {
				row := rows[i]
				if err := f.Validate(row, now); err != nil {
					fail(i, err)
					continue
				}
				r, err := record.NewRevision(record.NewID(), f.ID, f.Version, f.Strip(row), rm)
				if err != nil {
					fail(i, err)
					continue
				}
				rj, err := json.Marshal(r)
				if err != nil {
					fail(i, err)
					continue
				}
				// As stored: one leaf, one pending outbox entry.
				m := &recordMeta{FormID: r.FormID, FormVersion: r.FormVersion,
					Leaves: []record.Leaf{{Rev: r.Rev}}, Outbox: []uint64{0}}
				sj, err := json.Marshal(makeSummary(r.RecordID, m, f, r.Data))
				if err != nil {
					fail(i, err)
					continue
				}
				out[i] = prepared{rev: r, revJSON: rj, sumJSON: sj}
			}
		}()
	}
	wg.Wait()
	var bad []RowError
	for i, p := range problems {
		if p != nil {
			bad = append(bad, RowError{Line: i + 1, Problems: p})
		}
	}
	return out, bad
}

func (s *Store) importBatch(rows []prepared) error {
	err := s.update(func(w *writer) error {
		for _, p := range rows {
			if err := w.addPrepared(p); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, badger.ErrTxnTooBig) && len(rows) > 1 {
		h := len(rows) / 2
		if err := s.importBatch(rows[:h]); err != nil {
			return err
		}
		return s.importBatch(rows[h:])
	}
	return err
}

// addPrepared writes a new record from an import row: what addRevision
// does, with the encodings made beforehand.
func (w *writer) addPrepared(p prepared) error {
	r := p.rev
	if err := w.txn.Set(revKey(r.RecordID, r.Rev), p.revJSON); err != nil {
		return err
	}
	seq, err := w.nextSeq()
	if err != nil {
		return err
	}
	if err := w.setJSON(outboxKey(seq), outboxItem{RecordID: r.RecordID, Rev: r.Rev}); err != nil {
		return err
	}
	m := &recordMeta{FormID: r.FormID, FormVersion: r.FormVersion,
		Leaves: []record.Leaf{{Rev: r.Rev}}, Outbox: []uint64{seq}}
	return w.putMetaWith(r.RecordID, nil, m, true, func() ([]byte, error) { return p.sumJSON, nil })
}
