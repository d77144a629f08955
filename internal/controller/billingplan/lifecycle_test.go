package billingplan_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// Pins: a new plan becomes one tagged product with one price per key, ids in status and in the
// external-name annotation, Ready=True, using only create calls Stripe's spec accepts.
func TestCreate(t *testing.T) {
	r := newRig(t, rigOptions{})
	plan := r.Plan("starter", controllertest.Monthly("monthly", 1200), controllertest.Monthly("seats", 500), v1alpha1.Price{
		Key: "setup", Currency: "eur", UnitAmountDecimal: ptr.To("99.5"), LookupKey: "starter-setup",
	})
	r.Create(plan)
	r.waitReady(plan)

	products := r.productsOf(plan)
	if len(products) != 1 {
		t.Fatalf("want exactly one product for the plan, got %d", len(products))
	}
	if got := v1alpha1.GetExternalName(plan); got != products[0].ID || plan.Status.ProductID != products[0].ID {
		t.Errorf("external-name %q, status.productID %q, want %q", got, plan.Status.ProductID, products[0].ID)
	}
	prices := r.prices(products[0].ID)
	if len(prices) != 3 || len(plan.Status.Prices) != 3 {
		t.Fatalf("want 3 prices in Stripe and status, got %d and %d", len(prices), len(plan.Status.Prices))
	}
	for _, p := range prices {
		if p.Metadata[stripeapi.MetadataKeyUID] != string(plan.UID) || p.Metadata[stripeapi.MetadataKeyComponent] == "" {
			t.Errorf("price %s lacks the plan's tags: %v", p.ID, p.Metadata)
		}
	}
	setup, err := priceByKey(plan, "setup")
	if err != nil || setup.LookupKey != "starter-setup" {
		t.Errorf("setup price status %+v, %v", setup, err)
	}
	r.NoSpecRefusals()
}

// Pins: mutable fields (product name, price nickname and metadata) change in place, keeping the ids;
// amount, currency and recurrence changes create a new price that takes the lookup key while the old
// one is archived and kept in the history; a price removed from the spec is archived.
func TestUpdates(t *testing.T) {
	cases := map[string]struct {
		mutate func(*v1alpha1.BillingPlan)
		check  func(t *testing.T, r *rig, before, after *v1alpha1.BillingPlan)
	}{
		"in-place fields keep the ids": {
			mutate: func(p *v1alpha1.BillingPlan) {
				p.Spec.Product.Name = "Starter (renamed)"
				p.Spec.Prices[0].Nickname = "Monthly, renamed"
				p.Spec.Prices[0].Metadata = v1alpha1.Metadata{"tier": "gold"}
			},
			check: func(t *testing.T, r *rig, before, after *v1alpha1.BillingPlan) {
				if before.Status.Prices[0].ID != after.Status.Prices[0].ID {
					t.Errorf("nickname change replaced the price: %s -> %s", before.Status.Prices[0].ID, after.Status.Prices[0].ID)
				}
				product := r.productsOf(after)[0]
				if product.Name != "Starter (renamed)" {
					t.Errorf("product name %q", product.Name)
				}
				for _, p := range r.prices(product.ID) {
					if p.ID == after.Status.Prices[0].ID && (p.Nickname != "Monthly, renamed" || p.Metadata["tier"] != "gold") {
						t.Errorf("price not updated in place: %+v", p)
					}
				}
			},
		},
		"amount change versions the price": {
			mutate: func(p *v1alpha1.BillingPlan) { p.Spec.Prices[0].UnitAmount = ptr.To[int64](1500) },
			check: func(t *testing.T, r *rig, before, after *v1alpha1.BillingPlan) {
				oldID, newID := before.Status.Prices[0].ID, after.Status.Prices[0].ID
				if oldID == newID {
					t.Fatalf("amount change kept price %s", oldID)
				}
				prices := map[string]stripeapi.Price{}
				for _, p := range r.prices(after.Status.ProductID) {
					prices[p.ID] = p
				}
				if old := prices[oldID]; old.Active || old.LookupKey != "" {
					t.Errorf("old price should be archived without its lookup key: %+v", old)
				}
				if cur := prices[newID]; !cur.Active || cur.LookupKey != before.Status.Prices[0].LookupKey || *cur.UnitAmount != 1500 {
					t.Errorf("new price should be active at 1500 with the lookup key: %+v", cur)
				}
				if len(after.Status.ArchivedPrices) != 1 || after.Status.ArchivedPrices[0].ID != oldID {
					t.Errorf("archived history %+v, want %s", after.Status.ArchivedPrices, oldID)
				}
			},
		},
		"removed price is archived": {
			mutate: func(p *v1alpha1.BillingPlan) { p.Spec.Prices = p.Spec.Prices[:1] },
			check: func(t *testing.T, r *rig, before, after *v1alpha1.BillingPlan) {
				removed := before.Status.Prices[1].ID
				for _, p := range r.prices(after.Status.ProductID) {
					if p.ID == removed && p.Active {
						t.Errorf("removed price %s still active", removed)
					}
				}
				if len(after.Status.Prices) != 1 || len(after.Status.ArchivedPrices) != 1 {
					t.Errorf("status prices %+v archived %+v", after.Status.Prices, after.Status.ArchivedPrices)
				}
			},
		},
	}
	r := newRig(t, rigOptions{})
	i := 0
	for name, tc := range cases {
		i++
		t.Run(name, func(t *testing.T) {
			r := r.in(t)
			monthlyPrice := controllertest.Monthly("monthly", 1000)
			monthlyPrice.LookupKey = "starter-monthly"
			if i > 1 {
				monthlyPrice.LookupKey = fmt.Sprintf("starter-monthly-%d", i) // lookup keys are unique per account
			}
			plan := r.Plan(fmt.Sprintf("plan-%d", i), monthlyPrice, controllertest.Monthly("seats", 300))
			r.Create(plan)
			r.waitReady(plan)
			before := plan.DeepCopy()
			r.Update(plan, func() { tc.mutate(plan) })
			r.waitReady(plan)
			if len(r.productsOf(plan)) != 1 {
				t.Errorf("want one product")
			}
			tc.check(t, r, before, plan)
		})
	}
	r.NoSpecRefusals()
}

