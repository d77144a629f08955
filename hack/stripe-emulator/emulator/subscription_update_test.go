package emulator

import (
	"net/http"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

// halfPeriod is half of the first period of a monthly subscription started
// at testEpoch (1 March → 1 April: 31 days).
const halfPeriod = 31 * 12 * time.Hour

// A price or quantity change mid-period is prorated to the second:
// create_prorations leaves the credit and the charge pending for the next
// invoice, always_invoice bills them at once, none creates nothing.
func TestSubscriptionUpdateProrationBehavior(t *testing.T) {
	cases := []struct {
		behavior    string
		pending     int
		newInvoice  bool
		wantAmounts []int64
	}{
		{"create_prorations", 2, false, []int64{-500, 1000}},
		{"always_invoice", 0, true, []int64{-500, 1000}},
		{"none", 0, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.behavior, func(t *testing.T) {
			e := newBillingEnv(t)
			platinum := e.newPrice(t, monthly(e.product.ID, 2000))
			cus := e.customer(t, "p@example.com", TestCardVisa)
			sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
			e.clock.Advance(halfPeriod)
			updated, err := e.sc.Subscriptions.Update(sub.ID, &stripe.SubscriptionParams{
				Items:             []*stripe.SubscriptionItemsParams{{ID: stripe.String(sub.Items.Data[0].ID), Price: stripe.String(platinum.ID)}},
				ProrationBehavior: stripe.String(tc.behavior),
			})
			if err != nil {
				t.Fatal(err)
			}
			if updated.Items.Data[0].ID != sub.Items.Data[0].ID || updated.Items.Data[0].Price.ID != platinum.ID || updated.Status != "active" {
				t.Fatalf("items: %+v", updated.Items.Data[0])
			}
			if got := e.pendingItems(t, cus.ID); len(got) != tc.pending {
				t.Fatalf("%d pending items", len(got))
			}
			if (updated.LatestInvoice.ID != sub.LatestInvoice.ID) != tc.newInvoice {
				t.Fatalf("latest invoice %s (was %s)", updated.LatestInvoice.ID, sub.LatestInvoice.ID)
			}
			var amounts []int64
			it := e.sc.InvoiceItems.List(&stripe.InvoiceItemListParams{Customer: stripe.String(cus.ID)})
			for it.Next() {
				ii := it.InvoiceItem()
				amounts = append([]int64{ii.Amount}, amounts...)
				if !ii.Proration || ii.Subscription.ID != sub.ID || ii.Period.End != sub.CurrentPeriodEnd {
					t.Fatalf("invoice item %+v", ii)
				}
			}
			if len(amounts) != len(tc.wantAmounts) || (len(amounts) == 2 && (amounts[0] != -500 || amounts[1] != 1000)) {
				t.Fatalf("proration amounts %v", amounts)
			}
			if tc.newInvoice {
				inv := e.invoice(t, updated.LatestInvoice.ID)
				if inv.BillingReason != "subscription_update" || inv.Status != "paid" || inv.AmountPaid != 500 || len(inv.Lines.Data) != 2 {
					t.Fatalf("always_invoice invoice %+v", inv)
				}
			}
		})
	}
}

// Stripe's wording of proration lines, and that pending prorations are
// billed on the renewal invoice before the new period.
func TestProrationDescriptionsAndRenewalSweep(t *testing.T) {
	e := newBillingEnv(t)
	cus := e.customer(t, "q@example.com", TestCardVisa)
	sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
	e.clock.Advance(halfPeriod)
	if _, err := e.sc.Subscriptions.Update(sub.ID, &stripe.SubscriptionParams{
		Items: []*stripe.SubscriptionItemsParams{{ID: stripe.String(sub.Items.Data[0].ID), Quantity: stripe.Int64(2)}},
	}); err != nil {
		t.Fatal(err)
	}
	pending := e.pendingItems(t, cus.ID)
	if len(pending) != 2 {
		t.Fatalf("pending %d", len(pending))
	}
	descs := map[string]int64{}
	for _, ii := range pending {
		descs[ii.Description] = ii.Amount
	}
	if descs["Unused time on Gold after 17 Mar 2024"] != -500 || descs["Remaining time on 2 × Gold after 17 Mar 2024"] != 1000 {
		t.Fatalf("descriptions %v", descs)
	}
	renewed, err := e.AdvanceSubscription("", sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	inv := e.invoice(t, renewed.Str("latest_invoice"))
	if inv.BillingReason != "subscription_cycle" || inv.Status != "paid" || inv.Total != 500+2000 || len(inv.Lines.Data) != 3 {
		t.Fatalf("renewal invoice %+v", inv)
	}
	last := inv.Lines.Data[2]
	if last.Type != "subscription" || last.Description != "2 × Gold (at $10.00 / month)" || last.Period.Start != sub.CurrentPeriodEnd || last.Amount != 2000 {
		t.Fatalf("renewal line %+v", last)
	}
	if inv.Lines.Data[0].Type != "invoiceitem" || !inv.Lines.Data[0].Proration || inv.Lines.Data[0].InvoiceItem == nil {
		t.Fatalf("proration line %+v", inv.Lines.Data[0])
	}
	if len(e.pendingItems(t, cus.ID)) != 0 {
		t.Fatal("prorations still pending after renewal")
	}
}

// Changing the billing interval (or ending a trial now) resets the billing
// cycle: unused time is credited and the new period is billed at once.
func TestSubscriptionUpdateResetsBillingCycle(t *testing.T) {
	e := newBillingEnv(t)
	yearly := e.newPrice(t, &stripe.PriceParams{Product: stripe.String(e.product.ID), Currency: stripe.String("usd"),
		UnitAmount: stripe.Int64(10000), Recurring: &stripe.PriceRecurringParams{Interval: stripe.String("year")}})
	t.Run("interval change", func(t *testing.T) {
		cus := e.customer(t, "r@example.com", TestCardVisa)
		sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
		e.clock.Advance(halfPeriod)
		now := e.Now().Unix()
		up, err := e.sc.Subscriptions.Update(sub.ID, &stripe.SubscriptionParams{
			Items: []*stripe.SubscriptionItemsParams{{ID: stripe.String(sub.Items.Data[0].ID), Price: stripe.String(yearly.ID)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if up.CurrentPeriodStart != now || up.BillingCycleAnchor != now || up.CurrentPeriodEnd != time.Unix(now, 0).AddDate(1, 0, 0).Unix() {
			t.Fatalf("period %d..%d anchor %d", up.CurrentPeriodStart, up.CurrentPeriodEnd, up.BillingCycleAnchor)
		}
		inv := e.invoice(t, up.LatestInvoice.ID)
		if inv.BillingReason != "subscription_update" || inv.Total != 10000-500 || inv.Status != "paid" {
			t.Fatalf("invoice %+v", inv)
		}
	})
	t.Run("trial_end=now", func(t *testing.T) {
		cus := e.customer(t, "s@example.com", TestCardVisa)
		sub := e.mustSubscribe(t, cus.ID, func(p *stripe.SubscriptionParams) { p.TrialPeriodDays = stripe.Int64(7) }, e.price.ID)
		e.clock.Advance(24 * time.Hour)
		up, err := e.sc.Subscriptions.Update(sub.ID, &stripe.SubscriptionParams{TrialEndNow: stripe.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		inv := e.invoice(t, up.LatestInvoice.ID)
		if up.Status != "active" || up.TrialEnd != e.Now().Unix() || inv.AmountPaid != 1000 || inv.BillingReason != "subscription_update" {
			t.Fatalf("sub %s trial_end %d invoice %+v", up.Status, up.TrialEnd, inv)
		}
	})
}

// Items can be added and removed; a change during a trial is not
// prorated; items not mentioned stay.
func TestSubscriptionItemsAddRemove(t *testing.T) {
	e := newBillingEnv(t)
	addon := e.newPrice(t, monthly(e.newProduct(t, "Addon", nil).ID, 300))
	cus := e.customer(t, "t@example.com", TestCardVisa)
	sub := e.mustSubscribe(t, cus.ID, func(p *stripe.SubscriptionParams) { p.TrialPeriodDays = stripe.Int64(10) }, e.price.ID)
	up, err := e.sc.Subscriptions.Update(sub.ID, &stripe.SubscriptionParams{
		Items: []*stripe.SubscriptionItemsParams{{Price: stripe.String(addon.ID), Quantity: stripe.Int64(2)}},
	})
	if err != nil || len(up.Items.Data) != 2 || len(e.pendingItems(t, cus.ID)) != 0 {
		t.Fatalf("add during trial: %+v %v", up, err)
	}
	up, err = e.sc.Subscriptions.Update(sub.ID, &stripe.SubscriptionParams{
		Items: []*stripe.SubscriptionItemsParams{{ID: stripe.String(sub.Items.Data[0].ID), Deleted: stripe.Bool(true)}},
	})
	if err != nil || len(up.Items.Data) != 1 || up.Items.Data[0].Price.ID != addon.ID {
		t.Fatalf("delete: %+v %v", up, err)
	}
	_, err = e.sc.Subscriptions.Update(sub.ID, &stripe.SubscriptionParams{
		Items: []*stripe.SubscriptionItemsParams{{ID: stripe.String(up.Items.Data[0].ID), Deleted: stripe.Bool(true)}},
	})
	wantStripeErr(t, err, 400, "invalid_request_error", "", "items", "A subscription must have at least one item.")
	_, err = e.sc.Subscriptions.Update(sub.ID, &stripe.SubscriptionParams{
		Items: []*stripe.SubscriptionItemsParams{{ID: stripe.String("si_nope"), Quantity: stripe.Int64(1)}},
	})
	wantStripeErr(t, err, 404, "invalid_request_error", "resource_missing", "items[0][id]", "No such subscription_item: 'si_nope'")
	if _, err := e.sc.SubscriptionItems.Get(sub.Items.Data[0].ID, nil); err == nil {
		t.Fatal("deleted item still retrievable")
	}
}

// /v1/subscription_items writes are subscription updates.
func TestSubscriptionItemEndpoints(t *testing.T) {
	e := newBillingEnv(t)
	addon := e.newPrice(t, monthly(e.newProduct(t, "Addon", nil).ID, 300))
	cus := e.customer(t, "u@example.com", TestCardVisa)
	sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
	si, err := e.sc.SubscriptionItems.New(&stripe.SubscriptionItemParams{Subscription: stripe.String(sub.ID), Price: stripe.String(addon.ID),
		ProrationBehavior: stripe.String("none")})
	if err != nil || si.Price.ID != addon.ID || si.Subscription != sub.ID {
		t.Fatalf("create: %+v %v", si, err)
	}
	si, err = e.sc.SubscriptionItems.Update(si.ID, &stripe.SubscriptionItemParams{Quantity: stripe.Int64(4), ProrationBehavior: stripe.String("none")})
	if err != nil || si.Quantity != 4 {
		t.Fatalf("update: %+v %v", si, err)
	}
	if got := e.subscription(t, sub.ID); len(got.Items.Data) != 2 || got.Items.Data[1].Quantity != 4 {
		t.Fatalf("subscription items %+v", got.Items.Data)
	}
	del, err := e.sc.SubscriptionItems.Del(si.ID, &stripe.SubscriptionItemParams{ProrationBehavior: stripe.String("none")})
	if err != nil || !del.Deleted {
		t.Fatalf("delete: %+v %v", del, err)
	}
	if got := e.subscription(t, sub.ID); len(got.Items.Data) != 1 {
		t.Fatalf("after delete %+v", got.Items.Data)
	}
}

// An update whose invoice cannot be paid: error_if_incomplete refuses it
// (402, nothing changes); allow_incomplete leaves the subscription past_due.
func TestSubscriptionUpdatePaymentFailure(t *testing.T) {
	e := newBillingEnv(t)
	platinum := e.newPrice(t, monthly(e.product.ID, 2000))
	cus := e.customer(t, "v@example.com", TestCardVisa)
	sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
	if _, err := e.AttachTestCard("", cus.ID, TestCardFailing, AttachCardOptions{Default: true}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(halfPeriod)
	change := func(pb string) (*stripe.Subscription, error) {
		return e.sc.Subscriptions.Update(sub.ID, &stripe.SubscriptionParams{
			Items:             []*stripe.SubscriptionItemsParams{{ID: stripe.String(sub.Items.Data[0].ID), Price: stripe.String(platinum.ID)}},
			ProrationBehavior: stripe.String("always_invoice"), PaymentBehavior: stripe.String(pb),
		})
	}
	_, err := change("error_if_incomplete")
	wantStripeErr(t, err, 402, "card_error", "card_declined", "", "Your card was declined.")
	if got := e.subscription(t, sub.ID); got.Items.Data[0].Price.ID != e.price.ID || len(e.pendingItems(t, cus.ID)) != 0 {
		t.Fatal("a refused update changed the subscription")
	}
	up, err := change("allow_incomplete")
	if err != nil || up.Status != "past_due" {
		t.Fatalf("allow_incomplete: %+v %v", up, err)
	}
	if inv := e.invoice(t, up.LatestInvoice.ID); inv.Status != "open" || inv.AttemptCount != 1 {
		t.Fatalf("invoice %+v", inv)
	}
}

// Updates Stripe refuses by status: an incomplete subscription only takes
// metadata (and payment method) changes; a canceled one nothing.
func TestSubscriptionUpdateRulesByStatus(t *testing.T) {
	e := newBillingEnv(t)
	cus := e.customer(t, "w@example.com", "")
	sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
	if r := e.do(t, "POST", "/v1/subscriptions/"+sub.ID, "metadata[k]=v"); r.status != http.StatusOK {
		t.Fatalf("metadata on incomplete: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", "/v1/subscriptions/"+sub.ID, "cancel_at_period_end=true"); r.status != 400 || r.errField("param") != "cancel_at_period_end" {
		t.Fatalf("incomplete: %d %s", r.status, r.body)
	}
	if _, err := e.sc.Subscriptions.Cancel(sub.ID, nil); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, "POST", "/v1/subscriptions/"+sub.ID, "metadata[k]=w")
	if r.status != 400 || r.errField("message") != "You cannot update a subscription that is `canceled` or `incomplete_expired`." {
		t.Fatalf("canceled: %d %s", r.status, r.body)
	}
}
