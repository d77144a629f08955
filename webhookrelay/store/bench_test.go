package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkPut measures durable Puts (distinct ids, one outbox row each) by many concurrent callers,
// as the intake's HTTP handlers call it. See README.md for the figures and the driver choice, and how
// to re-run the comparison with the other driver linked.
//
//	go test ./webhookrelay/store -run XXX -bench BenchmarkPut -benchtime 5s
func BenchmarkPut(b *testing.B) {
	for _, drv := range benchDrivers {
		for _, syncMode := range []string{"FULL", "NORMAL"} {
			for _, callers := range []int{1, 64} {
				b.Run(fmt.Sprintf("driver=%s/sync=%s/callers=%d", drv.name, syncMode, callers), func(b *testing.B) {
					benchPut(b, drv.driver, syncMode, callers)
				})
			}
		}
	}
}

// benchDrivers are the drivers compared; README.md says how to add ncruces/go-sqlite3 ("sqlite3") back.
var benchDrivers = []struct{ name, driver string }{
	{"modernc", driverName},
}

func benchPut(b *testing.B, driver, syncMode string, callers int) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "bench.db"), SQLiteOptions{Synchronous: syncMode, driver: driver})
	if err != nil {
		b.Skipf("driver %s: %v", driver, err)
	}
	defer func() { _ = s.Close() }()
	payload := make([]byte, 2048) // a typical event is 1–4 KiB
	for i := range payload {
		payload[i] = 'x'
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				ev := event(fmt.Sprintf("evt_%d", i), t0)
				ev.Payload = payload
				if _, err := s.Put(ctx, ev, []string{"notifier"}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}
