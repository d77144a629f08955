package stripeapi

import (
	"context"
	"testing"
)

// Pins: GetCharge reads the ids that tie a charge to its invoice, customer and balance transaction,
// and a Ledger view on a connected account sends Stripe-Account.
func TestGetChargeTiesInvoiceAndCustomer(t *testing.T) {
	f := newFakeStripe(t)
	f.on("GET /v1/charges/ch_1", map[string]any{
		"id": "ch_1", "object": "charge", "status": "succeeded", "amount": 2000, "amount_captured": 2000,
		"amount_refunded": 300, "currency": "usd", "customer": "cus_1", "invoice": "in_1",
		"balance_transaction": "txn_1", "payment_intent": nil, "paid": true, "refunded": false, "created": 1700000000,
	})
	c := newTestClient(t, f, nil)
	ch, err := c.Ledger("acct_tenant").GetCharge(context.Background(), "ch_1")
	if err != nil {
		t.Fatal(err)
	}
	if ch.InvoiceID != "in_1" || ch.CustomerID != "cus_1" || ch.BalanceTransactionID != "txn_1" || ch.AmountRefunded != 300 || ch.Status != "succeeded" || ch.PaymentIntentID != "" {
		t.Errorf("charge %+v", ch)
	}
	if got := f.last(t).Header.Get("Stripe-Account"); got != "acct_tenant" {
		t.Errorf("Stripe-Account %q, want acct_tenant", got)
	}
	if _, err := c.Ledger("").GetCharge(context.Background(), "ch_missing"); !IsNotFound(err) {
		t.Errorf("missing charge: %v, want NotFound", err)
	}
	if got := f.last(t).Header.Get("Stripe-Account"); got != "" {
		t.Errorf("platform view sent Stripe-Account %q", got)
	}
}

// Pins: ListRefundsForCharge filters on the charge and follows every page.
func TestListRefundsForChargeEveryPage(t *testing.T) {
	f := newFakeStripe(t)
	f.handle("GET /v1/refunds", func(req seen, n int) reply {
		if req.Form.Get("charge") != "ch_1" {
			t.Errorf("charge filter %q", req.Form.Get("charge"))
		}
		if n == 1 {
			return reply{Body: list("/v1/refunds", true, map[string]any{"id": "re_2", "object": "refund", "amount": 200, "charge": "ch_1",
				"currency": "usd", "status": "succeeded", "balance_transaction": "txn_r2", "created": 1700000200})}
		}
		if req.Form.Get("starting_after") != "re_2" {
			t.Errorf("second page starting_after %q", req.Form.Get("starting_after"))
		}
		return reply{Body: list("/v1/refunds", false, map[string]any{"id": "re_1", "object": "refund", "amount": 100, "charge": "ch_1",
			"currency": "usd", "status": "pending", "balance_transaction": "txn_r1", "created": 1700000100})}
	})
	c := newTestClient(t, f, nil)
	got, err := c.Ledger("").ListRefundsForCharge(context.Background(), "ch_1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "re_2" || got[1].ID != "re_1" || got[1].Status != "pending" || got[0].ChargeID != "ch_1" || got[0].BalanceTransactionID != "txn_r2" || got[1].Amount != 100 {
		t.Errorf("refunds %+v", got)
	}
}
