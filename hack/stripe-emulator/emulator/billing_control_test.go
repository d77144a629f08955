package emulator

import (
	"net/http"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

// The billing control operations over HTTP (/_emulator/...), on a
// connected account: the same effects as the Go methods, events of that
// account carrying `account`, nothing visible from the platform.
func TestBillingControlHTTPOnConnectedAccount(t *testing.T) {
	e := newEnv(t, Options{})
	acct := seedConnectedAccount(t, e.Emulator)
	scoped := func(p *stripe.Params) { p.StripeAccount = stripe.String(acct) }
	prodParams := &stripe.ProductParams{Name: stripe.String("Seat")}
	scoped(&prodParams.Params)
	prod, err := e.sc.Products.New(prodParams)
	if err != nil {
		t.Fatal(err)
	}
	priceParams := monthly(prod.ID, 1500)
	scoped(&priceParams.Params)
	price := e.newPrice(t, priceParams)
	cusParams := &stripe.CustomerParams{Email: stripe.String("tenant@example.com")}
	scoped(&cusParams.Params)
	cus, err := e.sc.Customers.New(cusParams)
	if err != nil {
		t.Fatal(err)
	}

	status, pm := e.control(t, "POST", "customers/cards", map[string]any{"account": acct, "customer": cus.ID, "card": TestCardVisa, "default": true})
	if status != 200 || pm["customer"] != cus.ID {
		t.Fatalf("attach card: %d %v", status, pm)
	}
	subParams := &stripe.SubscriptionParams{Customer: stripe.String(cus.ID), Items: []*stripe.SubscriptionItemsParams{{Price: stripe.String(price.ID)}}}
	scoped(&subParams.Params)
	sub, err := e.sc.Subscriptions.New(subParams)
	if err != nil || sub.Status != "active" {
		t.Fatalf("subscription %+v %v", sub, err)
	}
	status, renewed := e.control(t, "POST", "subscriptions/advance", map[string]any{"account": acct, "subscription": sub.ID})
	if status != 200 || renewed["status"] != "active" || renewed["current_period_start"] != float64(sub.CurrentPeriodEnd) {
		t.Fatalf("advance: %d %v", status, renewed)
	}
	status, ch := e.control(t, "POST", "charges", map[string]any{"account": acct, "amount": 700, "card": TestCardBypassPending})
	if status != 200 || ch["status"] != "succeeded" {
		t.Fatalf("charge: %d %v", status, ch)
	}
	e.AdvanceClock(3 * 24 * time.Hour)
	status, settled := e.control(t, "POST", "balance/settle", map[string]any{"account": acct})
	if status != 200 || settled["object"] != "balance" {
		t.Fatalf("settle: %d %v", status, settled)
	}
	status, out := e.control(t, "POST", "payouts", map[string]any{"account": acct, "leave_pending": true})
	pos, _ := out["payouts"].([]any)
	if status != 200 || len(pos) != 1 {
		t.Fatalf("payouts: %d %v", status, out)
	}
	po := pos[0].(map[string]any)
	status, paid := e.control(t, "POST", "payouts/pay", map[string]any{"account": acct, "payout": po["id"]})
	if status != 200 || paid["status"] != "paid" {
		t.Fatalf("pay payout: %d %v", status, paid)
	}
	// Two charges (first invoice, renewal) at 1500 and the one-off at 700.
	if want := float64(2*(1500-stripeFee(1500)) + 700 - stripeFee(700)); po["amount"] != want {
		t.Fatalf("payout amount %v, want %v", po["amount"], want)
	}

	// Every event is the connected account's, with `account` set.
	evs := e.events(t, acct)
	seen := map[string]bool{}
	for _, ev := range evs {
		if ev.Str("account") != acct {
			t.Fatalf("event %s without account", ev.Str("type"))
		}
		seen[ev.Str("type")] = true
	}
	for _, typ := range []string{"customer.created", "payment_method.attached", "customer.subscription.created", "invoice.paid",
		"charge.succeeded", "balance.available", "payout.created", "payout.paid"} {
		if !seen[typ] {
			t.Fatalf("no %s event in the connected account", typ)
		}
	}
	for _, ev := range e.events(t, e.PlatformAccount()) {
		if ev.Str("type") != "product.created" && ev.Str("type") != "price.created" && ev.Str("account") == "" && seen[ev.Str("type")] {
			t.Fatalf("platform got %s", ev.Str("type"))
		}
	}
	if r := e.do(t, "GET", "/v1/subscriptions/"+sub.ID, ""); r.status != http.StatusNotFound {
		t.Fatalf("platform sees the connected account's subscription: %d", r.status)
	}
}

// Control operation errors are Stripe error bodies.
func TestBillingControlErrors(t *testing.T) {
	e := newEnv(t, Options{})
	cases := []struct {
		name, op string
		in       map[string]any
		status   int
	}{
		{"unknown customer", "customers/cards", map[string]any{"customer": "cus_nope"}, 404},
		{"unknown test card", "customers/cards", map[string]any{"customer": e.customer(t, "x@example.com", "").ID, "card": "pm_card_nope"}, 400},
		{"unknown subscription", "subscriptions/advance", map[string]any{"subscription": "sub_nope"}, 404},
		{"no amount", "charges", map[string]any{}, 400},
		{"unknown account", "payouts", map[string]any{"account": "acct_nope"}, 403},
		{"unknown payout", "payouts/pay", map[string]any{"payout": "po_nope"}, 404},
		{"unknown field", "charges", map[string]any{"amount": 1, "bogus": true}, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, out := e.control(t, "POST", tc.op, tc.in)
			if status != tc.status || out["error"] == nil {
				t.Fatalf("got %d %v", status, out)
			}
		})
	}
}
