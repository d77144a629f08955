package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/pgtest"
	"github.com/cloudip/stripe-operator/internal/testenv"
)

// TestRelayOnPostgres pins the relay binary on its PostgreSQL store (--postgres-dsn-file), against a
// private server: a Dashboard edit is reverted through its event and the event reaches a sink; then
// PostgreSQL itself is killed and restarted (the relay's /readyz fails meanwhile, and passes again
// after), and an edit made after that still goes through (the relay's pool reconnects; nothing it
// acknowledged was lost).
func TestRelayOnPostgres(t *testing.T) {
	pg := pgtest.Start(t)
	r := startRelayRigOn(t, pg.DSN)
	_, sink := createSink(t, r, "gl-us", v1alpha1.RegionUS)
	plan := r.Plan("gold", controllertest.Monthly("monthly", 900))
	r.Create(plan)
	controllertest.WaitForCondition(t, env.Client, plan, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	r.Get(plan)
	want := plan.Spec.Product.Name
	for _, round := range []string{"before", "after a PostgreSQL restart"} {
		if round != "before" {
			pg.Kill()
			// The relay is not ready while it cannot store (its readiness commits a write).
			controllertest.Eventually(t, eventDeadline, func() error { return readyz(r, http.StatusServiceUnavailable) })
			pg.Restart(t)
			controllertest.Eventually(t, eventDeadline, func() error { return readyz(r, http.StatusOK) })
		}
		if _, err := r.Emu.DashboardEdit("", plan.Status.ProductID, map[string]any{"name": want + " (" + round + ")"}); err != nil {
			t.Fatal(err)
		}
		productNamed(t, r, plan.Status.ProductID, want)
		waitForStripeEventNote(t, plan, "(product.updated)")
	}
	controllertest.Eventually(t, eventDeadline, func() error {
		acked, _, bad := sink.snapshot()
		if len(acked) < 4 || bad != 0 {
			return fmt.Errorf("sink acknowledged %d events (%d unverifiable), want the two edits and their reverts", len(acked), bad)
		}
		return nil
	})
}

// readyz checks the relay's /readyz answer.
func readyz(r *relayRig, want int) error {
	resp, err := http.Get(r.relay.InternalURL + "/readyz")
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("/readyz answered %d, want %d", resp.StatusCode, want)
	}
	return nil
}

// TestRelayReplicasShareDelivery pins two relay replicas on one PostgreSQL store with --leader-elect:
// Stripe delivers to one replica's intake, both deliver (each claims rows the other does not hold),
// and the sink acknowledges every event exactly once; the sink's status is written (by the leader).
func TestRelayReplicasShareDelivery(t *testing.T) {
	pg := pgtest.Start(t)
	r := startRelayRigOn(t, pg.DSN)
	// The first replica was started by the rig; stop it and run two with an election instead.
	leaderNS := electionNamespace(t, relayElectionRole, testenv.RelayServiceAccount)
	opts := r.options
	r.relay.Stop(10 * time.Second)
	var replicas []*testenv.Relay
	for i := range 2 {
		o := opts
		o.DataDir = t.TempDir()
		o.ExtraArgs = []string{"--leader-elect", "--leader-election-namespace", leaderNS}
		if i > 0 {
			o.IntakeAddr, o.InternalAddr = "", "" // free ports: only the first replica is Stripe's
		}
		relay, err := env.StartRelay(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { relay.Stop(10 * time.Second) })
		replicas = append(replicas, relay)
	}
	r.relay = replicas[0]
	sinkObj, sink := createSink(t, r, "gl-us", v1alpha1.RegionUS)
	plan := r.Plan("gold", controllertest.Monthly("monthly", 900))
	r.Create(plan)
	controllertest.WaitForCondition(t, env.Client, plan, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	r.Get(plan)
	start := time.Now().Add(-time.Second)
	for i := range 10 {
		if _, err := r.Emu.DashboardEdit("", plan.Status.ProductID, map[string]any{"description": fmt.Sprintf("edit %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	controllertest.Eventually(t, 60*time.Second, func() error {
		events, err := r.Stripe.ListEventsSince(context.Background(), start)
		if err != nil {
			return err
		}
		acked, _, bad := sink.snapshot()
		for _, ev := range events {
			if acked[ev.ID] != 1 {
				return fmt.Errorf("%s acknowledged %d times (%d events, %d unverifiable)", ev.ID, acked[ev.ID], len(events), bad)
			}
		}
		return nil
	})
	controllertest.WaitForCondition(t, env.Client, sinkObj, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonDelivering)
}
