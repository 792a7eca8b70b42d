package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/record"
)

// testKDF keeps Argon2id cheap in tests; the header records it like any other.
var testKDF = kdfParams{Time: 1, Memory: 1024, Threads: 1}

var testNow = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func testOptions(dir, pass string) Options {
	var mu sync.Mutex
	clock := testNow
	return Options{Dir: dir, Passphrase: []byte(pass), kdf: &testKDF, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Millisecond)
		return clock
	}}
}

func openTest(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), testOptions(dir, "correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func casualty(adm1, village string) map[string]any {
	return map[string]any{
		"incident_date": "2024-03-12", "adm1": adm1, "village": village, "outcome": "injured",
		"sex": "female", "age": 12, "consent": "yes", "name": "Secret Person",
	}
}

func TestOpenWrongPassphraseAndChange(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if Exists(dir) {
		t.Fatal("Exists before creation")
	}
	s := openTest(t, dir)
	rev, err := s.Create(ctx, "casualty", casualty("Xiangkhouang", "Ban Na"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !Exists(dir) {
		t.Fatal("Exists after creation = false")
	}
	before := dirSnapshot(t, dir)
	if _, err := Open(ctx, testOptions(dir, "wrong")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: err = %v", err)
	}
	if err := ChangePassphrase(dir, []byte("wrong"), []byte("new")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("change with wrong passphrase: err = %v", err)
	}
	if after := dirSnapshot(t, dir); after != before {
		t.Fatalf("a wrong passphrase changed files:\n%s\n%s", before, after)
	}
	if err := ChangePassphrase(dir, []byte("correct horse"), []byte("new pass")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, testOptions(dir, "correct horse")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("old passphrase after change: err = %v", err)
	}
	s2, err := Open(ctx, testOptions(dir, "new pass"))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err := s2.Get(ctx, rev.RecordID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Current.Rev != rev.Rev || got.Status != StatusPending {
		t.Fatalf("after reopen: %+v", got)
	}
	if _, err := Open(ctx, Options{Dir: t.TempDir()}); !errors.Is(err, ErrEmptyPassphrase) {
		t.Fatalf("empty passphrase: %v", err)
	}
}

// dirSnapshot lists names, sizes and modification times of files under dir.
func dirSnapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			fmt.Fprintf(&b, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
		}
		return nil
	})
	return b.String()
}

func TestNoPlaintextOnDisk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	for range 50 {
		if _, err := s.Create(ctx, "casualty", casualty("Xiangkhouang", "Ban Na")); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		for _, secret := range []string{"Secret Person", "Xiangkhouang"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds %q in clear", p, secret)
			}
		}
		return nil
	})
}

