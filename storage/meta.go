package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/record"
	badger "github.com/dgraph-io/badger/v4"
)

// recordMeta is the per-record state under the m prefix. It is rewritten
// with every change to the record, in the same transaction.
type recordMeta struct {
	FormID      string         `json:"form_id"`
	FormVersion int            `json:"form_version"`
	Leaves      []record.Leaf  `json:"leaves,omitempty"`
	Outbox      []uint64       `json:"outbox,omitempty"`   // pending outbox seqs of this record
	Rejected    []rejection    `json:"rejected,omitempty"` // rejected, not yet superseded
	Superseded  []string       `json:"superseded,omitempty"`
	Draft       map[string]any `json:"draft,omitempty"`
	Updated     int64          `json:"updated"` // unix ns; part of the index keys
	Listed      bool           `json:"listed,omitempty"`
	ListedAs    Status         `json:"listed_as,omitempty"` // the status counted for this record
}

type rejection struct {
	Seq    uint64 `json:"seq"`
	Rev    string `json:"rev"`
	Reason string `json:"reason"`
}

func (m *recordMeta) winner() (record.Leaf, bool) { return record.Winner(m.Leaves) }

// status derives the user-visible status of a record.
func (m *recordMeta) status() Status {
	switch {
	case len(m.Leaves) == 0:
		return StatusDraft
	case record.Conflicted(m.Leaves):
		return StatusConflict
	case len(m.Rejected) > 0:
		return StatusRejected
	case len(m.Outbox) > 0:
		return StatusPending
	}
	return StatusSynced
}

// listed reports whether the record appears in lists and counts: every
// record except one whose winner is a deletion.
func (m *recordMeta) listed() bool {
	w, ok := m.winner()
	return !ok || !w.Deleted
}

// summary is what the list indexes hold. It never holds sensitive values.
type summary struct {
	ID     string `json:"id"`
	FormID string `json:"form_id"`
	Status Status `json:"status"`
	Title  string `json:"title,omitempty"`
	Adm1   string `json:"adm1,omitempty"`
	Date   string `json:"date,omitempty"`
	Winner string `json:"winner,omitempty"`
	Text   string `json:"text,omitempty"` // lower-case non-sensitive values, for search
	// The update time is not stored here: it is part of the index key.
}

// titleFields name the fields whose value makes a good non-personal title.
var titleFields = []string{"title", "area_code", "munition_type", "site"}

// makeSummary builds the index value of a record from data (the winner's or
// the draft's), leaving out every sensitive field.
func makeSummary(id string, m *recordMeta, f *forms.Form, data map[string]any) summary {
	sm := summary{ID: id, FormID: m.FormID, Status: m.status()}
	if w, ok := m.winner(); ok {
		sm.Winner = w.Rev
	}
	if f == nil {
		return sm
	}
	sm.Title = f.Title
	var text []string
	dateSet := false
	for i := range f.Fields {
		fd := &f.Fields[i]
		if fd.Sensitive {
			continue
		}
		v, ok := data[fd.ID]
		if !ok {
			continue
		}
		switch fd.Type {
		case forms.TypeDate:
			if s, ok := v.(string); ok && !dateSet {
				sm.Date, dateSet = s, true
			}
		case forms.TypeText, forms.TypeSelectOne:
			s, ok := v.(string)
			if !ok || s == "" {
				continue
			}
			text = append(text, strings.ToLower(s))
			if fd.ID == "adm1" {
				sm.Adm1 = s
			}
		}
	}
	for _, tf := range titleFields {
		if fd, ok := f.Field(tf); ok && !fd.Sensitive {
			if s, ok := data[tf].(string); ok && s != "" {
				sm.Title = clipString(s, 80)
				break
			}
		}
	}
	sm.Text = strings.Join(text, "\x1f")
	return sm
}

