package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/ccmcollect/ccmcollect/record"
)

// Creator saves a validated new record; *storage.Store satisfies it.
type Creator interface {
	Create(ctx context.Context, formID string, data map[string]any) (*record.Revision, error)
}

// Fill saves n generated records (see Generate) into c, for the app's demo
// mode, and returns how many were saved. It stops at the first error or
// when ctx is done; the records saved until then stay.
func Fill(ctx context.Context, c Creator, seed int64, n int, now time.Time) (int, error) {
	saved := 0
	err := Generate(seed, n, now, func(formID string, data map[string]any) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := c.Create(ctx, formID, data); err != nil {
			return fmt.Errorf("saving a %s record: %w", formID, err)
		}
		saved++
		return nil
	})
	return saved, err
}
