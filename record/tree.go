package record

import (
	"fmt"
	"slices"
)

// Leaf is what the winner rule needs to know of a leaf revision.
type Leaf struct {
	Rev     string `json:"rev"`
	Deleted bool   `json:"deleted"`
}

// Better reports whether leaf a wins over leaf b: a live leaf beats a deleted
// one, then the higher generation, then the larger rev string.
func Better(a, b Leaf) bool {
	if a.Deleted != b.Deleted {
		return !a.Deleted
	}
	ga, gb := Gen(a.Rev), Gen(b.Rev)
	if ga != gb {
		return ga > gb
	}
	return a.Rev > b.Rev
}

// Winner returns the winning leaf and false if leaves is empty.
func Winner(leaves []Leaf) (Leaf, bool) {
	if len(leaves) == 0 {
		return Leaf{}, false
	}
	w := leaves[0]
	for _, l := range leaves[1:] {
		if Better(l, w) {
			w = l
		}
	}
	return w, true
}

// Conflicted reports whether leaves hold two or more live leaves.
func Conflicted(leaves []Leaf) bool {
	live := 0
	for _, l := range leaves {
		if !l.Deleted {
			live++
		}
	}
	return live > 1
}

// AddLeaf returns the leaf set after adding r to a record whose leaves were
// leaves: r's parents stop being leaves and r becomes one. The result is
// sorted by rev and shares no memory with leaves. Callers must add a
// revision only after all its parents (Tree enforces that; stores that keep
// only leaves check parents themselves).
func AddLeaf(leaves []Leaf, r *Revision) []Leaf {
	out := make([]Leaf, 0, len(leaves)+1)
	for _, l := range leaves {
		if l.Rev == r.Rev || slices.Contains(r.Parents, l.Rev) {
			continue
		}
		out = append(out, l)
	}
	out = append(out, Leaf{Rev: r.Rev, Deleted: r.Deleted})
	slices.SortFunc(out, func(a, b Leaf) int {
		switch {
		case a.Rev < b.Rev:
			return -1
		case a.Rev > b.Rev:
			return 1
		}
		return 0
	})
	return out
}

// LeafRevs returns the revs of leaves, sorted: the parents a merge or an
// edit on top of every leaf must name.
func LeafRevs(leaves []Leaf) []string {
	out := make([]string, len(leaves))
	for i, l := range leaves {
		out[i] = l.Rev
	}
	slices.Sort(out)
	return out
}

// Tree is the full revision tree of one record, kept in memory. It is the
// reference implementation of the model: stores may keep less (only leaves),
// but must reach the same leaves and winner for the same revisions.
// A Tree is not safe for concurrent use.
type Tree struct {
	recordID string
	revs     map[string]*Revision
	leaves   []Leaf
}

// NewTree returns an empty tree for recordID.
func NewTree(recordID string) *Tree {
	return &Tree{recordID: recordID, revs: make(map[string]*Revision)}
}

// Add adds r to the tree. It reports false without error when r is already
// there (adding is idempotent). r must verify, belong to the tree's record
// and have every parent already in the tree.
func (t *Tree) Add(r *Revision) (added bool, err error) {
	if r.RecordID != t.recordID {
		return false, fmt.Errorf("%w: revision of %s added to tree of %s", ErrBadRevision, r.RecordID, t.recordID)
	}
	if _, ok := t.revs[r.Rev]; ok {
		return false, nil
	}
	if err := r.Verify(); err != nil {
		return false, err
	}
	for _, p := range r.Parents {
		if _, ok := t.revs[p]; !ok {
			return false, fmt.Errorf("%w: %s (parent of %s)", ErrMissingParent, p, r.Rev)
		}
	}
	t.revs[r.Rev] = r.Clone()
	t.leaves = AddLeaf(t.leaves, r)
	return true, nil
}

// Has reports whether rev is in the tree.
func (t *Tree) Has(rev string) bool { _, ok := t.revs[rev]; return ok }

// Get returns the revision rev, or nil.
func (t *Tree) Get(rev string) *Revision { return t.revs[rev] }

// Len returns the number of revisions in the tree.
func (t *Tree) Len() int { return len(t.revs) }

// Leaves returns the current leaves, sorted by rev.
func (t *Tree) Leaves() []Leaf { return slices.Clone(t.leaves) }

// Winner returns the winning revision, or nil for an empty tree.
func (t *Tree) Winner() *Revision {
	w, ok := Winner(t.leaves)
	if !ok {
		return nil
	}
	return t.revs[w.Rev]
}

// Conflicted reports whether the record has two or more live leaves.
func (t *Tree) Conflicted() bool { return Conflicted(t.leaves) }
