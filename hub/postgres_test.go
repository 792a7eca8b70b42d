package hub_test

import (
	"context"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/hub/internal/pgtest"
	"github.com/ccmcollect/ccmcollect/hub/pgstore"
)

// TestHandlersOnPostgres runs the handler tests that touch stored data on
// the PostgreSQL store too.
func TestHandlersOnPostgres(t *testing.T) {
	saved := openStore
	defer func() { openStore = saved }()
	openStore = func(t *testing.T) hub.Store {
		t.Helper()
		st, err := pgstore.Open(context.Background(), pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"WhoamiAndAuth", TestWhoamiAndAuth},
		{"RevokeTakesEffectAtOnce", TestRevokeTakesEffectAtOnce},
		{"PushAndPull", TestPushAndPull},
		{"ViewerMayNotPush", TestViewerMayNotPush},
		{"BadPushes", TestBadPushes},
		{"PullParameters", TestPullParameters},
		{"PullPageByteBudget", TestPullPageByteBudget},
		{"PushOfComputedFieldsRejected", TestPushOfComputedFieldsRejected},
		{"PushWithoutParentsOrData", TestPushWithoutParentsOrData},
		{"TodayIsUTC", TestTodayIsUTC},
		{"PushOfAnotherDevicesRevision", TestPushOfAnotherDevicesRevision},
		{"ConcurrentEditsKeepEveryLeaf", TestConcurrentEditsKeepEveryLeaf},
		{"StoreFailure", TestStoreFailure},
	} {
		t.Run(tc.name, tc.fn)
	}
}

// BenchmarkHubPushPostgres is BenchmarkHubPush on the PostgreSQL store
// (for docs/performance.md; the target applies to Badger).
func BenchmarkHubPushPostgres(b *testing.B) {
	bodies := benchBodies(b)
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		st, err := pgstore.Open(context.Background(), pgtest.NewDatabase(b))
		if err != nil {
			b.Fatal(err)
		}
		url, token := benchServe(b, st)
		b.StartTimer()
		start := time.Now()
		benchPush(b, url, token, bodies)
		total += time.Since(start)
	}
	b.ReportMetric(float64(benchRevisions*b.N)/total.Seconds(), "revs/s")
}
