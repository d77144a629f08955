package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"

	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

const heldDestination = store.Held

// Backoff bounds: a failed delivery waits Base, doubling to Max, jittered ±20%; a sink whose
// deliveries failed PauseAfter times in a row is paused (SinkPause doubling to SinkPauseMax) and then
// probed with one delivery at a time until one succeeds.
type Backoff struct {
	Base, Max               time.Duration
	PauseAfter              int
	SinkPause, SinkPauseMax time.Duration
}

// DefaultBackoff is the production schedule.
func DefaultBackoff() Backoff {
	return Backoff{Base: 5 * time.Second, Max: time.Hour, PauseAfter: 5, SinkPause: time.Second, SinkPauseMax: 5 * time.Minute}
}

// Options configure a Deliverer.
type Options struct {
	Store   store.Store
	Sinks   SinkSource
	Client  *http.Client // nil: a client whose timeout is each sink's
	Clock   clock.Clock  // nil: the real clock
	Backoff Backoff      // zero: DefaultBackoff()
	// Registry receives the per-sink metrics (required: no global registry).
	Registry prometheus.Registerer
	// Resync is how often the sink list is read again (default 2 s).
	Resync time.Duration
	// Formats turn events into payloads for sinks of formats other than FormatEvents (built in).
	Formats map[string]Format
	Log     logr.Logger
}

// Deliverer runs one worker per sink. It is a controller-runtime Runnable that runs on every replica
// (no leader election): on PostgreSQL the replicas share each sink's rows, in-flight bound and rate
// through the store (store.DueQuery.Shared).
type Deliverer struct {
	opts    Options
	metrics *metrics
	mu      sync.Mutex
	workers map[string]*worker
}

// New returns a Deliverer.
func New(opts Options) (*Deliverer, error) {
	if opts.Store == nil || opts.Sinks == nil || opts.Registry == nil {
		return nil, fmt.Errorf("delivery: Store, Sinks and Registry are required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Backoff == (Backoff{}) {
		opts.Backoff = DefaultBackoff()
	}
	if opts.Resync <= 0 {
		opts.Resync = 2 * time.Second
	}
	if opts.Client == nil {
		// Keep a connection per delivery in flight: the default transport keeps 2 idle per host, so
		// 32 concurrent deliveries opened a new TCP connection for most of them (bench-relay: 13,308
		// connections for 15,742 deliveries).
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.MaxIdleConns, transport.MaxIdleConnsPerHost = 1024, 256
		opts.Client = &http.Client{Transport: transport}
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	formats := map[string]Format{FormatEvents: eventsFormat{}}
	for name, f := range opts.Formats {
		formats[name] = f
	}
	opts.Formats = formats
	m, err := newMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	return &Deliverer{opts: opts, metrics: m, workers: map[string]*worker{}}, nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (d *Deliverer) NeedLeaderElection() bool { return false }

// Start keeps one worker per sink until ctx ends, and waits for them to stop.
func (d *Deliverer) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		if err := d.sync(ctx, &wg); err != nil {
			d.opts.Log.Error(err, "read the sinks")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.opts.Clock.After(d.opts.Resync):
		}
	}
}

// Wake tells every worker that rows may be due (an event was stored, a replay requeued).
func (d *Deliverer) Wake() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.workers {
		w.poke()
	}
}

// State returns what the worker of sink knows that the store does not (for the sink's status).
func (d *Deliverer) State(sink string) (SinkState, bool) {
	d.mu.Lock()
	w, ok := d.workers[sink]
	d.mu.Unlock()
	if !ok {
		return SinkState{}, false
	}
	return w.state(), true
}

// SinkState is a worker's recent history.
type SinkState struct {
	LastDeliveredAt, LastErrorAt time.Time
	LastError                    string
	// ConsecutiveFailures counts the attempts failed since the last success.
	ConsecutiveFailures int
	// LastFailureHeld says the last failure was a hold by the sink's format (not the sink's fault:
	// a ledger batch that does not balance).
	LastFailureHeld bool
	// PausedUntil is set while the sink is paused as a whole.
	PausedUntil time.Time
}

