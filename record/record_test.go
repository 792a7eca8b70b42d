package record

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var meta = Meta{Programme: "LAO", DeviceID: "dev-1", User: "field1", SavedAt: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}

func mustNext(t testing.TB, id string, parents []string, deleted bool, data map[string]any) *Revision {
	t.Helper()
	r, err := Next(id, parents, "casualty", 1, deleted, data, meta)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return r
}

// The rev is computed here from a hand-written canonical document, not by
// Canonical, so the two implementations check each other.
func TestRevMatchesHandComputedHash(t *testing.T) {
	r := mustNext(t, "r1", nil, false, map[string]any{"sex": "female", "age": 34.0, "va_needs": []any{"medical"}})
	doc := `{"data":{"age":34,"sex":"female","va_needs":["medical"]},"deleted":false,"form_id":"casualty","form_version":1,"parents":[],"record_id":"r1"}`
	sum := sha256.Sum256([]byte(doc))
	want := "1-" + hex.EncodeToString(sum[:16])
	if r.Rev != want {
		t.Fatalf("rev = %s, want %s", r.Rev, want)
	}
	child := mustNext(t, "r1", []string{r.Rev}, true, map[string]any{})
	doc = `{"data":{},"deleted":true,"form_id":"casualty","form_version":1,"parents":["` + r.Rev + `"],"record_id":"r1"}`
	sum = sha256.Sum256([]byte(doc))
	if want := "2-" + hex.EncodeToString(sum[:16]); child.Rev != want {
		t.Fatalf("child rev = %s, want %s", child.Rev, want)
	}
}

