package stripetenant_test

import (
	"context"
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
	emulator   emulator.Options
	manager    controllertest.ManagerOptions
	connection controllertest.ConnectionOptions
	nsLabels   map[string]string
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	return &rig{controllertest.NewRig(t, env, controllertest.RigOptions{
		Emulator: o.emulator, Manager: o.manager, Connection: o.connection, NamespaceLabels: o.nsLabels,
	})}
}

// in returns the rig bound to a subtest's t, so its failures end the subtest, not the parent.
func (r *rig) in(t *testing.T) *rig { return &rig{r.In(t)} }

// tenant is a US Express tenant asking for cards, transfers and ACH, with onboarding URLs.
func (r *rig) tenant(name string) *v1alpha1.StripeTenant { return r.Tenant(name) }

// subscribed adds spec.subscription to the plan's price key, with a billing email.
func subscribed(t *v1alpha1.StripeTenant, plan, key string) *v1alpha1.StripeTenant {
	t.Spec.BillingEmail = "billing@" + t.Name + ".example"
	t.Spec.Subscription = &v1alpha1.TenantSubscription{PlanRef: v1alpha1.LocalObjectReference{Name: plan}, PriceKey: key}
	return t
}

func (r *rig) wait(obj v1alpha1.Managed, conditionType string, status metav1.ConditionStatus, reason string) {
	r.T.Helper()
	controllertest.WaitForCondition(r.T, env.Client, obj, conditionType, status, reason)
}

// synced waits until the last pass succeeded for the current generation.
func (r *rig) synced(obj v1alpha1.Managed) {
	r.T.Helper()
	r.wait(obj, v1alpha1.ConditionSynced, metav1.ConditionTrue, "")
}

// accountsOf returns the connected accounts tagged with the tenant's UID.
func (r *rig) accountsOf(t *v1alpha1.StripeTenant) []stripeapi.Account {
	r.T.Helper()
	all, err := r.Stripe.ListAccounts(context.Background(), stripeapi.AccountListParams{})
	if err != nil {
		r.T.Fatalf("list accounts: %v", err)
	}
	var mine []stripeapi.Account
	for _, a := range all {
		if a.Metadata[stripeapi.MetadataKeyUID] == string(t.UID) {
			mine = append(mine, a)
		}
	}
	return mine
}

// customersOf and subscriptionsOf return the tenant's customers and (not ended) subscriptions.
func (r *rig) customersOf(t *v1alpha1.StripeTenant) []stripeapi.Customer {
	r.T.Helper()
	all, err := r.Stripe.ListCustomers(context.Background(), stripeapi.CustomerListParams{})
	if err != nil {
		r.T.Fatalf("list customers: %v", err)
	}
	var mine []stripeapi.Customer
	for _, c := range all {
		if c.Metadata[stripeapi.MetadataKeyUID] == string(t.UID) {
			mine = append(mine, c)
		}
	}
	return mine
}

func (r *rig) subscriptionsOf(t *v1alpha1.StripeTenant) []stripeapi.Subscription {
	r.T.Helper()
	all, err := r.Stripe.ListSubscriptions(context.Background(), stripeapi.SubscriptionListParams{Status: "all"})
	if err != nil {
		r.T.Fatalf("list subscriptions: %v", err)
	}
	var mine []stripeapi.Subscription
	for _, s := range all {
		if s.Metadata[stripeapi.MetadataKeyUID] == string(t.UID) {
			mine = append(mine, s)
		}
	}
	return mine
}

// condition returns the tenant's condition of the type, read now.
func (r *rig) condition(t *v1alpha1.StripeTenant, conditionType string) metav1.Condition {
	r.T.Helper()
	r.Get(t)
	for _, c := range t.Status.Conditions {
		if c.Type == conditionType {
			return c
		}
	}
	r.T.Fatalf("no %s condition: %+v", conditionType, t.Status.Conditions)
	return metav1.Condition{}
}
