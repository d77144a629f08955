package stripetenant_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
	"github.com/cloudip/stripe-operator/internal/controller/managed"
	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// Pins the guarantee for all three Stripe objects a tenant owns: a crash at each create (the manager
// killed between Stripe's answer and the write of the id), or the create's answer lost on the wire
// after Stripe committed it, never leaves two accounts, two customers or two subscriptions.
func TestCrashSafety(t *testing.T) {
	components := []struct {
		name       string
		annotation string
		route      string
	}{
		{"account", v1alpha1.AnnotationExternalName, "/v1/accounts"},
		{"customer", managed.AnnotationSecondaryPrefix + "customer", "/v1/customers"},
		{"subscription", managed.AnnotationSecondaryPrefix + "subscription", "/v1/subscriptions"},
	}
	for _, c := range components {
		t.Run("killed before the "+c.name+" id is written", func(t *testing.T) {
			crashed := make(chan struct{})
			r := newRig(t, rigOptions{manager: controllertest.ManagerOptions{NewClient: controllertest.CrashOnIDWrite(&v1alpha1.StripeTenant{}, c.annotation, crashed)}})
			tenant := r.subscribedTenant("crash")
			select {
			case <-crashed:
			case <-time.After(controllertest.DefaultTimeout):
				t.Fatal("the create never happened")
			}
			// Past the second of the first attempt: a restart that ignored the marker would send a new
			// idempotency key (and so make a second object) rather than happen to repeat the first.
			time.Sleep(1100 * time.Millisecond)
			r.RestartManager(controllertest.ManagerOptions{})
			r.assertOneOfEach(tenant)
		})
		t.Run(c.name+" create answer lost after Stripe committed it", func(t *testing.T) {
			r := newRig(t, rigOptions{emulator: emulator.Options{Faults: emulator.FaultConfig{Seed: 7, Rules: []emulator.FaultRule{
				{Method: "POST", Path: c.route, DropAfterRate: 1},
			}}}})
			tenant := r.subscribedTenant("lost")
			// Every create of this object loses its answer: the operator must recover the one Stripe
			// made, by its tags (the account's pass lists them) or by repeating the create's key (a
			// repeat is answered from Stripe's idempotency cache, and not dropped).
			controllertest.Eventually(t, controllertest.DefaultTimeout, func() error {
				r.Get(tenant)
				if id := tenant.Annotations[c.annotation]; id != "" && !strings.HasPrefix(id, managed.CreatePending) {
					return nil
				}
				if n := r.Emu.Stats().Requests["POST "+c.route]; n < 2 {
					return fmt.Errorf("%d creates sent and no id recovered yet", n)
				}
				return nil
			})
			r.Emu.SetFaults(emulator.FaultConfig{})
			r.assertOneOfEach(tenant)
		})
	}
}

// subscribedTenant creates a platform plan and a tenant subscribed to it, and returns the tenant.
func (r *rig) subscribedTenant(name string) *v1alpha1.StripeTenant {
	r.T.Helper()
	r.Create(r.Plan("plan-"+name, controllertest.Monthly("monthly", 900)))
	tenant := subscribed(r.tenant(name), "plan-"+name, "monthly")
	tenant.Spec.Subscription.TrialPeriodDays = ptrTo(int32(14))
	r.Create(tenant)
	return tenant
}

// assertOneOfEach waits until the tenant is in sync and checks that Stripe holds exactly one account,
// one customer and one subscription for it, the ones its status names.
func (r *rig) assertOneOfEach(tenant *v1alpha1.StripeTenant) {
	r.T.Helper()
	controllertest.Eventually(r.T, controllertest.DefaultTimeout, func() error {
		r.Get(tenant)
		if tenant.Status.SubscriptionID == "" {
			return errors.New("no subscription recorded yet")
		}
		return nil
	})
	r.synced(tenant)
	accounts, customers, subscriptions := r.accountsOf(tenant), r.customersOf(tenant), r.subscriptionsOf(tenant)
	if len(accounts) != 1 || accounts[0].ID != tenant.Status.AccountID {
		r.T.Errorf("accounts %v, want exactly %s", ids(accounts, func(a accountT) string { return a.ID }), tenant.Status.AccountID)
	}
	if len(customers) != 1 || customers[0].ID != tenant.Status.CustomerID {
		r.T.Errorf("customers %v, want exactly %s", ids(customers, func(c customerT) string { return c.ID }), tenant.Status.CustomerID)
	}
	if len(subscriptions) != 1 || subscriptions[0].ID != tenant.Status.SubscriptionID {
		r.T.Errorf("subscriptions %v, want exactly %s", ids(subscriptions, func(s subscriptionT) string { return s.ID }), tenant.Status.SubscriptionID)
	}
	if tenant.Status.SubscriptionStatus != "trialing" {
		r.T.Errorf("subscription status %q, want trialing", tenant.Status.SubscriptionStatus)
	}
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, 0, len(items))
	for _, item := range items {
		out = append(out, id(item))
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

type (
	accountT      = stripeapi.Account
	customerT     = stripeapi.Customer
	subscriptionT = stripeapi.Subscription
)
