package demo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/demo"
	"github.com/ccmcollect/ccmcollect/storage"
)

func TestFillStore(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Options{Dir: t.TempDir(), Passphrase: []byte("demo passphrase"), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, err := demo.Fill(ctx, st, 3, 60, now)
	if err != nil || n != 60 {
		t.Fatalf("Fill = %d, %v; want 60, nil", n, err)
	}
	counts, err := st.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, byStatus := range counts {
		for _, c := range byStatus {
			total += c
		}
	}
	if total != 60 {
		t.Fatalf("store counts %d records, want 60", total)
	}
}

func TestFillStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := demo.Fill(ctx, nil, 1, 10, now)
	if n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Fill = %d, %v; want 0, context.Canceled", n, err)
	}
}
