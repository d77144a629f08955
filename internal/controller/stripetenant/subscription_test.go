package stripetenant_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudip/stripe-operator/api/v1alpha1"
	"github.com/cloudip/stripe-operator/hack/stripe-emulator/emulator"
	"github.com/cloudip/stripe-operator/internal/controller/controllertest"
)

// Pins the tenant's platform subscription through its life: created on the plan's price by key (and
// incomplete until the customer pays, saying so); a change of key and quantity updates the one
// subscription item with the tenant's proration; a price the plan versions moves the tenants that
// follow the key and leaves a pinned one where it is; send_invoice tenants get days until due; removing
// spec.subscription cancels at the period's end, or at once when asked. Never a second subscription.
func TestSubscription(t *testing.T) {
	r := newRig(t, rigOptions{})
	ctx := context.Background()
	plan := r.Plan("platform", controllertest.Monthly("monthly", 900), controllertest.Monthly("pro", 2900))
	r.Create(plan)

	follower := subscribed(r.tenant("follower"), "platform", "monthly")
	follower.Spec.Subscription.Quantity = ptrTo(int64(2))
	pinned := subscribed(r.tenant("pinned"), "platform", "pro")
	pinned.Spec.Subscription.PinPrice = true
	pinned.Spec.Subscription.TrialPeriodDays = ptrTo(int32(30))
	invoiced := subscribed(r.tenant("invoiced"), "platform", "monthly")
	invoiced.Spec.Subscription.CollectionMethod = v1alpha1.CollectionSendInvoice
	invoiced.Spec.Subscription.DaysUntilDue = ptrTo(int32(30))
	invoiced.Spec.SubscriptionCancellation = v1alpha1.SubscriptionCancelImmediately
	for _, tenant := range []*v1alpha1.StripeTenant{follower, pinned, invoiced} {
		r.Create(tenant)
	}

	// No payment method yet: the first invoice cannot be paid, and the condition says what to do.
	r.wait(follower, v1alpha1.ConditionSubscriptionActive, metav1.ConditionFalse, v1alpha1.ReasonSubscriptionIncomplete)
	if message := r.condition(follower, v1alpha1.ConditionSubscriptionActive).Message; !strings.Contains(message, "payment method") || !strings.Contains(message, "18.00 USD") {
		t.Errorf("SubscriptionActive message %q: want the invoice's amount and what the customer must do", message)
	}
	if _, err := r.Emu.AttachTestCard("", follower.Status.CustomerID, emulator.TestCardVisa, emulator.AttachCardOptions{Default: true, PayOpenInvoices: true}); err != nil {
		t.Fatal(err)
	}
	r.nudge(follower)
	r.wait(follower, v1alpha1.ConditionSubscriptionActive, metav1.ConditionTrue, v1alpha1.ReasonSubscriptionActive)
	r.wait(pinned, v1alpha1.ConditionSubscriptionActive, metav1.ConditionTrue, v1alpha1.ReasonSubscriptionTrialing)
	r.synced(invoiced)
	r.Get(plan)
	monthlyID, proID := priceID(t, plan, "monthly"), priceID(t, plan, "pro")
	subscriptionID := follower.Status.SubscriptionID
	if follower.Status.SubscriptionPriceID != monthlyID || *follower.Status.SubscriptionQuantity != 2 {
		t.Fatalf("follower on %s × %v, want %s × 2", follower.Status.SubscriptionPriceID, follower.Status.SubscriptionQuantity, monthlyID)
	}

	t.Run("send_invoice with days until due", func(t *testing.T) {
		s, err := r.Stripe.GetSubscription(ctx, invoiced.Status.SubscriptionID)
		if err != nil {
			t.Fatal(err)
		}
		if s.CollectionMethod != "send_invoice" || s.DaysUntilDue != 30 {
			t.Errorf("collection %s, days until due %d; want send_invoice, 30", s.CollectionMethod, s.DaysUntilDue)
		}
	})

	t.Run("a change of key and quantity updates the item, prorated", func(t *testing.T) {
		r := r.in(t)
		r.Update(follower, func() {
			follower.Spec.Subscription.PriceKey = "pro"
			follower.Spec.Subscription.Quantity = ptrTo(int64(3))
		})
		r.eventually(follower, func() bool {
			return follower.Status.SubscriptionPriceID == proID && *follower.Status.SubscriptionQuantity == 3
		})
		if follower.Status.SubscriptionID != subscriptionID {
			t.Errorf("subscription %s replaced by %s, want the same one updated", subscriptionID, follower.Status.SubscriptionID)
		}
		if n := r.pendingProrations(follower.Status.CustomerID); n == 0 {
			t.Error("no proration invoice items for the change (prorationBehavior create_prorations)")
		}
	})

	t.Run("a versioned price moves followers, not the pinned", func(t *testing.T) {
		r := r.in(t)
		r.Update(plan, func() { plan.Spec.Prices[1].UnitAmount = ptrTo(int64(3900)) })
		controllertest.Eventually(t, controllertest.DefaultTimeout, func() error {
			r.Get(plan)
			if id := priceID(t, plan, "pro"); id == proID {
				return fmt.Errorf("plan has not versioned pro yet")
			}
			return nil
		})
		newProID := priceID(t, plan, "pro")
		r.eventually(follower, func() bool { return follower.Status.SubscriptionPriceID == newProID })
		r.nudge(pinned)
		r.synced(pinned)
		if pinned.Status.SubscriptionPriceID != proID {
			t.Errorf("pinned tenant moved to %s, want it kept on %s", pinned.Status.SubscriptionPriceID, proID)
		}
	})

	t.Run("removing spec.subscription cancels at the period's end, or at once", func(t *testing.T) {
		r := r.in(t)
		r.Update(follower, func() { follower.Spec.Subscription = nil })
		r.eventually(follower, func() bool { return follower.Status.CancelAtPeriodEnd })
		if message := r.condition(follower, v1alpha1.ConditionSubscriptionActive).Message; !strings.Contains(message, "cancels at the end of its period") {
			t.Errorf("SubscriptionActive message %q, want the cancellation at period end", message)
		}
		r.Update(invoiced, func() { invoiced.Spec.Subscription = nil })
		r.eventually(invoiced, func() bool { return invoiced.Status.SubscriptionStatus == "canceled" })
		r.wait(invoiced, v1alpha1.ConditionSubscriptionActive, metav1.ConditionFalse, v1alpha1.ReasonSubscriptionCanceled)
	})

	for _, tenant := range []*v1alpha1.StripeTenant{follower, pinned, invoiced} {
		if n := len(r.subscriptionsOf(tenant)); n != 1 {
			t.Errorf("tenant %s has %d subscriptions, want 1", tenant.Name, n)
		}
		if n := len(r.customersOf(tenant)); n != 1 {
			t.Errorf("tenant %s has %d customers, want 1", tenant.Name, n)
		}
	}
	r.NoSpecRefusals()
}

