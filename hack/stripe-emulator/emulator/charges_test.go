package emulator

import (
	"strings"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

// A paid invoice's charge has a balance transaction: type charge, Stripe's
// US card fee (2.9% + 30¢), net, and funds pending until available_on (two
// days later at 00:00 UTC), then available.
func TestChargeBalanceTransaction(t *testing.T) {
	e := newBillingEnv(t)
	cus := e.customer(t, "c@example.com", TestCardVisa)
	sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
	ch, err := e.sc.Charges.Get(sub.LatestInvoice.Charge.ID, &stripe.ChargeParams{Expand: []*string{stripe.String("balance_transaction")}})
	if err != nil {
		t.Fatal(err)
	}
	txn := ch.BalanceTransaction
	wantOn := time.Date(2024, 3, 3, 0, 0, 0, 0, time.UTC).Unix()
	if ch.Status != "succeeded" || !ch.Paid || !ch.Captured || ch.Amount != 1000 || ch.PaymentMethodDetails.Card.Last4 != "4242" ||
		ch.Description != "Subscription creation" || ch.Outcome.SellerMessage != "Payment complete." || ch.Refunds != nil {
		t.Fatalf("charge %+v", ch)
	}
	if txn.Type != "charge" || txn.Amount != 1000 || txn.Fee != 59 || txn.Net != 941 || txn.AvailableOn != wantOn ||
		txn.Status != "pending" || txn.ReportingCategory != "charge" || txn.Source.ID != ch.ID || len(txn.FeeDetails) != 1 ||
		txn.FeeDetails[0].Type != "stripe_fee" {
		t.Fatalf("balance transaction %+v", txn)
	}
	bal, err := e.sc.Balance.Get(nil)
	if err != nil || len(bal.Pending) != 1 || bal.Pending[0].Amount != 941 || bal.Available[0].Amount != 0 {
		t.Fatalf("balance %+v %v", bal, err)
	}
	e.clock.Advance(3 * 24 * time.Hour)
	got, err := e.sc.BalanceTransactions.Get(txn.ID, nil)
	if err != nil || got.Status != "available" {
		t.Fatalf("after available_on: %+v %v", got, err)
	}
	if bal, _ := e.sc.Balance.Get(nil); bal.Available[0].Amount != 941 || bal.Pending[0].Amount != 0 {
		t.Fatalf("balance %+v", bal)
	}
	n := len(e.eventTypes(t, e.PlatformAccount()))
	if _, err := e.SettleBalance(""); err != nil {
		t.Fatal(err)
	}
	if evs := e.eventTypesSince(t, e.PlatformAccount(), n); len(evs) != 1 || evs[0] != "balance.available" {
		t.Fatalf("settle events %v", evs)
	}
}

// Simulated charges: pm_card_bypassPending funds are available at once
// (with balance.available); a failing card leaves a failed charge with
// no balance transaction.
func TestSimulatedCharges(t *testing.T) {
	e := newEnv(t, Options{})
	ok, err := e.SimulateCharge("", SimulatedCharge{Amount: 2000, Card: TestCardBypassPending, Description: "one-off"})
	if err != nil {
		t.Fatal(err)
	}
	if ok.Str("status") != "succeeded" || ok.Str("balance_transaction") == "" {
		t.Fatalf("charge %v", ok)
	}
	if evs := e.eventTypes(t, e.PlatformAccount()); !inOrder(evs, "charge.succeeded", "balance.available") {
		t.Fatalf("events %v", evs)
	}
	failed, err := e.SimulateCharge("", SimulatedCharge{Amount: 2000, Card: TestCardFailing})
	if err != nil || failed.Str("status") != "failed" || failed["balance_transaction"] != nil || failed.Str("failure_code") != "card_declined" {
		t.Fatalf("failed charge %v %v", failed, err)
	}
	bal, _ := e.sc.Balance.Get(nil)
	if bal.Available[0].Amount != 2000-stripeFee(2000) {
		t.Fatalf("balance %+v", bal.Available)
	}
	cus := e.customer(t, "sc@example.com", "")
	if _, err := e.SimulateCharge("", SimulatedCharge{Amount: 100, Customer: cus.ID}); err == nil {
		t.Fatal("a customer without a card cannot be charged by default")
	}
	it := e.sc.Charges.List(&stripe.ChargeListParams{})
	n := 0
	for it.Next() {
		n++
	}
	if n != 2 {
		t.Fatalf("%d charges listed", n)
	}
}

// Refund rules and wording.
func TestRefundRules(t *testing.T) {
	e := newEnv(t, Options{})
	ch, err := e.SimulateCharge("", SimulatedCharge{Amount: 1000})
	if err != nil {
		t.Fatal(err)
	}
	failed, _ := e.SimulateCharge("", SimulatedCharge{Amount: 1000, Card: TestCardFailing})
	if _, err := e.sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String(ch.ID()), Amount: stripe.Int64(400)}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, form  string
		status      int
		code, inMsg string
		param       string
	}{
		{"neither charge nor payment_intent", "amount=1", 400, "", "One of the following params should be provided for this request: payment_intent or charge.", ""},
		{"unknown charge", "charge=ch_nope", 404, "resource_missing", "No such charge: 'ch_nope'", "charge"},
		{"more than the charge", "charge=" + ch.ID() + "&amount=1200", 400, "amount_too_large", "Refund amount ($12.00) is greater than charge amount ($10.00)", "amount"},
		{"more than what is left", "charge=" + ch.ID() + "&amount=700", 400, "amount_too_large", "Refund amount ($7.00) is greater than unrefunded amount on charge ($6.00)", "amount"},
		{"failed charge", "charge=" + failed.ID(), 400, "", "has not succeeded", "charge"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "POST", "/v1/refunds", tc.form)
			msg, _ := r.errField("message").(string)
			code, _ := r.errField("code").(string)
			param, _ := r.errField("param").(string)
			if r.status != tc.status || code != tc.code || param != tc.param || !strings.Contains(msg, tc.inMsg) {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		})
	}
	// The rest, then nothing is left.
	if _, err := e.sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String(ch.ID())}); err != nil {
		t.Fatal(err)
	}
	_, err = e.sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String(ch.ID())})
	wantStripeErr(t, err, 400, "invalid_request_error", "charge_already_refunded", "charge", "Charge "+ch.ID()+" has already been refunded.")
}

