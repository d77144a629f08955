package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/testenv"
)

// eventDeadline is "within seconds": far below every poll the operator has (a tenant's first
// recheck while events flow is 10 min; the resync is 10 h).
const eventDeadline = 30 * time.Second

// relayRig is a rig whose manager follows a relay process that the connection's endpoints deliver to.
type relayRig struct {
	*controllertest.Rig
	*relayProcess // shared by the subtests' rigs: a restart in one is the relay of all
}

// relayBinary builds ./cmd/relay once for the package's tests.
func relayBinary(t *testing.T) string {
	t.Helper()
	relayBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "e2e-relay-")
		if err != nil {
			relayBuild.err = err
			return
		}
		relayBuild.path = filepath.Join(dir, "relay")
		relayBuild.err = testenv.BuildBinary(context.Background(), env.RepoRoot, "./cmd/relay", relayBuild.path)
	})
	if relayBuild.err != nil {
		t.Fatal(relayBuild.err)
	}
	return relayBuild.path
}

// relayProcess is the running relay and how to start it again on the same store and ports.
type relayProcess struct {
	relay   *testenv.Relay
	options testenv.RelayOptions
}

// in returns the rig bound to a subtest's t, with the same relay.
func (r *relayRig) in(t *testing.T) *relayRig {
	return &relayRig{Rig: r.In(t), relayProcess: r.relayProcess}
}

// startRelayRig starts the relay first (on free ports), then the rig's manager following it, then
// points the connection's webhooks at it and waits for both endpoints to be Ready.
func startRelayRig(t *testing.T) *relayRig {
	t.Helper()
	return startRelayRigOn(t, "")
}

// startRelayRigOn is startRelayRig with the relay's store on PostgreSQL at postgresDSN ("": SQLite).
func startRelayRigOn(t *testing.T, postgresDSN string) *relayRig {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	logFile, err := os.Create(filepath.Join(dir, "relay.log"))
	if err != nil {
		t.Fatal(err)
	}
	options := testenv.RelayOptions{Binary: relayBinary(t), DataDir: dir, SecretNamespaces: controllertest.SecretNamespace, Log: logFile, PostgresDSN: postgresDSN}
	relay, err := env.StartRelay(ctx, options)
	if err != nil {
		t.Fatal(err)
	}
	options.IntakeAddr = strings.TrimPrefix(relay.IntakeURL, "http://")
	options.InternalAddr = strings.TrimPrefix(relay.InternalURL, "http://")
	rr := &relayRig{relayProcess: &relayProcess{relay: relay, options: options}}
	t.Cleanup(func() {
		rr.relay.Stop(10 * time.Second)
		_ = logFile.Close()
		noForbidden(t, "the relay", logFile.Name())
		if t.Failed() {
			if out, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("relay log:\n%s", out)
			}
		}
	})
	// No delivery retries: what a relay that was down missed comes back only through its backfill.
	rig := controllertest.NewRig(t, env, controllertest.RigOptions{
		Manager:  controllertest.ManagerOptions{RelayURL: relay.InternalURL},
		Emulator: emulator.Options{Webhooks: emulator.WebhookOptions{Retry: []time.Duration{}}},
	})
	connection := v1alpha1.StripeConnection{ObjectMeta: metav1.ObjectMeta{Name: rig.Connection}}
	rig.Get(&connection)
	rig.Update(&connection, func() {
		connection.Spec.Webhooks = &v1alpha1.ConnectionWebhooks{RelayURL: relay.IntakeURL, Namespace: rig.NS}
	})
	for _, suffix := range []string{"-platform", "-connect"} {
		endpoint := &v1alpha1.StripeWebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: rig.NS, Name: rig.Connection + suffix}}
		controllertest.WaitForCondition(t, env.Client, endpoint, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	}
	rr.Rig = rig
	return rr
}

// noForbidden fails the test if the log of a process running as the install's ServiceAccount shows a
// request its RBAC forbade (logged as "… is forbidden: User \"system:serviceaccount:…").
func noForbidden(t *testing.T, who, logPath string) {
	t.Helper()
	out, err := os.ReadFile(logPath)
	if err != nil {
		t.Errorf("read the log of %s: %v", who, err)
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "is forbidden: User") {
			t.Errorf("the install's RBAC forbade a request of %s: %s", who, tail(line, 600))
			return
		}
	}
}

