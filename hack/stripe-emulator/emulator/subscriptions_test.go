package emulator

import (
	"net/http"
	"strings"
	"testing"

	stripe "github.com/stripe/stripe-go/v76"
)

// Subscription create: the status and first invoice follow from the
// customer's payment method, payment_behavior, trials and collection
// method, as Stripe documents them.
func TestSubscriptionCreateStatusFollowsPaymentOutcome(t *testing.T) {
	e := newBillingEnv(t)
	cases := []struct {
		name, card string
		tweak      func(*stripe.SubscriptionParams)
		status     stripe.SubscriptionStatus
		invStatus  stripe.InvoiceStatus
		amountPaid int64
		attempts   int64
		charge     string // "", "succeeded", "failed"
	}{
		{"working card pays the first invoice", TestCardVisa, nil, "active", "paid", 1000, 1, "succeeded"},
		{"no payment method leaves it incomplete, unattempted", "", nil, "incomplete", "open", 0, 0, ""},
		{"declined card leaves it incomplete with a failed charge", TestCardFailing, nil, "incomplete", "open", 0, 1, "failed"},
		{"default_incomplete does not attempt payment", TestCardVisa, func(p *stripe.SubscriptionParams) {
			p.PaymentBehavior = stripe.String("default_incomplete")
		}, "incomplete", "open", 0, 0, ""},
		{"trial bills nothing first", "", func(p *stripe.SubscriptionParams) {
			p.TrialPeriodDays = stripe.Int64(14)
		}, "trialing", "paid", 0, 0, ""},
		{"send_invoice is active with an open invoice", "", func(p *stripe.SubscriptionParams) {
			p.CollectionMethod, p.DaysUntilDue = stripe.String("send_invoice"), stripe.Int64(30)
		}, "active", "open", 0, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cus := e.customer(t, "a@example.com", tc.card)
			sub := e.mustSubscribe(t, cus.ID, tc.tweak, e.price.ID)
			inv := sub.LatestInvoice
			if sub.Status != tc.status || inv == nil || inv.Status != tc.invStatus || inv.AmountPaid != tc.amountPaid || inv.AttemptCount != tc.attempts {
				t.Fatalf("sub %s, invoice %+v", sub.Status, inv)
			}
			if inv.BillingReason != "subscription_create" || inv.Subscription.ID != sub.ID || inv.Customer.ID != cus.ID {
				t.Fatalf("invoice links: %+v", inv)
			}
			switch tc.charge {
			case "":
				if inv.Charge != nil {
					t.Fatalf("unexpected charge %s", inv.Charge.ID)
				}
			default:
				ch, err := e.sc.Charges.Get(inv.Charge.ID, nil)
				if err != nil || string(ch.Status) != tc.charge || ch.Invoice.ID != inv.ID || ch.Customer.ID != cus.ID {
					t.Fatalf("charge %+v %v", ch, err)
				}
			}
			if tc.status == "trialing" && (sub.TrialEnd-sub.TrialStart != 14*secondsPerDay || sub.CurrentPeriodEnd != sub.TrialEnd || inv.Lines.Data[0].Description != "Trial period for Gold") {
				t.Fatalf("trial: %+v, line %q", sub, inv.Lines.Data[0].Description)
			}
			if tc.name == "send_invoice is active with an open invoice" && inv.DueDate != inv.StatusTransitions.FinalizedAt+30*secondsPerDay {
				t.Fatalf("due_date %d", inv.DueDate)
			}
		})
	}
}

