package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ccmcollect/ccmcollect/record"
)

// ApplyStats counts what ApplyRemote did.
type ApplyStats struct {
	Applied   int // revisions new to this store
	Duplicate int // revisions it already had
	Conflicts int // applied revisions after which their record is conflicted
}

// ApplyRemote stores revisions pulled from the hub and saves cursor, all in
// one synced transaction, so an interruption leaves either everything or
// nothing and the next pull resumes. It is idempotent: a revision already
// held counts as a duplicate (and acknowledges an equal pending outbox
// entry). Leaves, winner and conflict follow the record rules, so the store
// reaches the same state as the hub. A revision that fails verification, or
// whose parent is unknown (an error wrapping record.ErrMissingParent),
// fails the whole call and nothing is applied.
func (s *Store) ApplyRemote(ctx context.Context, revs []*record.Revision, cursor string) (ApplyStats, error) {
	var st ApplyStats
	if err := ctx.Err(); err != nil {
		return st, err
	}
	for _, r := range revs {
		if r == nil {
			return st, fmt.Errorf("applying remote revisions: %w: nil revision", record.ErrBadRevision)
		}
		if err := r.Verify(); err != nil {
			return st, fmt.Errorf("applying remote revision %s of %s: %w", r.Rev, r.RecordID, err)
		}
	}
	err := s.update(func(w *writer) error {
		for _, r := range revs {
			if err := w.applyOne(r, &st); err != nil {
				return err
			}
		}
		return w.txn.Set(internalKey(xCursor), []byte(cursor))
	})
	if err != nil {
		return ApplyStats{}, fmt.Errorf("applying remote revisions: %w", err)
	}
	return st, nil
}

func (w *writer) applyOne(r *record.Revision, st *ApplyStats) error {
	old, err := loadMeta(w.txn, r.RecordID)
	if errors.Is(err, ErrNotFound) {
		old, err = nil, nil
	}
	if err != nil {
		return err
	}
	if _, err := getIn(w.txn, revKey(r.RecordID, r.Rev)); err == nil {
		st.Duplicate++
		if old == nil {
			return nil
		}
		// Our own revision came back: the hub has it, so stop sending it.
		for _, seq := range old.Outbox {
			var it outboxItem
			if err := getJSON(w.txn, outboxKey(seq), &it); err != nil {
				return err
			}
			if it.Rev == r.Rev {
				return w.ackRecord(it.RecordID, seq)
			}
		}
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	if old != nil && old.FormID != r.FormID {
		return fmt.Errorf("%w: revision %s of %s names form %s, the record is %s",
			record.ErrBadRevision, r.Rev, r.RecordID, r.FormID, old.FormID)
	}
	for _, p := range r.Parents {
		if _, err := getIn(w.txn, revKey(r.RecordID, p)); err != nil {
			if errors.Is(err, ErrNotFound) {
				return fmt.Errorf("%w: %s of %s (parent of %s)", record.ErrMissingParent, p, r.RecordID, r.Rev)
			}
			return err
		}
	}
	c := r.Clone()
	if err := w.setJSON(revKey(r.RecordID, r.Rev), c); err != nil {
		return err
	}
	m := &recordMeta{FormID: r.FormID, FormVersion: r.FormVersion}
	if old != nil {
		m = cloneMeta(old)
	}
	m.Leaves = record.AddLeaf(m.Leaves, c)
	// A superseded (rejected, replaced) local revision never reaches the hub;
	// it must not come back as a leaf.
	m.Leaves = slices.DeleteFunc(m.Leaves, func(l record.Leaf) bool { return slices.Contains(m.Superseded, l.Rev) })
	if win, ok := m.winner(); ok && win.Rev == c.Rev {
		m.FormVersion = c.FormVersion
	}
	data, err := w.winnerData(r.RecordID, m, c)
	if err != nil {
		return err
	}
	if err := w.putMeta(r.RecordID, old, m, data, true); err != nil {
		return err
	}
	st.Applied++
	if record.Conflicted(m.Leaves) {
		st.Conflicts++
	}
	return nil
}
