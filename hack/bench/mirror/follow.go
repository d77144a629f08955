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
	stopRun := startRun(ctx, m, r)
	// Run migrates (nothing to do), starts its backfill pass (every listing complete: no Stripe
	// call) and catches up (nothing to apply): let it settle before the load.
	if !sleepCtx(ctx, time.Second) {
		stopRun()
		return ctx.Err()
	}
	tracker.start()

	w, err := startWatchers(ctx, b.mirrorDSN, schema, m, tracker, r)
	if err != nil {
		stopRun()
		return err
	}
	defer w.closeDB()

	step("steady %s: %d events/s for %s", r.store, o.rate, o.steady)
	stopped, err := produce(ctx, b.gen, o, m, st, tracker, r)
	if err != nil {
		w.cancel()
		stopRun()
		return err
	}
	drain(ctx, tracker, r, stopped.Add(o.drainTimeout))
	r.drain = time.Since(stopped)
	w.stop()
	stopRun()
	r.collectLags(tracker)
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

// startRun runs m.Run in the background; stopRun cancels it, waits for it and keeps its error in r.
func startRun(ctx context.Context, m *mirror.Mirror, r *steadyResult) (stopRun func()) {
	runCtx, cancelRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- m.Run(runCtx) }()
	return func() {
		cancelRun()
		if err := <-runDone; err != nil {
			r.runErr = err.Error()
		}
	}
}

// watchers are the steady phase's observers: the cursor watcher (every 5 ms, on a connection of
// its own), which tells the lag tracker what was applied, and the Snapshot sampler (every 100 ms),
// which appends Snapshot().Lag to the result's snapLags.
type watchers struct {
	cursorDB   *sql.DB
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	lastCursor atomic.Int64
	snapMu     sync.Mutex
}

func startWatchers(ctx context.Context, dsn, schema string, m *mirror.Mirror, tracker *lagTracker, r *steadyResult) (*watchers, error) {
	cursorDB, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	cursorDB.SetMaxOpenConns(1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	w := &watchers{cursorDB: cursorDB, cancel: stopWatch}
	w.wg.Add(2)
	go w.watchCursor(watchCtx, schema, tracker)
	go w.sampleSnapshots(watchCtx, m, r)
	return w, nil
}

func (w *watchers) watchCursor(ctx context.Context, schema string, tracker *lagTracker) {
	defer w.wg.Done()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		var seq int64
		if err := w.cursorDB.QueryRowContext(ctx, `SELECT seq FROM `+schema+`.mirror_state`).Scan(&seq); err == nil {
			now := time.Now()
			if seq > w.lastCursor.Load() {
				w.lastCursor.Store(seq)
				tracker.applied(seq, now)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (w *watchers) sampleSnapshots(ctx context.Context, m *mirror.Mirror, r *steadyResult) {
	defer w.wg.Done()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if s, err := m.Snapshot(ctx); err == nil {
			w.snapMu.Lock()
			r.snapLags = append(r.snapLags, s.Lag)
			w.snapMu.Unlock()
		}
	}
}

// stop cancels the watchers and waits for them.
func (w *watchers) stop() {
	w.cancel()
	w.wg.Wait()
}

func (w *watchers) closeDB() { _ = w.cursorDB.Close() }

// produce is the steady phase's producer: open loop, one Put started every 1/rate s for o.steady,
// at most 256 in flight, each followed by m.Wake. It returns when the last Put returned, with the
// Puts' figures in r.
func produce(ctx context.Context, gen *eventGen, o options, m *mirror.Mirror, st store.Store, tracker *lagTracker, r *steadyResult) (stopped time.Time, err error) {
	period := time.Second / time.Duration(o.rate)
	inFlight := make(chan struct{}, 256)
	var puts sync.WaitGroup
	stats := &putStats{}
	events := &steadyEvents{gen: gen, sameSecond: o.sameSecond}
	start := time.Now()
	end := start.Add(o.steady)
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * period)
		if !due.Before(end) || !sleepUntil(ctx, due) {
			break
		}
		r.behind = max(r.behind, time.Since(due))
		ev, repeat, err := events.next(i)
		if repeat {
			r.sameSecond++
		}
		if err != nil {
			return time.Time{}, err
		}
		inFlight <- struct{}{}
		puts.Add(1)
		go func() {
			defer func() { <-inFlight; puts.Done() }()
			stats.put(ctx, st, m, ev)
		}()
	}
	puts.Wait()
	stopped = time.Now()
	r.produceFor = stopped.Sub(start)
	r.produced, r.putErrors = stats.produced.Load(), stats.errs.Load()
	r.backlog = int(r.produced) - tracker.count()
	slices.Sort(stats.lat)
	r.putP99, r.putMax = percentile(stats.lat, 0.99), percentile(stats.lat, 1)
	return stopped, nil
}

// steadyEvents are the producer's events: the event generator's next update, received now; with
// -same-second, that fraction of them is instead a second change of the previous event's customer,
// in its second.
type steadyEvents struct {
	gen        *eventGen
	sameSecond float64
	prevN      int64
	prevAt     time.Time
}

// next is the producer's i-th event; repeat says it is a second change in the same second.
func (s *steadyEvents) next(i int) (ev store.Event, repeat bool, err error) {
	n, at := s.gen.next.Add(1)-1, time.Now()
	if s.sameSecond > 0 && i > 0 && int(float64(i)*s.sameSecond) != int(float64(i-1)*s.sameSecond) {
		// A second change of the previous event's customer, in its second: another revision of
		// the same object (a round far from any other), created at the same Stripe second.
		n, at = s.prevN+int64(len(s.gen.created))*1_000_000, s.prevAt
		repeat = true
	}
	s.prevN, s.prevAt = n, at
	ev, err = s.gen.update(n, at)
	return ev, repeat, err
}

// putStats are the producer's Puts: those stored, those failed, and the stored ones' latencies.
type putStats struct {
	produced, errs atomic.Int64
	mu             sync.Mutex
	lat            []time.Duration
}

// put puts ev, received now, and wakes m as the relay's intake does after a commit (cmd/relay:
// mirrors.Wake).
func (p *putStats) put(ctx context.Context, st store.Store, m *mirror.Mirror, ev store.Event) {
	ev.ReceivedAt = time.Now()
	res, err := st.Put(ctx, ev, nil)
	took := time.Since(ev.ReceivedAt)
	if err != nil || res != store.Stored {
		p.errs.Add(1)
		return
	}
	p.produced.Add(1)
	p.mu.Lock()
	p.lat = append(p.lat, took)
	p.mu.Unlock()
	m.Wake()
}

// drain waits until every event put was seen applied, or the deadline (or ctx is done), and
// records in r whether it was.
func drain(ctx context.Context, tracker *lagTracker, r *steadyResult, deadline time.Time) {
	for tracker.count() < int(r.produced) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	r.drained = tracker.count() >= int(r.produced)
}

// collectLags takes the tracker's lags into r (and turns the tracker off), sorted with the
// sampled Snapshot lags.
func (r *steadyResult) collectLags(tracker *lagTracker) {
	tracker.mu.Lock()
	r.lags = append([]time.Duration(nil), tracker.lags...)
	tracker.on = false
	tracker.mu.Unlock()
	r.applied = len(r.lags)
	slices.Sort(r.lags)
	slices.Sort(r.snapLags)
}

// percentile of sorted durations (q in [0, 1]; nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// sleepUntil sleeps until t (at once if it is past); false if ctx is done first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	if d := time.Until(t); d > 0 {
		return sleepCtx(ctx, d)
	}
	return true
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