func TestSameContentSameRev(t *testing.T) {
	base := mustNext(t, "r1", nil, false, map[string]any{"sex": "male", "age": 40})
	// Metadata is not part of the rev, numbers compare by value, and the
	// order of parents and of map keys does not matter.
	other, err := Next("r1", nil, "casualty", 1, false, map[string]any{"age": json.Number("40.0"), "sex": "male"},
		Meta{Programme: "KHM", DeviceID: "dev-2", User: "x", SavedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if base.Rev != other.Rev {
		t.Fatalf("same content, different revs: %s vs %s", base.Rev, other.Rev)
	}
	p1 := mustNext(t, "r1", []string{base.Rev}, false, map[string]any{"a": 1})
	p2 := mustNext(t, "r1", []string{base.Rev}, false, map[string]any{"a": 2})
	m1 := mustNext(t, "r1", []string{p1.Rev, p2.Rev}, false, nil)
	m2 := mustNext(t, "r1", []string{p2.Rev, p1.Rev}, false, nil)
	if m1.Rev != m2.Rev {
		t.Fatalf("parent order changed the rev: %s vs %s", m1.Rev, m2.Rev)
	}

	// Every hashed part changes the rev.
	variants := map[string]func(r *Revision){
		"record_id":    func(r *Revision) { r.RecordID = "r2" },
		"form_id":      func(r *Revision) { r.FormID = "hazard_area" },
		"form_version": func(r *Revision) { r.FormVersion = 2 },
		"deleted":      func(r *Revision) { r.Deleted = true },
		"data":         func(r *Revision) { r.Data = map[string]any{"sex": "male", "age": 41} },
		"parents":      func(r *Revision) { r.Parents = []string{base.Rev} },
	}
	for name, change := range variants {
		t.Run(name, func(t *testing.T) {
			c := base.Clone()
			change(c)
			if err := c.Seal(); err != nil {
				t.Fatal(err)
			}
			if c.Rev == base.Rev {
				t.Fatalf("changing %s kept rev %s", name, c.Rev)
			}
		})
	}
}

func TestParseRev(t *testing.T) {
	h := "0123456789abcdef0123456789abcdef"
	tests := []struct {
		in      string
		gen     int
		wantErr bool
	}{
		{"1-" + h, 1, false},
		{"42-" + h, 42, false},
		{"0-" + h, 0, true},
		{"01-" + h, 0, true},
		{"-1-" + h, 0, true},
		{"+1-" + h, 0, true},
		{"1-" + h[:31], 0, true},
		{"1-" + h + "0", 0, true},
		{"1-0123456789ABCDEF0123456789abcdef", 0, true},
		{"1" + h, 0, true},
		{"", 0, true},
		{"x-" + h, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			gen, _, err := ParseRev(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrBadRev) {
				t.Fatalf("err = %v, want ErrBadRev", err)
			}
			if gen != tt.gen {
				t.Fatalf("gen = %d, want %d", gen, tt.gen)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	good := mustNext(t, "r1", nil, false, map[string]any{"sex": "female"})
	tests := []struct {
		name   string
		change func(r *Revision)
		want   error
	}{
		{"good", func(*Revision) {}, nil},
		{"metadata change is fine", func(r *Revision) { r.User = "someone else"; r.Programme = "KHM" }, nil},
		{"data tampered", func(r *Revision) { r.Data["sex"] = "male" }, ErrRevMismatch},
		{"gen wrong", func(r *Revision) { r.Rev = "2" + r.Rev[1:] }, ErrRevMismatch},
		{"malformed rev", func(r *Revision) { r.Rev = "abc" }, ErrBadRev},
		{"no record id", func(r *Revision) { r.RecordID = "" }, ErrBadRevision},
		{"no form", func(r *Revision) { r.FormID = "" }, ErrBadRevision},
		{"form version 0", func(r *Revision) { r.FormVersion = 0 }, ErrBadRevision},
		{"duplicate parent", func(r *Revision) { r.Parents = []string{good.Rev, good.Rev} }, ErrBadRevision},
		{"malformed parent", func(r *Revision) { r.Parents = []string{"nope"} }, ErrBadRevision},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good.Clone()
			tt.change(r)
			err := r.Verify()
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestWinnerRule(t *testing.T) {
	h := func(c byte) string { return string(slices.Repeat([]byte{c}, 32)) }
	tests := []struct {
		name   string
		leaves []Leaf
		want   string
		confl  bool
	}{
		{"single", []Leaf{{Rev: "1-" + h('a')}}, "1-" + h('a'), false},
		{"higher gen wins", []Leaf{{Rev: "3-" + h('a')}, {Rev: "2-" + h('f')}}, "3-" + h('a'), true},
		{"gen compares as a number", []Leaf{{Rev: "10-" + h('a')}, {Rev: "9-" + h('f')}}, "10-" + h('a'), true},
		{"then larger rev string", []Leaf{{Rev: "2-" + h('b')}, {Rev: "2-" + h('c')}}, "2-" + h('c'), true},
		{"live beats deleted", []Leaf{{Rev: "5-" + h('f'), Deleted: true}, {Rev: "2-" + h('a')}}, "2-" + h('a'), false},
		{"all deleted", []Leaf{{Rev: "5-" + h('a'), Deleted: true}, {Rev: "5-" + h('b'), Deleted: true}}, "5-" + h('b'), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i < 5; i++ {
				ls := slices.Clone(tt.leaves)
				rand.Shuffle(len(ls), func(a, b int) { ls[a], ls[b] = ls[b], ls[a] })
				w, ok := Winner(ls)
				if !ok || w.Rev != tt.want {
					t.Fatalf("Winner(%v) = %v, want %s", ls, w, tt.want)
				}
			}
			if got := Conflicted(tt.leaves); got != tt.confl {
				t.Fatalf("Conflicted = %v, want %v", got, tt.confl)
			}
		})
	}
	if _, ok := Winner(nil); ok {
		t.Fatal("Winner(nil) reported a winner")
	}
}

func TestTreeConflictAndMerge(t *testing.T) {
	tr := NewTree("r1")
	base := mustNext(t, "r1", nil, false, map[string]any{"age": 10})
	a := mustNext(t, "r1", []string{base.Rev}, false, map[string]any{"age": 11})
	b := mustNext(t, "r1", []string{base.Rev}, false, map[string]any{"age": 12})
	for _, r := range []*Revision{base, a, b} {
		if added, err := tr.Add(r); err != nil || !added {
			t.Fatalf("Add(%s) = %v, %v", r.Rev, added, err)
		}
	}
	if !tr.Conflicted() || len(tr.Leaves()) != 2 {
		t.Fatalf("two edits of one base: conflicted=%v leaves=%v", tr.Conflicted(), tr.Leaves())
	}
	// Re-adding is a no-op.
	if added, err := tr.Add(a); err != nil || added {
		t.Fatalf("re-Add = %v, %v; want false, nil", added, err)
	}
	merge := mustNext(t, "r1", LeafRevs(tr.Leaves()), false, map[string]any{"age": 12})
	if _, err := tr.Add(merge); err != nil {
		t.Fatal(err)
	}
	if tr.Conflicted() || tr.Winner().Rev != merge.Rev || len(tr.Leaves()) != 1 {
		t.Fatalf("after merge: conflicted=%v winner=%s leaves=%v", tr.Conflicted(), tr.Winner().Rev, tr.Leaves())
	}
	if merge.Gen() != 3 {
		t.Fatalf("merge gen = %d, want 3", merge.Gen())
	}
	// A deletion is a revision; a concurrent live edit beats it.
	del := mustNext(t, "r1", []string{merge.Rev}, true, merge.Data)
	edit := mustNext(t, "r1", []string{merge.Rev}, false, map[string]any{"age": 13})
	for _, r := range []*Revision{del, edit} {
		if _, err := tr.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if tr.Winner().Rev != edit.Rev || tr.Conflicted() {
		t.Fatalf("edit vs delete: winner=%s conflicted=%v", tr.Winner().Rev, tr.Conflicted())
	}
	if tr.Len() != 6 {
		t.Fatalf("tree keeps %d revisions, want all 6", tr.Len())
	}
}

func TestTreeRejects(t *testing.T) {
	tr := NewTree("r1")
	base := mustNext(t, "r1", nil, false, nil)
	orphan := mustNext(t, "r1", []string{base.Rev}, false, map[string]any{"x": 1})
	if _, err := tr.Add(orphan); !errors.Is(err, ErrMissingParent) {
		t.Fatalf("orphan: %v, want ErrMissingParent", err)
	}
	if _, err := tr.Add(mustNext(t, "r2", nil, false, nil)); !errors.Is(err, ErrBadRevision) {
		t.Fatalf("other record: %v, want ErrBadRevision", err)
	}
	bad := base.Clone()
	bad.Data = map[string]any{"tampered": true}
	if _, err := tr.Add(bad); !errors.Is(err, ErrRevMismatch) {
		t.Fatalf("tampered: %v, want ErrRevMismatch", err)
	}
	if tr.Len() != 0 {
		t.Fatalf("rejected adds changed the tree: %d revisions", tr.Len())
	}
}

// TestWinnerIndependentOfArrivalOrder builds random revision histories with
// concurrent branches, deletions and merges, and checks that every arrival
// order that respects parents (the only orders a node can see) yields the
// same leaves, winner and conflict state — both for Tree and for a store
// that keeps only leaves with AddLeaf.
func TestWinnerIndependentOfArrivalOrder(t *testing.T) {
	for seed := uint64(0); seed < 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		revs := randomHistory(t, rng)
		var want *Tree
		for trial := 0; trial < 10; trial++ {
			order := randomTopoOrder(rng, revs)
			tr := NewTree("r")
			var leaves []Leaf
			for _, r := range order {
				if _, err := tr.Add(r); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				leaves = AddLeaf(leaves, r)
			}
			if !slices.Equal(leaves, tr.Leaves()) {
				t.Fatalf("seed %d: AddLeaf leaves %v, tree leaves %v", seed, leaves, tr.Leaves())
			}
			if want == nil {
				want = tr
				continue
			}
			if tr.Winner().Rev != want.Winner().Rev || tr.Conflicted() != want.Conflicted() || !slices.Equal(tr.Leaves(), want.Leaves()) {
				t.Fatalf("seed %d trial %d: order changed the outcome: winner %s vs %s", seed, trial, tr.Winner().Rev, want.Winner().Rev)
			}
		}
	}
}

func randomHistory(t *testing.T, rng *rand.Rand) []*Revision {
	t.Helper()
	revs := []*Revision{mustNext(t, "r", nil, false, map[string]any{"v": 0})}
	for i := 1; i < 2+rng.IntN(12); i++ {
		var parents []string
		if rng.IntN(5) == 0 && len(revs) > 2 {
			// A merge of two distinct earlier revisions.
			a, b := rng.IntN(len(revs)), rng.IntN(len(revs))
			if a == b {
				b = (a + 1) % len(revs)
			}
			parents = []string{revs[a].Rev, revs[b].Rev}
		} else {
			parents = []string{revs[rng.IntN(len(revs))].Rev}
		}
		revs = append(revs, mustNext(t, "r", parents, rng.IntN(6) == 0, map[string]any{"v": i}))
	}
	return revs
}

func randomTopoOrder(rng *rand.Rand, revs []*Revision) []*Revision {
	pending := slices.Clone(revs)
	rng.Shuffle(len(pending), func(i, j int) { pending[i], pending[j] = pending[j], pending[i] })
	seen := map[string]bool{}
	var out []*Revision
	for len(pending) > 0 {
		for i, r := range pending {
			ready := true
			for _, p := range r.Parents {
				ready = ready && seen[p]
			}
			if ready {
				out = append(out, r)
				seen[r.Rev] = true
				pending = slices.Delete(pending, i, i+1)
				break
			}
		}
	}
	return out
}

func TestCloneIsDeep(t *testing.T) {
	r := mustNext(t, "r1", nil, false, map[string]any{"sadd": map[string]any{"female": map[string]any{"0-17": 1}}, "m": []any{"a"}})
	c := r.Clone()
	c.Data["sadd"].(map[string]any)["female"].(map[string]any)["0-17"] = 9
	c.Data["m"].([]any)[0] = "b"
	if err := r.Verify(); err != nil {
		t.Fatalf("mutating a clone changed the original: %v", err)
	}
}

func TestNewID(t *testing.T) {
	a, b := NewID(), NewID()
	if a == b || len(a) != 36 || a[14] != '7' {
		t.Fatalf("NewID gave %q and %q; want distinct UUIDv7s", a, b)
	}
}
