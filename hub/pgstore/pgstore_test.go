package pgstore_test

import (
	"context"
	"testing"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/hub/internal/pgtest"
	"github.com/ccmcollect/ccmcollect/hub/pgstore"
	"github.com/ccmcollect/ccmcollect/hub/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hub.Store {
		s, err := pgstore.Open(context.Background(), pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestTwoStoresOneDatabase runs the suite's concurrency rules across two
// stores (two connection pools, as two hub processes have) on one database.
func TestTwoStoresOneDatabase(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a, err := pgstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := pgstore.Open(context.Background(), url) // migrations already applied: a no-op
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	storetest.RunShared(t, a, b)
}
