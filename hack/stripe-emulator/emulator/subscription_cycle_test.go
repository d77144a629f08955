package emulator

import (
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

// A renewal (the control API's AdvanceSubscription) moves the clock to the
// period's end if needed, bills the next period, and sets the status by
// the payment: paid → active, declined → past_due; a later successful
// payment of that invoice makes it active again.
func TestRenewalStatusFollowsPayment(t *testing.T) {
	cases := []struct {
		name, card string
		status     stripe.SubscriptionStatus
		invStatus  stripe.InvoiceStatus
		events     []string
	}{
		{"working card", TestCardVisa, "active", "paid",
			[]string{"invoice.created", "invoice.finalized", "charge.succeeded", "invoice.paid", "invoice.payment_succeeded", "customer.subscription.updated"}},
		{"declined card", TestCardFailing, "past_due", "open",
			[]string{"invoice.created", "invoice.finalized", "charge.failed", "invoice.payment_failed", "customer.updated", "customer.subscription.updated"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newBillingEnv(t)
			cus := e.customer(t, "x@example.com", TestCardVisa)
			sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
			if _, err := e.AttachTestCard("", cus.ID, tc.card, AttachCardOptions{Default: true}); err != nil {
				t.Fatal(err)
			}
			n := len(e.eventTypes(t, e.PlatformAccount()))
			if _, err := e.AdvanceSubscription("", sub.ID); err != nil {
				t.Fatal(err)
			}
			if e.Now().Unix() != sub.CurrentPeriodEnd {
				t.Fatalf("clock %v, period end %d", e.Now(), sub.CurrentPeriodEnd)
			}
			got := e.subscription(t, sub.ID)
			wantEnd := time.Unix(sub.CurrentPeriodEnd, 0).AddDate(0, 1, 0).Unix()
			if got.Status != tc.status || got.CurrentPeriodStart != sub.CurrentPeriodEnd || got.CurrentPeriodEnd != wantEnd {
				t.Fatalf("sub %s %d..%d", got.Status, got.CurrentPeriodStart, got.CurrentPeriodEnd)
			}
			inv := e.invoice(t, got.LatestInvoice.ID)
			if inv.Status != tc.invStatus || inv.BillingReason != "subscription_cycle" || inv.PeriodStart != sub.CurrentPeriodStart || inv.PeriodEnd != sub.CurrentPeriodEnd {
				t.Fatalf("invoice %+v", inv)
			}
			if evs := e.eventTypesSince(t, e.PlatformAccount(), n); !inOrder(evs, tc.events...) {
				t.Fatalf("events %v", evs)
			}
			// Stripe's own actions carry no request.
			if req := e.events(t, e.PlatformAccount())[0].Map("request"); req["id"] != nil || req["idempotency_key"] != nil {
				t.Fatalf("renewal event request %v", req)
			}
			if tc.status != "past_due" {
				return
			}
			if c, _ := e.sc.Customers.Get(cus.ID, nil); !c.Delinquent {
				t.Fatal("a failed automatic payment must make the customer delinquent")
			}
			if _, err := e.AttachTestCard("", cus.ID, TestCardVisa, AttachCardOptions{Default: true, PayOpenInvoices: true}); err != nil {
				t.Fatal(err)
			}
			if got := e.subscription(t, sub.ID); got.Status != "active" {
				t.Fatalf("after paying: %s", got.Status)
			}
			if c, _ := e.sc.Customers.Get(cus.ID, nil); c.Delinquent {
				t.Fatal("paying must clear delinquent")
			}
		})
	}
}

// Renewals follow the billing cycle anchor: a subscription started on
// 31 January renews on the last day of shorter months, then on the 31st.
func TestRenewalKeepsAnchorDayOfMonth(t *testing.T) {
	e := newBillingEnv(t)
	e.SetClock(time.Date(2024, 1, 31, 10, 0, 0, 0, time.UTC))
	cus := e.customer(t, "y@example.com", TestCardVisa)
	sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
	var ends []string
	for i := 0; i < 3; i++ {
		got, err := e.AdvanceSubscription("", sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, time.Unix(got.Int("current_period_end"), 0).UTC().Format("2006-01-02"))
	}
	if sub.CurrentPeriodEnd != time.Date(2024, 2, 29, 10, 0, 0, 0, time.UTC).Unix() ||
		ends[0] != "2024-03-31" || ends[1] != "2024-04-30" || ends[2] != "2024-05-31" {
		t.Fatalf("first end %v, then %v", time.Unix(sub.CurrentPeriodEnd, 0).UTC(), ends)
	}
}

// A trial ends at its period end: the first paid period is billed and the
// subscription becomes active (or past_due if the payment fails).
func TestTrialEndsAtRenewal(t *testing.T) {
	e := newBillingEnv(t)
	cus := e.customer(t, "z@example.com", "")
	sub := e.mustSubscribe(t, cus.ID, func(p *stripe.SubscriptionParams) { p.TrialPeriodDays = stripe.Int64(7) }, e.price.ID)
	got, err := e.AdvanceSubscription("", sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Str("status") != "past_due" {
		t.Fatalf("trial without payment method: %s", got.Str("status"))
	}
	inv := e.invoice(t, got.Str("latest_invoice"))
	if inv.AmountDue != 1000 || inv.AttemptCount != 1 || inv.Charge != nil {
		t.Fatalf("invoice %+v", inv)
	}
	cus2 := e.customer(t, "z2@example.com", TestCardVisa)
	sub2 := e.mustSubscribe(t, cus2.ID, func(p *stripe.SubscriptionParams) { p.TrialPeriodDays = stripe.Int64(7) }, e.price.ID)
	if got, err := e.AdvanceSubscription("", sub2.ID); err != nil || got.Str("status") != "active" {
		t.Fatalf("trial with card: %v %v", got, err)
	}
}

// cancel_at_period_end: canceled_at is the request's time, cancel_at the
// period's end; at the end the subscription is canceled with no renewal
// invoice and customer.subscription.deleted. Setting it back to false
// withdraws the cancellation.
func TestCancelAtPeriodEnd(t *testing.T) {
	e := newBillingEnv(t)
	cus := e.customer(t, "aa@example.com", TestCardVisa)
	sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
	e.clock.Advance(time.Hour)
	up, err := e.sc.Subscriptions.Update(sub.ID, &stripe.SubscriptionParams{CancelAtPeriodEnd: stripe.Bool(true)})
	if err != nil || !up.CancelAtPeriodEnd || up.CancelAt != sub.CurrentPeriodEnd || up.CanceledAt != e.Now().Unix() ||
		up.CancellationDetails.Reason != "cancellation_requested" || up.Status != "active" {
		t.Fatalf("scheduled: %+v %v", up, err)
	}
	back, err := e.sc.Subscriptions.Update(sub.ID, &stripe.SubscriptionParams{CancelAtPeriodEnd: stripe.Bool(false)})
	if err != nil || back.CancelAt != 0 || back.CanceledAt != 0 {
		t.Fatalf("withdrawn: %+v %v", back, err)
	}
	if _, err := e.sc.Subscriptions.Update(sub.ID, &stripe.SubscriptionParams{CancelAtPeriodEnd: stripe.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	n := len(e.eventTypes(t, e.PlatformAccount()))
	ended, err := e.AdvanceSubscription("", sub.ID)
	if err != nil || ended.Str("status") != "canceled" || ended.Int("ended_at") != sub.CurrentPeriodEnd || ended.Str("latest_invoice") != sub.LatestInvoice.ID {
		t.Fatalf("ended: %v %v", ended, err)
	}
	// (balance.available also fires: moving the clock a month made the
	// first charge's funds available.)
	if evs := e.eventTypesSince(t, e.PlatformAccount(), n); countType(evs, "customer.subscription.deleted") != 1 || countType(evs, "invoice.created") != 0 {
		t.Fatalf("events %v", evs)
	}
	if _, err := e.AdvanceSubscription("", sub.ID); err == nil {
		t.Fatal("a canceled subscription must not renew")
	}
}

// DELETE /v1/subscriptions/{id}: canceled at once; prorate credits the
// unused time; invoice_now bills it (a credit goes to the customer's
// balance); with neither, pending prorations are removed.
func TestCancelImmediately(t *testing.T) {
	cases := []struct {
		name             string
		prorate, invoice bool
		pending          int
		balance          int64
		newInvoice       bool
	}{
		{"plain cancel drops pending prorations", false, false, 0, 0, false},
		{"prorate leaves a pending credit", true, false, 3, 0, false},
		{"prorate and invoice_now credit the balance", true, true, 0, -500 + 500, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newBillingEnv(t)
			cus := e.customer(t, "bb@example.com", TestCardVisa)
			sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
			e.clock.Advance(halfPeriod)
			// A pending proration (quantity 1 → 2): -500 and +1000.
			if _, err := e.sc.Subscriptions.Update(sub.ID, &stripe.SubscriptionParams{
				Items: []*stripe.SubscriptionItemsParams{{ID: stripe.String(sub.Items.Data[0].ID), Quantity: stripe.Int64(2)}},
			}); err != nil {
				t.Fatal(err)
			}
			got, err := e.sc.Subscriptions.Cancel(sub.ID, &stripe.SubscriptionCancelParams{
				Prorate: stripe.Bool(tc.prorate), InvoiceNow: stripe.Bool(tc.invoice),
				CancellationDetails: &stripe.SubscriptionCancelCancellationDetailsParams{Comment: stripe.String("moving on")},
			})
			if err != nil || got.Status != "canceled" || got.CanceledAt != e.Now().Unix() || got.EndedAt != e.Now().Unix() ||
				got.CancellationDetails.Comment != "moving on" || got.CancellationDetails.Reason != "cancellation_requested" {
				t.Fatalf("cancel: %+v %v", got, err)
			}
			if n := len(e.pendingItems(t, cus.ID)); n != tc.pending {
				t.Fatalf("%d pending items", n)
			}
			if tc.newInvoice {
				inv := e.invoice(t, got.LatestInvoice.ID)
				// -500 + 1000 (the quantity change) - 1000 (2 seats unused) = -500.
				if inv.Total != -500 || inv.AmountDue != 0 || inv.Status != "paid" || inv.EndingBalance != -500 {
					t.Fatalf("final invoice %+v", inv)
				}
				if c, _ := e.sc.Customers.Get(cus.ID, nil); c.Balance != -500 {
					t.Fatalf("customer balance %d", c.Balance)
				}
			}
			_, err = e.sc.Subscriptions.Cancel(sub.ID, nil)
			wantStripeErr(t, err, 400, "invalid_request_error", "", "", "The subscription "+sub.ID+" has already been canceled.")
		})
	}
}

// A customer's credit balance is applied to the next invoice.
func TestCustomerBalanceAppliesToNextInvoice(t *testing.T) {
	e := newBillingEnv(t)
	cus, err := e.sc.Customers.New(&stripe.CustomerParams{Balance: stripe.Int64(-300), PaymentMethod: stripe.String(TestCardVisa),
		InvoiceSettings: &stripe.CustomerInvoiceSettingsParams{DefaultPaymentMethod: stripe.String(TestCardVisa)}})
	if err != nil {
		t.Fatal(err)
	}
	sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
	inv := sub.LatestInvoice
	if inv.StartingBalance != -300 || inv.AmountDue != 700 || inv.AmountPaid != 700 || inv.EndingBalance != 0 || inv.Total != 1000 {
		t.Fatalf("invoice %+v", inv)
	}
	if c, _ := e.sc.Customers.Get(cus.ID, nil); c.Balance != 0 {
		t.Fatalf("balance %d", c.Balance)
	}
}
