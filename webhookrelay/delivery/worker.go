package delivery

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// idlePoll bounds how long a worker waits without being woken: the net under a lost wake-up.
const idlePoll = 5 * time.Second

// worker delivers one sink's rows: at most MaxInFlight at once, within its rate, in seq order as they
// become due; it pauses the whole sink after PauseAfter failures in a row and then probes it with one
// delivery at a time.
type worker struct {
	d      *Deliverer
	cancel context.CancelFunc
	wake   chan struct{} // buffered 1: a poke is never lost, never blocks
	done   chan struct{} // an attempt finished (buffered)

	mu       sync.Mutex
	sink     Sink
	limiter  *rate.Limiter
	inFlight map[string]bool
	history  SinkState
}

func newWorker(d *Deliverer, s Sink) *worker {
	w := &worker{d: d, wake: make(chan struct{}, 1), done: make(chan struct{}, 64), inFlight: map[string]bool{}}
	w.configure(s)
	return w
}

func (w *worker) configure(s Sink) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.limiter == nil || w.sink.RequestsPerSecond != s.RequestsPerSecond {
		w.limiter = rate.NewLimiter(rate.Limit(s.RequestsPerSecond), s.burst())
	}
	w.sink = s
}

func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) state() SinkState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.history
}

// run is the worker's loop: take what is due into the free slots, or wait for a slot, a wake-up or
// the next due time.
func (w *worker) run(ctx context.Context) {
	clk := w.d.opts.Clock
	for ctx.Err() == nil {
		w.mu.Lock()
		sink, limiter := w.sink, w.limiter
		slots := sink.MaxInFlight - len(w.inFlight)
		paused := w.history.PausedUntil
		shared := store.Budget{MaxInFlight: sink.MaxInFlight, RequestsPerSecond: sink.RequestsPerSecond, Burst: sink.burst()}
		if w.history.ConsecutiveFailures >= w.d.opts.Backoff.PauseAfter {
			slots = min(slots, 1-len(w.inFlight)) // probing: one at a time
			shared.MaxInFlight = 1                // and one across the replicas
		}
		skip := make(map[string]bool, len(w.inFlight))
		for id := range w.inFlight {
			skip[id] = true
		}
		w.mu.Unlock()

		now := clk.Now()
		switch {
		case sink.SecretError != "" || len(sink.Secrets) == 0:
			w.wait(ctx, idlePoll) // no signature possible: nothing is attempted (the status says why)
			continue
		case now.Before(paused):
			w.waitUntil(ctx, paused.Sub(now))
			continue
		case slots <= 0:
			w.waitForSlot(ctx)
			continue
		}
		due, budgetWait, err := w.d.opts.Store.Due(ctx, store.DueQuery{Destination: sink.Key, Now: now, Limit: slots, Skip: skip, Shared: shared})
		if err != nil {
			w.d.opts.Log.Error(err, "read due deliveries", "sink", sink.Key)
			w.wait(ctx, idlePoll)
			continue
		}
		if budgetWait > 0 {
			w.waitUntil(ctx, budgetWait) // other replicas spent the sink's budget: new events change nothing
			continue
		}
		if len(due) == 0 {
			w.wait(ctx, w.untilNextDue(ctx, sink.Key, now))
			continue
		}
		for _, row := range due {
			if err := limiter.Wait(ctx); err != nil {
				return
			}
			w.mu.Lock()
			w.inFlight[row.EventID] = true
			w.mu.Unlock()
			go w.deliver(ctx, sink, row)
		}
	}
}

// deliver attempts one row and records its outcome.
func (w *worker) deliver(ctx context.Context, sink Sink, row store.Delivery) {
	stopRenewing := w.keepClaimed(ctx, row)
	out, held := w.d.attempt(ctx, sink, sink.Secrets, row)
	stopRenewing()
	if ctx.Err() != nil && !out.Delivered {
		// Stopped mid-attempt (the sink was removed, the relay is stopping): not the sink's failure.
		w.finish(row.EventID)
		return
	}
	if err := w.d.opts.Store.Record(context.WithoutCancel(ctx), out); err != nil {
		// Not recorded: the row stays pending as it was and is attempted again (at least once).
		w.d.opts.Log.Error(err, "record a delivery's outcome", "sink", sink.Key, "event", row.EventID)
	}
	w.mu.Lock()
	now := w.d.opts.Clock.Now()
	if out.Delivered {
		w.history.LastDeliveredAt = now
		w.history.ConsecutiveFailures = 0
		w.history.PausedUntil = time.Time{}
	} else {
		w.history.LastError, w.history.LastErrorAt, w.history.LastFailureHeld = out.Error, now, held
		w.history.ConsecutiveFailures++
		if n := w.history.ConsecutiveFailures - w.d.opts.Backoff.PauseAfter; n >= 0 {
			b := w.d.opts.Backoff
			pause := b.SinkPauseMax
			if n < 30 {
				pause = min(b.SinkPause<<n, b.SinkPauseMax)
			}
			w.history.PausedUntil = now.Add(pause)
		}
	}
	w.mu.Unlock()
	w.finish(row.EventID)
}

// keepClaimed renews the row's claim (PostgreSQL) every third of its lease while the attempt runs,
// so that another replica takes the row over only when this one stopped renewing (it died).
func (w *worker) keepClaimed(ctx context.Context, row store.Delivery) (stop func()) {
	lease := w.d.opts.Store.ClaimLease()
	if lease <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.d.opts.Clock.After(lease / 3):
			}
			if err := w.d.opts.Store.Renew(ctx, row.Destination, row.EventID, w.d.opts.Clock.Now()); err != nil && ctx.Err() == nil {
				w.d.opts.Log.Error(err, "renew a delivery's claim", "sink", row.Destination, "event", row.EventID)
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (w *worker) finish(eventID string) {
	w.mu.Lock()
	delete(w.inFlight, eventID)
	w.mu.Unlock()
	select {
	case w.done <- struct{}{}:
	default:
	}
	w.poke()
}

// untilNextDue is how long to wait for the sink's earliest retry (at most idlePoll).
func (w *worker) untilNextDue(ctx context.Context, key string, now time.Time) time.Duration {
	next, ok, err := w.d.opts.Store.NextDue(ctx, key)
	if err != nil || !ok {
		return idlePoll
	}
	return min(max(next.Sub(now), time.Millisecond), idlePoll)
}

// wait returns after d, a wake-up, or ctx's end.
func (w *worker) wait(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-w.wake:
	case <-w.d.opts.Clock.After(d):
	}
}

// waitUntil waits out a pause: wake-ups do not end it (new events must not break the sink's rest).
func (w *worker) waitUntil(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-w.d.opts.Clock.After(d):
	}
}

// waitForSlot waits for an attempt in flight to finish.
func (w *worker) waitForSlot(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-w.done:
	case <-w.d.opts.Clock.After(idlePoll):
	}
}
