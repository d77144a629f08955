package billingplan_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// rig is one test's world: a namespace, an emulator, a verified connection and a running manager.
type rig struct {
	t          *testing.T
	ns         string
	emu        *emulator.Server
	connection string
	manager    *controllertest.Manager
	stripe     *stripeapi.Client // reads Stripe (the emulator) the way the operator does
}

type rigOptions struct {
	emulator emulator.Options
	manager  controllertest.ManagerOptions
	budget   int32
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	r := &rig{t: t}
	r.ns = controllertest.Namespace(t, env, nil)
	r.emu = emulator.Start(t, o.emulator)
	r.connection = "conn-" + r.ns
	o.manager.Namespace = r.ns
	r.manager = controllertest.StartManager(t, env, o.manager)
	controllertest.Connection(t, env.Client, r.connection, r.emu.URL, controllertest.ConnectionOptions{RequestsPerSecond: o.budget})
	var err error
	// The test's own reads have an ample budget of their own, apart from the operator's.
	r.stripe, err = stripeapi.New(stripeapi.Config{APIKey: "sk_test_reader", BaseURL: r.emu.URL, Budget: stripeapi.Budget{RequestsPerSecond: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// in returns the rig bound to a subtest's t, so its failures end the subtest, not the parent.
func (r *rig) in(t *testing.T) *rig {
	c := *r
	c.t = t
	return &c
}

// restartManager stops the manager as a crash would and starts a new one, optionally with other options.
func (r *rig) restartManager(o controllertest.ManagerOptions) {
	if err := r.manager.Stop(); err != nil {
		r.t.Fatalf("stop manager: %v", err)
	}
	o.Namespace = r.ns
	r.manager = controllertest.StartManager(r.t, env, o)
}

func monthly(key string, amount int64) v1alpha1.Price {
	return v1alpha1.Price{
		Key: key, Currency: "usd", UnitAmount: ptr.To(amount), Nickname: key,
		Recurring: &v1alpha1.Recurring{Interval: v1alpha1.IntervalMonth},
	}
}

func (r *rig) plan(name string, prices ...v1alpha1.Price) *v1alpha1.BillingPlan {
	return &v1alpha1.BillingPlan{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: name},
		Spec: v1alpha1.BillingPlanSpec{
			ManagedSpec: v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: r.connection}},
			Product:     v1alpha1.Product{Name: "Plan " + name, Description: "CloudIP " + name},
			Prices:      prices,
		},
	}
}

func (r *rig) create(obj client.Object) {
	r.t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		r.t.Fatalf("create %s: %v", obj.GetName(), err)
	}
}

// update re-reads obj, applies mutate and writes it, retrying on conflicts with the operator's writes.
func (r *rig) update(obj client.Object, mutate func()) {
	r.t.Helper()
	controllertest.Eventually(r.t, 10*time.Second, func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate()
		return env.Client.Update(context.Background(), obj)
	})
}

func (r *rig) waitReady(obj v1alpha1.Managed) {
	r.t.Helper()
	controllertest.WaitForCondition(r.t, env.Client, obj, v1alpha1.ConditionReady, metav1.ConditionTrue, "")
	controllertest.WaitForCondition(r.t, env.Client, obj, v1alpha1.ConditionSynced, metav1.ConditionTrue, "")
}

// productsOf returns every product in Stripe tagged with the plan's UID (active or not).
func (r *rig) productsOf(plan *v1alpha1.BillingPlan) []stripeapi.Product {
	r.t.Helper()
	all, err := r.stripe.ListProducts(context.Background(), stripeapi.ProductListParams{})
	if err != nil {
		r.t.Fatalf("list products: %v", err)
	}
	var mine []stripeapi.Product
	for _, p := range all {
		if p.Metadata[stripeapi.MetadataKeyUID] == string(plan.UID) {
			mine = append(mine, p)
		}
	}
	return mine
}

func (r *rig) prices(productID string) []stripeapi.Price {
	r.t.Helper()
	prices, err := r.stripe.ListPrices(context.Background(), stripeapi.PriceListParams{ProductID: productID})
	if err != nil {
		r.t.Fatalf("list prices: %v", err)
	}
	return prices
}

// writes counts the Stripe writes (POST and DELETE) the emulator received.
func (r *rig) writes() int64 {
	var n int64
	for route, count := range r.emu.Stats().Requests {
		if strings.HasPrefix(route, "POST ") || strings.HasPrefix(route, "DELETE ") {
			n += count
		}
	}
	return n
}

// noSpecRefusals checks that Stripe's spec (stripe-mock, in front of the emulator) accepted every request
// the operator made: the emulator answers 400 to what the spec refuses.
func (r *rig) noSpecRefusals() {
	r.t.Helper()
	if n := r.emu.Stats().Responses["400"]; n != 0 {
		r.t.Errorf("the emulator refused %d requests with 400 (spec or Stripe rule)", n)
	}
}

func priceByKey(plan *v1alpha1.BillingPlan, key string) (v1alpha1.PriceStatus, error) {
	for _, p := range plan.Status.Prices {
		if p.Key == key {
			return p, nil
		}
	}
	return v1alpha1.PriceStatus{}, fmt.Errorf("status has no price %q: %+v", key, plan.Status.Prices)
}
