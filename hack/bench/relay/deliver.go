package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/delivery"
	"github.com/cloudip/stripe-operator/webhookrelay/intake"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// The delivery phases (issue 8, item 6): Stripe → relay → sinks, end to end. The relay's server runs
// the real intake on the real store as in the relay phase, and with it the real delivery.Deliverer:
// one worker per sink, each delivery signed with the Standard Webhooks scheme, the intake's Stored
// hook waking the workers, every event routed with delivery.Route to every sink (one connection, one
// region). The sinks are HTTP servers in a process of their own (sink.go) that verify each delivery.
//
// After the load the phase waits for the backlog to drain (-drain-timeout), stops the relay, opens
// its store and keeps the ledger per sink: every acknowledged event is received by the sink, or dead
// lettered, or still pending in the store; anything else voids the run.
const (
	benchConnection = "bench/stripe"
	benchRegion     = "eu-west"
	// sinkRate is each sink's RequestsPerSecond: far above what the machine can deliver, so the
	// limiter never is what sets the rate.
	sinkRate = 100000
	// pendingPath answers, per sink, whether the store still owes it a delivery (store.NextDue).
	pendingPath = "/bench/pending"
)

// sinkKey is the outbox destination of the i-th sink.
func sinkKey(i int) string { return "bench/sink-" + strconv.Itoa(i) }