func (d *Deliverer) sync(ctx context.Context, wg *sync.WaitGroup) error {
	sinks, err := d.opts.Sinks.Sinks(ctx)
	if err != nil {
		return fmt.Errorf("list sinks: %w", err)
	}
	seen := map[string]bool{}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range sinks {
		s = s.WithDefaults()
		seen[s.Key] = true
		if w, ok := d.workers[s.Key]; ok {
			w.configure(s)
			continue
		}
		w := newWorker(d, s)
		d.workers[s.Key] = w
		wctx, cancel := context.WithCancel(ctx)
		w.cancel = cancel
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(wctx)
		}()
	}
	for key, w := range d.workers {
		if !seen[key] {
			w.cancel() // the sink is gone; its rows stay in the store (a sink recreated resumes them)
			delete(d.workers, key)
		}
	}
	return nil
}

// attempt sends one delivery and returns its outcome, and whether its format held it.
func (d *Deliverer) attempt(ctx context.Context, s Sink, signers []string, row store.Delivery) (store.Outcome, bool) {
	now := d.opts.Clock.Now()
	out := store.Outcome{EventID: row.EventID, Destination: row.Destination, At: now}
	err := d.send(ctx, s, signers, row)
	d.metrics.duration.WithLabelValues(s.Key).Observe(d.opts.Clock.Since(now).Seconds())
	if row.Attempts > 0 {
		d.metrics.retried.WithLabelValues(s.Key).Inc()
	}
	if err == nil {
		out.Delivered = true
		d.metrics.delivered.WithLabelValues(s.Key).Inc()
		return out, false
	}
	d.metrics.failed.WithLabelValues(s.Key).Inc()
	held := errors.Is(err, ErrHold)
	if held {
		d.metrics.held.WithLabelValues(s.Key).Inc()
	}
	out.Error = err.Error()
	wait := d.backoff(row.Attempts + 1)
	out.NextAttempt = now.Add(wait)
	if out.NextAttempt.After(row.ReceivedAt.Add(s.RetryHorizon)) {
		out.Dead = true
		d.metrics.dead.WithLabelValues(s.Key).Inc()
	}
	return out, held
}

// backoff is the wait after the attempts-th failure: Base·2^(attempts-1), at most Max, ±20% jitter
// (so that deliveries failed together do not retry together).
func (d *Deliverer) backoff(attempts int64) time.Duration {
	b := d.opts.Backoff
	wait := b.Max
	if attempts < 40 {
		wait = min(b.Base<<(attempts-1), b.Max)
	}
	return time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64()))
}

// maxAnswer bounds what is read of a sink's answer (for the error message).
const maxAnswer = 512

// send delivers every payload the sink's format makes of the row; the row is delivered when all
// were acknowledged (a retry sends them all again: the sink dedupes by their ids).
func (d *Deliverer) send(ctx context.Context, s Sink, secrets []string, row store.Delivery) error {
	format, ok := d.opts.Formats[s.Format]
	if !ok {
		return fmt.Errorf("%w: the relay has no %q format", ErrHold, s.Format)
	}
	payloads, err := format.Payloads(ctx, s, row)
	if err != nil {
		return fmt.Errorf("%s payloads of %s: %w", s.Format, row.EventID, err)
	}
	for _, p := range payloads {
		if err := d.post(ctx, s, secrets, row, p); err != nil {
			return err
		}
	}
	return nil
}

func (d *Deliverer) post(ctx context.Context, s Sink, secrets []string, row store.Delivery, p Payload) error {
	// The signed timestamp is the wall clock's, whatever clock schedules the attempts: the sink
	// checks it against its own (Standard Webhooks verifiers allow 5 minutes).
	now := time.Now()
	signature, err := sign(secrets, p.ID, now, p.Body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(p.Body))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", p.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", signature)
	req.Header.Set(HeaderSequence, strconv.FormatInt(row.Seq, 10))
	req.Header.Set(HeaderEventType, row.Type)
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", s.URL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("POST %s: %s: %s", s.URL, resp.Status, bytes.TrimSpace(answer))
	}
	return nil
}