func clipString(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// writer is one read-write transaction with the bookkeeping that goes with
// it: counter deltas and the outbox sequence, flushed at commit.
type writer struct {
	s      *Store
	txn    *badger.Txn
	now    time.Time
	counts map[string]int64
	seq    uint64
	seqSet bool
}

// update runs fn in one synced transaction, serialised with other writers.
func (s *Store) update(fn func(w *writer) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	w := &writer{s: s, txn: txn, now: s.now(), counts: map[string]int64{}}
	if err := fn(w); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (w *writer) flush() error {
	for k, d := range w.counts {
		if d == 0 {
			continue
		}
		v, err := w.getRaw([]byte(k))
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		n := int64(u64(v)) + d
		if n <= 0 {
			if err := w.txn.Delete([]byte(k)); err != nil {
				return err
			}
			continue
		}
		if err := w.txn.Set([]byte(k), u64Bytes(uint64(n))); err != nil {
			return err
		}
	}
	if w.seqSet {
		return w.txn.Set(internalKey(xOutboxSeq), u64Bytes(w.seq))
	}
	return nil
}

func (w *writer) getRaw(k []byte) ([]byte, error) { return getIn(w.txn, k) }

func getIn(txn *badger.Txn, k []byte) ([]byte, error) {
	it, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return it.ValueCopy(nil)
}

func getJSON(txn *badger.Txn, k []byte, v any) error {
	b, err := getIn(txn, k)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decoding %c entry: %w", k[0], err)
	}
	return nil
}

func (w *writer) setJSON(k []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return w.txn.Set(k, b)
}

func loadMeta(txn *badger.Txn, id string) (*recordMeta, error) {
	var m recordMeta
	if err := getJSON(txn, metaKey(id), &m); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("record %s: %w", id, ErrNotFound)
		}
		return nil, err
	}
	return &m, nil
}

func loadRev(txn *badger.Txn, id, rev string) (*record.Revision, error) {
	var r record.Revision
	if err := getJSON(txn, revKey(id, rev), &r); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("revision %s of %s: %w", rev, id, ErrNotFound)
		}
		return nil, err
	}
	return &r, nil
}

// formFor returns the definition of a record's form version, the latest
// version when that one is unknown, or nil.
func (s *Store) formFor(id string, version int) *forms.Form {
	if f, err := s.forms.Get(id, version); err == nil {
		return f
	}
	if f, err := s.forms.Latest(id); err == nil {
		return f
	}
	return nil
}

// putMeta stores m for id and keeps the list indexes and counters in step.
// old is the meta before the change (nil for a new record); data is the
// current winner's data (or the draft's when there is no winner). touch
// moves the record to the top of the newest-first lists.
func (w *writer) putMeta(id string, old, m *recordMeta, data map[string]any, touch bool) error {
	return w.putMetaWith(id, old, m, touch, func() ([]byte, error) {
		return json.Marshal(makeSummary(id, m, w.s.formFor(m.FormID, m.FormVersion), data))
	})
}

// putMetaWith is putMeta with the summary built by sum, which is called
// only when the record is listed, after its status is known.
func (w *writer) putMetaWith(id string, old, m *recordMeta, touch bool, sum func() ([]byte, error)) error {
	if old != nil && old.Listed {
		if err := w.txn.Delete(indexKey(old.FormID, time.Unix(0, old.Updated), id)); err != nil {
			return err
		}
		if err := w.txn.Delete(allKey(time.Unix(0, old.Updated), id)); err != nil {
			return err
		}
		w.counts[string(countKey(old.FormID, old.ListedAs))]--
	}
	if touch || old == nil || m.Updated == 0 {
		// Updated times are unique and increasing across the store, so
		// "newest first" is exact even when the clock stands still.
		m.Updated = max(w.now.UnixNano(), w.s.lastUpdated+1)
		w.s.lastUpdated = m.Updated
	}
	m.Listed = m.listed()
	m.ListedAs = ""
	if m.Listed {
		m.ListedAs = m.status()
		b, err := sum()
		if err != nil {
			return err
		}
		at := time.Unix(0, m.Updated)
		if err := w.txn.Set(indexKey(m.FormID, at, id), b); err != nil {
			return err
		}
		if err := w.txn.Set(allKey(at, id), b); err != nil {
			return err
		}
		w.counts[string(countKey(m.FormID, m.ListedAs))]++
	}
	return w.setJSON(metaKey(id), m)
}

