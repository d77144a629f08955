package stripeapi

import (
	"context"
	"testing"
)

// Pins: ListBalanceTransactionsForPayout sends payout= and expand[]=data.source on every page, with
// Stripe-Account for a connected account, and reads each source's ties: a charge's invoice and
// customer, a refund's and a dispute's charge, a payout's own transaction.
func TestListBalanceTransactionsForPayoutEveryPage(t *testing.T) {
	f := newFakeStripe(t)
	charge := map[string]any{"id": "txn_c", "object": "balance_transaction", "type": "charge", "reporting_category": "charge",
		"amount": 1000, "fee": 59, "net": 941, "currency": "usd", "status": "available", "created": 1700000000, "available_on": 1700172800,
		"source": map[string]any{"id": "ch_1", "object": "charge", "invoice": "in_1", "customer": "cus_1"}}
	refund := map[string]any{"id": "txn_r", "object": "balance_transaction", "type": "refund", "reporting_category": "refund",
		"amount": -300, "fee": 0, "net": -300, "currency": "usd", "status": "available", "created": 1700000100,
		"source": map[string]any{"id": "re_1", "object": "refund", "charge": "ch_1"}}
	dispute := map[string]any{"id": "txn_d", "object": "balance_transaction", "type": "adjustment", "reporting_category": "dispute",
		"amount": -500, "fee": 1500, "net": -2000, "currency": "usd", "status": "available", "created": 1700000200,
		"source": map[string]any{"id": "du_1", "object": "dispute", "charge": "ch_2"}}
	payout := map[string]any{"id": "txn_p", "object": "balance_transaction", "type": "payout", "reporting_category": "payout",
		"amount": -641, "fee": 0, "net": -641, "currency": "usd", "status": "available", "created": 1700000300,
		"source": map[string]any{"id": "po_1", "object": "payout", "automatic": true}}
	f.handle("GET /v1/balance_transactions", func(req seen, n int) reply {
		if req.Form.Get("payout") != "po_1" || req.Form.Get("expand[0]") != "data.source" {
			t.Errorf("page %d form %v: want payout=po_1 and expand data.source", n, req.Form)
		}
		if req.Header.Get("Stripe-Account") != "acct_tenant" {
			t.Errorf("page %d Stripe-Account %q", n, req.Header.Get("Stripe-Account"))
		}
		if n == 1 {
			return reply{Body: list("/v1/balance_transactions", true, payout, dispute)}
		}
		if req.Form.Get("starting_after") != "txn_d" {
			t.Errorf("page %d starting_after %q", n, req.Form.Get("starting_after"))
		}
		return reply{Body: list("/v1/balance_transactions", false, refund, charge)}
	})
	c := newTestClient(t, f, nil)
	got, err := c.Ledger("acct_tenant").ListBalanceTransactionsForPayout(context.Background(), "po_1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d transactions, want 4: %+v", len(got), got)
	}
	want := []BalanceTransaction{
		{ID: "txn_p", SourceID: "po_1", SourceType: "payout", Net: -641},
		{ID: "txn_d", SourceID: "du_1", SourceType: "dispute", ChargeID: "ch_2", Net: -2000},
		{ID: "txn_r", SourceID: "re_1", SourceType: "refund", ChargeID: "ch_1", Net: -300},
		{ID: "txn_c", SourceID: "ch_1", SourceType: "charge", ChargeID: "ch_1", InvoiceID: "in_1", CustomerID: "cus_1", Net: 941},
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.ID || g.SourceID != w.SourceID || g.SourceType != w.SourceType || g.ChargeID != w.ChargeID ||
			g.InvoiceID != w.InvoiceID || g.CustomerID != w.CustomerID || g.Net != w.Net {
			t.Errorf("transaction %d = %+v, want %+v", i, g, w)
		}
	}
	if c := got[3]; c.Amount != 1000 || c.Fee != 59 || c.ReportingCategory != "charge" || c.Currency != "usd" || c.AvailableOn.Unix() != 1700172800 {
		t.Errorf("charge transaction %+v", c)
	}
}

// Pins: GetBalanceTransaction reads the figures; an unexpanded source is only its id.
func TestGetBalanceTransaction(t *testing.T) {
	f := newFakeStripe(t)
	f.on("GET /v1/balance_transactions/txn_c", map[string]any{"id": "txn_c", "object": "balance_transaction", "type": "charge",
		"reporting_category": "charge", "amount": 1000, "fee": 59, "net": 941, "currency": "usd", "status": "pending", "source": "ch_1"})
	c := newTestClient(t, f, nil)
	bt, err := c.Ledger("").GetBalanceTransaction(context.Background(), "txn_c")
	if err != nil {
		t.Fatal(err)
	}
	if bt.Fee != 59 || bt.Net != 941 || bt.SourceID != "ch_1" || bt.SourceType != "" || bt.ChargeID != "" || bt.Status != "pending" {
		t.Errorf("transaction %+v", bt)
	}
}
