package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// benchRecords is the size of the shared benchmark store.
const benchRecords = 100_000

var benchRow = func(i int) map[string]any {
	adm := []string{"Xiangkhouang", "Savannakhet", "Champasak", "Houaphanh", "Salavan"}[i%5]
	return map[string]any{
		"incident_date": fmt.Sprintf("20%02d-%02d-%02d", 10+i%15, 1+i%12, 1+i%28), "adm1": adm,
		"village": fmt.Sprintf("Ban %d", i%997), "outcome": []string{"killed", "injured"}[i%2],
		"sex": []string{"female", "male", "unknown"}[i%3], "age": float64(i % 90),
		"cm_context": "remnant", "device_category": "submunition", "activity": "farming",
	}
}

var (
	bigOnce sync.Once
	bigDir  string
	bigErr  error
)

// bigStore returns the directory of a store holding benchRecords casualty
// records, built once and cached in the system temp directory across runs.
func bigStore(b *testing.B) string {
	b.Helper()
	bigOnce.Do(func() {
		bigDir = filepath.Join(os.TempDir(), fmt.Sprintf("ccmcollect-bench-store-%d", benchRecords))
		if _, err := os.Stat(filepath.Join(bigDir, "complete")); err == nil {
			return
		}
		os.RemoveAll(bigDir)
		s, err := Open(context.Background(), testOptions(bigDir, "bench"))
		if err != nil {
			bigErr = err
			return
		}
		defer s.Close()
		rows := make([]map[string]any, 0, 10_000)
		for i := range benchRecords {
			rows = append(rows, benchRow(i))
			if len(rows) == cap(rows) {
				if _, err := s.Import(context.Background(), "casualty", rows); err != nil {
					bigErr = err
					return
				}
				rows = rows[:0]
			}
		}
		bigErr = os.WriteFile(filepath.Join(bigDir, "complete"), nil, 0o600)
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigDir
}

func openBig(b *testing.B) *Store {
	b.Helper()
	s, err := Open(context.Background(), testOptions(bigStore(b), "bench"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkSave measures one durable (synced) save of a new record into the
// 100,000-record store and reports the median.
func BenchmarkSave(b *testing.B) {
	s := openBig(b)
	ctx := context.Background()
	var d []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		if _, err := s.Create(ctx, "casualty", benchRow(i)); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(t0))
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "median-ms")
}

// BenchmarkImport measures validated bulk import (revisions, outbox, indexes)
// of 10,000 records per operation into a fresh store.
func BenchmarkImport(b *testing.B) {
	const n = 10_000
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = benchRow(i)
	}
	ctx := context.Background()
	b.ReportAllocs()
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		s, err := Open(ctx, testOptions(b.TempDir(), "bench"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		if _, err := s.Import(ctx, "casualty", rows); err != nil {
			b.Fatal(err)
		}
		total += time.Since(t0)
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "records/s")
}

func BenchmarkListFirstPage(b *testing.B) {
	s := openBig(b)
	ctx := context.Background()
	for _, q := range []Query{
		{FormID: "casualty", Limit: 50},
		{Limit: 50},
		{FormID: "casualty", Adm1: "Salavan", Text: "ban 99", Limit: 50},
	} {
		b.Run(fmt.Sprintf("adm1=%q,text=%q", q.Adm1, q.Text), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := s.List(ctx, q)
				if err != nil || len(p.Records) != 50 {
					b.Fatal(len(p.Records), err)
				}
			}
		})
	}
}

func BenchmarkCounts(b *testing.B) {
	s := openBig(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, err := s.Counts(ctx)
		if err != nil || c["casualty"][StatusPending] < benchRecords {
			b.Fatal(c, err)
		}
	}
}

// processCPU returns the user and system CPU time the process has used so
// far: steadier than wall-clock time on a loaded machine.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchOutbox returns a fresh store holding n imported records, all pending.
func benchOutbox(b *testing.B, n int) *Store {
	b.Helper()
	s, err := Open(context.Background(), testOptions(b.TempDir(), "bench"))
	if err != nil {
		b.Fatal(err)
	}
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = benchRow(i)
	}
	if _, err := s.Import(context.Background(), "casualty", rows); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkAckOutbox measures the local store's side of a full push of
// 10,000 records, as the sync engine drives it: PendingOutbox in chunks,
// then AckOutbox per batch of 1,000 (the hub's maximum). It reports the
// outbox reading and acknowledging separately, in CPU time per record.
func BenchmarkAckOutbox(b *testing.B) {
	const n, chunk, batch = 10_000, 5_000, 1_000
	ctx := context.Background()
	var readCPU, ackCPU, elapsed time.Duration
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		s := benchOutbox(b, n)
		b.StartTimer()
		start := time.Now()
		for {
			c0 := processCPU()
			entries, err := s.PendingOutbox(ctx, chunk, 0)
			if err != nil {
				b.Fatal(err)
			}
			c1 := processCPU()
			readCPU += c1 - c0
			if len(entries) == 0 {
				break
			}
			for len(entries) > 0 {
				k := min(batch, len(entries))
				seqs := make([]uint64, k)
				for i, e := range entries[:k] {
					seqs[i] = e.Seq
				}
				entries = entries[k:]
				if err := s.AckOutbox(ctx, seqs); err != nil {
					b.Fatal(err)
				}
			}
			ackCPU += processCPU() - c1
		}
		elapsed += time.Since(start)
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	recs := float64(n * b.N)
	b.ReportMetric(recs/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(readCPU.Nanoseconds())/1000/recs, "read-cpu-µs/record")
	b.ReportMetric(float64(ackCPU.Nanoseconds())/1000/recs, "ack-cpu-µs/record")
}