// winnerData returns the data that summarises m: the winner's, or the
// draft's when the record has no revision yet.
func (w *writer) winnerData(id string, m *recordMeta, pending *record.Revision) (map[string]any, error) {
	win, ok := m.winner()
	if !ok {
		return m.Draft, nil
	}
	if pending != nil && pending.Rev == win.Rev {
		return pending.Data, nil
	}
	r, err := loadRev(w.txn, id, win.Rev)
	if err != nil {
		return nil, err
	}
	return r.Data, nil
}

// nextSeq returns the next outbox sequence number.
func (w *writer) nextSeq() (uint64, error) {
	if !w.seqSet {
		b, err := w.getRaw(internalKey(xOutboxSeq))
		if err != nil && !errors.Is(err, ErrNotFound) {
			return 0, err
		}
		w.seq, w.seqSet = u64(b), true
	}
	w.seq++
	return w.seq, nil
}

// outboxItem is the value of an outbox key.
type outboxItem struct {
	RecordID   string `json:"record_id"`
	Rev        string `json:"rev"`
	Rejection  string `json:"rejection,omitempty"`
	Superseded bool   `json:"superseded,omitempty"`
}

// addRevision stores a new local revision r of record id, queues it in the
// outbox and updates the record's leaves, status, indexes and counters.
func (w *writer) addRevision(id string, old, m *recordMeta, r *record.Revision) error {
	if err := w.setJSON(revKey(id, r.Rev), r); err != nil {
		return err
	}
	seq, err := w.nextSeq()
	if err != nil {
		return err
	}
	if err := w.setJSON(outboxKey(seq), outboxItem{RecordID: id, Rev: r.Rev}); err != nil {
		return err
	}
	m.Outbox = append(m.Outbox, seq)
	m.Leaves = record.AddLeaf(m.Leaves, r)
	m.FormVersion = r.FormVersion
	data, err := w.winnerData(id, m, r)
	if err != nil {
		return err
	}
	return w.putMeta(id, old, m, data, true)
}

// nextParents returns the parents of a new local revision on top of m: all
// current leaves, except that a rejected revision (which the hub will never
// know) is replaced by its own parents. The rejected outbox entries replaced
// this way are marked superseded and their revisions leave the leaf set.
func (w *writer) nextParents(id string, m *recordMeta) ([]string, error) {
	parents := record.LeafRevs(m.Leaves)
	for {
		idx := -1
		var rj rejection
		for i, r := range m.Rejected {
			if slices.Contains(parents, r.Rev) {
				idx, rj = i, r
				break
			}
		}
		if idx < 0 {
			break
		}
		rv, err := loadRev(w.txn, id, rj.Rev)
		if err != nil {
			return nil, err
		}
		parents = slices.DeleteFunc(parents, func(p string) bool { return p == rj.Rev })
		for _, p := range rv.Parents {
			if !slices.Contains(parents, p) {
				parents = append(parents, p)
			}
		}
		var item outboxItem
		if err := getJSON(w.txn, outboxKey(rj.Seq), &item); err == nil {
			item.Superseded = true
			if err := w.setJSON(outboxKey(rj.Seq), item); err != nil {
				return nil, err
			}
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		m.Rejected = slices.Delete(m.Rejected, idx, idx+1)
		m.Superseded = append(m.Superseded, rj.Rev)
		m.Leaves = slices.DeleteFunc(m.Leaves, func(l record.Leaf) bool { return l.Rev == rj.Rev })
		// The rejected revision's parents become leaves again until the
		// new revision is added on top of them.
		for _, p := range rv.Parents {
			pr, err := loadRev(w.txn, id, p)
			if err != nil {
				return nil, err
			}
			if !slices.ContainsFunc(m.Leaves, func(l record.Leaf) bool { return l.Rev == p }) {
				m.Leaves = append(m.Leaves, record.Leaf{Rev: p, Deleted: pr.Deleted})
			}
		}
	}
	slices.Sort(parents)
	return parents, nil
}

func cloneMeta(m *recordMeta) *recordMeta {
	c := *m
	c.Leaves = slices.Clone(m.Leaves)
	c.Outbox = slices.Clone(m.Outbox)
	c.Rejected = slices.Clone(m.Rejected)
	c.Superseded = slices.Clone(m.Superseded)
	return &c
}
