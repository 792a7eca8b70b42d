package reports_test

import (
	"context"
	"io"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/demo"
	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/reports"
)

var (
	benchOnce sync.Once
	benchSrc  *memSource
)

// bigSource is 100,000 generated records, built once and outside timers.
func bigSource(b *testing.B) *memSource {
	b.Helper()
	benchOnce.Do(func() { benchSrc = demoSource(b, 1, 100_000) })
	return benchSrc
}

// peakHeap samples the in-use heap every millisecond until stop is closed
// and returns the largest value seen, in bytes.
func peakHeap(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// genSource streams generated records without holding them: each pass
// regenerates the data set and yields one form's records, like a store
// reading from disk. Peak memory measured over it is the report's own.
type genSource struct{ n int }

func (g genSource) EachCurrent(ctx context.Context, formID string, fn func(*record.Revision) error) error {
	i := 0
	return demo.Generate(1, g.n, testNow, func(id string, data map[string]any) error {
		i++
		if id != formID {
			return nil
		}
		return fn(&record.Revision{RecordID: strconv.Itoa(i), Rev: "1-x", FormID: id, FormVersion: 1, SavedAt: testNow, Data: data})
	})
}

// BenchmarkNeedsPDFMemory reports the peak heap in use, above what the
// process held before, while building and rendering the needs assessment
// of 100,000 records streamed from a source that holds none of them (the
// time includes generating the data six times over; BenchmarkNeedsPDF
// gives the report's own time). It comes first in this file so that it
// runs before the in-memory data set of the other benchmarks exists.
func BenchmarkNeedsPDFMemory(b *testing.B) {
	reg := forms.Builtin()
	ctx := context.Background()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	stop := make(chan struct{})
	peak := peakHeap(stop)
	for b.Loop() {
		rep, err := reports.Build(ctx, genSource{100_000}, reg, reports.Filter{SuppressBelow: 5}, reports.Meta{State: "Lao PDR", GeneratedAt: testNow})
		if err != nil {
			b.Fatal(err)
		}
		if err := reports.WriteNeedsPDF(io.Discard, rep, reports.A4); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(stop)
	p := <-peak
	b.ReportMetric(float64(p-min(p, base.HeapInuse))/(1<<20), "peak-heap-MB")
}

// BenchmarkNeedsPDF builds the needs assessment over 100,000 in-memory
// records and renders its PDF (see BenchmarkNeedsPDFMemory for memory).
func BenchmarkNeedsPDF(b *testing.B) {
	src := bigSource(b)
	reg := forms.Builtin()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := reports.Build(ctx, src, reg, reports.Filter{SuppressBelow: 5}, reports.Meta{State: "Lao PDR", GeneratedAt: testNow})
		if err != nil {
			b.Fatal(err)
		}
		if err := reports.WriteNeedsPDF(io.Discard, rep, reports.A4); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(src.all)), "records")
}

// BenchmarkCSVExport exports all 100,000 records (six forms, with the HXL
// row) per iteration and reports rows/s.
func BenchmarkCSVExport(b *testing.B) {
	src := bigSource(b)
	reg := forms.Builtin()
	ctx := context.Background()
	var rows atomic.Int64
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		for _, id := range forms.BuiltinIDs {
			n, err := reports.WriteCSV(ctx, io.Discard, src, reg, id, reports.CSVOptions{HXL: true})
			if err != nil {
				b.Fatal(err)
			}
			rows.Add(int64(n))
		}
	}
	b.ReportMetric(float64(rows.Load())/time.Since(start).Seconds(), "rows/s")
}
