package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/ccmcollect/ccmcollect/record"
	badger "github.com/dgraph-io/badger/v4"
)

// OutboxEntry is one finalised revision waiting for the hub, in creation
// order (Seq). Rejection is the hub's reason for a rejected entry.
type OutboxEntry struct {
	Seq       uint64
	Rev       *record.Revision
	Rejection string
	// Superseded is true for a rejected entry replaced by a later edit: it
	// stays in history and is no longer sent.
	Superseded bool
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// scanOutbox calls fn for every outbox item in creation order until fn
// returns false.
func scanOutbox(txn *badger.Txn, fn func(seq uint64, it outboxItem) (bool, error)) error {
	p := []byte{pOutbox}
	itr := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: true, PrefetchSize: 64})
	defer itr.Close()
	for itr.Seek(p); itr.ValidForPrefix(p); itr.Next() {
		seq, ok := parseOutboxKey(itr.Item().Key())
		if !ok {
			continue
		}
		var item outboxItem
		if err := itr.Item().Value(func(v []byte) error { return json.Unmarshal(v, &item) }); err != nil {
			return fmt.Errorf("decoding outbox entry %d: %w", seq, err)
		}
		more, err := fn(seq, item)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// PendingOutbox returns up to limit entries waiting to be sent, oldest first,
// skipping rejected and superseded ones, whose revisions' JSON adds up to at
// most maxBytes (always at least one entry when any is pending).
func (s *Store) PendingOutbox(ctx context.Context, limit, maxBytes int) ([]OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 1000
	}
	var out []OutboxEntry
	err := s.db.View(func(txn *badger.Txn) error {
		total := 0
		return scanOutbox(txn, func(seq uint64, it outboxItem) (bool, error) {
			if it.Rejection != "" || it.Superseded {
				return true, nil
			}
			b, err := getIn(txn, revKey(it.RecordID, it.Rev))
			if err != nil {
				return false, fmt.Errorf("outbox entry %d: %w", seq, err)
			}
			if maxBytes > 0 && len(out) > 0 && total+len(b) > maxBytes {
				return false, nil
			}
			var r record.Revision
			if err := json.Unmarshal(b, &r); err != nil {
				return false, fmt.Errorf("outbox entry %d: %w", seq, err)
			}
			total += len(b)
			out = append(out, OutboxEntry{Seq: seq, Rev: &r})
			return len(out) < limit, nil
		})
	})
	return out, err
}

// OutboxLen returns how many entries wait to be sent (rejected ones excluded).
func (s *Store) OutboxLen(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
		return scanOutbox(txn, func(_ uint64, it outboxItem) (bool, error) {
			if it.Rejection == "" && !it.Superseded {
				n++
			}
			return true, nil
		})
	})
	return n, err
}

// Rejected returns the entries the hub rejected and no edit has replaced yet,
// oldest first, with the hub's reasons.
func (s *Store) Rejected(ctx context.Context) ([]OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []OutboxEntry
	err := s.db.View(func(txn *badger.Txn) error {
		return scanOutbox(txn, func(seq uint64, it outboxItem) (bool, error) {
			if it.Rejection == "" || it.Superseded {
				return true, nil
			}
			r, err := loadRev(txn, it.RecordID, it.Rev)
			if err != nil {
				return false, err
			}
			out = append(out, OutboxEntry{Seq: seq, Rev: r, Rejection: it.Rejection})
			return true, nil
		})
	})
	return out, err
}

// AckOutbox removes the entries the hub acknowledged (applied, duplicate or
// conflict). Unknown sequence numbers are ignored, so acking is idempotent.
func (s *Store) AckOutbox(ctx context.Context, seqs []uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.update(func(w *writer) error {
		for _, seq := range seqs {
			var it outboxItem
			err := getJSON(w.txn, outboxKey(seq), &it)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if err := w.ackItem(seq, it); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("acknowledging outbox: %w", err)
	}
	return nil
}

// ackItem deletes outbox entry seq and updates its record's status.
func (w *writer) ackItem(seq uint64, it outboxItem) error {
	if err := w.txn.Delete(outboxKey(seq)); err != nil {
		return err
	}
	old, err := loadMeta(w.txn, it.RecordID)
	if err != nil {
		return err
	}
	m := cloneMeta(old)
	m.Outbox = slices.DeleteFunc(m.Outbox, func(s uint64) bool { return s == seq })
	m.Rejected = slices.DeleteFunc(m.Rejected, func(r rejection) bool { return r.Seq == seq })
	data, err := w.winnerData(it.RecordID, m, nil)
	if err != nil {
		return err
	}
	return w.putMeta(it.RecordID, old, m, data, false)
}

// RejectOutbox marks entry seq as rejected by the hub with reason. The entry
// and its revision are kept and shown (Rejected, Get), never sent again and
// never dropped.
func (s *Store) RejectOutbox(ctx context.Context, seq uint64, reason string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if reason == "" {
		reason = "rejected by the hub"
	}
	err := s.update(func(w *writer) error {
		var it outboxItem
		if err := getJSON(w.txn, outboxKey(seq), &it); err != nil {
			return fmt.Errorf("outbox entry %d: %w", seq, err)
		}
		if it.Superseded {
			return nil
		}
		it.Rejection = reason
		if err := w.setJSON(outboxKey(seq), it); err != nil {
			return err
		}
		old, err := loadMeta(w.txn, it.RecordID)
		if err != nil {
			return err
		}
		m := cloneMeta(old)
		m.Outbox = slices.DeleteFunc(m.Outbox, func(s uint64) bool { return s == seq })
		m.Rejected = slices.DeleteFunc(m.Rejected, func(r rejection) bool { return r.Seq == seq })
		m.Rejected = append(m.Rejected, rejection{Seq: seq, Rev: it.Rev, Reason: reason})
		data, err := w.winnerData(it.RecordID, m, nil)
		if err != nil {
			return err
		}
		return w.putMeta(it.RecordID, old, m, data, false)
	})
	if err != nil {
		return fmt.Errorf("rejecting outbox entry %d: %w", seq, err)
	}
	return nil
}