// error_if_incomplete: Stripe answers 402 (declined card) or 400 (no
// payment method) and creates nothing.
func TestSubscriptionErrorIfIncompleteCreatesNothing(t *testing.T) {
	e := newBillingEnv(t)
	errIfIncomplete := func(p *stripe.SubscriptionParams) { p.PaymentBehavior = stripe.String("error_if_incomplete") }
	cases := []struct {
		name, card string
		status     int
		typ, code  string
		msg        string
	}{
		{"declined card", TestCardFailing, 402, "card_error", "card_declined", "Your card was declined."},
		{"no payment method", "", 400, "invalid_request_error", "", "This customer has no attached payment source or default payment method."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cus := e.customer(t, "b@example.com", tc.card)
			before := len(e.events(t, e.PlatformAccount()))
			_, err := e.subscribe(t, cus.ID, errIfIncomplete, e.price.ID)
			wantStripeErr(t, err, tc.status, tc.typ, tc.code, "", tc.msg)
			if n := len(e.events(t, e.PlatformAccount())); n != before {
				t.Fatalf("%d events from a refused request", n-before)
			}
			it := e.sc.Subscriptions.List(&stripe.SubscriptionListParams{Customer: stripe.String(cus.ID), Status: stripe.String("all")})
			if it.Next() {
				t.Fatalf("subscription stored: %s", it.Subscription().ID)
			}
		})
	}
}

