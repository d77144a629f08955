package stripetenant_test

import (
	"context"
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
	stripe     *stripeapi.Client // reads Stripe (the emulator) the way the operator does, with its own budget
}

type rigOptions struct {
	emulator   emulator.Options
	manager    controllertest.ManagerOptions
	connection controllertest.ConnectionOptions
	nsLabels   map[string]string
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	r := &rig{t: t}
	r.ns = controllertest.Namespace(t, env, o.nsLabels)
	r.emu = emulator.Start(t, o.emulator)
	r.connection = "conn-" + r.ns
	o.manager.Namespace = r.ns
	r.manager = controllertest.StartManager(t, env, o.manager)
	controllertest.Connection(t, env.Client, r.connection, r.emu.URL, o.connection)
	var err error
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
	r.t.Helper()
	if err := r.manager.Stop(); err != nil {
		r.t.Fatalf("stop manager: %v", err)
	}
	o.Namespace = r.ns
	r.manager = controllertest.StartManager(r.t, env, o)
}

// tenant is a US Express tenant asking for cards, transfers and ACH, with onboarding URLs.
func (r *rig) tenant(name string) *v1alpha1.StripeTenant {
	return &v1alpha1.StripeTenant{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: name},
		Spec: v1alpha1.StripeTenantSpec{
			ManagedSpec:   v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: r.connection}},
			DataResidency: v1alpha1.RegionUS,
			Account: v1alpha1.TenantAccount{
				Type: v1alpha1.AccountTypeExpress, Country: "US", Email: name + "@tenants.example",
				Capabilities: []v1alpha1.Capability{v1alpha1.CapabilityCardPayments, v1alpha1.CapabilityTransfers, v1alpha1.CapabilityUSBankAccountACHPayments},
			},
			Onboarding: &v1alpha1.Onboarding{ReturnURL: "https://console.cloudip.example/onboarding/done", RefreshURL: "https://console.cloudip.example/onboarding/refresh"},
		},
	}
}

// subscribed adds spec.subscription to the plan's price key, with a billing email.
func subscribed(t *v1alpha1.StripeTenant, plan, key string) *v1alpha1.StripeTenant {
	t.Spec.BillingEmail = "billing@" + t.Name + ".example"
	t.Spec.Subscription = &v1alpha1.TenantSubscription{PlanRef: v1alpha1.LocalObjectReference{Name: plan}, PriceKey: key}
	return t
}

func monthly(key string, amount int64) v1alpha1.Price {
	return v1alpha1.Price{
		Key: key, Currency: "usd", UnitAmount: ptr.To(amount), Nickname: key,
		Recurring: &v1alpha1.Recurring{Interval: v1alpha1.IntervalMonth},
	}
}

// plan is a platform BillingPlan on the rig's connection.
func (r *rig) plan(name string, prices ...v1alpha1.Price) *v1alpha1.BillingPlan {
	return &v1alpha1.BillingPlan{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: name},
		Spec: v1alpha1.BillingPlanSpec{
			ManagedSpec: v1alpha1.ManagedSpec{ConnectionRef: &v1alpha1.ConnectionReference{Name: r.connection}},
			Product:     v1alpha1.Product{Name: "Plan " + name},
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

func (r *rig) get(obj client.Object) {
	r.t.Helper()
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) wait(obj v1alpha1.Managed, conditionType string, status metav1.ConditionStatus, reason string) {
	r.t.Helper()
	controllertest.WaitForCondition(r.t, env.Client, obj, conditionType, status, reason)
}

// synced waits until the last pass succeeded for the current generation.
func (r *rig) synced(obj v1alpha1.Managed) {
	r.t.Helper()
	r.wait(obj, v1alpha1.ConditionSynced, metav1.ConditionTrue, "")
}

// accountsOf returns the connected accounts tagged with the tenant's UID.
func (r *rig) accountsOf(t *v1alpha1.StripeTenant) []stripeapi.Account {
	r.t.Helper()
	all, err := r.stripe.ListAccounts(context.Background(), stripeapi.AccountListParams{})
	if err != nil {
		r.t.Fatalf("list accounts: %v", err)
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
	r.t.Helper()
	all, err := r.stripe.ListCustomers(context.Background(), stripeapi.CustomerListParams{})
	if err != nil {
		r.t.Fatalf("list customers: %v", err)
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
	r.t.Helper()
	all, err := r.stripe.ListSubscriptions(context.Background(), stripeapi.SubscriptionListParams{Status: "all"})
	if err != nil {
		r.t.Fatalf("list subscriptions: %v", err)
	}
	var mine []stripeapi.Subscription
	for _, s := range all {
		if s.Metadata[stripeapi.MetadataKeyUID] == string(t.UID) {
			mine = append(mine, s)
		}
	}
	return mine
}

// requests counts the requests the emulator received whose route starts with prefix ("POST /v1/accounts").
func (r *rig) requests(prefix string) int64 {
	var n int64
	for route, count := range r.emu.Stats().Requests {
		if strings.HasPrefix(route, prefix) {
			n += count
		}
	}
	return n
}

// writes counts the Stripe writes (POST and DELETE) the emulator received.
func (r *rig) writes() int64 { return r.requests("POST ") + r.requests("DELETE ") }

// noSpecRefusals checks that Stripe's spec (stripe-mock, in front of the emulator) accepted every request
// the operator made: the emulator answers 400 to what the spec refuses.
func (r *rig) noSpecRefusals() {
	r.t.Helper()
	if n := r.emu.Stats().Responses["400"]; n != 0 {
		r.t.Errorf("the emulator refused %d requests with 400 (spec or Stripe rule)", n)
	}
}

// condition returns the tenant's condition of the type, read now.
func (r *rig) condition(t *v1alpha1.StripeTenant, conditionType string) metav1.Condition {
	r.t.Helper()
	r.get(t)
	for _, c := range t.Status.Conditions {
		if c.Type == conditionType {
			return c
		}
	}
	r.t.Fatalf("no %s condition: %+v", conditionType, t.Status.Conditions)
	return metav1.Condition{}
}
