package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/ccmcollect/ccmcollect/record"
)

// ApplyStats counts what ApplyRemote did.
type ApplyStats struct {
	Applied   int // revisions new to this store
	Duplicate int // revisions it already had
	Conflicts int // applied revisions after which their record is conflicted
}

// ApplyRemote stores revisions pulled from the hub and saves cursor in the
// same synced transaction as the last of them (a page too big for one
// transaction is split), so an interruption leaves the old cursor and the
// next pull resumes there. It is idempotent: a revision already
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
	if err := s.applyRemote(revs, &cursor, &st); err != nil {
		return ApplyStats{}, fmt.Errorf("applying remote revisions: %w", err)
	}
	return st, nil
}

// applyRemote applies revs in one transaction and, when cursor is not nil,
// saves it there too. A page too big for one Badger transaction is applied
// in halves, in order, the cursor only with the last: an interruption
// between them leaves the old cursor, and the page, pulled again, is
// applied again without doubling anything.
func (s *Store) applyRemote(revs []*record.Revision, cursor *string, st *ApplyStats) error {
	var part ApplyStats
	err := s.update(func(w *writer) error {
		part = ApplyStats{}
		for _, r := range revs {
			if err := w.applyOne(r, &part); err != nil {
				return err
			}
		}
		if cursor == nil {
			return nil
		}
		return w.txn.Set(internalKey(xCursor), []byte(*cursor))
	})
	if errors.Is(err, badger.ErrTxnTooBig) && len(revs) > 1 {
		h := len(revs) / 2
		if err := s.applyRemote(revs[:h], nil, st); err != nil {
			return err
		}
		return s.applyRemote(revs[h:], cursor, st)
	}
	if err != nil {
		return err
	}
	st.Applied += part.Applied
	st.Duplicate += part.Duplicate
	st.Conflicts += part.Conflicts
	return nil
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
