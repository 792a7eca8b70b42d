package reports_test

import (
	"context"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/demo"
	"github.com/ccmcollect/ccmcollect/record"
)

var testNow = time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)

// memSource is an in-memory Source: the current revision of each record,
// per form, in insertion order.
type memSource struct {
	byForm map[string][]*record.Revision
	all    []*record.Revision
}

func (m *memSource) EachCurrent(ctx context.Context, formID string, fn func(*record.Revision) error) error {
	list := m.all
	if formID != "" {
		list = m.byForm[formID]
	}
	for _, r := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (m *memSource) add(t testing.TB, formID string, data map[string]any) *record.Revision {
	t.Helper()
	rev, err := record.NewRevision(record.NewID(), formID, 1, data, record.Meta{Programme: "LAO", DeviceID: "dev-1", User: "tester", SavedAt: testNow})
	if err != nil {
		t.Fatalf("NewRevision: %v", err)
	}
	if m.byForm == nil {
		m.byForm = map[string][]*record.Revision{}
	}
	m.byForm[formID] = append(m.byForm[formID], rev)
	m.all = append(m.all, rev)
	return rev
}

// demoSource returns a source holding n generated records.
func demoSource(t testing.TB, seed int64, n int) *memSource {
	t.Helper()
	src := &memSource{}
	err := demo.Generate(seed, n, testNow, func(formID string, data map[string]any) error {
		src.add(t, formID, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}
