package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// load is the load generator: clients goroutines, each on a keep-alive connection of its own, each
// sending its next event as soon as the last is answered (a closed loop: -clients is the concurrency
// Stripe's deliveries would reach). An event is acknowledged when its answer is 2xx. With several
// replicas the clients are spread over their URLs round robin, as a Service spreads connections.
//
// Only the answers received inside the measurement window (mark to finish) are counted, so the
// warm-up and the tail of requests still in flight at the end stay out of the figures; a crash
// phase's load also keeps the id of every acknowledged event, from the first.
type load struct {
	urls    []string // the intake's URL on each replica
	gen     *generator
	clients int
	keepIDs bool
	// recordAcks keeps every acknowledged event's id and ack time (the delivery phases' ledger and
	// lag), from the first, without changing what the window counts.
	recordAcks bool
	http       *http.Client

	base       time.Time
	start, end atomic.Int64 // the window, in ns since base; end 0 while open
	stopped    atomic.Bool
	wg         sync.WaitGroup
	workers    []*worker
}

// worker is what one client saw.
type worker struct {
	latencies []time.Duration // of acknowledged events, in the window
	acked     int64           // in the window
	statuses  map[int]int64   // non-2xx answers in the window, by status
	failures  int64           // requests without an answer (transport errors) in the window
	firstErr  string          // the first error seen (any time)
	ids       []string        // every acknowledged event's id (keepIDs)
	sent      int64           // requests sent, any time
	acks      []ack           // every acknowledged event (recordAcks)
}

// ack is an acknowledged event: its id and when its 2xx was read (wall clock, Unix ns: the sinks, in
// another process, stamp their receipts on the same clock).
type ack struct {
	id string
	at int64
}

func newLoad(bases []string, gen *generator, clients int, keepIDs bool) *load {
	transport := &http.Transport{
		Proxy:               nil, // 127.0.0.1, never through a proxy from the environment
		MaxIdleConns:        clients,
		MaxIdleConnsPerHost: clients,
		MaxConnsPerHost:     clients,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	urls := make([]string, len(bases))
	for i, b := range bases {
		urls[i] = b + "/stripe/" + endpoint.Namespace + "/" + endpoint.Name
	}
	return &load{urls: urls, gen: gen, clients: clients,
		keepIDs: keepIDs, http: &http.Client{Transport: transport, Timeout: 30 * time.Second}}
}

func (l *load) close() { l.http.CloseIdleConnections() }

// begin starts the clients; nothing is counted until mark.
func (l *load) begin() {
	l.base = time.Now()
	l.start.Store(-1)
	for i := range l.clients {
		w := &worker{statuses: map[int]int64{}}
		l.workers = append(l.workers, w)
		url := l.urls[i%len(l.urls)]
		l.wg.Go(func() { l.loop(w, url) })
	}
}

// mark opens the measurement window.
func (l *load) mark() { l.start.Store(int64(time.Since(l.base))) }

// stopSending lets every client finish its request in flight and send no other; the window stays open
// until finish.
func (l *load) stopSending() { l.stopped.Store(true) }

// finish closes the window, stops the clients after their request in flight, and returns what they saw.
func (l *load) finish() []*worker {
	l.end.Store(int64(time.Since(l.base)))
	l.stopped.Store(true)
	l.wg.Wait()
	return l.workers
}

// run is a phase's load: begin, -warmup, mark (calling onMark first), -duration, finish.
func (l *load) run(ctx context.Context, warmup, duration time.Duration, onMark func()) ([]*worker, time.Duration, error) {
	l.begin()
	if err := sleep(ctx, warmup); err != nil {
		l.finish()
		return nil, 0, err
	}
	if onMark != nil {
		onMark()
	}
	l.mark()
	err := sleep(ctx, duration)
	workers := l.finish()
	return workers, time.Duration(l.end.Load() - l.start.Load()), err
}

func (l *load) loop(w *worker, url string) {
	for !l.stopped.Load() {
		id, payload := l.gen.event()
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
		if err != nil {
			panic(err) // a fixed, valid URL
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
		req.Header.Set("Stripe-Signature", l.gen.sign(payload))
		sent := time.Now()
		w.sent++
		resp, err := l.http.Do(req)
		status := 0
		if err == nil {
			status = resp.StatusCode
			// An event is acknowledged by the 2xx status line: the intake writes it only after the commit.
			if status/100 == 2 && l.keepIDs {
				w.ids = append(w.ids, id)
			}
			_, err = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		done := time.Now()
		if l.recordAcks && status/100 == 2 {
			w.acks = append(w.acks, ack{id: id, at: done.UnixNano()})
		}
		if err != nil && w.firstErr == "" {
			w.firstErr = err.Error()
		} else if status/100 != 2 && w.firstErr == "" {
			w.firstErr = fmt.Sprintf("HTTP %d", status)
		}
		if !l.inWindow(done) {
			continue
		}
		switch {
		case status/100 == 2:
			w.acked++
			w.latencies = append(w.latencies, done.Sub(sent))
		case status != 0:
			w.statuses[status]++
		default:
			w.failures++
		}
	}
}

// windowWall returns the measurement window in wall-clock Unix ns (after finish).
func (l *load) windowWall() (start, end int64) {
	base := l.base.UnixNano()
	return base + l.start.Load(), base + l.end.Load()
}

func (l *load) inWindow(t time.Time) bool {
	if l.keepIDs {
		return true // the crash phase: everything, up to the answers the kill cut off
	}
	at, start, end := int64(t.Sub(l.base)), l.start.Load(), l.end.Load()
	return start >= 0 && at >= start && (end == 0 || at <= end)
}

// sample is the workers' window merged.
type sample struct {
	acked     int64
	latencies []time.Duration // sorted
	statuses  map[int]int64
	failures  int64
	firstErr  string
	sent      int64
}

func merge(workers []*worker) sample {
	s := sample{statuses: map[int]int64{}}
	for _, w := range workers {
		s.acked += w.acked
		s.latencies = append(s.latencies, w.latencies...)
		for code, n := range w.statuses {
			s.statuses[code] += n
		}
		s.failures += w.failures
		s.sent += w.sent
		if s.firstErr == "" {
			s.firstErr = w.firstErr
		}
	}
	slices.Sort(s.latencies)
	return s
}

// quantile returns the q-quantile (nearest rank) of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// sleep waits d, or returns the context's error when it ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("interrupted: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}
