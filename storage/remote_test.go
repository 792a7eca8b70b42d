package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ccmcollect/ccmcollect/record"
)

// TestApplyRemoteMatchesTree applies random revision trees in random page
// sizes, with repeats, and checks leaves, winner and conflict against
// record.Tree, the reference model, and the counters against a full list.
func TestApplyRemoteMatchesTree(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	rng := rand.New(rand.NewPCG(1, 2))
	for rec := range 20 {
		t.Run(fmt.Sprint(rec), func(t *testing.T) {
			id := record.NewID()
			tree := record.NewTree(id)
			var all []*record.Revision
			for i := range 2 + rng.IntN(12) {
				var parents []string
				if len(all) > 0 && rng.IntN(5) > 0 {
					// one or two random earlier revisions as parents
					for range 1 + rng.IntN(2) {
						p := all[rng.IntN(len(all))].Rev
						if !slices.Contains(parents, p) {
							parents = append(parents, p)
						}
					}
				}
				if len(all) == 0 {
					parents = nil
				}
				deleted := len(parents) > 0 && rng.IntN(6) == 0
				data := casualty("P", fmt.Sprint(i))
				if deleted {
					data = nil
				}
				r := remoteRev(t, id, parents, deleted, data)
				all = append(all, r)
				if _, err := tree.Add(r); err != nil {
					t.Fatal(err)
				}
			}
			for start := 0; start < len(all); {
				n := 1 + rng.IntN(4)
				end := min(start+n, len(all))
				// Re-send part of the previous page now and then.
				from := start
				if start > 0 && rng.IntN(3) == 0 {
					from = start - 1
				}
				if _, err := s.ApplyRemote(ctx, all[from:end], fmt.Sprint(end)); err != nil {
					t.Fatal(err)
				}
				start = end
			}
			got, err := s.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got.Leaves) != fmt.Sprint(tree.Leaves()) {
				t.Fatalf("leaves %v, tree %v", got.Leaves, tree.Leaves())
			}
			if got.Current.Rev != tree.Winner().Rev || got.Conflicted != tree.Conflicted() {
				t.Fatalf("winner %s conflicted %v, tree %s %v", got.Current.Rev, got.Conflicted, tree.Winner().Rev, tree.Conflicted())
			}
			if h, _ := s.History(ctx, id); len(h) != tree.Len() {
				t.Fatalf("history %d, tree %d", len(h), tree.Len())
			}
		})
	}
	checkCounts(t, s)
}

// checkCounts compares the maintained counters with a count over the list.
func checkCounts(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	want := map[string]map[Status]int{}
	q := Query{Limit: 1000}
	for {
		p, err := s.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			if want[r.FormID] == nil {
				want[r.FormID] = map[Status]int{}
			}
			want[r.FormID][r.Status]++
		}
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	got, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("counters %v, list %v", got, want)
	}
}
