package delivery

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudip/stripe-operator/internal/pgtest"
	"github.com/cloudip/stripe-operator/webhookrelay/store"
)

// TestReplicasHoldTheSinkLimits pins a sink's limits across relay replicas: two Deliverers, each with
// its own store on one PostgreSQL database, deliver one sink's events together. With MaxInFlight 1 the
// sink never sees two requests at once and gets them in seq order; with a rate of 20/s the two
// replicas together send no faster than 20/s (each alone would send at 20/s). Every event arrives once.
func TestReplicasHoldTheSinkLimits(t *testing.T) {
	server := pgtest.Start(t)
	cases := []struct {
		name        string
		events      int
		maxInFlight int
		rps         float64
		hold        time.Duration
	}{
		{name: "one in flight, in order", events: 40, maxInFlight: 1, rps: 1000, hold: 5 * time.Millisecond},
		{name: "one rate", events: 30, maxInFlight: 8, rps: 20},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := server.CreateDatabase(t, fmt.Sprintf("replicas_%d", i))
			secret := newSecret(t)
			sink := newTestSink(t, secret)
			sink.hold = tc.hold
			key := "payments/gl"
			sinks := StaticSinks{{Key: key, URL: sink.server.URL, Secrets: []string{secret}, Format: FormatEvents, MaxInFlight: tc.maxInFlight, RequestsPerSecond: tc.rps}}
			var replicas []*store.DB
			for range 2 {
				s, err := store.OpenPostgres(ctx, dsn, store.PostgresOptions{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				replicas = append(replicas, s)
			}
			at := time.Now()
			for n := range tc.events {
				id := fmt.Sprintf("evt_%03d", n)
				ev := store.Event{ID: id, Endpoint: "payments/platform", Type: "invoice.paid", Created: at, ReceivedAt: at,
					Payload: fmt.Appendf(nil, `{"id":%q,"object":"event","type":"invoice.paid"}`, id)}
				if _, err := replicas[0].Put(ctx, ev, []string{key}); err != nil {
					t.Fatal(err)
				}
			}
			began := time.Now()
			for _, s := range replicas {
				d, err := New(Options{Store: s, Sinks: sinks, Registry: prometheus.NewRegistry(), Resync: 50 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				runCtx, cancel := context.WithCancel(ctx)
				done := make(chan struct{})
				go func() { _ = d.Start(runCtx); close(done) }()
				t.Cleanup(func() { cancel(); <-done })
			}
			eventually(t, 60*time.Second, func() error {
				if acked, _ := sink.snapshot(); len(acked) < tc.events {
					return fmt.Errorf("%d of %d delivered", len(acked), tc.events)
				}
				return nil
			})
			took := time.Since(began)
			acked, bad := sink.snapshot()
			for id, n := range acked {
				if n != 1 {
					t.Errorf("%s acknowledged %d times", id, n)
				}
			}
			if bad != 0 {
				t.Errorf("%d deliveries did not verify", bad)
			}
			if peak := sink.peak.Load(); peak > int64(tc.maxInFlight) {
				t.Errorf("the sink saw %d requests at once, MaxInFlight is %d", peak, tc.maxInFlight)
			}
			if tc.maxInFlight == 1 {
				sink.mu.Lock()
				seqs := slices.Clone(sink.seqs)
				sink.mu.Unlock()
				if !slices.IsSorted(seqs) {
					t.Errorf("seqs out of order with one in flight: %v", seqs)
				}
			}
			// A lower bound only: a slow machine makes delivery slower, never faster than the rate.
			burst := Sink{RequestsPerSecond: tc.rps}.burst()
			if least := time.Duration(float64(tc.events-burst) / tc.rps * float64(time.Second)); took < least*9/10 {
				t.Errorf("%d events delivered in %v by two replicas; the rate %v/s allows no less than %v", tc.events, took, tc.rps, least)
			}
		})
	}
}
