package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// The relay server times every Put of the intake (timedStore), so that the report tells the store's
// share of the acknowledgement latency (the group-commit wait and the commit with its fdatasync) from
// the rest (HTTP, verification, the scheduler of a machine whose cores the load generator shares).
// The load generator resets the figures as the window opens and reads them as it closes.
const putStatsPath = "/bench/puts"

// putBucket is the histogram's resolution; putBuckets of them cover 0 to 1 s, above is the last.
const (
	putBucket  = 20 * time.Microsecond
	putBuckets = 50000
)

// timedStore is the store with its Puts timed.
type timedStore struct {
	store.Store
	buckets [putBuckets + 1]atomic.Int64
	max     atomic.Int64
}

// Put implements store.Store.
func (t *timedStore) Put(ctx context.Context, ev store.Event, destinations []string) (store.PutResult, error) {
	start := time.Now()
	res, err := t.Store.Put(ctx, ev, destinations)
	d := time.Since(start)
	t.buckets[min(int(d/putBucket), putBuckets)].Add(1)
	for {
		m := t.max.Load()
		if int64(d) <= m || t.max.CompareAndSwap(m, int64(d)) {
			break
		}
	}
	return res, err
}

// putStats is the Puts' latency in milliseconds over the window, every replica's together.
type putStats struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

// putHistogram is what GET /bench/puts answers: the non-empty buckets (index: count) and the longest
// Put since the last reset, so that the load generator merges several replicas' exactly.
type putHistogram struct {
	Buckets map[int]int64 `json:"buckets"`
	MaxNS   int64         `json:"max_ns"`
}

// ServeHTTP answers GET with the histogram and POST by resetting it.
func (t *timedStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		for i := range t.buckets {
			t.buckets[i].Store(0)
		}
		t.max.Store(0)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h := putHistogram{Buckets: map[int]int64{}, MaxNS: t.max.Load()}
	for i := range t.buckets {
		if n := t.buckets[i].Load(); n > 0 {
			h.Buckets[i] = n
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(h)
}

// resetPutStats and readPutStats are the load generator's side, on every replica.
func resetPutStats(client *http.Client, bases []string) error {
	for _, base := range bases {
		resp, err := client.Post(base+putStatsPath, "", nil)
		if err != nil {
			return fmt.Errorf("reset the server's Put figures: %w", err)
		}
		_ = resp.Body.Close()
	}
	return nil
}

// readPutStats reads every replica's histogram and returns their sum's quantiles (each a bucket's
// upper bound).
func readPutStats(client *http.Client, bases []string) (putStats, error) {
	counts := make([]int64, putBuckets+1)
	var (
		s     putStats
		maxNS int64
	)
	for _, base := range bases {
		h, err := readPutHistogram(client, base)
		if err != nil {
			return s, err
		}
		for i, n := range h.Buckets {
			if i >= 0 && i < len(counts) {
				counts[i] += n
				s.Count += n
			}
		}
		maxNS = max(maxNS, h.MaxNS)
	}
	at := func(q float64) float64 {
		rank := int64(q*float64(s.Count) + 0.999999)
		var seen int64
		for i, n := range counts {
			if seen += n; seen >= rank && n > 0 {
				return msOf(time.Duration(i+1) * putBucket) // the bucket's upper bound
			}
		}
		return 0
	}
	s.P50, s.P99, s.P999, s.Max = at(0.5), at(0.99), at(0.999), msOf(time.Duration(maxNS))
	return s, nil
}

func readPutHistogram(client *http.Client, base string) (putHistogram, error) {
	var h putHistogram
	resp, err := client.Get(base + putStatsPath)
	if err != nil {
		return h, fmt.Errorf("read the server's Put figures: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return h, fmt.Errorf("read the server's Put figures: %w", err)
	}
	return h, nil
}