// Prices on a subscription must exist, be active and recurring, and share
// one currency and interval; Stripe's messages.
func TestSubscriptionPriceRules(t *testing.T) {
	e := newBillingEnv(t)
	cus := e.customer(t, "c@example.com", TestCardVisa)
	oneTime := e.newPrice(t, &stripe.PriceParams{Product: stripe.String(e.product.ID), Currency: stripe.String("usd"), UnitAmount: stripe.Int64(5)})
	archived := e.newPrice(t, monthly(e.product.ID, 700))
	if _, err := e.sc.Prices.Update(archived.ID, &stripe.PriceParams{Active: stripe.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	euro := e.newPrice(t, &stripe.PriceParams{Product: stripe.String(e.product.ID), Currency: stripe.String("eur"), UnitAmount: stripe.Int64(900),
		Recurring: &stripe.PriceRecurringParams{Interval: stripe.String("month")}})
	yearly := e.newPrice(t, &stripe.PriceParams{Product: stripe.String(e.product.ID), Currency: stripe.String("usd"), UnitAmount: stripe.Int64(9000),
		Recurring: &stripe.PriceRecurringParams{Interval: stripe.String("year")}})
	base := "customer=" + cus.ID
	cases := []struct {
		name, form   string
		status       int
		param, inMsg string
	}{
		{"no customer", "items[0][price]=" + e.price.ID, 400, "customer", "Missing required param: customer."},
		{"unknown customer", "customer=cus_nope&items[0][price]=" + e.price.ID, 404, "customer", "No such customer: 'cus_nope'"},
		{"no items", base, 400, "items", "Missing required param: items."},
		{"unknown price", base + "&items[0][price]=price_nope", 404, "items[0][price]", "No such price: 'price_nope'"},
		{"inactive price", base + "&items[0][price]=" + archived.ID, 400, "items[0][price]", "The price specified is inactive. This field only accepts active prices."},
		{"one-time price", base + "&items[0][price]=" + oneTime.ID, 400, "items[0][price]", "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`."},
		{"currencies differ", base + "&items[0][price]=" + e.price.ID + "&items[1][price]=" + euro.ID, 400, "items", "Found mismatch in currency field."},
		{"intervals differ", base + "&items[0][price]=" + e.price.ID + "&items[1][price]=" + yearly.ID, 400, "items", "Found mismatch in interval field."},
		{"same price twice", base + "&items[0][price]=" + e.price.ID + "&items[1][price]=" + e.price.ID, 400, "items", "Cannot add multiple subscription items with the same price: " + e.price.ID},
		{"days_until_due needs send_invoice", base + "&items[0][price]=" + e.price.ID + "&days_until_due=3", 400, "days_until_due", "send_invoice"},
		{"send_invoice needs days_until_due", base + "&items[0][price]=" + e.price.ID + "&collection_method=send_invoice", 400, "days_until_due", "Missing required param: days_until_due."},
		{"trial_end in the past", base + "&items[0][price]=" + e.price.ID + "&trial_end=1000", 400, "trial_end", "Invalid timestamp: must be an integer Unix timestamp in the future."},
		{"default_payment_method not the customer's", base + "&items[0][price]=" + e.price.ID + "&default_payment_method=pm_nope", 404, "default_payment_method", "No such PaymentMethod: 'pm_nope'"},
		{"not emulated parameter", base + "&items[0][price]=" + e.price.ID + "&coupon=x", 400, "coupon", "does not implement"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "POST", "/v1/subscriptions", tc.form)
			msg, _ := r.errField("message").(string)
			if r.status != tc.status || r.errField("param") != tc.param || !strings.Contains(msg, tc.inMsg) {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		})
	}
	// A customer billed in one currency cannot be billed in another.
	if _, err := e.subscribe(t, cus.ID, nil, e.price.ID); err != nil {
		t.Fatal(err)
	}
	_, err := e.subscribe(t, cus.ID, nil, euro.ID)
	wantStripeErr(t, err, 400, "invalid_request_error", "", "currency", "You cannot combine currencies on a single customer. "+
		"This customer has an active subscription, subscription schedule, discount, quote, or invoice item with currency usd.")
}

// A paid subscription create emits, in order, the subscription, invoice,
// charge and payment events Stripe sends.
func TestSubscriptionCreateEvents(t *testing.T) {
	e := newBillingEnv(t)
	cus := e.customer(t, "d@example.com", TestCardVisa)
	n := len(e.eventTypes(t, e.PlatformAccount()))
	sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
	got := e.eventTypesSince(t, e.PlatformAccount(), n)
	if !inOrder(got, "customer.updated", "customer.subscription.created", "invoice.created", "invoice.finalized",
		"charge.succeeded", "invoice.paid", "invoice.payment_succeeded", "customer.subscription.updated") {
		t.Fatalf("events: %v", got)
	}
	ev := e.events(t, e.PlatformAccount())[0]
	prev := ev.Map("data")["previous_attributes"].(map[string]any)
	if ev.Str("type") != "customer.subscription.updated" || prev["status"] != "incomplete" || sub.Status != "active" {
		t.Fatalf("last event %v", ev)
	}
}

// Items are embedded as a list object and reachable through
// /v1/subscription_items.
func TestSubscriptionItemsAreEmbeddedAndListed(t *testing.T) {
	e := newBillingEnv(t)
	cus := e.customer(t, "e@example.com", TestCardVisa)
	sub := e.mustSubscribe(t, cus.ID, func(p *stripe.SubscriptionParams) {
		p.Items[0].Quantity = stripe.Int64(3)
		p.Items[0].Metadata = map[string]string{"seat": "pro"}
	}, e.price.ID)
	if sub.Items == nil || len(sub.Items.Data) != 1 || sub.Items.URL != "/v1/subscription_items?subscription="+sub.ID {
		t.Fatalf("items: %+v", sub.Items)
	}
	si := sub.Items.Data[0]
	if si.Quantity != 3 || si.Price.ID != e.price.ID || si.Subscription != sub.ID || si.Metadata["seat"] != "pro" || sub.LatestInvoice.AmountDue != 3000 {
		t.Fatalf("item %+v, due %d", si, sub.LatestInvoice.AmountDue)
	}
	it := e.sc.SubscriptionItems.List(&stripe.SubscriptionItemListParams{Subscription: stripe.String(sub.ID)})
	if !it.Next() || it.SubscriptionItem().ID != si.ID || it.Next() {
		t.Fatalf("list: %v", it.Err())
	}
	got, err := e.sc.SubscriptionItems.Get(si.ID, nil)
	if err != nil || got.Quantity != 3 {
		t.Fatalf("get %+v %v", got, err)
	}
	if r := e.do(t, "GET", "/v1/subscription_items", ""); r.status != 400 || r.errField("param") != "subscription" {
		t.Fatalf("list without subscription: %d %s", r.status, r.body)
	}
}

// List filters: customer, price, status (none = not canceled; all; ended).
func TestSubscriptionListFilters(t *testing.T) {
	e := newBillingEnv(t)
	other := e.newPrice(t, monthly(e.product.ID, 2000))
	a := e.customer(t, "f@example.com", TestCardVisa)
	b := e.customer(t, "g@example.com", "")
	s1 := e.mustSubscribe(t, a.ID, nil, e.price.ID)
	s2 := e.mustSubscribe(t, a.ID, nil, other.ID)
	s3 := e.mustSubscribe(t, b.ID, nil, e.price.ID) // incomplete
	if _, err := e.sc.Subscriptions.Cancel(s2.ID, nil); err != nil {
		t.Fatal(err)
	}
	ids := func(params *stripe.SubscriptionListParams) string {
		var out []string
		it := e.sc.Subscriptions.List(params)
		for it.Next() {
			out = append(out, it.Subscription().ID)
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		name   string
		params *stripe.SubscriptionListParams
		want   string
	}{
		{"default hides canceled", &stripe.SubscriptionListParams{}, s3.ID + "," + s1.ID},
		{"all", &stripe.SubscriptionListParams{Status: stripe.String("all")}, s3.ID + "," + s2.ID + "," + s1.ID},
		{"canceled", &stripe.SubscriptionListParams{Status: stripe.String("canceled")}, s2.ID},
		{"ended", &stripe.SubscriptionListParams{Status: stripe.String("ended")}, s2.ID},
		{"incomplete", &stripe.SubscriptionListParams{Status: stripe.String("incomplete")}, s3.ID},
		{"customer", &stripe.SubscriptionListParams{Customer: stripe.String(a.ID), Status: stripe.String("all")}, s2.ID + "," + s1.ID},
		{"price", &stripe.SubscriptionListParams{Price: stripe.String(e.price.ID)}, s3.ID + "," + s1.ID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(tc.params); got != tc.want {
				t.Fatalf("got %s want %s", got, tc.want)
			}
		})
	}
	res := e.do(t, "GET", "/v1/subscriptions/search", "query=status:'incomplete'")
	if res.status != http.StatusOK || len(res.obj["data"].([]any)) != 1 {
		t.Fatalf("search: %d %s", res.status, res.body)
	}
}

// Paying the open first invoice (POST /v1/invoices/{id}/pay, or a card
// attached through the control API with pay_open_invoices) makes an
// incomplete subscription active.
func TestIncompleteSubscriptionActivatesWhenFirstInvoicePaid(t *testing.T) {
	e := newBillingEnv(t)
	t.Run("pay endpoint", func(t *testing.T) {
		cus := e.customer(t, "h@example.com", "")
		sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
		_, err := e.sc.Invoices.Pay(sub.LatestInvoice.ID, nil)
		wantStripeErr(t, err, 400, "invalid_request_error", "", "", "This customer has no attached payment source or default payment method.")
		pm, err := e.sc.PaymentMethods.Attach(TestCardVisa, &stripe.PaymentMethodAttachParams{Customer: stripe.String(cus.ID)})
		if err != nil {
			t.Fatal(err)
		}
		inv, err := e.sc.Invoices.Pay(sub.LatestInvoice.ID, &stripe.InvoicePayParams{PaymentMethod: stripe.String(pm.ID)})
		if err != nil || inv.Status != "paid" || !inv.Paid || inv.AmountPaid != 1000 {
			t.Fatalf("pay: %+v %v", inv, err)
		}
		if got := e.subscription(t, sub.ID); got.Status != "active" {
			t.Fatalf("status %s", got.Status)
		}
	})
	t.Run("control API card", func(t *testing.T) {
		cus := e.customer(t, "i@example.com", "")
		sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
		if _, err := e.AttachTestCard("", cus.ID, TestCardVisa, AttachCardOptions{Default: true, PayOpenInvoices: true}); err != nil {
			t.Fatal(err)
		}
		if got := e.subscription(t, sub.ID); got.Status != "active" {
			t.Fatalf("status %s", got.Status)
		}
		// Later subscriptions use the card as the default.
		if next := e.mustSubscribe(t, cus.ID, nil, e.newPrice(t, monthly(e.product.ID, 300)).ID); next.Status != "active" {
			t.Fatalf("next subscription %s", next.Status)
		}
	})
}