func TestRecordLifecycle(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	id, err := s.SaveDraft(ctx, "", "casualty", map[string]any{"adm1": "Savannakhet"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveDraft(ctx, "not-a-record", "casualty", map[string]any{"age": 3}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("draft for an unknown id: %v", err)
	}
	if _, err := s.SaveDraft(ctx, id, "hazard_area", nil); !errors.Is(err, ErrFormMismatch) {
		t.Fatalf("draft for another form: %v", err)
	}
	if _, err := s.SaveDraft(ctx, "", "casualty", map[string]any{"age": 300}); !errors.Is(err, forms.ErrInvalid) {
		t.Fatalf("bad draft: %v", err)
	}
	r, _ := s.Get(ctx, id)
	if r.Status != StatusDraft || r.Current != nil || r.Draft["adm1"] != "Savannakhet" {
		t.Fatalf("draft: %+v", r)
	}
	if _, err := s.Delete(ctx, id); !errors.Is(err, ErrDraftOnly) {
		t.Fatalf("delete a draft: %v", err)
	}
	gone, _ := s.SaveDraft(ctx, "", "casualty", map[string]any{"adm1": "Gone"})
	if err := s.DiscardDraft(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, gone); !errors.Is(err, ErrNotFound) {
		t.Fatalf("discarded draft still there: %v", err)
	}
	checkCounts(t, s)
	if _, err := s.Finalise(ctx, id); !errors.Is(err, forms.ErrInvalid) {
		t.Fatalf("finalise incomplete draft: %v", err)
	}
	if _, err := s.SaveDraft(ctx, id, "", casualty("Savannakhet", "Ban Lao")); err != nil {
		t.Fatal(err)
	}
	r1, err := s.Finalise(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Finalise(ctx, id); !errors.Is(err, ErrNoDraft) {
		t.Fatalf("finalise twice: %v", err)
	}
	d := casualty("Savannakhet", "Ban Lao")
	d["age"] = 13
	r2, err := s.Edit(ctx, id, d)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Gen() != 2 || len(r2.Parents) != 1 || r2.Parents[0] != r1.Rev {
		t.Fatalf("edit parents: %+v", r2)
	}
	if _, err := s.Edit(ctx, id, map[string]any{"sex": "x"}); !errors.Is(err, forms.ErrInvalid) {
		t.Fatalf("invalid edit: %v", err)
	}
	r3, err := s.Delete(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !r3.Deleted {
		t.Fatal("delete revision not deleted")
	}
	if _, err := s.Edit(ctx, id, d); !errors.Is(err, ErrDeleted) {
		t.Fatalf("edit after delete: %v", err)
	}
	h, err := s.History(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 || h[0].Rev != r1.Rev || h[1].Rev != r2.Rev || h[2].Rev != r3.Rev {
		t.Fatalf("history: %v", h)
	}
	for _, rv := range h {
		if err := rv.Verify(); err != nil {
			t.Error(err)
		}
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get unknown: %v", err)
	}
	n, _ := s.OutboxLen(ctx)
	if n != 3 {
		t.Fatalf("outbox len %d, want 3", n)
	}
	c, _ := s.Counts(ctx)
	if len(c) != 0 {
		t.Fatalf("counts of a deleted record: %v", c)
	}
}

func TestOutboxAckRejectAndReplace(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	a, _ := s.Create(ctx, "casualty", casualty("A", "a"))
	b, _ := s.Create(ctx, "casualty", casualty("B", "b"))
	c, _ := s.Create(ctx, "casualty", casualty("C", "c"))
	p, err := s.PendingOutbox(ctx, 10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 3 || p[0].Rev.Rev != a.Rev || p[1].Rev.Rev != b.Rev || p[2].Rev.Rev != c.Rev {
		t.Fatalf("outbox order: %v", p)
	}
	if small, _ := s.PendingOutbox(ctx, 10, 10); len(small) != 1 {
		t.Fatalf("maxBytes: got %d entries", len(small))
	}
	if err := s.AckOutbox(ctx, []uint64{p[0].Seq, p[0].Seq}); err != nil {
		t.Fatal(err)
	}
	if err := s.RejectOutbox(ctx, p[1].Seq, "adm1 unknown"); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Get(ctx, a.RecordID); r.Status != StatusSynced {
		t.Fatalf("acked status %s", r.Status)
	}
	rb, _ := s.Get(ctx, b.RecordID)
	if rb.Status != StatusRejected || rb.Rejection != "adm1 unknown" {
		t.Fatalf("rejected record: %+v", rb)
	}
	rej, _ := s.Rejected(ctx)
	if len(rej) != 1 || rej[0].Rev.Rev != b.Rev || rej[0].Rejection != "adm1 unknown" {
		t.Fatalf("rejected: %+v", rej)
	}
	if n, _ := s.OutboxLen(ctx); n != 1 {
		t.Fatalf("outbox len %d", n)
	}
	// Fixing the rejected record replaces the rejected revision.
	fix, err := s.Edit(ctx, b.RecordID, casualty("Bokeo", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fix.Parents) != 0 || fix.Gen() != 1 {
		t.Fatalf("fix should replace the rejected root: %+v", fix)
	}
	rb, _ = s.Get(ctx, b.RecordID)
	if rb.Status != StatusPending || rb.Current.Rev != fix.Rev || rb.Conflicted || len(rb.Leaves) != 1 {
		t.Fatalf("after fix: %+v", rb)
	}
	if rej, _ := s.Rejected(ctx); len(rej) != 0 {
		t.Fatalf("superseded still listed as rejected: %v", rej)
	}
	if h, _ := s.History(ctx, b.RecordID); len(h) != 2 {
		t.Fatalf("history lost the rejected revision: %v", h)
	}
	p, _ = s.PendingOutbox(ctx, 10, 0)
	if len(p) != 2 || p[0].Rev.Rev != c.Rev || p[1].Rev.Rev != fix.Rev {
		t.Fatalf("pending after fix: %v", p)
	}
	// A rejected edit on top of a synced revision is replaced by one on the same parent.
	e1, _ := s.Edit(ctx, a.RecordID, casualty("A2", "a"))
	p, _ = s.PendingOutbox(ctx, 10, 0)
	s.RejectOutbox(ctx, p[len(p)-1].Seq, "nope")
	e2, err := s.Edit(ctx, a.RecordID, casualty("A3", "a"))
	if err != nil {
		t.Fatal(err)
	}
	if len(e2.Parents) != 1 || e2.Parents[0] != a.Rev || e2.Gen() != 2 || e1.Rev == e2.Rev {
		t.Fatalf("replacement parents: %v", e2.Parents)
	}
	if err := s.RejectOutbox(ctx, 999, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("reject unknown seq: %v", err)
	}
	checkCounts(t, s)
}

func remoteRev(t *testing.T, id string, parents []string, deleted bool, data map[string]any) *record.Revision {
	t.Helper()
	r, err := record.Next(id, parents, "casualty", 1, deleted, data, record.Meta{Programme: "LAO", SavedAt: testNow})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestApplyRemote(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	id := record.NewID()
	r1 := remoteRev(t, id, nil, false, casualty("A", "1"))
	r2a := remoteRev(t, id, []string{r1.Rev}, false, casualty("A", "2a"))
	r2b := remoteRev(t, id, []string{r1.Rev}, false, casualty("A", "2b"))
	st, err := s.ApplyRemote(ctx, []*record.Revision{r1, r2a, r2b}, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied != 3 || st.Conflicts != 1 {
		t.Fatalf("stats %+v", st)
	}
	st, err = s.ApplyRemote(ctx, []*record.Revision{r1, r2a, r2b}, "c1")
	if err != nil || st.Duplicate != 3 || st.Applied != 0 {
		t.Fatalf("second apply: %+v %v", st, err)
	}
	tree := record.NewTree(id)
	for _, r := range []*record.Revision{r1, r2a, r2b} {
		if _, err := tree.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.Get(ctx, id)
	want, _ := record.Winner(tree.Leaves())
	if !got.Conflicted || got.Status != StatusConflict || got.Current.Rev != want.Rev {
		t.Fatalf("conflict: %+v want winner %s", got, want.Rev)
	}
	if c, _ := s.PullCursor(ctx); c != "c1" {
		t.Fatalf("cursor %q", c)
	}
	// Editing a conflicted record merges every leaf.
	m, err := s.Edit(ctx, id, casualty("A", "merged"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Parents) != 2 {
		t.Fatalf("merge parents %v", m.Parents)
	}
	if got, _ := s.Get(ctx, id); got.Conflicted || got.Status != StatusPending {
		t.Fatalf("after merge %+v", got)
	}
	// Our own revision coming back from the hub acknowledges its outbox entry.
	if _, err := s.ApplyRemote(ctx, []*record.Revision{m}, "c2"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OutboxLen(ctx); n != 0 {
		t.Fatalf("outbox after echo: %d", n)
	}
	// An unknown parent fails the whole page, cursor included.
	orphan := remoteRev(t, id, []string{"5-00000000000000000000000000000000"}, false, casualty("A", "x"))
	fresh := remoteRev(t, record.NewID(), nil, false, casualty("B", "y"))
	if _, err := s.ApplyRemote(ctx, []*record.Revision{fresh, orphan}, "c3"); !errors.Is(err, record.ErrMissingParent) {
		t.Fatalf("missing parent: %v", err)
	}
	if _, err := s.Get(ctx, fresh.RecordID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("partial page applied: %v", err)
	}
	if c, _ := s.PullCursor(ctx); c != "c2" {
		t.Fatalf("cursor moved to %q", c)
	}
	bad := fresh.Clone()
	bad.Data["village"] = "tampered"
	if _, err := s.ApplyRemote(ctx, []*record.Revision{bad}, "c3"); !errors.Is(err, record.ErrRevMismatch) {
		t.Fatalf("tampered: %v", err)
	}
	// A remote deletion wins over nothing but the deleted leaf; record leaves lists.
	del := remoteRev(t, fresh.RecordID, []string{fresh.Rev}, true, nil)
	if _, err := s.ApplyRemote(ctx, []*record.Revision{fresh, del}, "c4"); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.Get(ctx, fresh.RecordID); !g.Deleted() {
		t.Fatalf("remote delete: %+v", g)
	}
	checkCounts(t, s)
}

func TestListCountsAndSearch(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	var ids []string
	for i := range 25 {
		adm1 := "Xiangkhouang"
		if i%2 == 1 {
			adm1 = "Savannakhet"
		}
		d := casualty(adm1, fmt.Sprintf("Village%02d", i))
		d["incident_date"] = fmt.Sprintf("2024-01-%02d", i+1)
		r, err := s.Create(ctx, "casualty", d)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.RecordID)
	}
	if _, err := s.SaveDraft(ctx, "", "hazard_area", map[string]any{"area_code": "HA-1"}); err != nil {
		t.Fatal(err)
	}
	// Newest first, paged without gaps or repeats.
	var seen []string
	cur := ""
	for pages := 0; ; pages++ {
		p, err := s.List(ctx, Query{FormID: "casualty", Limit: 10, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			seen = append(seen, r.ID)
			if strings.Contains(r.Title, "Secret") {
				t.Fatal("personal data in a summary title")
			}
		}
		if p.Next == "" {
			break
		}
		cur = p.Next
	}
	if len(seen) != 25 || seen[0] != ids[24] || seen[24] != ids[0] {
		t.Fatalf("paging: %d records, first %s", len(seen), seen[0])
	}
	tests := []struct {
		name string
		q    Query
		want int
	}{
		{"all forms", Query{}, 26},
		{"adm1", Query{FormID: "casualty", Adm1: "savannakhet"}, 12},
		{"text", Query{Text: "village0"}, 10},
		{"sensitive not searchable", Query{Text: "secret"}, 0},
		{"draft", Query{Status: StatusDraft}, 1},
		{"final", Query{Status: StatusFinal}, 25},
		{"date range", Query{FormID: "casualty", From: time.Date(2024, 1, 5, 0, 0, 0, 0, time.UTC), To: time.Date(2024, 1, 9, 0, 0, 0, 0, time.UTC)}, 5},
		{"text area code", Query{Text: "ha-1"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Limit = 100
			p, err := s.List(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Records) != tt.want || p.Next != "" {
				t.Fatalf("got %d records (next %q), want %d", len(p.Records), p.Next, tt.want)
			}
		})
	}
	if _, err := s.List(ctx, Query{Cursor: "!!"}); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
	p, _ := s.PendingOutbox(ctx, 5, 0)
	seqs := []uint64{p[0].Seq, p[1].Seq}
	s.AckOutbox(ctx, seqs)
	s.RejectOutbox(ctx, p[2].Seq, "bad")
	c, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[Status]int{StatusPending: 22, StatusSynced: 2, StatusRejected: 1}
	if fmt.Sprint(c["casualty"]) != fmt.Sprint(want) || c["hazard_area"][StatusDraft] != 1 {
		t.Fatalf("counts %v", c)
	}
	n := 0
	if err := s.EachCurrent(ctx, "casualty", func(r *record.Revision) error { n++; return nil }); err != nil || n != 25 {
		t.Fatalf("EachCurrent: %d %v", n, err)
	}
	s.Delete(ctx, ids[3])
	n = 0
	s.EachCurrent(ctx, "", func(r *record.Revision) error { n++; return nil })
	if n != 24 {
		t.Fatalf("EachCurrent after delete: %d", n)
	}
}

func TestImportAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	rows := []map[string]any{casualty("A", "1"), {"adm1": "B"}, casualty("C", "3"), {"sex": "robot", "outcome": "injured", "incident_date": "2024-01-01", "adm1": "x"}}
	_, err := s.Import(ctx, "casualty", rows)
	var ie *ImportError
	if !errors.As(err, &ie) || len(ie.Rows) != 2 || ie.Rows[0].Line != 2 || ie.Rows[1].Line != 4 {
		t.Fatalf("import error: %v", err)
	}
	if n, _ := s.OutboxLen(ctx); n != 0 {
		t.Fatal("invalid import saved something")
	}
	n, err := s.Import(ctx, "casualty", []map[string]any{rows[0], rows[2]})
	if err != nil || n != 2 {
		t.Fatalf("import: %d %v", n, err)
	}
	if c, _ := s.Counts(ctx); c["casualty"][StatusPending] != 2 {
		t.Fatalf("counts %v", c)
	}
	if _, err := s.Import(ctx, "nope", rows); !errors.Is(err, forms.ErrUnknownForm) {
		t.Fatalf("unknown form: %v", err)
	}
}

func TestSettingsIdentity(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	if _, err := s.Setting(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	s.SetSetting(ctx, "k", []byte("v"))
	s.SetIdentity(ctx, Identity{Programme: "LAO", DeviceID: "d1", User: "u"})
	r, _ := s.Create(ctx, "casualty", casualty("A", "1"))
	if r.Programme != "LAO" || r.DeviceID != "d1" {
		t.Fatalf("identity not on revision: %+v", r)
	}
	s.Close()
	s = openTest(t, dir)
	if v, _ := s.Setting(ctx, "k"); string(v) != "v" {
		t.Fatalf("setting %q", v)
	}
	if id, _ := s.Identity(ctx); id.Programme != "LAO" {
		t.Fatalf("identity %+v", id)
	}
}

func TestBackupRestore(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	r, _ := s.Create(ctx, "casualty", casualty("A", "1"))
	var buf bytes.Buffer
	if err := s.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("Secret Person")) {
		t.Fatal("backup holds personal data in clear")
	}
	dst := filepath.Join(t.TempDir(), "restored")
	if err := Restore(ctx, dst, bytes.NewReader(buf.Bytes()), []byte("wrong")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	trunc := buf.Bytes()[:buf.Len()-10]
	if err := Restore(ctx, dst, bytes.NewReader(trunc), []byte("correct horse")); !errors.Is(err, ErrBadBackup) {
		t.Fatalf("truncated: %v", err)
	}
	if Exists(dst) {
		t.Fatal("failed restore left a store")
	}
	if err := Restore(ctx, dst, bytes.NewReader(buf.Bytes()), []byte("correct horse")); err != nil {
		t.Fatal(err)
	}
	if err := Restore(ctx, dst, bytes.NewReader(buf.Bytes()), []byte("correct horse")); !errors.Is(err, ErrExists) {
		t.Fatalf("restore over a store: %v", err)
	}
	s2 := openTest(t, dst)
	g, err := s2.Get(ctx, r.RecordID)
	if err != nil || g.Current.Rev != r.Rev {
		t.Fatalf("restored: %+v %v", g, err)
	}
	if n, _ := s2.OutboxLen(ctx); n != 1 {
		t.Fatal("outbox not restored")
	}
	// A backup made after a passphrase change opens with the new passphrase.
	if err := ChangePassphrase(s.dir, []byte("correct horse"), []byte("newer")); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := s.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	dst2 := filepath.Join(t.TempDir(), "r2")
	if err := Restore(ctx, dst2, bytes.NewReader(buf.Bytes()), []byte("newer")); err != nil {
		t.Fatal(err)
	}
}

func TestGCLoopStops(t *testing.T) {
	o := testOptions(t.TempDir(), "p")
	o.gcInterval = time.Millisecond
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		s.Create(context.Background(), "casualty", casualty("A", "1"))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second close:", err)
	}
}

// TestListAndCountMemoryFlat checks that listing a page and counting cost
// the same allocations whatever the number of records.
func TestListAndCountMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("imports several thousand records")
	}
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	measure := func() (float64, float64) {
		list := testing.AllocsPerRun(5, func() {
			if _, err := s.List(ctx, Query{FormID: "casualty", Limit: 20}); err != nil {
				t.Fatal(err)
			}
		})
		count := testing.AllocsPerRun(5, func() {
			if _, err := s.Counts(ctx); err != nil {
				t.Fatal(err)
			}
		})
		return list, count
	}
	add := func(n int) {
		rows := make([]map[string]any, n)
		for i := range rows {
			rows[i] = casualty("A", fmt.Sprint(i))
		}
		if _, err := s.Import(ctx, "casualty", rows); err != nil {
			t.Fatal(err)
		}
	}
	add(500)
	l1, c1 := measure()
	add(4500)
	l2, c2 := measure()
	// Allow a little slack for Badger's internal table bookkeeping.
	if l2 > l1*1.5+50 || c2 > c1*1.5+50 {
		t.Fatalf("allocations grow with records: list %v -> %v, counts %v -> %v", l1, l2, c1, c2)
	}
	t.Logf("allocs per list page %v -> %v, per count %v -> %v", l1, l2, c1, c2)
}

func TestGCLoopRunAndClose(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := context.Background()
	big := bytes.Repeat([]byte("x"), 1<<20)
	for i := range 30 {
		if err := s.SetSetting(ctx, fmt.Sprint("blob", i%3), big); err != nil {
			t.Fatal(err)
		}
	}
	s.gc.round(ctx) // must return once Badger has nothing left to rewrite
	// A loop whose context ends returns by itself; Close then returns at once.
	g := newGCLoop(s.db, time.Millisecond, s.log)
	cctx, cancel := context.WithCancel(ctx)
	go g.Run(cctx)
	cancel()
	g.Close()
	g.Close()
}

func TestReplaceStackedRejections(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	a, _ := s.Create(ctx, "casualty", casualty("A", "1"))
	p, _ := s.PendingOutbox(ctx, 10, 0)
	s.AckOutbox(ctx, []uint64{p[0].Seq})
	b, _ := s.Edit(ctx, a.RecordID, casualty("A", "2")) // the hub will reject this one
	c, _ := s.Edit(ctx, a.RecordID, casualty("A", "3")) // and this one, its parent unknown there
	p, _ = s.PendingOutbox(ctx, 10, 0)
	if len(p) != 2 || p[0].Rev.Rev != b.Rev || p[1].Rev.Rev != c.Rev {
		t.Fatalf("pending %v", p)
	}
	s.RejectOutbox(ctx, p[0].Seq, "bad village")
	s.RejectOutbox(ctx, p[1].Seq, "missing parent")
	fix, err := s.Edit(ctx, a.RecordID, casualty("A", "4"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fix.Parents) != 1 || fix.Parents[0] != a.Rev {
		t.Fatalf("fix parents %v, want [%s]", fix.Parents, a.Rev)
	}
	r, _ := s.Get(ctx, a.RecordID)
	if r.Status != StatusPending || r.Conflicted || len(r.Leaves) != 1 || r.Leaves[0].Rev != fix.Rev {
		t.Fatalf("after fix %+v", r)
	}
	if h, _ := s.History(ctx, a.RecordID); len(h) != 4 {
		t.Fatalf("history %d, want 4 (rejected ones kept)", len(h))
	}
	if rej, _ := s.Rejected(ctx); len(rej) != 0 {
		t.Fatalf("rejected %v", rej)
	}
	checkCounts(t, s)
}

func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				r, err := s.Create(ctx, "casualty", casualty("C", fmt.Sprint(g, i)))
				if err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					if _, err := s.Edit(ctx, r.RecordID, casualty("C", "edited")); err != nil {
						t.Error(err)
					}
				}
				if _, err := s.List(ctx, Query{Limit: 5}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if c, _ := s.Counts(ctx); c["casualty"][StatusPending] != 40 {
		t.Fatalf("counts %v", c)
	}
	if n, _ := s.OutboxLen(ctx); n != 40+4*4 {
		t.Fatalf("outbox %d", n)
	}
	checkCounts(t, s)
}