// Pins: deletionPolicy Delete archives the prices and the product (Stripe cannot delete them) and
// releases the object; Orphan leaves Stripe as it is.
func TestDeletionPolicies(t *testing.T) {
	r := newRig(t, rigOptions{})
	for _, policy := range []v1alpha1.DeletionPolicy{v1alpha1.DeletionPolicyDelete, v1alpha1.DeletionPolicyOrphan} {
		t.Run(string(policy), func(t *testing.T) {
			r := r.in(t)
			plan := r.Plan("deleted-"+strings.ToLower(string(policy)), controllertest.Monthly("monthly", 1000))
			plan.Spec.DeletionPolicy = policy
			r.Create(plan)
			r.waitReady(plan)
			if err := env.Client.Delete(context.Background(), plan); err != nil {
				t.Fatal(err)
			}
			controllertest.Gone(t, env.Client, plan)
			product := r.productsOf(plan)[0]
			price := r.prices(product.ID)[0]
			wantActive := policy == v1alpha1.DeletionPolicyOrphan
			if product.Active != wantActive || price.Active != wantActive {
				t.Errorf("after delete with %s: product active=%v price active=%v, want %v", policy, product.Active, price.Active, wantActive)
			}
		})
	}
}

// Pins: a product made outside the operator is adopted through the external-name annotation with no
// write at all while it matches the spec; managementPolicy Observe reports a difference without
// writing; the paused annotation stops writes until it is removed.
func TestAdoptObservePause(t *testing.T) {
	r := newRig(t, rigOptions{})
	ctx := context.Background()
	product, err := r.Stripe.CreateProduct(ctx, stripeapi.ProductCreateParams{
		IdempotencyKey: "adopt-product", Name: "Legacy", Tags: stripeapi.Tags{UID: "outside", NamespacedName: "x/y", Kind: "Manual"},
	})
	if err != nil {
		t.Fatal(err)
	}
	price, err := r.Stripe.CreatePrice(ctx, stripeapi.PriceCreateParams{
		IdempotencyKey: "adopt-price", ProductID: product.ID, Currency: "usd", UnitAmount: ptr.To[int64](700),
		Nickname: "monthly", Recurring: &stripeapi.Recurring{Interval: "month"}, Tags: stripeapi.Tags{UID: "outside", NamespacedName: "x/y", Kind: "Manual"},
	})
	if err != nil {
		t.Fatal(err)
	}
	writesBefore := r.Writes()

	plan := r.Plan("legacy", controllertest.Monthly("monthly", 700))
	plan.Spec.Product = v1alpha1.Product{Name: "Legacy"}
	plan.Annotations = map[string]string{v1alpha1.AnnotationExternalName: product.ID}
	r.Create(plan)
	r.waitReady(plan)
	if got := r.Writes() - writesBefore; got != 0 {
		t.Errorf("adoption of a matching product made %d Stripe writes, want 0", got)
	}
	if p, _ := priceByKey(plan, "monthly"); p.ID != price.ID {
		t.Errorf("adopted price %q, want %q", p.ID, price.ID)
	}

	t.Run("observe-only reports drift without writing", func(t *testing.T) {
		r := r.in(t)
		r.Update(plan, func() {
			plan.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve
			plan.Spec.Product.Name = "Legacy (wanted)"
		})
		controllertest.WaitForCondition(t, env.Client, plan, v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonObserving)
		if got := r.Writes() - writesBefore; got != 0 {
			t.Errorf("observe-only made %d Stripe writes", got)
		}
	})
	t.Run("paused stops writes, unpausing resumes", func(t *testing.T) {
		r := r.in(t)
		r.Update(plan, func() {
			plan.Spec.ManagementPolicy = v1alpha1.ManagementPolicyManage
			plan.Annotations[v1alpha1.AnnotationPaused] = "true"
		})
		controllertest.WaitForCondition(t, env.Client, plan, v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonPaused)
		if got := r.Writes() - writesBefore; got != 0 {
			t.Errorf("paused plan made %d Stripe writes", got)
		}
		r.Update(plan, func() { delete(plan.Annotations, v1alpha1.AnnotationPaused) })
		r.waitReady(plan)
		if name := mustProduct(t, r, product.ID).Name; name != "Legacy (wanted)" {
			t.Errorf("after unpausing, product name %q", name)
		}
	})
	r.NoSpecRefusals()
}

