package emulator

import (
	"sort"
	"strings"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

// payoutTxns lists the balance transactions of a payout, sources expanded.
func (e *env) payoutTxns(t *testing.T, payout string, typ string) []*stripe.BalanceTransaction {
	t.Helper()
	params := &stripe.BalanceTransactionListParams{Payout: stripe.String(payout)}
	if typ != "" {
		params.Type = stripe.String(typ)
	}
	params.AddExpand("data.source")
	var out []*stripe.BalanceTransaction
	it := e.sc.BalanceTransactions.List(params)
	for it.Next() {
		out = append(out, it.BalanceTransaction())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The ledger feed's reconciliation: an automatic payout settles the
// available balance, and GET /v1/balance_transactions?payout= (Stripe's
// documented way) lists the transactions it paid out, the payout's own
// included, so their nets sum to zero and each charge leads to the invoice
// it paid.
func TestPayoutReconcilesToInvoices(t *testing.T) {
	e := newBillingEnv(t)
	big := e.newPrice(t, monthly(e.product.ID, 2000))
	a := e.customer(t, "a@example.com", TestCardVisa)
	b := e.customer(t, "b@example.com", TestCardVisa)
	subA := e.mustSubscribe(t, a.ID, nil, e.price.ID)
	subB := e.mustSubscribe(t, b.ID, nil, big.ID)
	if _, err := e.sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String(subB.LatestInvoice.Charge.ID), Amount: stripe.Int64(300)}); err != nil {
		t.Fatal(err)
	}
	// Nothing is available yet: no payout.
	if pos, err := e.SimulatePayout("", PayoutOptions{}); err != nil || len(pos) != 0 {
		t.Fatalf("early payout: %v %v", pos, err)
	}
	e.clock.Advance(3 * 24 * time.Hour)
	n := len(e.eventTypes(t, e.PlatformAccount()))
	pos, err := e.SimulatePayout("", PayoutOptions{})
	if err != nil || len(pos) != 1 {
		t.Fatalf("payouts %v %v", pos, err)
	}
	want := int64(1000-59) + int64(2000-88) - 300
	po, err := e.sc.Payouts.Get(pos[0].ID(), nil)
	if err != nil || po.Amount != want || po.Status != "paid" || !po.Automatic || po.ReconciliationStatus != "completed" || po.BalanceTransaction == nil {
		t.Fatalf("payout %+v %v", po, err)
	}
	if evs := e.eventTypesSince(t, e.PlatformAccount(), n); !inOrder(evs, "balance.available", "payout.created", "payout.updated", "payout.paid", "payout.reconciliation_completed") {
		t.Fatalf("events %v", evs)
	}
	txns := e.payoutTxns(t, po.ID, "")
	var sum int64
	var invoices []string
	types := map[stripe.BalanceTransactionType]int{}
	for _, txn := range txns {
		sum += txn.Net
		types[txn.Type]++
		if txn.Type == "charge" {
			if txn.Source.Charge == nil || txn.Source.Charge.Invoice == nil {
				t.Fatalf("charge source not expanded: %+v", txn.Source)
			}
			invoices = append(invoices, txn.Source.Charge.Invoice.ID)
		}
	}
	sort.Strings(invoices)
	wantInv := []string{subA.LatestInvoice.ID, subB.LatestInvoice.ID}
	sort.Strings(wantInv)
	if sum != 0 || types["charge"] != 2 || types["refund"] != 1 || types["payout"] != 1 || strings.Join(invoices, ",") != strings.Join(wantInv, ",") {
		t.Fatalf("sum %d types %v invoices %v", sum, types, invoices)
	}
	if got := e.payoutTxns(t, po.ID, "charge"); len(got) != 2 {
		t.Fatalf("type filter: %d", len(got))
	}
	// Nested expansion below the polymorphic source: charge → invoice.
	r := e.do(t, "GET", "/v1/balance_transactions", "payout="+po.ID+"&type=charge&expand[]=data.source.invoice")
	for _, d := range r.obj["data"].([]any) {
		src, _ := d.(map[string]any)["source"].(map[string]any)
		if inv, _ := src["invoice"].(map[string]any); inv["object"] != "invoice" || inv["status"] != "paid" {
			t.Fatalf("source.invoice not expanded: %s", r.body)
		}
	}
	if bal, _ := e.sc.Balance.Get(nil); bal.Available[0].Amount != 0 {
		t.Fatalf("balance after payout %+v", bal.Available)
	}
	// A later payout covers only what came after.
	if _, err := e.SimulateCharge("", SimulatedCharge{Amount: 500, Card: TestCardBypassPending}); err != nil {
		t.Fatal(err)
	}
	next, err := e.SimulatePayout("", PayoutOptions{LeavePending: true})
	if err != nil || len(next) != 1 || next[0].Str("status") != "pending" || next[0].Int("amount") != 500-stripeFee(500) {
		t.Fatalf("second payout %v %v", next, err)
	}
	if got := e.payoutTxns(t, next[0].ID(), ""); len(got) != 2 {
		t.Fatalf("second payout covers %d transactions", len(got))
	}
	paid, err := e.PayPayout("", next[0].ID())
	if err != nil || paid.Str("status") != "paid" {
		t.Fatalf("pay payout %v %v", paid, err)
	}
	if _, err := e.PayPayout("", next[0].ID()); err == nil {
		t.Fatal("a paid payout cannot be paid again")
	}
}

// The payout filter: unknown payouts are 404; manual payouts cannot be
// reconciled through it (Stripe: "for automatic Stripe payouts only").
func TestBalanceTransactionPayoutFilterRules(t *testing.T) {
	e := newEnv(t, Options{})
	if _, err := e.SimulateCharge("", SimulatedCharge{Amount: 5000, Card: TestCardBypassPending}); err != nil {
		t.Fatal(err)
	}
	manual, err := e.sc.Payouts.New(&stripe.PayoutParams{Amount: stripe.Int64(1000), Currency: stripe.String("usd")})
	if err != nil || manual.Automatic || manual.Status != "pending" || manual.ReconciliationStatus != "not_applicable" {
		t.Fatalf("manual payout %+v %v", manual, err)
	}
	cases := []struct {
		name, payout string
		status       int
		inMsg        string
	}{
		{"unknown payout", "po_nope", 404, "No such payout: 'po_nope'"},
		{"manual payout", manual.ID, 400, "Balance transaction history can only be filtered on automatic transfers, not manual."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "GET", "/v1/balance_transactions", "payout="+tc.payout)
			msg, _ := r.errField("message").(string)
			if r.status != tc.status || r.errField("param") != "payout" || !strings.Contains(msg, tc.inMsg) {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		})
	}
	// The deprecated /v1/balance/history path answers the same.
	if r := e.do(t, "GET", "/v1/balance/history", "type=payout"); r.status != 200 || len(r.obj["data"].([]any)) != 1 {
		t.Fatalf("history: %d %s", r.status, r.body)
	}
}

