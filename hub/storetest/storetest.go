// Package storetest is the conformance suite every hub.Store must pass:
// the Badger store and the PostgreSQL store run the same tests, so the hub
// behaves the same on either.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// NewStore returns a fresh, empty store for one test; the suite closes it.
type NewStore func(t *testing.T) hub.Store

// Run runs the conformance suite against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s hub.Store)
	}{
		{"Devices", testDevices},
		{"Forms", testForms},
		{"ApplyStatuses", testApplyStatuses},
		{"ParentInSameBatch", testParentInSameBatch},
		{"ForeignRecord", testForeignRecord},
		{"ForeignDevice", testForeignDevice},
		{"PullPaging", testPullPaging},
		{"PullBadCursor", testPullBadCursor},
		{"PullByteBudget", testPullByteBudget},
		{"ProgrammesApart", testProgrammesApart},
		{"ConcurrentApplyAndPull", testConcurrent},
		{"ProgrammesRaceForRecord", testRaceForRecord},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// noBudget is a Pull byte budget no test reaches.
const noBudget = 1 << 30

func hashOf(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func testDevices(t *testing.T, s hub.Store) {
	ctx := context.Background()
	a := hub.Device{ID: "dev-a", Name: "Laptop A", Programme: "LAO", Role: protocol.RoleCollector,
		TokenHash: hashOf("token-a"), CreatedAt: t0}
	b := hub.Device{ID: "dev-b", Name: "Desk B", Programme: "LAO", Role: protocol.RoleViewer,
		TokenHash: hashOf("token-b"), CreatedAt: t0.Add(time.Minute)}
	for _, d := range []hub.Device{b, a} {
		if err := s.AddDevice(ctx, d); err != nil {
			t.Fatalf("AddDevice(%s): %v", d.ID, err)
		}
	}
	t.Run("duplicate id or token", func(t *testing.T) {
		for _, d := range []hub.Device{
			{ID: "dev-a", Name: "x", Programme: "LAO", Role: protocol.RoleCollector, TokenHash: hashOf("other"), CreatedAt: t0},
			{ID: "dev-c", Name: "x", Programme: "LAO", Role: protocol.RoleCollector, TokenHash: hashOf("token-a"), CreatedAt: t0},
		} {
			if err := s.AddDevice(ctx, d); !errors.Is(err, hub.ErrExists) {
				t.Errorf("AddDevice(%s) = %v, want ErrExists", d.ID, err)
			}
		}
	})
	got, err := s.DeviceByToken(ctx, hashOf("token-a"))
	if err != nil {
		t.Fatalf("DeviceByToken: %v", err)
	}
	if got.ID != a.ID || got.Name != a.Name || got.Programme != a.Programme || got.Role != a.Role ||
		got.TokenHash != a.TokenHash || !got.CreatedAt.Equal(a.CreatedAt) || got.Revoked() {
		t.Errorf("DeviceByToken = %+v, want %+v", got, a)
	}
	if _, err := s.DeviceByToken(ctx, hashOf("nope")); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("DeviceByToken(unknown) = %v, want ErrNotFound", err)
	}
	list, err := s.Devices(ctx)
	if err != nil {
		t.Fatalf("Devices: %v", err)
	}
	if len(list) != 2 || list[0].ID != "dev-a" || list[1].ID != "dev-b" {
		t.Errorf("Devices = %+v, want dev-a then dev-b", list)
	}
	if err := s.RevokeDevice(ctx, "dev-a", t0.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeDevice: %v", err)
	}
	if err := s.RevokeDevice(ctx, "dev-a", t0.Add(2*time.Hour)); err != nil {
		t.Fatalf("RevokeDevice again: %v", err)
	}
	if err := s.RevokeDevice(ctx, "dev-zz", t0); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("RevokeDevice(unknown) = %v, want ErrNotFound", err)
	}
	got, err = s.DeviceByToken(ctx, hashOf("token-a"))
	if err != nil {
		t.Fatalf("DeviceByToken after revoke: %v", err)
	}
	if !got.RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("RevokedAt = %v, want the first revocation %v", got.RevokedAt, t0.Add(time.Hour))
	}
	if got, _ := s.DeviceByToken(ctx, hashOf("token-b")); got.Revoked() {
		t.Errorf("revoking dev-a revoked dev-b")
	}
}

