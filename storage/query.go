package storage

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ccmcollect/ccmcollect/record"
	badger "github.com/dgraph-io/badger/v4"
)

// Query selects records for List. Zero fields do not filter.
type Query struct {
	FormID string
	Status Status
	Adm1   string
	// From and To bound the form's main date field (its first date field),
	// inclusive, by calendar date.
	From, To time.Time
	// Text is matched, case-insensitively, against non-sensitive text and
	// choice values only.
	Text string
	// Cursor is Page.Next of the previous page ("" for the first).
	Cursor string
	// Limit is the page size; 0 means 50, at most 1000.
	Limit int
}

// Summary is one line of a list: short and free of personal data.
type Summary struct {
	ID        string
	FormID    string
	Status    Status
	Title     string
	Adm1      string
	Date      string
	UpdatedAt time.Time
}

// Page is one page of a list; Next is "" at the end.
type Page struct {
	Records []Summary
	Next    string
}

// ErrBadCursor reports a List cursor that this store did not produce.
var ErrBadCursor = errors.New("bad list cursor")

// List returns records newest first (by last change), filtered by q, one page
// at a time. It reads the list index only, so memory stays bounded by the
// page size whatever the number of records.
func (s *Store) List(ctx context.Context, q Query) (Page, error) {
	var page Page
	if err := ctx.Err(); err != nil {
		return page, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	prefix := []byte{pAll}
	if q.FormID != "" {
		prefix = indexPrefix(q.FormID)
	}
	start := prefix
	var after []byte
	if q.Cursor != "" {
		c, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || !bytes.HasPrefix(c, prefix) {
			return page, ErrBadCursor
		}
		start, after = c, c
	}
	from, to := "", ""
	if !q.From.IsZero() {
		from = q.From.Format(time.DateOnly)
	}
	if !q.To.IsZero() {
		to = q.To.Format(time.DateOnly)
	}
	text := strings.ToLower(strings.TrimSpace(q.Text))
	var rawText []byte
	if text != "" && !strings.ContainsAny(text, "<>&\"\\\u2028\u2029") && strings.IndexFunc(text, func(r rune) bool { return r < 0x20 }) < 0 {
		rawText = []byte(text)
	}
	match := func(sm *summary) bool {
		switch {
		case q.Status == StatusFinal && sm.Status == StatusDraft,
			q.Status != "" && q.Status != StatusFinal && sm.Status != q.Status,
			q.Adm1 != "" && !strings.EqualFold(sm.Adm1, q.Adm1),
			from != "" && (sm.Date == "" || sm.Date < from),
			to != "" && (sm.Date == "" || sm.Date > to),
			text != "" && !strings.Contains(sm.Text, text):
			return false
		}
		return true
	}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: min(limit+1, 100)})
		defer it.Close()
		var last []byte
		for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := it.Item().Key()
			if after != nil && bytes.Equal(k, after) {
				continue
			}
			var sm summary
			skip := false
			if err := it.Item().Value(func(v []byte) error {
				// The summary holds the search text lower-cased as is, so a
				// value without the text cannot match: skip decoding it.
				if rawText != nil && !bytes.Contains(v, rawText) {
					skip = true
					return nil
				}
				return json.Unmarshal(v, &sm)
			}); err != nil {
				return fmt.Errorf("decoding list index: %w", err)
			}
			if skip || !match(&sm) {
				continue
			}
			if len(page.Records) == limit {
				page.Next = base64.RawURLEncoding.EncodeToString(last)
				return nil
			}
			page.Records = append(page.Records, Summary{
				ID: sm.ID, FormID: sm.FormID, Status: sm.Status, Title: sm.Title,
				Adm1: sm.Adm1, Date: sm.Date, UpdatedAt: keyTime(k, len(prefix)),
			})
			last = it.Item().KeyCopy(last[:0])
		}
		return nil
	})
	return page, err
}

// keyTime decodes the update time stored at k[off:off+8] of an index key.
func keyTime(k []byte, off int) time.Time {
	if len(k) < off+8 {
		return time.Time{}
	}
	return time.Unix(0, int64(^u64(k[off:off+8]))).UTC()
}

// Counts returns, per form id and status, how many records are listed (every
// record whose winner is not a deletion, drafts included). It reads counters
// maintained with every write, not the records.
func (s *Store) Counts(ctx context.Context) (map[string]map[Status]int, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := map[string]map[Status]int{}
	err := s.db.View(func(txn *badger.Txn) error {
		p := []byte{pCount}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Seek(p); it.ValidForPrefix(p); it.Next() {
			form, st, ok := parseCountKey(it.Item().Key())
			if !ok {
				continue
			}
			var n uint64
			if err := it.Item().Value(func(v []byte) error { n = u64(v); return nil }); err != nil {
				return err
			}
			if n == 0 {
				continue
			}
			if out[form] == nil {
				out[form] = map[Status]int{}
			}
			out[form][st] = int(n)
		}
		return nil
	})
	return out, err
}

// EachCurrent calls fn with the winning revision of every finalised, not
// deleted record of formID ("" = all forms), newest first, streaming. The
// revision is fn's own copy. An error from fn stops the walk and is returned.
func (s *Store) EachCurrent(ctx context.Context, formID string, fn func(*record.Revision) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	prefix := []byte{pAll}
	if formID != "" {
		prefix = indexPrefix(formID)
	}
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var sm summary
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &sm) }); err != nil {
				return fmt.Errorf("decoding list index: %w", err)
			}
			if sm.Winner == "" {
				continue // a draft only
			}
			r, err := loadRev(txn, sm.ID, sm.Winner)
			if err != nil {
				return err
			}
			if r.Deleted {
				continue
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	})
}
