package main

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudip/stripe-operator/webhookrelay/mirror"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// outcomes are the mirror's write outcomes and skipped events (its metrics), by "source/outcome"
// and "skipped/reason".
type outcomes map[string]float64

func readOutcomes(reg *prometheus.Registry, name string) (outcomes, error) {
	families, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	out := outcomes{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["mirror"] != name {
				continue
			}
			switch f.GetName() {
			case "stripe_relay_mirror_writes_total":
				out[labels["source"]+"/"+labels["outcome"]] += m.GetCounter().GetValue()
			case "stripe_relay_mirror_skipped_events_total":
				out["skipped/"+labels["reason"]] += m.GetCounter().GetValue()
			case "stripe_relay_mirror_refetches_total":
				out["refetch/"+labels["why"]] += m.GetCounter().GetValue()
			}
		}
	}
	return out, nil
}

func (o outcomes) minus(before outcomes) outcomes {
	out := outcomes{}
	for k, v := range o {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// catchUpResult is one CatchUp of a store's backlog.
type catchUpResult struct {
	store    string
	load     loadResult
	events   int
	wall     time.Duration
	outcomes outcomes
	caughtUp bool
}

// catchUp times m.CatchUp from the mirror's cursor to the store's end.
func catchUp(ctx context.Context, b *bench, m *mirror.Mirror, name string, st store.Store, r *catchUpResult) error {
	latest, err := st.LatestSeq(ctx)
	if err != nil {
		return err
	}
	before, err := readOutcomes(b.registry, name)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := m.CatchUp(ctx); err != nil {
		return fmt.Errorf("catch-up %s: %w", r.store, err)
	}
	r.wall = time.Since(start)
	snap, err := m.Snapshot(ctx)
	if err != nil {
		return err
	}
	r.caughtUp = snap.AppliedSeq >= latest && snap.Lag == 0
	after, err := readOutcomes(b.registry, name)
	if err != nil {
		return err
	}
	r.outcomes = after.minus(before)
	step("catch-up %s: %d events in %s (%.0f events/s), caught up %v, %v", r.store, r.events, r.wall.Round(10*time.Millisecond),
		float64(r.events)/r.wall.Seconds(), r.caughtUp, r.outcomes)
	return nil
}

// lagTracker turns the mirror's cursor into each event's lag: the events a Follow reads are
// recorded (seq, ReceivedAt); when the cursor, committed with the rows, is seen at or past an
// event's seq, the event was applied then.
type lagTracker struct {
	mu       sync.Mutex
	on       bool
	received map[int64]time.Time
	lags     []time.Duration
}

func (t *lagTracker) read(events []store.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.on {
		return
	}
	for _, ev := range events {
		if _, seen := t.received[ev.Seq]; !seen {
			t.received[ev.Seq] = ev.ReceivedAt
		}
	}
}

func (t *lagTracker) applied(upTo int64, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for seq, received := range t.received {
		if seq <= upTo {
			t.lags = append(t.lags, at.Sub(received))
			delete(t.received, seq)
		}
	}
}

func (t *lagTracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.lags)
}

func (t *lagTracker) start() {
	t.mu.Lock()
	t.on, t.received, t.lags = true, map[int64]time.Time{}, nil
	t.mu.Unlock()
}

// steadyResult is one steady phase.
type steadyResult struct {
	store      string
	rate       int
	duration   time.Duration
	produced   int64
	putErrors  int64
	putP99     time.Duration
	putMax     time.Duration
	behind     time.Duration // how late the producer's last Put started against its schedule
	produceFor time.Duration // first Put to last Put's return
	applied    int
	lags       []time.Duration
	snapLags   []time.Duration
	backlog    int // events put but not applied when the producer stopped
	drain      time.Duration
	drained    bool
	outcomes   outcomes
	runErr     string
	sameSecond int // events put as a second change in the previous event's second
}

// steady runs the mirror as the relay does (Run) while a producer puts rate events per second for
// o.steady, waking the mirror after each Put; it measures every event's lag and samples
// Snapshot().Lag every 100 ms.
func steady(ctx context.Context, b *bench, m *mirror.Mirror, name, schema string, st store.Store, tracker *lagTracker, r *steadyResult) error {
	o := b.o
	r.rate, r.duration = o.rate, o.steady
	before, err := readOutcomes(b.registry, name)
	if err != nil {
		return err
	}
	runCtx, cancelRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- m.Run(runCtx) }()
	stopRun := func() {
		cancelRun()
		if err := <-runDone; err != nil {
			r.runErr = err.Error()
		}
	}
	// Run migrates (nothing to do), starts its backfill pass (every listing complete: no Stripe
	// call) and catches up (nothing to apply): let it settle before the load.
	if !sleepCtx(ctx, time.Second) {
		stopRun()
		return ctx.Err()
	}
	tracker.start()

	// The cursor watcher: every 5 ms, on a connection of its own.
	cursorDB, err := sql.Open("pgx", b.mirrorDSN)
	if err != nil {
		stopRun()
		return err
	}
	defer func() { _ = cursorDB.Close() }()
	cursorDB.SetMaxOpenConns(1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	var watchers sync.WaitGroup
	var lastCursor atomic.Int64
	watchers.Add(2)
	go func() {
		defer watchers.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var seq int64
			if err := cursorDB.QueryRowContext(watchCtx, `SELECT seq FROM `+schema+`.mirror_state`).Scan(&seq); err == nil {
				now := time.Now()
				if seq > lastCursor.Load() {
					lastCursor.Store(seq)
					tracker.applied(seq, now)
				}
			}
			select {
			case <-watchCtx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	var snapMu sync.Mutex
	go func() {
		defer watchers.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-tick.C:
			}
			if s, err := m.Snapshot(watchCtx); err == nil {
				snapMu.Lock()
				r.snapLags = append(r.snapLags, s.Lag)
				snapMu.Unlock()
			}
		}
	}()

	// The producer: open loop, one Put started every 1/rate s, at most 256 in flight.
	step("steady %s: %d events/s for %s", r.store, o.rate, o.steady)
	period := time.Second / time.Duration(o.rate)
	inFlight := make(chan struct{}, 256)
	var puts sync.WaitGroup
	var putMu sync.Mutex
	var putLat []time.Duration
	var produced, putErrs atomic.Int64
	var prevN int64
	var prevAt time.Time
	start := time.Now()
	end := start.Add(o.steady)
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * period)
		if !due.Before(end) {
			break
		}
		if d := time.Until(due); d > 0 {
			if !sleepCtx(ctx, d) {
				break
			}
		}
		r.behind = max(r.behind, time.Since(due))
		n, at := b.gen.next.Add(1)-1, time.Now()
		if o.sameSecond > 0 && i > 0 && int(float64(i)*o.sameSecond) != int(float64(i-1)*o.sameSecond) {
			// A second change of the previous event's customer, in its second: another revision of
			// the same object (a round far from any other), created at the same Stripe second.
			n, at = prevN+int64(len(b.gen.created))*1_000_000, prevAt
			r.sameSecond++
		}
		prevN, prevAt = n, at
		ev, err := b.gen.update(n, at)
		if err != nil {
			stopWatch()
			stopRun()
			return err
		}
		inFlight <- struct{}{}
		puts.Add(1)
		go func() {
			defer func() { <-inFlight; puts.Done() }()
			ev.ReceivedAt = time.Now()
			res, err := st.Put(ctx, ev, nil)
			took := time.Since(ev.ReceivedAt)
			if err != nil || res != store.Stored {
				putErrs.Add(1)
				return
			}
			produced.Add(1)
			putMu.Lock()
			putLat = append(putLat, took)
			putMu.Unlock()
			m.Wake() // as the relay's intake does after a commit (cmd/relay: mirrors.Wake)
		}()
	}
	puts.Wait()
	stopped := time.Now()
	r.produceFor = stopped.Sub(start)
	r.produced, r.putErrors = produced.Load(), putErrs.Load()
	r.backlog = int(r.produced) - tracker.count()
	slices.Sort(putLat)
	r.putP99, r.putMax = percentile(putLat, 0.99), percentile(putLat, 1)

	// Drain: until every event put was seen applied, or the timeout.
	deadline := stopped.Add(o.drainTimeout)
	for tracker.count() < int(r.produced) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	r.drained = tracker.count() >= int(r.produced)
	r.drain = time.Since(stopped)
	stopWatch()
	watchers.Wait()
	stopRun()
	tracker.mu.Lock()
	r.lags = append([]time.Duration(nil), tracker.lags...)
	tracker.on = false
	tracker.mu.Unlock()
	r.applied = len(r.lags)
	slices.Sort(r.lags)
	slices.Sort(r.snapLags)
	after, err := readOutcomes(b.registry, name)
	if err != nil {
		return err
	}
	r.outcomes = after.minus(before)
	step("steady %s: %d put, %d applied, lag p50 %s p99 %s max %s, backlog at stop %d, drained in %s (%v)", r.store, r.produced, r.applied,
		fmtDur(percentile(r.lags, 0.5)), fmtDur(percentile(r.lags, 0.99)), fmtDur(percentile(r.lags, 1)), r.backlog,
		fmtDur(r.drain), r.drained)
	return ctx.Err()
}

// percentile of sorted durations (q in [0, 1]; nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
