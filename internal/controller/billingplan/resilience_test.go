package billingplan_test

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// Pins: a crash between Stripe's answer to a create and the write of its id never creates a second
// product. Two ways to lose the id are covered: the manager dies before writing it, and the
// response itself is lost on the wire after Stripe committed the create.
func TestCrashSafety(t *testing.T) {
	t.Run("manager killed before the id is written", func(t *testing.T) {
		crashed := make(chan struct{})
		r := newRig(t, rigOptions{manager: controllertest.ManagerOptions{NewClient: controllertest.CrashOnIDWrite(&v1alpha1.BillingPlan{}, v1alpha1.AnnotationExternalName, crashed)}})
		plan := r.Plan("crash", controllertest.Monthly("monthly", 1000), controllertest.Monthly("seats", 200))
		r.Create(plan)
		select {
		case <-crashed:
		case <-time.After(controllertest.DefaultTimeout):
			t.Fatal("the create never happened")
		}
		r.RestartManager(controllertest.ManagerOptions{})
		r.waitReady(plan)
		assertOneProductWithPrices(t, r, plan, 2)
	})
	t.Run("create response lost after Stripe committed it", func(t *testing.T) {
		r := newRig(t, rigOptions{emulator: emulator.Options{Faults: emulator.FaultConfig{Seed: 7, Rules: []emulator.FaultRule{
			{Method: "POST", Path: "/v1/products", DropAfterRate: 1},
			{Method: "POST", Path: "/v1/prices", DropAfterRate: 0.5},
		}}}})
		plan := r.Plan("lost", controllertest.Monthly("monthly", 1000), controllertest.Monthly("seats", 200))
		r.Create(plan)
		// Every product create loses its answer: the operator must find the product by its tags.
		controllertest.Eventually(t, controllertest.DefaultTimeout, func() error {
			if n := len(r.productsOf(plan)); n != 1 {
				return fmt.Errorf("%d products", n)
			}
			return nil
		})
		r.Emu.SetFaults(emulator.FaultConfig{})
		r.waitReady(plan)
		assertOneProductWithPrices(t, r, plan, 2)
	})
}

// Pins: 429 storms (the emulator's limit is far under the connection's budget), 5xx bursts and lost
// responses all converge, with no duplicate product or price.
func TestFaultsConvergeWithoutDuplicates(t *testing.T) {
	r := newRig(t, rigOptions{
		budget: 25,
		// Failures are frequent here on purpose; a shorter backoff ceiling than production's 5 min
		// keeps the test short without changing what it proves (convergence, no duplicate).
		manager: controllertest.ManagerOptions{MaxRetryDelay: 10 * time.Second},
		emulator: emulator.Options{
			RateLimit: emulator.RateLimit{Rate: 8, Burst: 8},
			Faults: emulator.FaultConfig{Seed: 42, Rules: []emulator.FaultRule{
				{Method: "POST", ErrorRate: 0.1, DropAfterRate: 0.05},
				{Method: "GET", ErrorRate: 0.05},
			}},
		},
	})
	var plans []*v1alpha1.BillingPlan
	for i := range 8 {
		plan := r.Plan(fmt.Sprintf("storm-%d", i), controllertest.Monthly("monthly", 1000), controllertest.Monthly("seats", 200), controllertest.Monthly("support", 50))
		r.Create(plan)
		plans = append(plans, plan)
	}
	for _, plan := range plans {
		controllertest.WaitForConditionWithin(t, env.Client, plan, v1alpha1.ConditionReady, metav1.ConditionTrue, "", 3*time.Minute)
	}
	stats := r.Emu.Stats()
	t.Logf("requests %v; responses %v; 429s %d; faults %+v", stats.Requests, stats.Responses, stats.RateLimited, stats.Faults)
	// The storm is over: let the test's own reads through.
	r.Emu.SetRateLimits(emulator.RateLimit{}, nil)
	r.Emu.SetFaults(emulator.FaultConfig{})
	if stats.RateLimited == 0 || stats.Faults.ServerErrors == 0 {
		t.Errorf("the storm did not happen (429s %d, 5xx %d): the test proves nothing", stats.RateLimited, stats.Faults.ServerErrors)
	}
	for _, plan := range plans {
		assertOneProductWithPrices(t, r, plan, 3)
	}
}

// Pins: every controller using a connection draws on its one token bucket, so the operator never
// sends Stripe more than the connection's budget, however many plans reconcile at once.
func TestConnectionBudgetIsNeverExceeded(t *testing.T) {
	// The emulator enforces the same rate as the connection's budget; its burst allows for requests
	// that leave the operator spaced out but arrive bunched by the network.
	r := newRig(t, rigOptions{budget: 10, emulator: emulator.Options{RateLimit: emulator.RateLimit{Rate: 10, Burst: 12}},
		manager: controllertest.ManagerOptions{Concurrency: map[string]int{"BillingPlan": 8}}})
	var plans []*v1alpha1.BillingPlan
	for i := range 10 {
		plan := r.Plan(fmt.Sprintf("budget-%d", i), controllertest.Monthly("monthly", 1000), controllertest.Monthly("seats", 200))
		r.Create(plan)
		plans = append(plans, plan)
	}
	for _, plan := range plans {
		r.waitReady(plan)
	}
	if n := r.Emu.Stats().RateLimited; n != 0 {
		t.Errorf("the operator exceeded its budget: %d requests answered 429", n)
	}
}

// assertOneProductWithPrices checks Stripe holds exactly one product for the plan and exactly one
// active price per key.
func assertOneProductWithPrices(t *testing.T, r *rig, plan *v1alpha1.BillingPlan, keys int) {
	t.Helper()
	products := r.productsOf(plan)
	if len(products) != 1 {
		t.Fatalf("plan %s: %d products in Stripe, want 1", plan.Name, len(products))
	}
	active := map[string]int{}
	for _, p := range r.prices(products[0].ID) {
		if p.Active {
			active[p.Metadata[stripeapi.MetadataKeyComponent]]++
		}
	}
	if len(active) != keys {
		t.Errorf("plan %s: active prices by key %v, want %d keys", plan.Name, active, keys)
	}
	for key, n := range active {
		if n != 1 {
			t.Errorf("plan %s: %d active prices for %s", plan.Name, n, key)
		}
	}
}
