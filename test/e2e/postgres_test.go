package e2e

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/pgtest"
)

// TestRelayOnPostgres pins the relay binary on its PostgreSQL store (--postgres-dsn-file), against a
// private server: a Dashboard edit is reverted through its event and the event reaches a sink; then
// PostgreSQL itself is killed and restarted, and an edit made after that still goes through (the
// relay's pool reconnects; nothing it acknowledged was lost).
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
			pg.Restart(t)
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