// nudge asks for a pass now, as the webhook relay will on news from Stripe.
func (r *rig) nudge(tenant *v1alpha1.StripeTenant) {
	r.T.Helper()
	r.Update(tenant, func() {
		if tenant.Annotations == nil {
			tenant.Annotations = map[string]string{}
		}
		tenant.Annotations["payments.cloudip.io/reconcile-requested-at"] = fmt.Sprint(metav1.Now().UnixNano())
	})
}

// eventually polls the tenant until done holds.
func (r *rig) eventually(tenant *v1alpha1.StripeTenant, done func() bool) {
	r.T.Helper()
	controllertest.Eventually(r.T, controllertest.DefaultTimeout, func() error {
		r.Get(tenant)
		if !done() {
			return fmt.Errorf("not yet: status %+v", tenant.Status)
		}
		return nil
	})
}

// pendingProrations counts the customer's pending proration invoice items, read from Stripe's
// GET /v1/invoiceitems (the wrapper has no call for them: the operator never reads them).
func (r *rig) pendingProrations(customer string) int {
	r.T.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, r.Emu.URL+"/v1/invoiceitems?pending=true&customer="+customer, nil)
	if err != nil {
		r.T.Fatal(err)
	}
	req.SetBasicAuth("sk_test_reader", "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.T.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var list struct {
		Data []struct {
			Proration bool `json:"proration"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		r.T.Fatal(err)
	}
	n := 0
	for _, item := range list.Data {
		if item.Proration {
			n++
		}
	}
	return n
}

func priceID(t *testing.T, plan *v1alpha1.BillingPlan, key string) string {
	t.Helper()
	for _, p := range plan.Status.Prices {
		if p.Key == key {
			return p.ID
		}
	}
	t.Fatalf("plan has no price %q: %+v", key, plan.Status.Prices)
	return ""
}
