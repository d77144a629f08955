package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
// On PostgreSQL (deliver pg xN, postgres.go) N replicas on one database each run a Deliverer; they
// claim rows with FOR UPDATE SKIP LOCKED and share each sink's MaxInFlight and rate through the store,
// and wake for each other's events by LISTEN/NOTIFY.
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
	// As cmd/relay does: on PostgreSQL every replica's Deliverer also wakes for the events the other
	// replicas stored (LISTEN/NOTIFY); on SQLite this returns at once.
	notified := make(chan struct{})
	go func() {
		defer close(notified)
		_ = st.Notifications(ctx, d.Wake, nil)
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
		<-notified
		// The workers' attempts run in goroutines of their own, not waited for by Start: give those
		// cut off by the cancel a moment to give up before the store closes (an outcome not recorded
		// leaves its row pending, which the ledger accounts for).
		time.Sleep(100 * time.Millisecond)
	}
	return mux, stop, nil
}

// runDeliver is one delivery phase with n sinks, served by spec's replicas: each runs a Deliverer
// on the phase's store (on PostgreSQL the replicas share each sink's rows, bound and rate).
func (b *bench) runDeliver(ctx context.Context, spec phaseSpec, n int) (phase, error) {
	o := b.o
	name := spec.name
	sinkSecret := newSinkSecret()
	sk, err := startServer(b.self, []string{"-serve", modeSink, "-serve-sinks", strconv.Itoa(n), "-serve-sink-secret", sinkSecret})
	if err != nil {
		return phase{}, err
	}
	defer func() { _ = sk.stop() }()
	srv, err := b.startServers(spec, "-serve-sink-urls", sk.url, "-serve-sink-secret", sinkSecret,
		"-serve-max-inflight", strconv.Itoa(o.maxInFlight))
	if err != nil {
		return phase{}, err
	}
	defer func() { _ = srv.stop() }()
	step("%s: relay pid %s at %v, %d sink(s) pid %d; %d clients, warm-up %s, measuring %s", name, srv.pidText(), srv.urls(),
		n, sk.pid(), o.clients, o.warmup, o.duration)

	lg := newLoad(srv.urls(), b.gen, o.clients, false)
	lg.recordAcks = true
	defer lg.close()
	of := cpuOf{servers: srv.pids(), sink: sk.pid(), pg: spec.store.pg}
	ph, workers, err := measureDeliver(ctx, spec, srv, of, lg, o)
	if err != nil {
		return phase{}, err
	}
	step("%s: %.0f events/s acknowledged; waiting for the backlog to drain (at most %s)", name, ph.EventsPerSec, o.drainTimeout)
	sinkURLs := strings.Split(sk.url, ",")
	d := &deliveryResult{Sinks: n, MaxInFlight: o.maxInFlight}
	if err := drain(ctx, srv, sk, of, lg.http, sinkURLs, o.drainTimeout, d); err != nil {
		return phase{}, err
	}

	// Stop the relay (its Deliverers with it) first, then read the sinks' receipts and the store:
	// what the sinks received is then final, and the store has every outcome it will ever record.
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
	if ph.Stored, err = countStored(ctx, spec.store); err != nil {
		return phase{}, err
	}
	acks := map[string]int64{}
	for _, w := range workers {
		for _, a := range w.acks {
			acks[a.id] = a.at
		}
	}
	d.Acked = int64(len(acks))
	if err := ledger(ctx, spec.store, d, acks, stats); err != nil {
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
func measureDeliver(ctx context.Context, spec phaseSpec, srv replicaSet, of cpuOf, lg *load, o options) (phase, []*worker, error) {
	var (
		before   cpuSample
		statsErr error
	)
	workers, window, err := lg.run(ctx, o.warmup, o.duration, func() {
		statsErr = resetPutStats(lg.http, srv.urls())
		before = sampleCPU(of)
		if o.cpuProfile != "" {
			srv.signal(syscall.SIGUSR1) // the profile covers the window and the drain
		}
	})
	after := sampleCPU(of)
	if err != nil {
		return phase{}, nil, err
	}
	if statsErr != nil {
		return phase{}, nil, statsErr
	}
	puts, err := readPutStats(lg.http, srv.urls())
	if err != nil {
		return phase{}, nil, err
	}
	ph := summarize(spec, merge(workers), window, before, after)
	ph.Put = &puts
	return ph, workers, nil
}

// drain waits for the backlog to drain and fills d's drain figures: its time, the deliveries per
// second meanwhile, and the CPU per delivery of the relay (every replica), of PostgreSQL (its
// phases) and of the sinks (no intake then).
func drain(ctx context.Context, srv replicaSet, sk *serverProcess, of cpuOf, client *http.Client, sinkURLs []string, timeout time.Duration, d *deliveryResult) error {
	from := sampleCPU(of)
	receivedBefore, err := totalReceived(client, sinkURLs)
	if err != nil {
		return err
	}
	// The replicas share the store: any of them tells what is still owed.
	if d.Drained, err = waitDrained(ctx, client, srv[0].url, timeout); err != nil {
		return err
	}
	to := sampleCPU(of)
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
		d.DrainPostgresUSPer = float64((to.postgres - from.postgres).Microseconds()) / float64(delivered)
		if d.DrainS > 0 {
			d.DrainRate = float64(delivered) / d.DrainS
		}
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