// Pins: an edit made in the Dashboard is reverted on the next reconcile (here asked for with the
// reconcile-requested annotation; in production the resync or the relay's event asks), and the
// metrics say so: the plan counted Ready, no drift for its creation, one drift corrected after.
func TestDriftIsReverted(t *testing.T) {
	r := newRig(t, rigOptions{})
	plan := r.Plan("drift", controllertest.Monthly("monthly", 1000))
	r.Create(plan)
	r.waitReady(plan)
	monthlyID := plan.Status.Prices[0].ID
	ready := map[string]string{"kind": "BillingPlan", "condition": "Ready", "status": "True", "reason": "Available"}
	if got := metricValue(t, r, "stripe_operator_managed_resources", ready); got != 1 {
		t.Errorf("managed_resources %v = %v, want 1", ready, got)
	}
	drifted := map[string]string{"kind": "BillingPlan"}
	if got := metricValue(t, r, "stripe_operator_drift_corrected_total", drifted); got != 0 {
		t.Errorf("drift corrected = %v after creating the plan, want 0 (a create is not drift)", got)
	}

	if _, err := r.Emu.DashboardEdit("", plan.Status.ProductID, map[string]any{"name": "Edited by hand"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Emu.DashboardEdit("", monthlyID, map[string]any{"active": false, "nickname": "hand"}); err != nil {
		t.Fatal(err)
	}
	r.Update(plan, func() { plan.Annotations[managed.AnnotationReconcileRequested] = "1" })
	controllertest.Eventually(t, controllertest.DefaultTimeout, func() error {
		product := mustProduct(t, r, plan.Status.ProductID)
		if product.Name != "Plan drift" {
			return fmt.Errorf("product name still %q", product.Name)
		}
		for _, p := range r.prices(product.ID) {
			if p.ID == monthlyID && (!p.Active || p.Nickname != "monthly") {
				return fmt.Errorf("price still drifted: active=%v nickname=%q", p.Active, p.Nickname)
			}
		}
		return nil
	})
	if n := len(r.prices(plan.Status.ProductID)); n != 1 {
		t.Errorf("reverting drift should reactivate the price, not add one: %d prices", n)
	}
	if got := metricValue(t, r, "stripe_operator_drift_corrected_total", drifted); got != 1 {
		t.Errorf("drift corrected = %v after the Dashboard edit was reverted, want 1", got)
	}
}

// metricValue returns the value of the operator's metric name with exactly these labels (0 if none).
func metricValue(t *testing.T, r *rig, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := r.Manager.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func mustProduct(t *testing.T, r *rig, id string) *stripeapi.Product {
	t.Helper()
	p, err := r.Stripe.GetProduct(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
