package storage

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Cancelling an import (Ctrl-C) at any moment leaves either nothing or the
// whole import, never a part that a re-run would double.
func TestImportCancelledIsAllOrNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("imports several batches")
	}
	rows := make([]map[string]any, 2*importBatch+500)
	for i := range rows {
		rows[i] = casualty("Cancel", fmt.Sprint("v", i))
	}
	tests := []struct {
		name  string
		setup func(s *Store, cancel func())
	}{
		{"before the call", func(_ *Store, cancel func()) { cancel() }},
		{"between batches", func(s *Store, cancel func()) { s.afterImportBatch = cancel }},
		{"at some moment", func(_ *Store, cancel func()) { time.AfterFunc(20*time.Millisecond, cancel) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, t.TempDir())
			ctx, cancel := context.WithCancel(context.Background())
			tt.setup(s, cancel)
			n, err := s.Import(ctx, "casualty", rows)
			cancel()
			counts, cerr := s.Counts(context.Background())
			if cerr != nil {
				t.Fatal(cerr)
			}
			stored := counts["casualty"][StatusPending]
			switch {
			case err == nil && n == len(rows) && stored == len(rows):
			case err != nil && n == 0 && stored == 0:
			default:
				t.Fatalf("import cancelled %s: %d saved, %d stored, err %v; want all or nothing", tt.name, n, stored, err)
			}
		})
	}
}