func testForms(t *testing.T, s hub.Store) {
	ctx := context.Background()
	def := func(id string, v int, title string) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"id":%q,"version":%d,"title":%q,"fields":[]}`, id, v, title))
	}
	pub := []hub.PublishedForm{
		{Programme: "LAO", FormID: "school_visit", Version: 2, Def: def("school_visit", 2, "Visit"), PublishedAt: t0},
		{Programme: "LAO", FormID: "school_visit", Version: 1, Def: def("school_visit", 1, "Visit"), PublishedAt: t0},
		{Programme: "KHM", FormID: "school_visit", Version: 1, Def: def("school_visit", 1, "Other"), PublishedAt: t0},
	}
	for _, f := range pub {
		if err := s.PublishForm(ctx, f); err != nil {
			t.Fatalf("PublishForm(%s %s v%d): %v", f.Programme, f.FormID, f.Version, err)
		}
	}
	// The same again (whitespace aside) is a no-op; other content is refused.
	same := pub[1]
	same.Def = json.RawMessage(`{"id": "school_visit", "version": 1, "title": "Visit", "fields": []}`)
	if err := s.PublishForm(ctx, same); err != nil {
		t.Errorf("re-publishing identical form: %v", err)
	}
	changed := pub[1]
	changed.Def = def("school_visit", 1, "Changed")
	if err := s.PublishForm(ctx, changed); !errors.Is(err, hub.ErrExists) {
		t.Errorf("publishing changed v1 = %v, want ErrExists", err)
	}
	lao, err := s.PublishedForms(ctx, "LAO")
	if err != nil {
		t.Fatalf("PublishedForms: %v", err)
	}
	if len(lao) != 2 || lao[0].Version != 1 || lao[1].Version != 2 || lao[0].Programme != "LAO" {
		t.Fatalf("PublishedForms(LAO) = %+v", lao)
	}
	var m map[string]any
	if err := json.Unmarshal(lao[0].Def, &m); err != nil || m["title"] != "Visit" {
		t.Errorf("stored definition = %s (%v), want the published one", lao[0].Def, err)
	}
	all, err := s.PublishedForms(ctx, "")
	if err != nil || len(all) != 3 || all[0].Programme != "KHM" {
		t.Errorf("PublishedForms(\"\") = %+v, %v; want 3 with KHM first", all, err)
	}
}

// rev builds a sealed revision of record id on parents.
func rev(t *testing.T, programme, id string, parents []string, deleted bool, data map[string]any) *record.Revision {
	t.Helper()
	r, err := record.Next(id, parents, "casualty", 1, deleted, data, record.Meta{
		Programme: programme, DeviceID: "dev-a", User: "tester", SavedAt: t0})
	if err != nil {
		t.Fatalf("record.Next: %v", err)
	}
	return r
}

func apply(t *testing.T, s hub.Store, programme string, revs ...*record.Revision) []string {
	t.Helper()
	res, err := s.Apply(context.Background(), programme, revs)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(res) != len(revs) {
		t.Fatalf("Apply returned %d results for %d revisions", len(res), len(revs))
	}
	out := make([]string, len(res))
	for i, r := range res {
		out[i] = r.Status
		if (r.Status == protocol.StatusRejected) != (r.Err != nil) {
			t.Errorf("result %d: status %s with error %v", i, r.Status, r.Err)
		}
	}
	return out
}

// pullAll pages through programme with limit and returns the revisions.
func pullAll(t *testing.T, s hub.Store, programme, cursor string, limit int) ([]*record.Revision, string) {
	t.Helper()
	var out []*record.Revision
	for range 100000 {
		p, err := s.Pull(context.Background(), programme, cursor, limit, noBudget)
		if err != nil {
			t.Fatalf("Pull(%q): %v", cursor, err)
		}
		if len(p.Revisions) > limit {
			t.Fatalf("Pull(limit %d) returned %d", limit, len(p.Revisions))
		}
		for _, raw := range p.Revisions {
			r := new(record.Revision)
			if err := json.Unmarshal(raw, r); err != nil {
				t.Fatalf("stored revision %s: %v", raw, err)
			}
			out = append(out, r)
		}
		if len(p.Revisions) == 0 && p.Next != cursor {
			t.Fatalf("empty page moved the cursor from %q to %q", cursor, p.Next)
		}
		cursor = p.Next
		if !p.More {
			return out, cursor
		}
	}
	t.Fatal("pull never ended")
	return nil, ""
}

func revsOf(rs []*record.Revision) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Rev
	}
	return out
}

func testApplyStatuses(t *testing.T, s hub.Store) {
	id := record.NewID()
	r1 := rev(t, "LAO", id, nil, false, map[string]any{"sex": "female", "age": 30.0})
	if got := apply(t, s, "LAO", r1); got[0] != protocol.StatusApplied {
		t.Fatalf("first revision: %s", got[0])
	}
	if got := apply(t, s, "LAO", r1); got[0] != protocol.StatusDuplicate {
		t.Errorf("re-send: %s, want duplicate", got[0])
	}
	// Two edits on r1 from two laptops: the second is a conflict.
	a := rev(t, "LAO", id, []string{r1.Rev}, false, map[string]any{"sex": "female", "age": 31.0})
	b := rev(t, "LAO", id, []string{r1.Rev}, false, map[string]any{"sex": "female", "age": 32.0})
	if got := apply(t, s, "LAO", a); got[0] != protocol.StatusApplied {
		t.Errorf("edit a: %s", got[0])
	}
	if got := apply(t, s, "LAO", b, b); !slices.Equal(got, []string{protocol.StatusConflict, protocol.StatusDuplicate}) {
		t.Errorf("edit b twice in one batch: %v, want conflict then duplicate", got)
	}
	// A deletion on one side leaves one live leaf: no conflict.
	d := rev(t, "LAO", id, []string{a.Rev}, true, a.Data)
	if got := apply(t, s, "LAO", d); got[0] != protocol.StatusApplied {
		t.Errorf("deletion of leaf a: %s, want applied", got[0])
	}
	// A merge of every leaf resolves.
	m := rev(t, "LAO", id, []string{b.Rev, d.Rev}, false, map[string]any{"sex": "female", "age": 32.0})
	if got := apply(t, s, "LAO", m); got[0] != protocol.StatusApplied {
		t.Errorf("merge: %s", got[0])
	}
	// An unknown parent is rejected and nothing is stored.
	orphan := rev(t, "LAO", id, []string{"7-0123456789abcdef0123456789abcdef"}, false, nil)
	res, err := s.Apply(context.Background(), "LAO", []*record.Revision{orphan})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if res[0].Status != protocol.StatusRejected || !errors.Is(res[0].Err, record.ErrMissingParent) {
		t.Errorf("orphan: %+v, want rejected with ErrMissingParent", res[0])
	}
	got, _ := pullAll(t, s, "LAO", "", 500)
	want := []string{r1.Rev, a.Rev, b.Rev, d.Rev, m.Rev}
	if !slices.Equal(revsOf(got), want) {
		t.Errorf("pulled %v, want %v in commit order", revsOf(got), want)
	}
	// Stored revisions keep their envelope and data.
	if g := got[0]; g.Programme != "LAO" || g.User != "tester" || !g.SavedAt.Equal(t0) || g.Data["age"] != 30.0 ||
		g.RecordID != id || g.FormID != "casualty" || g.FormVersion != 1 {
		t.Errorf("stored revision lost content: %+v", g)
	}
	if err := got[3].Verify(); err != nil || !got[3].Deleted {
		t.Errorf("stored deletion does not verify: %v (deleted %v)", err, got[3].Deleted)
	}
}

func testParentInSameBatch(t *testing.T, s hub.Store) {
	id := record.NewID()
	r1 := rev(t, "LAO", id, nil, false, map[string]any{"n": 1.0})
	r2 := rev(t, "LAO", id, []string{r1.Rev}, false, map[string]any{"n": 2.0})
	r3 := rev(t, "LAO", id, []string{r2.Rev}, false, map[string]any{"n": 3.0})
	// Child before parent: the child is rejected, the parent applied.
	if got := apply(t, s, "LAO", r2, r1); !slices.Equal(got, []string{protocol.StatusRejected, protocol.StatusApplied}) {
		t.Errorf("child first: %v", got)
	}
	if got := apply(t, s, "LAO", r2, r3); !slices.Equal(got, []string{protocol.StatusApplied, protocol.StatusApplied}) {
		t.Errorf("parent then child: %v", got)
	}
}

func testForeignRecord(t *testing.T, s hub.Store) {
	id := record.NewID()
	r1 := rev(t, "LAO", id, nil, false, map[string]any{"n": 1.0})
	apply(t, s, "LAO", r1)
	// KHM pushes LAO's revision and an edit of LAO's record: both rejected.
	edit := rev(t, "KHM", id, []string{r1.Rev}, false, map[string]any{"n": 2.0})
	res, err := s.Apply(context.Background(), "KHM", []*record.Revision{r1, edit})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for i, r := range res {
		if r.Status != protocol.StatusRejected || !errors.Is(r.Err, hub.ErrForeignRecord) {
			t.Errorf("result %d: %+v, want rejected with ErrForeignRecord", i, r)
		}
	}
	// A revision that changes the record's form is rejected too.
	other, err := record.Next(id, []string{r1.Rev}, "hazard_area", 1, false, nil, record.Meta{Programme: "LAO"})
	if err != nil {
		t.Fatal(err)
	}
	res, err = s.Apply(context.Background(), "LAO", []*record.Revision{other})
	if err != nil || res[0].Status != protocol.StatusRejected || !errors.Is(res[0].Err, hub.ErrForeignRecord) {
		t.Errorf("form change: %+v, %v; want rejected", res, err)
	}
	if got, _ := pullAll(t, s, "KHM", "", 10); len(got) != 0 {
		t.Errorf("KHM sees %d revisions, want none", len(got))
	}
	if got, _ := pullAll(t, s, "LAO", "", 10); !slices.Equal(revsOf(got), []string{r1.Rev}) {
		t.Errorf("LAO sees %v, want only %s", revsOf(got), r1.Rev)
	}
}

func testPullPaging(t *testing.T, s hub.Store) {
	var want []string
	for b := range 5 {
		var batch []*record.Revision
		for i := range 7 {
			r := rev(t, "LAO", record.NewID(), nil, false, map[string]any{"b": float64(b), "i": float64(i)})
			batch = append(batch, r)
			want = append(want, r.Rev)
		}
		apply(t, s, "LAO", batch...)
	}
	for _, limit := range []int{1, 3, 7, 34, 35, 36, 1000} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			got, next := pullAll(t, s, "LAO", "", limit)
			if !slices.Equal(revsOf(got), want) {
				t.Errorf("limit %d: pulled %d revisions, want %d in order", limit, len(got), len(want))
			}
			if more, _ := pullAll(t, s, "LAO", next, limit); len(more) != 0 {
				t.Errorf("pull after the end returned %d", len(more))
			}
		})
	}
	// Resuming from a mid-way cursor continues exactly after it.
	p, err := s.Pull(context.Background(), "LAO", "", 10, noBudget)
	if err != nil || !p.More || len(p.Revisions) != 10 {
		t.Fatalf("first page: %d revisions, more %v, %v", len(p.Revisions), p.More, err)
	}
	rest, _ := pullAll(t, s, "LAO", p.Next, 10)
	if !slices.Equal(revsOf(rest), want[10:]) {
		t.Errorf("resumed pull returned %d, want %d", len(rest), len(want)-10)
	}
	// An exact final page says no more.
	p, err = s.Pull(context.Background(), "LAO", "", len(want), noBudget)
	if err != nil || p.More || len(p.Revisions) != len(want) {
		t.Errorf("exact page: %d revisions, more %v, %v", len(p.Revisions), p.More, err)
	}
}

func testPullBadCursor(t *testing.T, s hub.Store) {
	ctx := context.Background()
	r1 := rev(t, "LAO", record.NewID(), nil, false, map[string]any{"n": 1.0})
	r2 := rev(t, "LAO", record.NewID(), nil, false, map[string]any{"n": 2.0})
	apply(t, s, "LAO", r1, r2)
	p, err := s.Pull(ctx, "LAO", "", 1, noBudget)
	if err != nil || len(p.Revisions) != 1 {
		t.Fatalf("first page: %d revisions, %v", len(p.Revisions), err)
	}
	issued := p.Next
	other := rev(t, "LAO", record.NewID(), nil, false, map[string]any{"n": 3.0})
	for _, c := range []struct{ name, cursor string }{
		{"not a number", "abc"},
		{"negative", "-1"},
		{"zero", "0"},
		{"too long", "99999999999999999999999"},
		{"space", " 1"},
		{"leading zero", "01"},
		{"bare sequence number", "1"},
		{"bad rev", "1.5"},
		{"never issued: beyond the last revision", (hub.Cursor{Seq: 3, Rev: other.Rev}).String()},
		{"far beyond", (hub.Cursor{Seq: 999999, Rev: other.Rev}).String()},
		// What a laptop holds after the hub was restored from a backup and
		// number 1 was handed out again, or after it pulled from another hub.
		{"another history", (hub.Cursor{Seq: 1, Rev: other.Rev}).String()},
		{"trailing character", issued + "x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.Pull(ctx, "LAO", c.cursor, 10, noBudget); !errors.Is(err, hub.ErrBadCursor) {
				t.Errorf("Pull(%q) = %v, want ErrBadCursor", c.cursor, err)
			}
		})
	}
	if _, err := s.Pull(ctx, "KHM", issued, 10, noBudget); !errors.Is(err, hub.ErrBadCursor) {
		t.Errorf("Pull(KHM, LAO's cursor %q) = %v, want ErrBadCursor", issued, err)
	}
	// The issued cursor still works, and so does the one at the end.
	p, err = s.Pull(ctx, "LAO", issued, 10, noBudget)
	if err != nil || !slices.Equal(revsOf(decode(t, p.Revisions)), []string{r2.Rev}) || p.More {
		t.Fatalf("Pull(%q) = %d revisions, more %v, %v; want r2 only", issued, len(p.Revisions), p.More, err)
	}
	end := p.Next
	p, err = s.Pull(ctx, "LAO", end, 10, noBudget)
	if err != nil || len(p.Revisions) != 0 || p.Next != end {
		t.Errorf("Pull(end %q) = %d revisions, next %q, %v; want none and the same cursor", end, len(p.Revisions), p.Next, err)
	}
}

// testPullByteBudget checks that a page stops before its revisions pass
// the byte budget, yet holds one revision however large.
func testPullByteBudget(t *testing.T, s hub.Store) {
	ctx := context.Background()
	var want []string
	for i := range 6 {
		big := strings.Repeat(string(rune('a'+i)), 1000*(i%3+1)) // 1,000 to 3,000 bytes of data
		r := rev(t, "LAO", record.NewID(), nil, false, map[string]any{"text": big})
		apply(t, s, "LAO", r)
		want = append(want, r.Rev)
	}
	for _, budget := range []int{1, 2500, 4000, 7000, 1 << 20} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			var got []string
			cursor := ""
			for range 100 {
				p, err := s.Pull(ctx, "LAO", cursor, 1000, budget)
				if err != nil {
					t.Fatalf("Pull: %v", err)
				}
				size := 0
				for _, raw := range p.Revisions {
					size += len(raw)
				}
				if len(p.Revisions) == 0 || len(p.Revisions) > 1 && size > budget {
					t.Fatalf("page of %d revisions, %d bytes, over the budget of %d", len(p.Revisions), size, budget)
				}
				got = append(got, revsOf(decode(t, p.Revisions))...)
				if p.More != (len(got) < len(want)) {
					t.Fatalf("more = %v after %d of %d revisions", p.More, len(got), len(want))
				}
				cursor = p.Next
				if !p.More {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("pulled %d revisions, want all %d in order", len(got), len(want))
			}
		})
	}
	// A page that fills its budget exactly is not cut short.
	p, err := s.Pull(ctx, "LAO", "", 1000, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	exact := len(p.Revisions[0]) + len(p.Revisions[1])
	p, err = s.Pull(ctx, "LAO", "", 1000, exact)
	if err != nil || len(p.Revisions) != 2 || !p.More {
		t.Errorf("budget of exactly two revisions: %d revisions, more %v, %v; want 2 and more", len(p.Revisions), p.More, err)
	}
}

func decode(t *testing.T, raws []json.RawMessage) []*record.Revision {
	t.Helper()
	out := make([]*record.Revision, len(raws))
	for i, raw := range raws {
		out[i] = new(record.Revision)
		if err := json.Unmarshal(raw, out[i]); err != nil {
			t.Fatalf("stored revision: %v", err)
		}
	}
	return out
}

func testProgrammesApart(t *testing.T, s hub.Store) {
	lao := rev(t, "LAO", record.NewID(), nil, false, map[string]any{"p": "LAO"})
	khm := rev(t, "KHM", record.NewID(), nil, false, map[string]any{"p": "KHM"})
	apply(t, s, "LAO", lao)
	apply(t, s, "KHM", khm)
	for p, want := range map[string]string{"LAO": lao.Rev, "KHM": khm.Rev} {
		got, _ := pullAll(t, s, p, "", 10)
		if !slices.Equal(revsOf(got), []string{want}) {
			t.Errorf("%s pulled %v, want [%s]", p, revsOf(got), want)
		}
	}
	// A programme whose name is a prefix of another's sees nothing of it.
	if got, _ := pullAll(t, s, "LA", "", 10); len(got) != 0 {
		t.Errorf("programme LA sees %d revisions of LAO", len(got))
	}
}

// RunShared checks two stores on one shared back end (two hub processes
// on one database): writers push through both while a puller pages through
// each in turn, and it must see every revision exactly once, in an order
// both stores agree on.
func RunShared(t *testing.T, a, b hub.Store) {
	t.Helper()
	t.Run("ConcurrentApplyAndPullAcrossStores", func(t *testing.T) { concurrent(t, []hub.Store{a, b}) })
	t.Run("DuplicateAcrossStores", func(t *testing.T) {
		r := rev(t, "LAO", record.NewID(), nil, false, map[string]any{"n": 1.0})
		if got := apply(t, a, "LAO", r); got[0] != protocol.StatusApplied {
			t.Errorf("via a: %s", got[0])
		}
		if got := apply(t, b, "LAO", r); got[0] != protocol.StatusDuplicate {
			t.Errorf("via b: %s, want duplicate", got[0])
		}
		pa, _ := pullAll(t, a, "LAO", "", 1000)
		pb, _ := pullAll(t, b, "LAO", "", 1000)
		if !slices.Equal(revsOf(pa), revsOf(pb)) {
			t.Errorf("the stores disagree on commit order")
		}
	})
}

// testConcurrent applies batches from several goroutines while a puller
// pages through: it must see every applied revision exactly once.
func testConcurrent(t *testing.T, s hub.Store) { concurrent(t, []hub.Store{s}) }

func concurrent(t *testing.T, stores []hub.Store) {
	const writers, batches, perBatch = 4, 10, 20
	ctx := context.Background()
	var wg sync.WaitGroup
	applied := make(chan string, writers*batches*perBatch)
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				var batch []*record.Revision
				for i := range perBatch {
					r, err := record.NewRevision(record.NewID(), "casualty", 1,
						map[string]any{"w": float64(w), "b": float64(b), "i": float64(i)}, record.Meta{Programme: "LAO"})
					if err != nil {
						errs <- err
						return
					}
					batch = append(batch, r)
				}
				res, err := stores[(w+b)%len(stores)].Apply(ctx, "LAO", batch)
				if err != nil {
					errs <- err
					return
				}
				for i, r := range res {
					if r.Status != protocol.StatusApplied {
						errs <- fmt.Errorf("status %s: %v", r.Status, r.Err)
						return
					}
					applied <- batch[i].Rev
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	seen := make(map[string]int)
	cursor := ""
	finished := false
	for round := 0; ; round++ {
		s := stores[round%len(stores)]
		select {
		case <-done:
			finished = true
		default:
		}
		p, err := s.Pull(ctx, "LAO", cursor, 7, noBudget)
		if err != nil {
			t.Fatalf("Pull: %v", err)
		}
		for _, raw := range p.Revisions {
			var r record.Revision
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatal(err)
			}
			seen[r.Rev]++
		}
		cursor = p.Next
		if finished && !p.More {
			break
		}
	}
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	close(applied)
	n := 0
	for rev := range applied {
		n++
		if seen[rev] != 1 {
			t.Errorf("%s seen %d times", rev, seen[rev])
		}
	}
	if n != writers*batches*perBatch || len(seen) != n {
		t.Errorf("applied %d, puller saw %d distinct", n, len(seen))
	}
}

// testRaceForRecord: two programmes create the same record id at the same
// moment (only a forged id can do that): one owns the record, the other is
// rejected, neither gets an error, and each sees only its own revision.
func testRaceForRecord(t *testing.T, s hub.Store) {
	ctx := context.Background()
	want := map[string][]string{}
	for range 20 {
		id := record.NewID()
		var wg sync.WaitGroup
		res := make(map[string]hub.Result)
		var mu sync.Mutex
		revs := map[string]*record.Revision{}
		for _, p := range []string{"LAO", "KHM"} {
			revs[p] = rev(t, p, id, nil, false, map[string]any{"p": p})
		}
		for p, r := range revs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := s.Apply(ctx, p, []*record.Revision{r})
				if err != nil {
					t.Errorf("Apply(%s): %v", p, err)
					return
				}
				mu.Lock()
				res[p] = out[0]
				mu.Unlock()
			}()
		}
		wg.Wait()
		applied := 0
		for p, r := range res {
			switch {
			case r.Status == protocol.StatusApplied:
				applied++
				want[p] = append(want[p], revs[p].Rev)
			case r.Status != protocol.StatusRejected || !errors.Is(r.Err, hub.ErrForeignRecord):
				t.Errorf("%s: %+v, want applied or rejected as foreign", p, r)
			}
		}
		if applied != 1 {
			t.Errorf("record %s: %d programmes applied, want 1", id, applied)
		}
	}
	for _, p := range []string{"LAO", "KHM"} {
		got, _ := pullAll(t, s, p, "", 100)
		if !slices.Equal(revsOf(got), want[p]) {
			t.Errorf("%s sees %d revisions, want its own %d", p, len(got), len(want[p]))
		}
	}
}

// testForeignDevice checks that a new revision whose device_id is not the
// pushing device's is rejected, while a stored one stays a duplicate.
func testForeignDevice(t *testing.T, s hub.Store) {
	ctx := context.Background()
	own := rev(t, "LAO", record.NewID(), nil, false, map[string]any{"n": 1.0}) // made on dev-a
	anon, err := record.NewRevision(record.NewID(), "casualty", 1, nil, record.Meta{Programme: "LAO"})
	if err != nil {
		t.Fatal(err)
	}
	forged := rev(t, "LAO", record.NewID(), nil, false, map[string]any{"n": 2.0}) // claims dev-a
	child := rev(t, "LAO", own.RecordID, []string{own.Rev}, false, map[string]any{"n": 3.0})
	tests := []struct {
		name, device string
		rev          *record.Revision
		status       string
	}{
		{"own revision", "dev-a", own, protocol.StatusApplied},
		{"stored revision re-sent by another device", "dev-b", own, protocol.StatusDuplicate},
		{"new revision of another device", "dev-b", forged, protocol.StatusRejected},
		{"edit claiming another device", "dev-b", child, protocol.StatusRejected},
		{"no device_id", "dev-b", anon, protocol.StatusApplied},
		{"no pushing device given", "", forged, protocol.StatusApplied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := s.ApplyFrom(ctx, "LAO", tc.device, []*record.Revision{tc.rev})
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if res[0].Status != tc.status {
				t.Errorf("status %s (%v), want %s", res[0].Status, res[0].Err, tc.status)
			}
			if tc.status == protocol.StatusRejected && !errors.Is(res[0].Err, hub.ErrForeignDevice) {
				t.Errorf("reason %v, want ErrForeignDevice", res[0].Err)
			}
		})
	}
	got, _ := pullAll(t, s, "LAO", "", 100)
	if want := []string{own.Rev, anon.Rev, forged.Rev}; !slices.Equal(revsOf(got), want) {
		t.Errorf("stored %v, want %v", revsOf(got), want)
	}
}
