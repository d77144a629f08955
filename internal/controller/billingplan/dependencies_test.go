package billingplan_test

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// Pins: a plan with tenantRef inherits its tenant's connection, waits with a clear condition until
// the tenant has a connected account, then lives on that account (Stripe-Account), not the platform.
func TestPlanOnTenantAccount(t *testing.T) {
	r := newRig(t, rigOptions{})
	ctx := context.Background()
	tenant := &v1alpha1.StripeTenant{
		// Paused at first, so that the plan is seen waiting for the tenant's account.
		ObjectMeta: metav1.ObjectMeta{Namespace: r.NS, Name: "acme", Annotations: map[string]string{v1alpha1.AnnotationPaused: "true"}},
		Spec: v1alpha1.StripeTenantSpec{
			ManagedSpec:   v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: r.Connection}},
			DataResidency: v1alpha1.RegionUS,
			Account:       v1alpha1.TenantAccount{Type: "express", Country: "US", Email: "pay@acme.example", Capabilities: []v1alpha1.Capability{"card_payments", "transfers"}},
		},
	}
	r.Create(tenant)
	plan := r.Plan("tenant-plan", controllertest.Monthly("monthly", 900))
	plan.Spec.ConnectionRef = nil
	plan.Spec.TenantRef = &v1alpha1.LocalObjectReference{Name: "acme"}
	r.Create(plan)
	controllertest.WaitForCondition(t, env.Client, plan, v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonWaitingForDependency)

	r.Update(tenant, func() { delete(tenant.Annotations, v1alpha1.AnnotationPaused) })
	r.waitReady(plan)
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(tenant), tenant); err != nil {
		t.Fatal(err)
	}
	if tenant.Status.AccountID == "" || plan.Status.AccountID != tenant.Status.AccountID {
		t.Fatalf("plan on account %q, tenant's account %q", plan.Status.AccountID, tenant.Status.AccountID)
	}
	onAccount, err := r.Stripe.ForAccount(tenant.Status.AccountID).GetProduct(ctx, plan.Status.ProductID)
	if err != nil || onAccount.ID != plan.Status.ProductID {
		t.Fatalf("product %s not on the connected account: %v", plan.Status.ProductID, err)
	}
	if _, err := r.Stripe.GetProduct(ctx, plan.Status.ProductID); !stripeapi.IsNotFound(err) {
		t.Errorf("product %s should not exist on the platform account, got %v", plan.Status.ProductID, err)
	}
	r.NoSpecRefusals()
}

// Pins: a connection's allowedNamespaces is enforced for every object that references it.
func TestNamespaceNotAllowed(t *testing.T) {
	r := newRig(t, rigOptions{})
	restricted := controllertest.Connection(t, env.Client, "restricted-"+r.NS, r.Emu.URL, controllertest.ConnectionOptions{
		AllowedNamespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"cloudip.io/billing": "allowed"}},
	})
	plan := r.Plan("not-allowed", controllertest.Monthly("monthly", 900))
	plan.Spec.ConnectionRef.Name = restricted.Name
	r.Create(plan)
	controllertest.WaitForCondition(t, env.Client, plan, v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonNamespaceNotAllowed)
	if n := r.Writes(); n != 0 {
		t.Errorf("a refused namespace reached Stripe with %d writes", n)
	}
}