// restartRelay kills the relay as a crash would (kill -9), runs during() while it is down, and
// starts it again on the same store and ports.
func (r *relayRig) restartRelay(t *testing.T, during func()) {
	t.Helper()
	r.relay.Kill()
	during()
	relay, err := env.StartRelay(context.Background(), r.options)
	if err != nil {
		t.Fatal(err)
	}
	r.relay = relay
}

// metric returns a counter of the relay's /metrics.
func (r *relayRig) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get(r.relay.InternalURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if value, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not in the relay's /metrics", name)
	return 0
}

// productNamed waits until the emulator's product is named want.
func productNamed(t *testing.T, r *relayRig, id, want string) {
	t.Helper()
	controllertest.Eventually(t, eventDeadline, func() error {
		product, err := r.Stripe.GetProduct(context.Background(), id)
		if err != nil {
			return err
		}
		if product.Name != want {
			return fmt.Errorf("product name %q, want %q", product.Name, want)
		}
		return nil
	})
}

// stripeEventNotes returns the notes of the StripeEvent events the operator emitted about obj.
func stripeEventNotes(t *testing.T, obj client.Object) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())); err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, e := range list.Items {
		if e.Regarding.Name == obj.GetName() && e.Regarding.UID == obj.GetUID() && e.Reason == managed.EventStripeEvent {
			notes = append(notes, e.Note)
		}
	}
	return notes
}