// A refund debits the balance with a refund transaction (Stripe keeps its
// fee), updates the charge and emits charge.refunded — not refund.created,
// which 2023-10-16 sends only for refunds without a charge;
// the charge's refunds show only when expanded.
func TestRefundEffects(t *testing.T) {
	e := newEnv(t, Options{})
	ch, err := e.SimulateCharge("", SimulatedCharge{Amount: 1000, Card: TestCardBypassPending, Description: "order 7"})
	if err != nil {
		t.Fatal(err)
	}
	n := len(e.eventTypes(t, e.PlatformAccount()))
	re, err := e.sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String(ch.ID()), Amount: stripe.Int64(300), Reason: stripe.String("requested_by_customer"),
		Expand: []*string{stripe.String("balance_transaction")}})
	if err != nil {
		t.Fatal(err)
	}
	txn := re.BalanceTransaction
	if re.Status != "succeeded" || re.Amount != 300 || re.Charge.ID != ch.ID() || re.Reason != "requested_by_customer" ||
		txn.Type != "refund" || txn.Amount != -300 || txn.Fee != 0 || txn.Net != -300 || txn.Status != "available" ||
		txn.Description != "REFUND FOR CHARGE (order 7)" || txn.Source.ID != re.ID {
		t.Fatalf("refund %+v txn %+v", re, txn)
	}
	if evs := e.eventTypesSince(t, e.PlatformAccount(), n); len(evs) != 1 || evs[0] != "charge.refunded" {
		t.Fatalf("events %v; want [charge.refunded]", evs)
	}
	got, err := e.sc.Charges.Get(ch.ID(), &stripe.ChargeParams{Expand: []*string{stripe.String("refunds")}})
	if err != nil || got.AmountRefunded != 300 || got.Refunded || got.Refunds == nil || len(got.Refunds.Data) != 1 {
		t.Fatalf("charge %+v %v", got, err)
	}
	bal, _ := e.sc.Balance.Get(nil)
	if bal.Available[0].Amount != 1000-stripeFee(1000)-300 {
		t.Fatalf("balance %+v", bal.Available)
	}
	it := e.sc.Refunds.List(&stripe.RefundListParams{Charge: stripe.String(ch.ID())})
	if !it.Next() || it.Refund().ID != re.ID {
		t.Fatalf("list: %v", it.Err())
	}
}