// Manual payouts: at most the available balance; a pending one can be
// canceled, which returns its funds.
func TestManualPayoutRules(t *testing.T) {
	e := newEnv(t, Options{})
	if _, err := e.SimulateCharge("", SimulatedCharge{Amount: 1000, Card: TestCardBypassPending}); err != nil {
		t.Fatal(err)
	}
	available := 1000 - stripeFee(1000)
	_, err := e.sc.Payouts.New(&stripe.PayoutParams{Amount: stripe.Int64(available + 1), Currency: stripe.String("usd")})
	if se := stripeErr(t, err); se.Code != "balance_insufficient" || se.HTTPStatusCode != 400 {
		t.Fatalf("insufficient: %v", err)
	}
	po, err := e.sc.Payouts.New(&stripe.PayoutParams{Amount: stripe.Int64(available), Currency: stripe.String("usd")})
	if err != nil {
		t.Fatal(err)
	}
	if bal, _ := e.sc.Balance.Get(nil); bal.Available[0].Amount != 0 {
		t.Fatalf("balance %+v", bal.Available)
	}
	canceled, err := e.sc.Payouts.Cancel(po.ID, nil)
	if err != nil || canceled.Status != "canceled" {
		t.Fatalf("cancel %+v %v", canceled, err)
	}
	if bal, _ := e.sc.Balance.Get(nil); bal.Available[0].Amount != available {
		t.Fatalf("balance after cancel %+v", bal.Available)
	}
	it := e.sc.Payouts.List(&stripe.PayoutListParams{Status: stripe.String("canceled")})
	if !it.Next() || it.Payout().ID != po.ID {
		t.Fatalf("list: %v", it.Err())
	}
}
