package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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
// returns false. It starts at the outbox floor (see Store.outboxFloor) and
// raises it to the first entry it finds, so that later scans do not step
// over the deletion markers that acknowledged entries leave until Badger
// compacts them away.
func (s *Store) scanOutbox(txn *badger.Txn, fn func(seq uint64, it outboxItem) (bool, error)) error {
	p := []byte{pOutbox}
	// Outbox values are small and stored inline in the LSM tree, so
	// prefetching would only copy them.
	itr := txn.NewIterator(badger.IteratorOptions{Prefix: p})
	defer itr.Close()
	first := true
	for itr.Seek(outboxKey(s.outboxFloor.Load())); itr.ValidForPrefix(p); itr.Next() {
		seq, ok := parseOutboxKey(itr.Item().Key())
		if !ok {
			continue
		}
		if first {
			first = false
			s.raiseOutboxFloor(seq)
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

// raiseOutboxFloor records that no outbox entry below seq exists in some
// snapshot. That stays true: entries are only added with a sequence number
// above every one handed out before (writers are serialised), and never
// re-created once deleted.
func (s *Store) raiseOutboxFloor(seq uint64) {
	for {
		cur := s.outboxFloor.Load()
		if seq <= cur || s.outboxFloor.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// PendingOutbox returns up to limit entries waiting to be sent, oldest first,
// skipping rejected and superseded ones, whose revisions' JSON adds up to at
// most maxBytes (always at least one entry when any is pending).
//
// It reads in two passes: the outbox entries in sequence order, then their
// revisions in key order with one iterator, which for entries made one after
// the other (record ids are time-ordered) reads each table block once
// instead of seeking once per revision.
func (s *Store) PendingOutbox(ctx context.Context, limit, maxBytes int) ([]OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 1000
	}
	var out []OutboxEntry
	err := s.db.View(func(txn *badger.Txn) error {
		refs, err := s.pendingRefs(txn, limit)
		if err != nil || len(refs) == 0 {
			return err
		}
		if err := readPendingRevs(txn, refs, maxBytes > 0); err != nil {
			return err
		}
		total := 0
		out = make([]OutboxEntry, 0, len(refs))
		for i := range refs {
			r := &refs[i]
			if r.err != nil {
				return fmt.Errorf("outbox entry %d: %w", r.seq, r.err)
			}
			if maxBytes > 0 && len(out) > 0 && total+r.size > maxBytes {
				break
			}
			total += r.size
			if r.raw != nil {
				r.rev = new(record.Revision)
				if err := json.Unmarshal(r.raw, r.rev); err != nil {
					return fmt.Errorf("outbox entry %d: %w", r.seq, err)
				}
			}
			out = append(out, OutboxEntry{Seq: r.seq, Rev: r.rev})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pendingRef is one pending outbox entry while PendingOutbox reads it.
type pendingRef struct {
	seq  uint64
	key  []byte // of the revision
	size int    // of the revision's JSON
	rev  *record.Revision
	raw  []byte // the revision's JSON, kept when it is decoded later
	err  error  // reading or decoding the revision
}

// pendingRefs returns up to limit pending entries in sequence order, with
// the keys of their revisions.
func (s *Store) pendingRefs(txn *badger.Txn, limit int) ([]pendingRef, error) {
	var (
		refs []pendingRef
		ends []int
		buf  []byte // every key, back to back
	)
	err := s.scanOutbox(txn, func(seq uint64, it outboxItem) (bool, error) {
		if it.Rejection != "" || it.Superseded {
			return true, nil
		}
		buf = append(append(append(buf, pRev), it.RecordID...), 0)
		buf = append(buf, it.Rev...)
		ends = append(ends, len(buf))
		refs = append(refs, pendingRef{seq: seq})
		return len(refs) < limit, nil
	})
	start := 0
	for i, end := range ends {
		refs[i].key = buf[start:end:end]
		start = end
	}
	return refs, err
}

// readPendingRevs reads the revisions of refs in key order. Each is decoded
// at once, or, with keepRaw, kept as JSON for the caller to decode only if
// it fits its byte budget. A missing revision sets the ref's err.
func readPendingRevs(txn *badger.Txn, refs []pendingRef, keepRaw bool) error {
	order := make([]int, len(refs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(refs[a].key, refs[b].key) })
	// Two entries can name the same revision: read each key once.
	keys := make([][]byte, 0, len(order))
	first := make([]int, 0, len(order)+1) // into order, per key
	for i, j := range order {
		if i == 0 || !bytes.Equal(refs[j].key, keys[len(keys)-1]) {
			keys = append(keys, refs[j].key)
			first = append(first, i)
		}
	}
	first = append(first, len(order))
	var revs []record.Revision
	if !keepRaw {
		revs = make([]record.Revision, len(refs))
	}
	for i := range refs {
		refs[i].err = ErrNotFound
	}
	return readSorted(txn, []byte{pRev}, keys, func(k int, v []byte) error {
		for _, j := range order[first[k]:first[k+1]] {
			r := &refs[j]
			r.size, r.err = len(v), nil
			if keepRaw {
				r.raw = slices.Clone(v)
				continue
			}
			r.rev = &revs[j]
			// json.Unmarshal copies every string it keeps, so v
			// need not be copied.
			r.err = json.Unmarshal(v, r.rev)
		}
		return nil
	})
}

// OutboxLen returns how many entries wait to be sent (rejected ones excluded).
func (s *Store) OutboxLen(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
		return s.scanOutbox(txn, func(_ uint64, it outboxItem) (bool, error) {
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
		return s.scanOutbox(txn, func(seq uint64, it outboxItem) (bool, error) {
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
// All entries are acknowledged in one transaction unless Badger finds it too
// big, in which case the work is split; each part leaves the store
// consistent.
func (s *Store) AckOutbox(ctx context.Context, seqs []uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(seqs) == 0 {
		return nil
	}
	sorted := slices.Clone(seqs)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	if err := s.ackSorted(sorted); err != nil {
		return fmt.Errorf("acknowledging outbox: %w", err)
	}
	return nil
}

// ackSorted acknowledges seqs (sorted, without duplicates) in one
// transaction, or in halves when that one is too big for Badger.
func (s *Store) ackSorted(seqs []uint64) error {
	err := s.update(func(w *writer) error { return w.ackSeqs(seqs) })
	if errors.Is(err, badger.ErrTxnTooBig) && len(seqs) > 1 {
		h := len(seqs) / 2
		if err := s.ackSorted(seqs[:h]); err != nil {
			return err
		}
		return s.ackSorted(seqs[h:])
	}
	return err
}

// ackedRecord is one record whose outbox entries are acknowledged together.
type ackedRecord struct {
	id      string
	seqs    []uint64
	old, m  *recordMeta
	patch   bool   // only the status of the stored summary changes
	summary []byte // the stored summary, when patch and found
}

// ackSeqs deletes the outbox entries seqs (sorted, without duplicates) that
// exist and updates each record they belong to once. It reads in three
// sorted passes (outbox entries, metas, summaries to patch) so that entries
// stored next to each other cost one seek, then writes.
func (w *writer) ackSeqs(seqs []uint64) error {
	keys := make([][]byte, len(seqs))
	for i, seq := range seqs {
		keys[i] = outboxKey(seq)
	}
	var recs []*ackedRecord
	byID := make(map[string]*ackedRecord)
	var found []uint64
	err := readSorted(w.txn, []byte{pOutbox}, keys, func(i int, v []byte) error {
		var it outboxItem
		if err := json.Unmarshal(v, &it); err != nil {
			return fmt.Errorf("decoding outbox entry %d: %w", seqs[i], err)
		}
		r := byID[it.RecordID]
		if r == nil {
			r = &ackedRecord{id: it.RecordID}
			byID[it.RecordID] = r
			recs = append(recs, r)
		}
		r.seqs = append(r.seqs, seqs[i])
		found = append(found, seqs[i])
		return nil
	})
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}

	slices.SortFunc(recs, func(a, b *ackedRecord) int { return strings.Compare(a.id, b.id) })
	keys = keys[:0]
	for _, r := range recs {
		keys = append(keys, metaKey(r.id))
	}
	err = readSorted(w.txn, []byte{pMeta}, keys, func(i int, v []byte) error {
		var m recordMeta
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("decoding m entry: %w", err)
		}
		recs[i].old = &m
		return nil
	})
	if err != nil {
		return err
	}

	type patchKey struct {
		key []byte
		r   *ackedRecord
	}
	var patches []patchKey
	for _, r := range recs {
		if r.old == nil {
			return fmt.Errorf("record %s: %w", r.id, ErrNotFound)
		}
		r.m, r.patch = ackedMeta(r.old, r.seqs)
		if r.patch && r.m.ListedAs != r.old.ListedAs {
			patches = append(patches, patchKey{indexKey(r.old.FormID, time.Unix(0, r.old.Updated), r.id), r})
		}
	}
	slices.SortFunc(patches, func(a, b patchKey) int { return bytes.Compare(a.key, b.key) })
	keys = keys[:0]
	for _, p := range patches {
		keys = append(keys, p.key)
	}
	err = readSorted(w.txn, []byte{pIndex}, keys, func(i int, v []byte) error {
		patches[i].r.summary = slices.Clone(v)
		return nil
	})
	if err != nil {
		return err
	}

	for _, seq := range found {
		if err := w.txn.Delete(outboxKey(seq)); err != nil {
			return err
		}
	}
	for _, r := range recs {
		if err := w.writeAcked(r.id, r.old, r.m, r.patch, r.summary); err != nil {
			return err
		}
	}
	return nil
}

// readSorted calls fn with the index and value of each of keys (sorted,
// without duplicates, all starting with prefix) that exists, in order. It
// walks the keys with one iterator, stepping over a few keys between wanted
// ones and seeking over more, so that a run of neighbouring keys costs one
// seek and each table block is read once. The value is valid only during
// fn.
func readSorted(txn *badger.Txn, prefix []byte, keys [][]byte, fn func(i int, v []byte) error) error {
	if len(keys) == 0 {
		return nil
	}
	itr := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer itr.Close()
	itr.Seek(keys[0])
	for i, k := range keys {
		for steps := 0; itr.ValidForPrefix(prefix) && bytes.Compare(itr.Item().Key(), k) < 0; steps++ {
			if steps == 8 {
				itr.Seek(k)
				break
			}
			itr.Next()
		}
		if !itr.ValidForPrefix(prefix) {
			return nil
		}
		if !bytes.Equal(itr.Item().Key(), k) {
			continue
		}
		if err := itr.Item().Value(func(v []byte) error { return fn(i, v) }); err != nil {
			return err
		}
		itr.Next()
	}
	return nil
}

// ackedMeta returns old with the acknowledged outbox entries seqs removed.
// Acknowledging never changes the leaves, so when the record stays listed
// only the status in its summary can change: patch reports that case, with
// m's Listed and ListedAs already set.
func ackedMeta(old *recordMeta, seqs []uint64) (m *recordMeta, patch bool) {
	m = cloneMeta(old)
	m.Outbox = slices.DeleteFunc(m.Outbox, func(s uint64) bool { return slices.Contains(seqs, s) })
	m.Rejected = slices.DeleteFunc(m.Rejected, func(r rejection) bool { return slices.Contains(seqs, r.Seq) })
	if old.Listed && old.Updated != 0 && m.listed() {
		m.Listed, m.ListedAs = true, m.status()
		return m, true
	}
	return m, false
}

// writeAcked stores the meta m of record id after an acknowledgement (see
// ackedMeta). With patch, the summary is left alone when the status did not
// change, and otherwise rewritten from the stored one (stored) with the new
// status instead of being rebuilt from the winning revision; it is rebuilt
// only when there is no stored summary.
func (w *writer) writeAcked(id string, old, m *recordMeta, patch bool, stored []byte) error {
	if patch && m.ListedAs == old.ListedAs {
		return w.setJSON(metaKey(id), m)
	}
	if patch && stored != nil {
		b, ok := patchStatus(stored, m.ListedAs)
		if !ok {
			var sm summary
			if err := json.Unmarshal(stored, &sm); err != nil {
				return fmt.Errorf("decoding %c entry: %w", pIndex, err)
			}
			sm.Status = m.ListedAs
			var err error
			if b, err = json.Marshal(sm); err != nil {
				return err
			}
		}
		at := time.Unix(0, old.Updated)
		if err := w.txn.Set(indexKey(m.FormID, at, id), b); err != nil {
			return err
		}
		if err := w.txn.Set(allKey(at, id), b); err != nil {
			return err
		}
		w.counts[string(countKey(old.FormID, old.ListedAs))]--
		w.counts[string(countKey(m.FormID, m.ListedAs))]++
		return w.setJSON(metaKey(id), m)
	}
	// The record leaves or enters the lists, or has no stored summary:
	// rebuild everything as any other change does.
	return w.putMetaWith(id, old, m, false, func() ([]byte, error) {
		data, err := w.winnerData(id, m, nil)
		if err != nil {
			return nil, err
		}
		return json.Marshal(makeSummary(id, m, w.s.formFor(m.FormID, m.FormVersion), data))
	})
}

// statusField starts the status member of an encoded summary. Inside a JSON
// string every quote is escaped, so these bytes can only be the member.
var statusField = []byte(`,"status":"`)

// patchStatus returns the encoded summary b with its status replaced by st,
// byte for byte what encoding the summary with that status gives, or false
// when b does not have the expected shape.
func patchStatus(b []byte, st Status) ([]byte, bool) {
	i := bytes.Index(b, statusField)
	if i < 0 {
		return nil, false
	}
	start := i + len(statusField)
	n := bytes.IndexByte(b[start:], '"')
	if n < 0 || bytes.IndexByte(b[start:start+n], '\\') >= 0 {
		return nil, false
	}
	out := make([]byte, 0, len(b)-n+len(st))
	out = append(out, b[:start]...)
	out = append(out, st...)
	return append(out, b[start+n:]...), true
}

// ackRecord removes the acknowledged outbox entry seq of record id, the way
// ackSeqs does for many.
func (w *writer) ackRecord(id string, seq uint64) error {
	if err := w.txn.Delete(outboxKey(seq)); err != nil {
		return err
	}
	old, err := loadMeta(w.txn, id)
	if err != nil {
		return err
	}
	m, patch := ackedMeta(old, []uint64{seq})
	var stored []byte
	if patch && m.ListedAs != old.ListedAs {
		stored, err = getIn(w.txn, indexKey(old.FormID, time.Unix(0, old.Updated), id))
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return w.writeAcked(id, old, m, patch, stored)
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
