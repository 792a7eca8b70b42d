package badgerstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/hub/badgerstore"
	"github.com/ccmcollect/ccmcollect/hub/storetest"
	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hub.Store {
		s, err := badgerstore.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsSequence(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := badgerstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r1, _ := record.NewRevision(record.NewID(), "casualty", 1, nil, record.Meta{Programme: "LAO"})
	if _, err := s.Apply(ctx, "LAO", []*record.Revision{r1}); err != nil {
		t.Fatal(err)
	}
	if _, err := badgerstore.Open(dir); !errors.Is(err, hub.ErrLocked) {
		t.Errorf("second Open of a held directory = %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = badgerstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r2, _ := record.NewRevision(record.NewID(), "casualty", 1, nil, record.Meta{Programme: "LAO"})
	res, err := s.Apply(ctx, "LAO", []*record.Revision{r1, r2})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != protocol.StatusDuplicate || res[1].Status != protocol.StatusApplied {
		t.Errorf("after reopen: %+v", res)
	}
	p, err := s.Pull(ctx, "LAO", "", 10, 1<<20)
	if want := (hub.Cursor{Seq: 2, Rev: r2.Rev}).String(); err != nil || len(p.Revisions) != 2 || p.Next != want {
		t.Errorf("pull after reopen: %d revisions, next %q, %v; want 2 and next %q", len(p.Revisions), p.Next, err, want)
	}
}
