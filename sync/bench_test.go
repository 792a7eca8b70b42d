package sync

import (
	"context"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// benchRecords is the data-set size of the sync benchmarks
// (docs/performance.md, "## Sync").
const benchRecords = 100_000

// importRecords puts n valid casualty records in c's outbox.
func importRecords(tb testing.TB, c *client, n int) {
	tb.Helper()
	const chunk = 5000
	for i := 0; i < n; i += chunk {
		rows := make([]map[string]any, 0, chunk)
		for j := i; j < min(n, i+chunk); j++ {
			rows = append(rows, casualty(j))
		}
		if _, err := c.store.Import(context.Background(), "casualty", rows); err != nil {
			tb.Fatalf("import: %v", err)
		}
	}
}

// seedHub stores n casualty revisions of LAO in the hub directly.
func seedHub(tb testing.TB, h *testHub, n int) {
	tb.Helper()
	const chunk = protocol.MaxPushRevisions
	for i := 0; i < n; i += chunk {
		revs := make([]*record.Revision, 0, chunk)
		for j := i; j < min(n, i+chunk); j++ {
			r, err := record.NewRevision(record.NewID(), "casualty", 1, casualty(j),
				record.Meta{Programme: "LAO", DeviceID: "dev-b", User: "bench", SavedAt: today})
			if err != nil {
				tb.Fatal(err)
			}
			revs = append(revs, r)
		}
		res, err := h.store.Apply(context.Background(), "LAO", revs)
		if err != nil {
			tb.Fatal(err)
		}
		for _, r := range res {
			if r.Status != protocol.StatusApplied {
				tb.Fatalf("seeding the hub: %s %v", r.Status, r.Err)
			}
		}
	}
}

// BenchmarkPushFull measures a first full push of 100,000 casualty records
// end to end: reading the outbox, encoding, gzip, HTTP over loopback, the
// hub's checks and durable Badger writes, and acknowledging the outbox.
func BenchmarkPushFull(b *testing.B) {
	var elapsed, cpu time.Duration
	var wire int64
	for range b.N {
		b.StopTimer()
		h := newTestHub(b)
		c := newClient(b, h, "a", nil)
		importRecords(b, c, benchRecords)
		id, err := c.store.Identity(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		url, token, err := c.eng.config(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		hc := c.eng.clientFor(url, token)
		var res Result
		w0 := c.eng.wire.Load()
		b.StartTimer()
		start, cpu0 := time.Now(), processCPU()
		if err := c.eng.push(context.Background(), hc, id, &res); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		cpu += processCPU() - cpu0
		b.StopTimer()
		wire += c.eng.wire.Load() - w0
		if res.Pushed != benchRecords {
			b.Fatalf("pushed %d, want %d", res.Pushed, benchRecords)
		}
		c.close()
		h.stop()
	}
	b.ReportMetric(float64(benchRecords*b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(wire)/float64(benchRecords*b.N), "wire-B/record")
	b.ReportMetric(float64(cpu.Microseconds())/float64(benchRecords*b.N), "cpu-µs/record")
}

// BenchmarkPullFull measures a full pull of 100,000 casualty records into
// an empty client: HTTP over loopback, decoding, verifying every rev and
// durable writes of revisions and cursor.
func BenchmarkPullFull(b *testing.B) {
	b.StopTimer()
	h := newTestHub(b)
	seedHub(b, h, benchRecords)
	var elapsed, cpu time.Duration
	var wire int64
	for range b.N {
		c := newClient(b, h, "b", nil)
		id, err := c.store.Identity(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		url, token, _ := c.eng.config(context.Background())
		hc := c.eng.clientFor(url, token)
		var res Result
		w0 := c.eng.wire.Load()
		b.StartTimer()
		start, cpu0 := time.Now(), processCPU()
		if err := c.eng.pull(context.Background(), hc, id, &res); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		cpu += processCPU() - cpu0
		b.StopTimer()
		wire += c.eng.wire.Load() - w0
		if res.Pulled != benchRecords {
			b.Fatalf("pulled %d, want %d", res.Pulled, benchRecords)
		}
		c.close()
	}
	b.ReportMetric(float64(benchRecords*b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(wire)/float64(benchRecords*b.N), "wire-B/record")
	b.ReportMetric(float64(cpu.Microseconds())/float64(benchRecords*b.N), "cpu-µs/record")
}

// BenchmarkSyncIdle measures a whole sync with nothing to do on a client
// and hub that share 100,000 records: time and bytes on the wire per sync.
func BenchmarkSyncIdle(b *testing.B) {
	b.StopTimer()
	h := newTestHub(b)
	seedHub(b, h, benchRecords)
	c := newClient(b, h, "b", nil)
	if res := c.sync(); res.Pulled != benchRecords {
		b.Fatalf("setup pulled %d", res.Pulled)
	}
	var wire int64
	b.StartTimer()
	for range b.N {
		res, err := c.eng.SyncNow(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if res.Pushed+res.Pulled != 0 {
			b.Fatalf("idle sync moved data: %+v", res)
		}
		wire += res.Bytes
	}
	b.StopTimer()
	b.ReportMetric(float64(wire)/float64(b.N), "wire-B/op")
}
