package storage

import (
	"context"
	"strings"
	"testing"

	"github.com/ccmcollect/ccmcollect/record"
)

// A pull page as large as the hub sends (8 MiB) does not fit one Badger
// transaction; it must still be applied whole, with its cursor, and a
// re-send of it must change nothing.
func TestApplyRemoteLargePage(t *testing.T) {
	if testing.Short() {
		t.Skip("writes an 8 MiB page")
	}
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	long := strings.Repeat("x", 4000)
	var page []*record.Revision
	for i := 0; i < 2000; i++ {
		id := record.NewID()
		r1 := remoteRev(t, id, nil, false, casualty("Big", long))
		page = append(page, r1)
		if i%4 == 0 { // some records also have a child in the same page
			page = append(page, remoteRev(t, id, []string{r1.Rev}, false, casualty("Big", long+"!")))
		}
	}
	st, err := s.ApplyRemote(ctx, page, "c-big")
	if err != nil {
		t.Fatalf("applying a %d-revision page: %v", len(page), err)
	}
	if st.Applied != len(page) || st.Duplicate != 0 {
		t.Fatalf("stats %+v, want %d applied", st, len(page))
	}
	if cur, err := s.PullCursor(ctx); err != nil || cur != "c-big" {
		t.Fatalf("cursor %q, %v", cur, err)
	}
	counts, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := counts["casualty"][StatusSynced]; n != 2000 {
		t.Fatalf("%d synced casualty records, want 2000", n)
	}
	st, err = s.ApplyRemote(ctx, page, "c-big")
	if err != nil || st.Duplicate != len(page) || st.Applied != 0 {
		t.Fatalf("re-applying the page: %+v, %v", st, err)
	}
}
