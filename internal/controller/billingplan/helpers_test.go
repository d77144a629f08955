package billingplan_test

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// rig is one test's world (controllertest.Rig) with this package's helpers.
type rig struct{ *controllertest.Rig }

type rigOptions struct {
	emulator emulator.Options
	manager  controllertest.ManagerOptions
	budget   int32
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	return &rig{controllertest.NewRig(t, env, controllertest.RigOptions{
		Emulator: o.emulator, Manager: o.manager, Connection: controllertest.ConnectionOptions{RequestsPerSecond: o.budget},
	})}
}

// in returns the rig bound to a subtest's t, so its failures end the subtest, not the parent.
func (r *rig) in(t *testing.T) *rig { return &rig{r.In(t)} }

func (r *rig) waitReady(obj v1alpha1.Managed) {
	r.T.Helper()
	controllertest.WaitForCondition(r.T, env.Client, obj, v1alpha1.ConditionReady, metav1.ConditionTrue, "")
	controllertest.WaitForCondition(r.T, env.Client, obj, v1alpha1.ConditionSynced, metav1.ConditionTrue, "")
}

// productsOf returns every product in Stripe tagged with the plan's UID (active or not).
func (r *rig) productsOf(plan *v1alpha1.BillingPlan) []stripeapi.Product {
	r.T.Helper()
	all, err := r.Stripe.ListProducts(context.Background(), stripeapi.ProductListParams{})
	if err != nil {
		r.T.Fatalf("list products: %v", err)
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
	r.T.Helper()
	prices, err := r.Stripe.ListPrices(context.Background(), stripeapi.PriceListParams{ProductID: productID})
	if err != nil {
		r.T.Fatalf("list prices: %v", err)
	}
	return prices
}

func priceByKey(plan *v1alpha1.BillingPlan, key string) (v1alpha1.PriceStatus, error) {
	for _, p := range plan.Status.Prices {
		if p.Key == key {
			return p, nil
		}
	}
	return v1alpha1.PriceStatus{}, fmt.Errorf("status has no price %q: %+v", key, plan.Status.Prices)
}