// deliverHandler is the server side of a delivery phase: the intake with the Deliverer behind it.
// stop ends the Deliverer and waits for its workers.
func deliverHandler(st *store.DB, timed store.Store, o serveOptions) (http.Handler, func(), error) {
	if o.sinkURLs == "" || o.sinkSecret == "" {
		return nil, nil, fmt.Errorf("-serve %s needs -serve-sink-urls and -serve-sink-secret", modeDeliver)
	}
	var sinks delivery.StaticSinks
	for i, u := range strings.Split(o.sinkURLs, ",") {
		sinks = append(sinks, delivery.Sink{Key: sinkKey(i), Connection: benchConnection, Region: benchRegion,
			Format: "events", URL: u + sinkPath, Secrets: []string{o.sinkSecret}, MaxInFlight: o.maxInFlight,
			RequestsPerSecond: sinkRate})
	}
	reg := prometheus.NewRegistry()
	d, err := delivery.New(delivery.Options{Store: st, Sinks: sinks, Registry: reg})
	if err != nil {
		return nil, nil, fmt.Errorf("deliverer: %w", err)
	}
	h, err := intake.New(intake.Options{
		Store:    timed,
		Secrets:  intake.StaticSecrets{endpoint: {Secrets: []string{o.secret}, Livemode: false}},
		Registry: reg,
		Destinations: func(_ intake.EndpointKey, ev *stripeapi.Event) []string {
			return delivery.Route(sinks, benchConnection, benchRegion, ev.Type)
		},
		Stored: d.Wake,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("intake: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Start(ctx)
	}()
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc(pendingPath, func(w http.ResponseWriter, r *http.Request) {
		owed := map[string]bool{}
		for _, s := range sinks {
			_, ok, err := st.NextDue(r.Context(), s.Key)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			owed[s.Key] = ok
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(owed)
	})
	stop := func() {
		cancel()
		<-done
		// The workers' attempts run in goroutines of their own, not waited for by Start: give those
		// cut off by the cancel a moment to give up before the store closes (an outcome not recorded
		// leaves its row pending, which the ledger accounts for).
		time.Sleep(100 * time.Millisecond)
	}
	return mux, stop, nil
}

// deliveryResult is a delivery phase's sinks' side.
type deliveryResult struct {
	Sinks       int   `json:"sinks"`
	MaxInFlight int   `json:"max_in_flight"`
	Acked       int64 `json:"acknowledged_total"` // the whole phase, warm-up included: the ledger's
	// DeliveredPerSec is the slowest sink's receipts per second in the measurement window.
	DeliveredPerSec float64 `json:"delivered_per_s_min_sink"`
	// Lag of the events acknowledged in the window: the sink's first receipt minus the client's read of
	// the 2xx (ms; negative when the delivery beat the ack to its reader), every sink's together.
	// An event still undelivered when the relay stopped has a lag of at least LagBound (the stop minus
	// the window's end); a quantile that falls among those is -1 ("> LagBound").
	LagP50         float64 `json:"lag_p50_ms"`
	LagP99         float64 `json:"lag_p99_ms"`
	LagP999        float64 `json:"lag_p999_ms"`
	LagMax         float64 `json:"lag_max_ms"`
	LagN           int64   `json:"lag_deliveries"` // (event, sink) pairs of the window, delivered or not
	LagUndelivered int64   `json:"lag_undelivered"`
	LagBound       float64 `json:"lag_bound_ms"`
	// Drain: from the load's end until no sink is owed anything (or -drain-timeout).
	DrainS    float64 `json:"drain_s"`
	Drained   bool    `json:"drained"`
	DrainRate float64 `json:"drain_deliveries_per_s"` // every sink's receipts per second while draining
	// The CPU per delivery while draining (no intake then): the relay's server and the sinks'.
	DrainServerUSPer float64      `json:"drain_server_cpu_us_per_delivery"`
	DrainSinkUSPer   float64      `json:"drain_sink_cpu_us_per_delivery"`
	Duplicates       int64        `json:"duplicates"`
	Ledger           bool         `json:"ledger_exact"`
	PerSink          []sinkResult `json:"per_sink"`
}

// sinkResult is one sink's figures and ledger.
type sinkResult struct {
	Key         string  `json:"key"`
	InWindow    int64   `json:"received_in_window"`
	PerSec      float64 `json:"received_per_s"`
	Received    int64   `json:"received_acknowledged"` // distinct acknowledged ids the sink received
	Extra       int64   `json:"received_unacknowledged"`
	Duplicates  int64   `json:"duplicates"`
	Bad         int64   `json:"bad_signatures"`
	FirstBad    string  `json:"first_bad,omitempty"`
	Conns       int64   `json:"connections"` // TCP connections the sink accepted
	Dead        int64   `json:"dead"`
	Pending     int64   `json:"pending"`      // acknowledged, pending in the store, not received
	PendingSeen int64   `json:"pending_seen"` // pending in the store, yet received (outcome not recorded)
	Delivered   int64   `json:"store_delivered"`
	Missing     int64   `json:"missing"` // acknowledged, and neither received, dead nor pending
	Ledger      bool    `json:"ledger_exact"`
}

// runDeliver is one delivery phase with n sinks.
func runDeliver(ctx context.Context, self, dir, secret string, gen *generator, o options, n int) (phase, error) {
	name := fmt.Sprintf("deliver x%d", n)
	file := fmt.Sprintf("deliver-x%d", n)
	db := filepath.Join(dir, file+".db")
	sinkSecret := newSinkSecret()
	sk, err := startServer(self, []string{"-serve", modeSink, "-serve-sinks", strconv.Itoa(n), "-serve-sink-secret", sinkSecret})
	if err != nil {
		return phase{}, err
	}
	defer func() { _ = sk.stop() }()
	args := []string{"-serve", modeDeliver, "-serve-secret", secret, "-serve-db", db,
		"-serve-sink-urls", sk.url, "-serve-sink-secret", sinkSecret, "-serve-max-inflight", strconv.Itoa(o.maxInFlight)}
	if o.cpuProfile != "" {
		args = append(args, "-serve-cpuprofile", filepath.Join(o.cpuProfile, file+".pprof"))
	}
	srv, err := startServer(self, args)
	if err != nil {
		return phase{}, err
	}
	defer func() { _ = srv.stop() }()
	step("%s: relay pid %d at %s, %d sink(s) pid %d; %d clients, warm-up %s, measuring %s", name, srv.pid(), srv.url,
		n, sk.pid(), o.clients, o.warmup, o.duration)

	lg := newLoad(srv.url, gen, o.clients, false)
	lg.recordAcks = true
	defer lg.close()
	ph, workers, err := measureDeliver(ctx, name, srv, sk, lg, o)
	if err != nil {
		return phase{}, err
	}
	step("%s: %.0f events/s acknowledged; waiting for the backlog to drain (at most %s)", name, ph.EventsPerSec, o.drainTimeout)
	sinkURLs := strings.Split(sk.url, ",")
	d := &deliveryResult{Sinks: n, MaxInFlight: o.maxInFlight}
	if err := drain(ctx, srv, sk, lg.http, sinkURLs, o.drainTimeout, d); err != nil {
		return phase{}, err
	}

	// Stop the relay (its Deliverer with it) first, then read the sinks' receipts and the store: what
	// the sinks received is then final, and the store has every outcome it will ever record.
	if err := srv.stop(); err != nil {
		return phase{}, err
	}
	stoppedAt := time.Now().UnixNano()
	stats := make([]sinkStats, n)
	for i, u := range sinkURLs {
		if stats[i], err = readSinkStats(lg.http, u, true); err != nil {
			return phase{}, err
		}
	}
	if ph.Stored, err = countStored(ctx, db); err != nil {
		return phase{}, err
	}
	acks := map[string]int64{}
	for _, w := range workers {
		for _, a := range w.acks {
			acks[a.id] = a.at
		}
	}
	d.Acked = int64(len(acks))
	if err := ledger(ctx, db, d, acks, stats); err != nil {
		return phase{}, err
	}
	winStart, winEnd := lg.windowWall()
	d.rates(acks, stats, winStart, winEnd, stoppedAt)
	ph.Delivery = d
	verdict := "ledger exact"
	if !d.Ledger {
		verdict = "ledger VOID"
	}
	step("%s: slowest sink %.0f deliveries/s in the window, lag p50 %s p99 %s, drained in %.1f s, %s",
		name, d.DeliveredPerSec, d.lag(d.LagP50), d.lag(d.LagP99), d.DrainS, verdict)
	return ph, nil
}

// measureDeliver is the phase's load: -warmup, then -duration measured (the intake's side).
func measureDeliver(ctx context.Context, name string, srv, sk *serverProcess, lg *load, o options) (phase, []*worker, error) {
	var (
		before   cpuSample
		statsErr error
	)
	workers, window, err := lg.run(ctx, o.warmup, o.duration, func() {
		statsErr = resetPutStats(lg.http, srv.url)
		before = sampleCPU(srv.pid(), sk.pid())
		if o.cpuProfile != "" {
			_ = srv.signal(syscall.SIGUSR1) // the profile covers the window and the drain
		}
	})
	after := sampleCPU(srv.pid(), sk.pid())
	if err != nil {
		return phase{}, nil, err
	}
	if statsErr != nil {
		return phase{}, nil, statsErr
	}
	puts, err := readPutStats(lg.http, srv.url)
	if err != nil {
		return phase{}, nil, err
	}
	ph := summarize(name, merge(workers), window, before, after)
	ph.Put = &puts
	return ph, workers, nil
}

// drain waits for the backlog to drain and fills d's drain figures: its time, the deliveries per
// second meanwhile, and the CPU per delivery of the relay and the sinks (no intake then).
func drain(ctx context.Context, srv, sk *serverProcess, client *http.Client, sinkURLs []string, timeout time.Duration, d *deliveryResult) error {
	from := sampleCPU(srv.pid(), sk.pid())
	receivedBefore, err := totalReceived(client, sinkURLs)
	if err != nil {
		return err
	}
	if d.Drained, err = waitDrained(ctx, client, srv.url, timeout); err != nil {
		return err
	}
	to := sampleCPU(srv.pid(), sk.pid())
	receivedAfter, err := totalReceived(client, sinkURLs)
	if err != nil {
		return err
	}
	if err := srv.check(); err != nil {
		return err
	}
	if err := sk.check(); err != nil {
		return err
	}
	d.DrainS = to.at.Sub(from.at).Seconds()
	if delivered := receivedAfter - receivedBefore; delivered > 0 {
		d.DrainServerUSPer = float64((to.server - from.server).Microseconds()) / float64(delivered)
		d.DrainSinkUSPer = float64((to.sink - from.sink).Microseconds()) / float64(delivered)
		if d.DrainS > 0 {
			d.DrainRate = float64(delivered) / d.DrainS
		}
	}
	return nil
}

// rates fills the sinks' receipts per second in the window (wall clock, Unix ns), the lag and the
// duplicates, after the ledger.
func (d *deliveryResult) rates(acks map[string]int64, stats []sinkStats, winStart, winEnd, stoppedAt int64) {
	window := time.Duration(winEnd - winStart).Seconds()
	var lags []time.Duration
	d.Ledger = len(d.PerSink) > 0
	for i, s := range stats {
		r := &d.PerSink[i]
		for _, at := range s.Received {
			if at >= winStart && at <= winEnd {
				r.InWindow++
			}
		}
		if window > 0 {
			r.PerSec = float64(r.InWindow) / window
		}
		if i == 0 || r.PerSec < d.DeliveredPerSec {
			d.DeliveredPerSec = r.PerSec
		}
		for id, ackAt := range acks {
			if ackAt < winStart || ackAt > winEnd {
				continue
			}
			if got, ok := s.Received[id]; ok {
				lags = append(lags, time.Duration(got-ackAt))
			} else {
				lags = append(lags, undelivered)
				d.LagUndelivered++
			}
		}
		d.Duplicates += r.Duplicates
		d.Ledger = d.Ledger && r.Ledger
	}
	slices.Sort(lags)
	d.LagN = int64(len(lags))
	d.LagBound = msOf(time.Duration(stoppedAt - winEnd))
	at := func(q float64) float64 {
		if v := quantile(lags, q); v != undelivered {
			return msOf(v)
		}
		return -1
	}
	d.LagP50, d.LagP99, d.LagP999, d.LagMax = at(0.5), at(0.99), at(0.999), at(1)
}

// undelivered is the lag of an event a sink had not received when the relay stopped.
const undelivered = time.Duration(math.MaxInt64)

// lag formats a lag quantile: -1 is "more than the bound".
func (d *deliveryResult) lag(v float64) string {
	if v < 0 {
		return "> " + dur(d.LagBound)
	}
	return dur(v)
}

// ledger fills d.PerSink from the sinks' receipts and the stopped relay's store: per sink, every
// acknowledged event must be received, dead or pending.
func ledger(ctx context.Context, path string, d *deliveryResult, acks map[string]int64, stats []sinkStats) error {
	st, err := store.OpenSQLite(ctx, path, store.SQLiteOptions{})
	if err != nil {
		return fmt.Errorf("open the relay's store: %w", err)
	}
	defer func() { _ = st.Close() }()
	for i, s := range stats {
		r := sinkResult{Key: sinkKey(i), Duplicates: s.Duplicates, Bad: s.Bad, FirstBad: s.FirstBad, Conns: s.Conns}
		for id := range s.Received {
			if _, ok := acks[id]; ok {
				r.Received++
			} else {
				r.Extra++
			}
		}
		c, err := st.Counts(ctx, r.Key)
		if err != nil {
			return err
		}
		r.Dead, r.Delivered = c.Dead, c.Delivered
		if c.Pending > 0 {
			rows, _, err := st.Due(ctx, store.DueQuery{Destination: r.Key, Now: time.Now().Add(24 * 365 * time.Hour), Limit: int(c.Pending)})
			if err != nil {
				return err
			}
			for _, row := range rows {
				_, acked := acks[row.EventID]
				_, seen := s.Received[row.EventID]
				switch {
				case seen:
					r.PendingSeen++
				case acked:
					r.Pending++
				}
			}
		}
		r.Missing = int64(len(acks)) - r.Received - r.Dead - r.Pending
		r.Ledger = r.Missing == 0 && r.Bad == 0
		d.PerSink = append(d.PerSink, r)
	}
	return nil
}

// waitDrained polls the relay until no sink is owed a delivery, or timeout; it says which.
func waitDrained(ctx context.Context, client *http.Client, base string, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(base + pendingPath)
		if err != nil {
			return false, fmt.Errorf("read the relay's pending deliveries: %w", err)
		}
		var owed map[string]bool
		err = json.NewDecoder(resp.Body).Decode(&owed)
		_ = resp.Body.Close()
		if err != nil {
			return false, fmt.Errorf("read the relay's pending deliveries: %w", err)
		}
		owing := false
		for _, v := range owed {
			owing = owing || v
		}
		if !owing {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return false, err
		}
	}
}

// totalReceived is every sink's distinct receipts so far.
func totalReceived(client *http.Client, urls []string) (int64, error) {
	var n int64
	for _, u := range urls {
		s, err := readSinkStats(client, u, false)
		if err != nil {
			return 0, err
		}
		n += s.Distinct
	}
	return n, nil
}

// dur formats milliseconds, as seconds from 1 s on.
func dur(v float64) string {
	if v >= 1000 || v <= -1000 {
		return fmt.Sprintf("%.2f s", v/1000)
	}
	return ms(v)
}

// printDelivery prints the delivery phases' sinks' side, in the report's table style.
func printDelivery(phases []phase) {
	var ds []phase
	for _, p := range phases {
		if p.Delivery != nil {
			ds = append(ds, p)
		}
	}
	if len(ds) == 0 {
		return
	}
	fmt.Printf("\n== Delivery, end to end (Stripe → relay → sinks): MaxInFlight %d and %s requests/s per sink; every delivery verified (Standard Webhooks) by the sink\n",
		ds[0].Delivery.MaxInFlight, thousands(sinkRate))
	fmt.Printf("%-10s %5s %9s %9s %7s %9s %9s %9s %9s %8s %5s %7s\n", "phase", "sinks", "intake/s", "deliv/s", "e2e", "lag p50",
		"lag p99", "lag p99.9", "lag max", "drain", "dups", "ledger")
	for _, p := range ds {
		d := p.Delivery
		ratio := 0.0
		if p.EventsPerSec > 0 {
			ratio = d.DeliveredPerSec / p.EventsPerSec
		}
		drain := fmt.Sprintf("%.1f s", d.DrainS)
		if !d.Drained {
			drain = ">" + drain
		}
		ledger := "exact"
		if !d.Ledger {
			ledger = "VOID"
		}
		fmt.Printf("%-10s %5d %9s %9s %5.0f %% %9s %9s %9s %9s %8s %5d %7s\n", p.Name, d.Sinks, thousands(int64(p.EventsPerSec+0.5)),
			thousands(int64(d.DeliveredPerSec+0.5)), ratio*100, d.lag(d.LagP50), d.lag(d.LagP99), d.lag(d.LagP999), d.lag(d.LagMax),
			drain, d.Duplicates, ledger)
	}
	for _, p := range ds {
		d := p.Delivery
		fmt.Printf("  %s: %s events acknowledged (warm-up included); draining: %s deliveries/s, %.0f µs of relay CPU and %.0f µs of sink CPU per delivery\n",
			p.Name, thousands(d.Acked), thousands(int64(d.DrainRate+0.5)), d.DrainServerUSPer, d.DrainSinkUSPer)
		if !d.Drained {
			var owed int64
			for _, s := range d.PerSink {
				owed += s.Pending + s.PendingSeen
			}
			more := "?"
			if d.DrainRate > 0 {
				more = fmt.Sprintf("%.0f s", float64(owed)/d.DrainRate)
			}
			fmt.Printf("    not drained: %s deliveries still owed after %.1f s; at the drain rate, about %s more\n",
				thousands(owed), d.DrainS, more)
		}
		for _, s := range d.PerSink {
			verdict := "exact"
			if !s.Ledger {
				verdict = "VOID"
			}
			fmt.Printf("    %s: %s/s in the window, %s connections; %s acknowledged = %s received + %s dead + %s pending (+%s missing): %s",
				s.Key, thousands(int64(s.PerSec+0.5)), thousands(s.Conns), thousands(d.Acked), thousands(s.Received),
				thousands(s.Dead), thousands(s.Pending), thousands(s.Missing), verdict)
			if s.PendingSeen > 0 || s.Extra > 0 || s.Duplicates > 0 || s.Bad > 0 {
				fmt.Printf("; received but still pending %d, received unacknowledged %d, duplicates %d, bad signatures %d",
					s.PendingSeen, s.Extra, s.Duplicates, s.Bad)
			}
			if s.FirstBad != "" {
				fmt.Printf(" (first: %s)", s.FirstBad)
			}
			fmt.Println()
		}
	}
	fmt.Printf("  intake/s: events acknowledged per second; deliv/s: the slowest sink's receipts per second, same window;\n" +
		"  e2e = deliv/s / intake/s. lag: the sink's first receipt of an event acknowledged in the window minus the\n" +
		"  client's read of its 2xx (wall clock, one machine; negative when the delivery beat the answer), every sink\n" +
		"  together; an event not yet received when the relay stopped counts as more than the stop minus the window's\n" +
		"  end (> x). drain: from the load's end until no sink is owed a delivery (> : -drain-timeout reached).\n" +
		"  ledger: per sink, from its receipts and the stopped relay's store (Counts, pending rows by id); VOID when an\n" +
		"  acknowledged event is neither received, dead nor pending, or a signature did not verify\n")
}
