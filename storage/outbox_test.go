package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// checkSummaries compares every stored summary with one built afresh from
// the record's meta and winning revision, so that a summary patched in
// place (AckOutbox) is exactly what a rebuild would give.
func checkSummaries(t *testing.T, s *Store) {
	t.Helper()
	err := s.db.View(func(txn *badger.Txn) error {
		for _, prefix := range []byte{pIndex, pAll} {
			p := []byte{prefix}
			itr := txn.NewIterator(badger.IteratorOptions{Prefix: p})
			for itr.Seek(p); itr.ValidForPrefix(p); itr.Next() {
				stored, err := itr.Item().ValueCopy(nil)
				if err != nil {
					itr.Close()
					return err
				}
				var sm summary
				if err := json.Unmarshal(stored, &sm); err != nil {
					itr.Close()
					return err
				}
				m, err := loadMeta(txn, sm.ID)
				if err != nil {
					itr.Close()
					return err
				}
				data := m.Draft
				if w, ok := m.winner(); ok {
					r, err := loadRev(txn, sm.ID, w.Rev)
					if err != nil {
						itr.Close()
						return err
					}
					data = r.Data
				}
				want, _ := json.Marshal(makeSummary(sm.ID, m, s.formFor(m.FormID, m.FormVersion), data))
				if !bytes.Equal(stored, want) {
					t.Errorf("summary %c of %s:\n stored %s\n   want %s", prefix, sm.ID, stored, want)
				}
				if !m.Listed || m.ListedAs != sm.Status {
					t.Errorf("summary of %s says %s, meta listed=%v as %s", sm.ID, sm.Status, m.Listed, m.ListedAs)
				}
			}
			itr.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// pendingSeqs returns the pending outbox seqs of record id, oldest first.
func pendingSeqs(t *testing.T, s *Store, id string) []uint64 {
	t.Helper()
	p, err := s.PendingOutbox(context.Background(), 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, e := range p {
		if e.Rev.RecordID == id {
			seqs = append(seqs, e.Seq)
		}
	}
	return seqs
}

func TestAckOutboxMix(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	mustCreate := func(adm1 string) string {
		t.Helper()
		r, err := s.Create(ctx, "casualty", casualty(adm1, "v"))
		if err != nil {
			t.Fatal(err)
		}
		return r.RecordID
	}
	one := mustCreate("One")        // one pending entry
	two := mustCreate("Two")        // two pending entries, acked one at a time
	rej := mustCreate("Rejected")   // rejected entry, acked later (the hub took it after all)
	sup := mustCreate("Superseded") // rejected, then replaced by an edit
	del := mustCreate("Deleted")    // created and deleted: not listed
	done := mustCreate("Done")      // acked before the mixed call
	if _, err := s.Edit(ctx, two, casualty("Two b", "v")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, del); err != nil {
		t.Fatal(err)
	}
	seqs := map[string][]uint64{}
	for _, id := range []string{one, two, rej, sup, del, done} {
		seqs[id] = pendingSeqs(t, s, id)
	}
	if err := s.RejectOutbox(ctx, seqs[rej][0], "adm1 unknown"); err != nil {
		t.Fatal(err)
	}
	if err := s.RejectOutbox(ctx, seqs[sup][0], "adm1 unknown"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Edit(ctx, sup, casualty("Superseded b", "v")); err != nil {
		t.Fatal(err)
	}
	if err := s.AckOutbox(ctx, seqs[done]); err != nil {
		t.Fatal(err)
	}
	checkSummaries(t, s)

	mixed := []uint64{
		999_999, seqs[two][0], seqs[one][0], seqs[rej][0], seqs[sup][0],
		seqs[del][0], seqs[del][1], seqs[done][0], seqs[one][0], 0,
	}
	want := map[string]Status{
		one: StatusSynced, two: StatusPending, rej: StatusSynced, sup: StatusPending, done: StatusSynced,
	}
	check := func(t *testing.T) {
		t.Helper()
		for id, st := range want {
			r, err := s.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != st {
				t.Errorf("%s: status %s, want %s", r.Current.Data["adm1"], r.Status, st)
			}
		}
		c, err := s.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantCounts := map[Status]int{}
		for _, st := range want {
			wantCounts[st]++
		}
		if fmt.Sprint(c["casualty"]) != fmt.Sprint(wantCounts) {
			t.Errorf("counts %v, want %v", c["casualty"], wantCounts)
		}
		if rj, _ := s.Rejected(ctx); len(rj) != 0 {
			t.Errorf("still rejected: %+v", rj)
		}
		checkCounts(t, s)
		checkSummaries(t, s)
	}
	t.Run("mixed", func(t *testing.T) {
		if err := s.AckOutbox(ctx, mixed); err != nil {
			t.Fatal(err)
		}
		check(t)
		// The superseded entry is gone; the edit that replaced it waits.
		if got := pendingSeqs(t, s, sup); len(got) != 1 || got[0] == seqs[sup][0] {
			t.Errorf("superseded record's outbox: %v", got)
		}
	})
	t.Run("again", func(t *testing.T) {
		if err := s.AckOutbox(ctx, mixed); err != nil {
			t.Fatal(err)
		}
		check(t)
	})
	t.Run("rest", func(t *testing.T) {
		rest := append(pendingSeqs(t, s, two), pendingSeqs(t, s, sup)...)
		if len(rest) != 2 {
			t.Fatalf("left in the outbox: %v", rest)
		}
		if err := s.AckOutbox(ctx, rest); err != nil {
			t.Fatal(err)
		}
		want[two], want[sup] = StatusSynced, StatusSynced
		check(t)
		if n, _ := s.OutboxLen(ctx); n != 0 {
			t.Errorf("outbox len %d", n)
		}
	})
	t.Run("empty and cancelled", func(t *testing.T) {
		if err := s.AckOutbox(ctx, nil); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.AckOutbox(cctx, []uint64{1}); err == nil {
			t.Fatal("acked with a cancelled context")
		}
		check(t)
	})
}

// TestAckOutboxSplitsBigTransactions acks more entries at once than one
// Badger transaction holds with a small memtable.
func TestAckOutboxSplitsBigTransactions(t *testing.T) {
	ctx := context.Background()
	o := testOptions(t.TempDir(), "correct horse")
	o.memTableSize = 1 << 20
	s, err := Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	const n = 1500
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = casualty("Champasak", fmt.Sprintf("Ban %d", i))
	}
	if _, err := s.Import(ctx, "casualty", rows); err != nil {
		t.Fatal(err)
	}
	p, err := s.PendingOutbox(ctx, n, 0)
	if err != nil || len(p) != n {
		t.Fatalf("pending %d, %v", len(p), err)
	}
	seqs := make([]uint64, n)
	for i, e := range p {
		seqs[i] = e.Seq
	}
	if err := s.AckOutbox(ctx, seqs); err != nil {
		t.Fatal(err)
	}
	c, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c["casualty"][StatusSynced] != n || c["casualty"][StatusPending] != 0 {
		t.Fatalf("counts after acking all: %v", c)
	}
	if k, _ := s.OutboxLen(ctx); k != 0 {
		t.Fatalf("outbox len %d", k)
	}
	checkCounts(t, s)
}

// TestPendingOutboxOrderAndBudget reads the outbox when sequence order and
// key order differ (edits of older records come later), with limits and byte
// budgets that cut it at every point.
func TestPendingOutboxOrderAndBudget(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	var ids []string
	var want []string // revs in sequence order
	for i := range 6 {
		r, err := s.Create(ctx, "casualty", casualty("Salavan", fmt.Sprintf("Ban %d", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.RecordID)
		want = append(want, r.Rev)
	}
	for _, i := range []int{4, 0, 2} {
		r, err := s.Edit(ctx, ids[i], casualty("Salavan", fmt.Sprintf("Ban %d edited", i)))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, r.Rev)
	}
	all, err := s.PendingOutbox(ctx, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(want) {
		t.Fatalf("got %d entries, want %d", len(all), len(want))
	}
	sizes := make([]int, len(all))
	for i, e := range all {
		if e.Rev.Rev != want[i] || (i > 0 && e.Seq <= all[i-1].Seq) {
			t.Fatalf("entry %d: seq %d rev %s, want rev %s", i, e.Seq, e.Rev.Rev, want[i])
		}
		if err := e.Rev.Verify(); err != nil {
			t.Fatalf("entry %d does not verify: %v", i, err)
		}
		err := s.db.View(func(txn *badger.Txn) error {
			b, err := getIn(txn, revKey(e.Rev.RecordID, e.Rev.Rev))
			sizes[i] = len(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if all[0].Rev == all[1].Rev {
		t.Fatal("entries share a revision value")
	}
	for limit := 1; limit <= len(want); limit++ {
		got, err := s.PendingOutbox(ctx, limit, 0)
		if err != nil || len(got) != limit || got[limit-1].Rev.Rev != want[limit-1] {
			t.Fatalf("limit %d: %d entries, %v", limit, len(got), err)
		}
	}
	for budget := 1; budget < sizes[0]*len(sizes)+10; budget += 97 {
		n, total := 0, 0
		for n < len(sizes) && (n == 0 || total+sizes[n] <= budget) {
			total += sizes[n]
			n++
		}
		got, err := s.PendingOutbox(ctx, 100, budget)
		if err != nil || len(got) != n || got[n-1].Rev.Rev != want[n-1] {
			t.Fatalf("budget %d: %d entries, want %d, %v", budget, len(got), n, err)
		}
	}
	// A revision missing under a pending entry is an error, reported for
	// the first such entry in sequence order.
	err = s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Delete(revKey(all[7].Rev.RecordID, all[7].Rev.Rev)); err != nil {
			return err
		}
		return txn.Delete(revKey(all[3].Rev.RecordID, all[3].Rev.Rev))
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.PendingOutbox(ctx, 3, 0); err != nil || len(got) != 3 {
		t.Fatalf("before the missing revision: %d entries, %v", len(got), err)
	}
	_, err = s.PendingOutbox(ctx, 100, 0)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), fmt.Sprintf("entry %d:", all[3].Seq)) {
		t.Fatalf("missing revision: %v", err)
	}
}

// TestOutboxFloor checks that scans starting at the outbox floor see every
// entry a scan from the start sees, as entries are acked, rejected and added.
func TestOutboxFloor(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	all := func() []uint64 { // every outbox key, scanned from the start
		t.Helper()
		var seqs []uint64
		err := s.db.View(func(txn *badger.Txn) error {
			p := []byte{pOutbox}
			itr := txn.NewIterator(badger.IteratorOptions{Prefix: p})
			defer itr.Close()
			for itr.Seek(p); itr.ValidForPrefix(p); itr.Next() {
				seq, _ := parseOutboxKey(itr.Item().Key())
				seqs = append(seqs, seq)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return seqs
	}
	check := func(step string) {
		t.Helper()
		keys := all()
		if len(keys) > 0 && s.outboxFloor.Load() > keys[0] {
			t.Fatalf("%s: floor %d above the oldest entry %d", step, s.outboxFloor.Load(), keys[0])
		}
		p, err := s.PendingOutbox(ctx, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		rej, err := s.Rejected(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.OutboxLen(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(p)+len(rej) != len(keys) || n != len(p) {
			t.Fatalf("%s: %d pending + %d rejected (len %d), %d keys", step, len(p), len(rej), n, len(keys))
		}
	}
	create := func(n int) {
		t.Helper()
		for range n {
			if _, err := s.Create(ctx, "casualty", casualty("Houaphanh", "v")); err != nil {
				t.Fatal(err)
			}
		}
	}
	create(5)
	check("created")
	seqs := all()
	if err := s.AckOutbox(ctx, seqs[:3]); err != nil {
		t.Fatal(err)
	}
	check("acked 3")
	if s.outboxFloor.Load() != seqs[3] {
		t.Fatalf("floor %d, want %d", s.outboxFloor.Load(), seqs[3])
	}
	if err := s.RejectOutbox(ctx, seqs[3], "bad"); err != nil {
		t.Fatal(err)
	}
	if err := s.AckOutbox(ctx, seqs[4:]); err != nil {
		t.Fatal(err)
	}
	check("rejected 1, acked the rest")
	create(2)
	check("created 2 more")
	if err := s.AckOutbox(ctx, all()); err != nil {
		t.Fatal(err)
	}
	check("acked all")
	create(1)
	check("created after an empty outbox")
}

func TestPatchStatus(t *testing.T) {
	for _, sm := range []summary{
		{ID: "0190-a", FormID: "casualty", Status: StatusPending, Title: "Casualty", Adm1: "Salavan", Text: "salavan\x1fban na"},
		{ID: "0190-b", FormID: "casualty", Status: StatusRejected, Title: `say ,"status":"synced" <&>`, Text: `\",\"status\":\"x`},
		{ID: "0190-c", FormID: "f", Status: StatusConflict},
	} {
		t.Run(sm.ID, func(t *testing.T) {
			b, err := json.Marshal(sm)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range []Status{StatusSynced, StatusPending, StatusRejected, StatusConflict} {
				got, ok := patchStatus(b, st)
				c := sm
				c.Status = st
				want, _ := json.Marshal(c)
				if !ok || !bytes.Equal(got, want) {
					t.Errorf("%s: got %s (%v), want %s", st, got, ok, want)
				}
			}
		})
	}
	for _, bad := range []string{`{}`, `{"id":"x"}`, `{"id":"x","status":"pen`, `{"id":"x","status":"p\"x"}`} {
		if got, ok := patchStatus([]byte(bad), StatusSynced); ok {
			t.Errorf("%s patched to %s", bad, got)
		}
	}
}