// TestEventsReachTheOperator pins issue 7's promise end to end, with the relay as a real process:
//   - a product renamed in the emulator's Dashboard is renamed back within seconds, through the
//     product.updated event (its id is in the plan's StripeEvent Kubernetes event), with no resync,
//     annotation or poll doing it (the resync is 10 h);
//   - the operator's own revert, an event carrying its idempotency key, starts nothing more;
//   - a connected account that finishes onboarding in the emulator turns the tenant's ChargesEnabled
//     true within seconds through the account.updated event, while the onboarding recheck, with
//     events flowing, waits 10 minutes;
//   - what happened while the relay was down (kill -9), with Stripe's retries off, comes back through
//     backfill when it starts: the platform's events, and a connected account's (listed with its
//     Stripe-Account header).
func TestEventsReachTheOperator(t *testing.T) {
	r := startRelayRig(t)

	plan := r.Plan("gold", controllertest.Monthly("monthly", 900))
	r.Create(plan)
	t.Run("a Dashboard edit is reverted through its event", func(t *testing.T) {
		r := r.in(t)
		controllertest.WaitForCondition(t, env.Client, plan, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
		r.Get(plan)
		want := plan.Spec.Product.Name
		edited := want + " (edited in the Dashboard)"
		if _, err := r.Emu.DashboardEdit("", plan.Status.ProductID, map[string]any{"name": edited}); err != nil {
			t.Fatal(err)
		}
		productNamed(t, r, plan.Status.ProductID, want)
		var notes []string
		controllertest.Eventually(t, 10*time.Second, func() error {
			if notes = stripeEventNotes(t, plan); len(notes) == 0 {
				return fmt.Errorf("no %s event on the plan", managed.EventStripeEvent)
			}
			return nil
		})
		if !strings.Contains(notes[0], "evt_") || !strings.Contains(notes[0], "(product.updated)") {
			t.Fatalf("StripeEvent note %q: want the event's id and type", notes[0])
		}
		// The revert's own product.updated carries the operator's idempotency key: no second pass
		// is started by it. Give its delivery time to arrive, then count again.
		time.Sleep(3 * time.Second)
		if again := stripeEventNotes(t, plan); len(again) != len(notes) {
			t.Fatalf("the operator's own revert started a pass: %q", again)
		}
	})

	t.Run("an edit made while the relay was down is backfilled when it starts", func(t *testing.T) {
		r.Get(plan)
		want := plan.Spec.Product.Name
		r.restartRelay(t, func() {
			if _, err := r.Emu.DashboardEdit("", plan.Status.ProductID, map[string]any{"name": want + " (edited while the relay was down)"}); err != nil {
				t.Fatal(err)
			}
			controllertest.Eventually(t, eventDeadline, func() error {
				if len(r.Emu.Deliveries(emulator.DeliveryFilter{Status: emulator.DeliveryFailed})) == 0 {
					return fmt.Errorf("the edit's delivery has not failed yet")
				}
				return nil
			})
		})
		productNamed(t, r, plan.Status.ProductID, want)
		if n := r.metric(t, "stripe_relay_backfilled_total"); n < 1 {
			t.Fatalf("stripe_relay_backfilled_total = %v: the revert was not brought by backfill", n)
		}
	})

	t.Run("during a rotation both endpoints deliver, the relay takes the new secret without a restart and keeps one copy", func(t *testing.T) {
		r := r.in(t)
		endpoint := &v1alpha1.StripeWebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: r.Connection + "-platform"}}
		r.Get(endpoint)
		r.Update(endpoint, func() {
			endpoint.Spec.Rotation = &v1alpha1.SecretRotation{Request: "e2e-1", Overlap: &metav1.Duration{Duration: time.Minute}}
		})
		controllertest.Eventually(t, eventDeadline, func() error {
			r.Get(endpoint)
			if endpoint.Status.Rotation == nil || endpoint.Status.Rotation.PreviousEndpointID == "" {
				return fmt.Errorf("no rotation in progress yet")
			}
			return nil
		})
		duplicates := r.metric(t, "stripe_relay_duplicates_total")
		r.Get(plan)
		want := plan.Spec.Product.Name
		if _, err := r.Emu.DashboardEdit("", plan.Status.ProductID, map[string]any{"name": want + " (edited during a rotation)"}); err != nil {
			t.Fatal(err)
		}
		productNamed(t, r, plan.Status.ProductID, want)
		// Both endpoints got the edit's event (and the revert's): one stored, the other a duplicate.
		controllertest.Eventually(t, eventDeadline, func() error {
			if n := r.metric(t, "stripe_relay_duplicates_total"); n < duplicates+1 {
				return fmt.Errorf("duplicates %v, want more than %v: the second endpoint's copy did not verify", n, duplicates)
			}
			return nil
		})
		if n := r.metric(t, `stripe_relay_refused_total{reason="no_valid_signature"}`); n != 0 {
			t.Fatalf("%v deliveries refused for their signature: the rotated secret was not picked up", n)
		}
	})

	t.Run("onboarding finished in Stripe turns ChargesEnabled true through its event", func(t *testing.T) {
		r := r.in(t)
		tenant := onboardingTenant(t, r, "acme")
		if _, err := r.Emu.CompleteOnboarding(tenant.Status.AccountID); err != nil {
			t.Fatal(err)
		}
		controllertest.WaitForConditionWithin(t, env.Client, tenant, v1alpha1.ConditionChargesEnabled, metav1.ConditionTrue, "", eventDeadline)
		waitForStripeEventNote(t, tenant, "(account.updated)")
	})

	t.Run("onboarding finished while the relay was down is backfilled from the connected account", func(t *testing.T) {
		r := r.in(t)
		tenant := onboardingTenant(t, r, "globex")
		failedBefore := len(r.Emu.Deliveries(emulator.DeliveryFilter{Status: emulator.DeliveryFailed}))
		r.restartRelay(t, func() {
			if _, err := r.Emu.CompleteOnboarding(tenant.Status.AccountID); err != nil {
				t.Fatal(err)
			}
			controllertest.Eventually(t, eventDeadline, func() error {
				if len(r.Emu.Deliveries(emulator.DeliveryFilter{Status: emulator.DeliveryFailed})) == failedBefore {
					return fmt.Errorf("the onboarding events' deliveries have not failed yet")
				}
				return nil
			})
		})
		controllertest.WaitForConditionWithin(t, env.Client, tenant, v1alpha1.ConditionChargesEnabled, metav1.ConditionTrue, "", eventDeadline)
		if n := r.metric(t, "stripe_relay_backfilled_total"); n < 1 {
			t.Fatalf("stripe_relay_backfilled_total = %v: ChargesEnabled was not brought by backfill", n)
		}
		waitForStripeEventNote(t, tenant, "(account.updated)")
	})
}

// onboardingTenant creates a tenant and waits until its account exists with charges off.
func onboardingTenant(t *testing.T, r *relayRig, name string) *v1alpha1.StripeTenant {
	t.Helper()
	tenant := r.Tenant(name)
	r.Create(tenant)
	controllertest.WaitForCondition(t, env.Client, tenant, v1alpha1.ConditionChargesEnabled, metav1.ConditionFalse, v1alpha1.ReasonDisabled)
	r.Get(tenant)
	return tenant
}

// waitForStripeEventNote waits for a StripeEvent event on obj whose note contains want.
func waitForStripeEventNote(t *testing.T, obj client.Object, want string) {
	t.Helper()
	controllertest.Eventually(t, 10*time.Second, func() error {
		notes := stripeEventNotes(t, obj)
		for _, note := range notes {
			if strings.Contains(note, want) {
				return nil
			}
		}
		return fmt.Errorf("no StripeEvent event containing %q on %s: %q", want, obj.GetName(), notes)
	})
}
