package ledger_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
	"github.com/cloudip/stripe-operator/webhookrelay/ledger"
)

const (
	tenantAcct = "acct_1Tenant"
	created    = int64(1700000000)
)

var tenant = ledger.Owner{Tenant: "shop/acme", Region: "eu"}

func fakeBuilder(f stripeapi.LedgerAPI) (*ledger.Builder, *counting) {
	c := &counting{LedgerAPI: f}
	return &ledger.Builder{Stripe: func(string) stripeapi.LedgerAPI { return c }}, c
}

func disputeObject(status string, txns ...map[string]any) map[string]any {
	if txns == nil {
		txns = []map[string]any{}
	}
	return map[string]any{"id": "du_1", "object": "dispute", "amount": 2000, "currency": "usd", "charge": "ch_D",
		"status": status, "reason": "fraudulent", "created": created, "balance_transactions": txns}
}

var (
	withdrawal    = map[string]any{"id": "txn_W", "object": "balance_transaction", "amount": -2000, "fee": 1500, "net": -3500, "currency": "usd", "reporting_category": "dispute", "created": created}
	reinstatement = map[string]any{"id": "txn_R", "object": "balance_transaction", "amount": 2000, "fee": -1500, "net": 3500, "currency": "usd", "reporting_category": "dispute_reversal", "created": created + 86400}
)

// Pins: each event type gives the records of its kind, with the figures and ties the schema
// documents and the id RecordID(kind, account, object, state); types the feed does not take give
// nothing and no error. Shapes are Stripe's (API 2023-10-16); disputes and payout failures, which the
// emulator does not make, are built here from Stripe's documented objects.
func TestRecordsOfEachEventType(t *testing.T) {
	f := &fakeLedger{
		charges: map[string]stripeapi.Charge{"ch_D": {ID: "ch_D", InvoiceID: "in_D", CustomerID: "cus_D"}},
		txns:    map[string]stripeapi.BalanceTransaction{"txn_C": {ID: "txn_C", Amount: 1000, Fee: 59, Net: 941}},
		refunds: map[string][]stripeapi.Refund{"ch_R": {
			{ID: "re_2", ChargeID: "ch_R", Status: "succeeded", Amount: 200, Currency: "usd", BalanceTransactionID: "txn_r2", Created: time.Unix(created+20, 0)},
			{ID: "re_failed", ChargeID: "ch_R", Status: "failed", Amount: 50, Currency: "usd", Created: time.Unix(created+15, 0)},
			{ID: "re_1", ChargeID: "ch_R", Status: "pending", Amount: 300, Currency: "usd", BalanceTransactionID: "txn_r1", Created: time.Unix(created+10, 0)},
		}},
		payouts: map[string][]stripeapi.BalanceTransaction{},
	}
	charge := map[string]any{"id": "ch_C", "object": "charge", "amount": 1000, "amount_refunded": 0, "currency": "usd", "customer": "cus_C",
		"invoice": "in_C", "balance_transaction": "txn_C", "status": "succeeded", "created": created}
	failed := map[string]any{"id": "ch_F", "object": "charge", "amount": 1000, "currency": "usd", "customer": map[string]any{"id": "cus_F", "object": "customer"},
		"invoice": "in_F", "balance_transaction": nil, "status": "failed", "failure_code": "card_declined", "failure_message": "Your card was declined.", "created": created}
	refunded := map[string]any{"id": "ch_R", "object": "charge", "amount": 1000, "amount_refunded": 500, "currency": "usd", "customer": "cus_R",
		"invoice": "in_R", "status": "succeeded", "refunded": false, "created": created}
	refundedOld := map[string]any{"id": "ch_O", "object": "charge", "amount": 1000, "amount_refunded": 400, "currency": "usd", "customer": "cus_O",
		"invoice": nil, "status": "succeeded", "created": created, "refunds": map[string]any{"object": "list", "has_more": false, "data": []any{
			map[string]any{"id": "re_O", "object": "refund", "amount": 400, "currency": "usd", "charge": "ch_O", "status": "succeeded", "balance_transaction": "txn_O", "created": created + 5}}}}
	invoice := func(status string, mut func(map[string]any)) map[string]any {
		inv := map[string]any{"id": "in_1", "object": "invoice", "customer": "cus_1", "charge": "ch_1", "currency": "usd",
			"amount_due": 1500, "amount_paid": 0, "attempt_count": 1, "status": status,
			"status_transitions": map[string]any{"paid_at": nil, "voided_at": nil, "marked_uncollectible_at": nil, "finalized_at": created}}
		if mut != nil {
			mut(inv)
		}
		return inv
	}
	payout := func(automatic bool, status, reconciliation string) map[string]any {
		return map[string]any{"id": "po_1", "object": "payout", "amount": 4200, "currency": "usd", "arrival_date": created + 86400,
			"automatic": automatic, "status": status, "reconciliation_status": reconciliation, "balance_transaction": "txn_po",
			"failure_balance_transaction": "txn_pof", "failure_code": "account_closed", "failure_message": "The bank account has been closed."}
	}
	type want struct {
		kind                                   ledger.Kind
		object, state                          string
		amount                                 int64
		fee, net                               *int64
		charge, invoice, customer, refund, bal string
		dispute, payout, reason, status        string
		attempts                               int64
		occurred                               int64
	}
	i64 := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name   string
		typ    string
		object map[string]any
		want   []want
		reads  map[string]int
	}{
		{name: "a succeeded charge, its fee read from its balance transaction", typ: "charge.succeeded", object: charge,
			want:  []want{{kind: ledger.KindCharge, object: "ch_C", state: "succeeded", amount: 1000, fee: i64(59), net: i64(941), charge: "ch_C", invoice: "in_C", customer: "cus_C", bal: "txn_C", status: "succeeded", occurred: created}},
			reads: map[string]int{"GetBalanceTransaction": 1}},
		{name: "a failed charge (an expanded customer reads as its id)", typ: "charge.failed", object: failed,
			want: []want{{kind: ledger.KindChargeFailed, object: "ch_F", state: "failed", amount: 1000, charge: "ch_F", invoice: "in_F", customer: "cus_F", reason: "card_declined", status: "failed", occurred: created}}},
		{name: "a refunded charge: every refund Stripe has now, oldest first, failed ones left out", typ: "charge.refunded", object: refunded,
			want: []want{
				{kind: ledger.KindRefund, object: "re_1", state: "refunded", amount: 300, charge: "ch_R", invoice: "in_R", customer: "cus_R", refund: "re_1", bal: "txn_r1", status: "pending", occurred: created + 10},
				{kind: ledger.KindRefund, object: "re_2", state: "refunded", amount: 200, charge: "ch_R", invoice: "in_R", customer: "cus_R", refund: "re_2", bal: "txn_r2", status: "succeeded", occurred: created + 20},
			},
			reads: map[string]int{"ListRefundsForCharge": 1}},
		{name: "a refunded charge rendered with its refunds (API versions before 2022-11-15): no read", typ: "charge.refunded", object: refundedOld,
			want: []want{{kind: ledger.KindRefund, object: "re_O", state: "refunded", amount: 400, charge: "ch_O", customer: "cus_O", refund: "re_O", bal: "txn_O", status: "succeeded", occurred: created + 5}}},
		{name: "a dispute opened, tied to the charge's invoice", typ: "charge.dispute.created", object: disputeObject("needs_response", withdrawal),
			want:  []want{{kind: ledger.KindDisputeOpened, object: "du_1", state: "opened", amount: 2000, charge: "ch_D", invoice: "in_D", customer: "cus_D", dispute: "du_1", status: "needs_response", reason: "fraudulent", occurred: created}},
			reads: map[string]int{"GetCharge": 1}},
		{name: "a dispute updated: one record per status", typ: "charge.dispute.updated", object: disputeObject("under_review"),
			want: []want{{kind: ledger.KindDisputeUpdated, object: "du_1", state: "status:under_review", amount: 2000, charge: "ch_D", invoice: "in_D", customer: "cus_D", dispute: "du_1", status: "under_review", reason: "fraudulent", occurred: created + 3600}}},
		{name: "a dispute closed", typ: "charge.dispute.closed", object: disputeObject("won", withdrawal, reinstatement),
			want: []want{{kind: ledger.KindDisputeClosed, object: "du_1", state: "closed", amount: 2000, charge: "ch_D", invoice: "in_D", customer: "cus_D", dispute: "du_1", status: "won", reason: "fraudulent", occurred: created + 3600}}},
		{name: "dispute funds withdrawn: the withdrawal, signed", typ: "charge.dispute.funds_withdrawn", object: disputeObject("needs_response", withdrawal),
			want: []want{{kind: ledger.KindDisputeFundsWithdrawn, object: "du_1", state: "txn_W", amount: -2000, fee: i64(1500), net: i64(-3500), charge: "ch_D", invoice: "in_D", customer: "cus_D", dispute: "du_1", bal: "txn_W", reason: "fraudulent", occurred: created}}},
		{name: "dispute funds reinstated: the withdrawal again (same id) and the reinstatement", typ: "charge.dispute.funds_reinstated", object: disputeObject("won", withdrawal, reinstatement),
			want: []want{
				{kind: ledger.KindDisputeFundsWithdrawn, object: "du_1", state: "txn_W", amount: -2000, fee: i64(1500), net: i64(-3500), charge: "ch_D", invoice: "in_D", customer: "cus_D", dispute: "du_1", bal: "txn_W", reason: "fraudulent", occurred: created},
				{kind: ledger.KindDisputeFundsReinstated, object: "du_1", state: "txn_R", amount: 2000, fee: i64(-1500), net: i64(3500), charge: "ch_D", invoice: "in_D", customer: "cus_D", dispute: "du_1", bal: "txn_R", reason: "fraudulent", occurred: created + 86400},
			}},
		{name: "an invoice paid", typ: "invoice.paid", object: invoice("paid", func(m map[string]any) {
			m["amount_paid"] = int64(1500)
			m["status_transitions"].(map[string]any)["paid_at"] = created + 60
		}), want: []want{{kind: ledger.KindInvoicePaid, object: "in_1", state: "paid", amount: 1500, charge: "ch_1", invoice: "in_1", customer: "cus_1", status: "paid", occurred: created + 60}}},
		{name: "an invoice payment failed: one record per attempt", typ: "invoice.payment_failed", object: invoice("open", func(m map[string]any) { m["attempt_count"] = 2 }),
			want: []want{{kind: ledger.KindInvoicePaymentFailed, object: "in_1", state: "attempt:2", amount: 1500, charge: "ch_1", invoice: "in_1", customer: "cus_1", status: "open", attempts: 2, occurred: created + 3600}}},
		{name: "an invoice voided: what was outstanding", typ: "invoice.voided", object: invoice("void", func(m map[string]any) {
			m["amount_paid"] = int64(500)
			m["charge"] = nil
			m["status_transitions"].(map[string]any)["voided_at"] = created + 120
		}), want: []want{{kind: ledger.KindInvoiceVoided, object: "in_1", state: "void", amount: 1000, invoice: "in_1", customer: "cus_1", status: "void", occurred: created + 120}}},
		{name: "an invoice marked uncollectible", typ: "invoice.marked_uncollectible", object: invoice("uncollectible", func(m map[string]any) {
			m["status_transitions"].(map[string]any)["marked_uncollectible_at"] = created + 180
		}), want: []want{{kind: ledger.KindInvoiceUncollectible, object: "in_1", state: "uncollectible", amount: 1500, charge: "ch_1", invoice: "in_1", customer: "cus_1", status: "uncollectible", occurred: created + 180}}},
		{name: "a manual payout paid", typ: "payout.paid", object: payout(false, "paid", "not_applicable"),
			want: []want{{kind: ledger.KindPayoutUnreconcilable, object: "po_1", state: "paid", amount: 4200, payout: "po_1", bal: "txn_po", reason: "manual_payout", status: "paid", occurred: created + 86400}}},
		{name: "an automatic payout paid before Stripe reconciled it: nothing yet", typ: "payout.paid", object: payout(true, "paid", "in_progress")},
		{name: "a manual payout has no reconciliation event", typ: "payout.reconciliation_completed", object: payout(false, "paid", "not_applicable")},
		{name: "a payout failed", typ: "payout.failed", object: payout(true, "failed", "not_applicable"),
			want: []want{{kind: ledger.KindPayoutFailed, object: "po_1", state: "failed", amount: 4200, payout: "po_1", bal: "txn_pof", reason: "account_closed", status: "failed", occurred: created + 3600}}},
		{name: "a type the feed does not take", typ: "customer.updated", object: map[string]any{"id": "cus_1", "object": "customer"}},
		{name: "a payment intent is not a ledger fact", typ: "payment_intent.succeeded", object: map[string]any{"id": "pi_1", "object": "payment_intent"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, reads := fakeBuilder(f)
			recs, err := build(t, b, event(t, "evt_1", tc.typ, tenantAcct, created+3600, tc.object), tenant)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(tc.want) {
				t.Fatalf("%d records, want %d: %+v", len(recs), len(tc.want), recs)
			}
			for i, w := range tc.want {
				r := recs[i]
				gotFee, gotNet := r.Fee, r.Net
				r.Fee, r.Net = nil, nil
				wantRec := ledger.Record{Schema: ledger.SchemaVersion, ID: ledger.RecordID(w.kind, tenantAcct, w.object, w.state), Kind: w.kind,
					Account: tenantAcct, Tenant: "shop/acme", Region: "eu", OccurredAt: time.Unix(w.occurred, 0).UTC(), EventID: "evt_1", EventType: tc.typ,
					Amount: w.amount, Currency: "usd", Status: w.status, Reason: w.reason, AttemptCount: w.attempts, Charge: w.charge, Invoice: w.invoice,
					Customer: w.customer, BalanceTransaction: w.bal, Payout: w.payout, Refund: w.refund, Dispute: w.dispute}
				if r.Message != "" && (w.reason == "card_declined" || w.reason == "account_closed" || w.reason == "manual_payout") {
					wantRec.Message = r.Message
				}
				if !recordsEqual(r, wantRec) {
					t.Errorf("record %d\n got %+v\nwant %+v", i, r, wantRec)
				}
				if !ptrEq(gotFee, w.fee) || !ptrEq(gotNet, w.net) {
					t.Errorf("record %d fee/net %v/%v, want %v/%v", i, deref(gotFee), deref(gotNet), deref(w.fee), deref(w.net))
				}
			}
			for op, n := range tc.reads {
				if reads.n(op) != n {
					t.Errorf("%s called %d times, want %d", op, reads.n(op), n)
				}
			}
			if tc.reads == nil && tc.typ == "charge.refunded" && reads.n("ListRefundsForCharge") != 0 {
				t.Errorf("listed refunds the event carried")
			}
		})
	}
}

func recordsEqual(a, b ledger.Record) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func ptrEq(a, b *int64) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// balancedPayout is po_B: a charge (source an id only), its refund, a dispute on another charge, a
// Stripe fee, and the payout's own transaction.
func balancedPayout() *fakeLedger {
	at := func(s int64) time.Time { return time.Unix(created+s, 0).UTC() }
	return &fakeLedger{
		charges: map[string]stripeapi.Charge{
			"ch_1": {ID: "ch_1", InvoiceID: "in_1", CustomerID: "cus_1"},
			"ch_2": {ID: "ch_2", InvoiceID: "in_2", CustomerID: "cus_2"},
		},
		payouts: map[string][]stripeapi.BalanceTransaction{"po_B": {
			{ID: "txn_po", Type: "payout", ReportingCategory: "payout", Amount: -6846, Net: -6846, Currency: "usd", SourceID: "po_B", Created: at(50)},
			{ID: "txn_fee", Type: "stripe_fee", ReportingCategory: "fee", Amount: -100, Net: -100, Currency: "usd", SourceID: "", Created: at(40)},
			{ID: "txn_du", Type: "adjustment", ReportingCategory: "dispute", Amount: -1000, Fee: 1500, Net: -2500, Currency: "usd", SourceID: "du_2", Created: at(30)},
			{ID: "txn_re", Type: "refund", ReportingCategory: "refund", Amount: -500, Net: -500, Currency: "usd", SourceID: "re_1", Created: at(20)},
			{ID: "txn_ch3", Type: "charge", ReportingCategory: "charge", Amount: 5000, Fee: 175, Net: 4825, Currency: "usd", SourceID: "ch_2", Created: at(11)},
			{ID: "txn_ch", Type: "charge", ReportingCategory: "charge", Amount: 5000, Fee: 179, Net: 4821, Currency: "usd", SourceID: "ch_1", Created: at(10)},
			{ID: "txn_rs", Type: "reserve_transaction", ReportingCategory: "risk_reserved_funds", Amount: 300, Net: 300, Currency: "usd", SourceID: "", Created: at(5)},
		}},
	}
}

func withCharges(f *fakeLedger) *fakeLedger {
	// A listing whose sources were not expanded names only ids; the refund's and dispute's charges
	// are known to the builder only by a read.
	for i, bt := range f.payouts["po_B"] {
		switch bt.SourceID {
		case "re_1":
			bt.ChargeID = "ch_1"
		case "du_2":
			bt.ChargeID = "ch_2"
		}
		f.payouts["po_B"][i] = bt
	}
	return f
}

func payoutEvent(t *testing.T, id string, amount int64) []byte {
	t.Helper()
	return event(t, "evt_po", "payout.reconciliation_completed", tenantAcct, created+3600, map[string]any{
		"id": id, "object": "payout", "amount": amount, "currency": "usd", "arrival_date": created + 86400, "automatic": true,
		"status": "paid", "reconciliation_status": "completed", "balance_transaction": "txn_po"})
}

// Pins: a deposit's lines are ordered and summed by reporting category, totals follow the documented
// definitions (fees include the fee category, other the rest), each charge is read once however many
// lines name it, and only charges whose ties the listing did not carry are read.
func TestDepositTotalsAndChargeReads(t *testing.T) {
	b, reads := fakeBuilder(withCharges(balancedPayout()))
	recs, err := build(t, b, payoutEvent(t, "po_B", 6846), tenant)
	if err != nil || len(recs) != 1 {
		t.Fatalf("records %+v, %v", recs, err)
	}
	d := recs[0].Deposit
	want := ledger.DepositTotals{Gross: 10000, Refunds: -500, Disputes: -1000, Fees: 179 + 175 + 1500 + 100, Other: 300, Net: 6846}
	if d.Totals != want {
		t.Errorf("totals %+v, want %+v", d.Totals, want)
	}
	if got := d.Totals.Gross + d.Totals.Refunds + d.Totals.Disputes + d.Totals.Other - d.Totals.Fees; got != d.Totals.Net {
		t.Errorf("gross + refunds + disputes + other - fees = %d, net %d", got, d.Totals.Net)
	}
	var order []string
	for _, l := range d.Lines {
		order = append(order, l.BalanceTransaction+":"+l.Charge+":"+l.Invoice+":"+l.Customer)
	}
	wantOrder := "txn_ch:ch_1:in_1:cus_1 txn_ch3:ch_2:in_2:cus_2 txn_du:ch_2:in_2:cus_2 txn_fee::: txn_re:ch_1:in_1:cus_1 txn_rs:::"
	if strings.Join(order, " ") != wantOrder {
		t.Errorf("lines\n got %s\nwant %s", strings.Join(order, " "), wantOrder)
	}
	if d.Lines[2].Dispute != "du_2" || d.Lines[4].Refund != "re_1" {
		t.Errorf("dispute/refund ids on lines: %+v %+v", d.Lines[2], d.Lines[4])
	}
	if n := reads.n("GetCharge"); n != 2 {
		t.Errorf("GetCharge %d times, want once per distinct charge (2)", n)
	}
	if len(d.Categories) != 5 || d.Categories[0].ReportingCategory != "charge" || d.Categories[0].Count != 2 || d.Categories[0].Net != 9646 {
		t.Errorf("categories %+v", d.Categories)
	}

	// The same listing with the charges' ties carried (sources expanded): no read at all.
	f := withCharges(balancedPayout())
	for i, bt := range f.payouts["po_B"] {
		if bt.SourceID == "ch_1" || bt.SourceID == "ch_2" {
			bt.ChargeID, bt.SourceType = bt.SourceID, "charge"
			bt.InvoiceID, bt.CustomerID = f.charges[bt.SourceID].InvoiceID, f.charges[bt.SourceID].CustomerID
			f.payouts["po_B"][i] = bt
		}
	}
	b, reads = fakeBuilder(f)
	again, err := build(t, b, payoutEvent(t, "po_B", 6846), tenant)
	if err != nil || !recordsEqual(again[0], recs[0]) || reads.n("GetCharge") != 0 {
		t.Errorf("with the ties listed: %v, %d GetCharge, same record %v", err, reads.n("GetCharge"), err == nil && recordsEqual(again[0], recs[0]))
	}
}

// Pins: a deposit that does not balance is no record but an *UnbalancedError (errors.Is
// ErrUnbalanced) with the figures, for the caller to hold; nothing else is read for it.
func TestUnbalancedDepositIsHeld(t *testing.T) {
	for _, tc := range []struct {
		name     string
		amount   int64
		mutate   func(txns []stripeapi.BalanceTransaction) []stripeapi.BalanceTransaction
		linesNet int64
		detail   string
	}{
		{name: "the lines are a cent short", amount: 6846, linesNet: 6845, mutate: func(txns []stripeapi.BalanceTransaction) []stripeapi.BalanceTransaction {
			txns[1].Amount, txns[1].Net = -101, -101
			return txns
		}},
		{name: "the payout says a cent more than its transactions", amount: 6847, linesNet: 6846, detail: "the payout's own transaction txn_po nets -6846"},
		{name: "a line is missing", amount: 6846, linesNet: 6846 - 4821, mutate: func(txns []stripeapi.BalanceTransaction) []stripeapi.BalanceTransaction {
			return append(txns[:5:5], txns[6:]...)
		}},
		{name: "a line in another currency", amount: 6846, linesNet: 6846, detail: "line txn_rs is in eur", mutate: func(txns []stripeapi.BalanceTransaction) []stripeapi.BalanceTransaction {
			txns[6].Currency = "eur"
			return txns
		}},
		{name: "the payout's own transaction is not its amount", amount: 6846, linesNet: 6846, detail: "the payout's own transaction txn_po nets -6000", mutate: func(txns []stripeapi.BalanceTransaction) []stripeapi.BalanceTransaction {
			txns[0].Amount, txns[0].Net = -6000, -6000
			return txns
		}},
		{name: "nothing listed", amount: 6846, linesNet: 0, mutate: func([]stripeapi.BalanceTransaction) []stripeapi.BalanceTransaction {
			return []stripeapi.BalanceTransaction{}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := withCharges(balancedPayout())
			if tc.mutate != nil {
				f.payouts["po_B"] = tc.mutate(f.payouts["po_B"])
			}
			b, reads := fakeBuilder(f)
			recs, err := build(t, b, payoutEvent(t, "po_B", tc.amount), tenant)
			if recs != nil || !errors.Is(err, ledger.ErrUnbalanced) {
				t.Fatalf("records %+v, err %v: want none and ErrUnbalanced", recs, err)
			}
			var ue *ledger.UnbalancedError
			if !errors.As(err, &ue) || ue.Payout != "po_B" || ue.Account != tenantAcct || ue.Amount != tc.amount || ue.LinesNet != tc.linesNet || ue.Detail != tc.detail {
				t.Errorf("error %#v, want payout po_B amount %d lines net %d detail %q", ue, tc.amount, tc.linesNet, tc.detail)
			}
			if !strings.Contains(err.Error(), "po_B") || !strings.Contains(err.Error(), "evt_po") {
				t.Errorf("message %q names neither the payout nor the event", err)
			}
			if reads.n("GetCharge") != 0 {
				t.Errorf("%d charge reads for a batch that is held", reads.n("GetCharge"))
			}
		})
	}
}

// Pins: the owner comes from the caller and is checked; a platform owner is "platform"; malformed
// events are errors, not silence.
func TestOwnerAndMalformedEvents(t *testing.T) {
	b, _ := fakeBuilder(&fakeLedger{})
	paid := event(t, "evt_1", "invoice.paid", "", created, map[string]any{"id": "in_1", "object": "invoice", "currency": "usd", "amount_paid": 100})
	for _, tc := range []struct {
		name   string
		owner  ledger.Owner
		tenant string
		bad    bool
	}{
		{name: "the platform", owner: ledger.Owner{Region: "us"}, tenant: "platform"},
		{name: "the platform, named", owner: ledger.Owner{Tenant: "platform", Region: "us"}, tenant: "platform"},
		{name: "a tenant", owner: ledger.Owner{Tenant: "shop/acme", Region: "eu"}, tenant: "shop/acme"},
		{name: "no region", owner: ledger.Owner{Tenant: "shop/acme"}, bad: true},
		{name: "a tenant that is not namespace/name", owner: ledger.Owner{Tenant: "acme", Region: "eu"}, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := build(t, b, paid, tc.owner)
			if tc.bad {
				if err == nil {
					t.Errorf("records %+v, want an error", recs)
				}
				return
			}
			if err != nil || len(recs) != 1 || recs[0].Tenant != tc.tenant || recs[0].Account != "" {
				t.Errorf("records %+v, %v", recs, err)
			}
		})
	}
	for name, raw := range map[string][]byte{
		"not JSON":            []byte("{"),
		"no data.object id":   event(t, "evt_2", "invoice.paid", "", created, map[string]any{"object": "invoice"}),
		"a malformed object":  event(t, "evt_3", "charge.failed", "", created, map[string]any{"id": "ch_1", "amount": "ten"}),
		"an unset Builder...": nil,
	} {
		if raw == nil {
			if _, err := (&ledger.Builder{}).Records(context.Background(), paid, tenant); err == nil {
				t.Errorf("a Builder without Stripe: no error")
			}
			continue
		}
		if _, err := b.Records(context.Background(), raw, tenant); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if ledger.Handles("customer.updated") || !ledger.Handles("payout.reconciliation_completed") || len(ledger.EventTypes()) != 15 {
		t.Errorf("Handles/EventTypes: %v", ledger.EventTypes())
	}
}

// Pins: the schema file is strict, so that "every record validates" means something: a field it does
// not document, a missing common field, a field of another kind, a wrong id or a deposit line without
// its figures fail.
func TestSchemaRejectsWhatItDoesNotDocument(t *testing.T) {
	b, _ := fakeBuilder(withCharges(balancedPayout()))
	recs, err := build(t, b, payoutEvent(t, "po_B", 6846), tenant)
	if err != nil {
		t.Fatal(err)
	}
	var deposit map[string]any
	raw, _ := json.Marshal(recs[0])
	_ = json.Unmarshal(raw, &deposit)
	for _, tc := range []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"an undocumented field", func(m map[string]any) { m["memo"] = "x" }},
		{"no schema version", func(m map[string]any) { delete(m, "schema") }},
		{"another version", func(m map[string]any) { m["schema"] = "cloudip.ledger/v2" }},
		{"an id that is not a SHA-256", func(m map[string]any) { m["id"] = "evt_1" }},
		{"a field of another kind", func(m map[string]any) { m["attemptCount"] = 1 }},
		{"an unknown kind", func(m map[string]any) { m["kind"] = "transfer" }},
		{"an amount that is not minor units", func(m map[string]any) { m["amount"] = 68.46 }},
		{"an upper-case currency", func(m map[string]any) { m["currency"] = "USD" }},
		{"a tenant that is neither", func(m map[string]any) { m["tenant"] = "acme" }},
		{"a deposit line without its net", func(m map[string]any) {
			delete(m["deposit"].(map[string]any)["lines"].([]any)[0].(map[string]any), "net")
		}},
		{"a deposit without totals", func(m map[string]any) { delete(m["deposit"].(map[string]any), "totals") }},
		{"an invoice id where the charge goes", func(m map[string]any) {
			m["deposit"].(map[string]any)["lines"].([]any)[0].(map[string]any)["charge"] = "in_1"
		}},
		{"a date that is not RFC 3339", func(m map[string]any) { m["occurredAt"] = "yesterday" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			_ = json.Unmarshal(raw, &m)
			tc.mutate(m)
			bad, _ := json.Marshal(m)
			if err := validateJSON(t, bad); err == nil {
				t.Errorf("validates: %s", bad)
			}
		})
	}
	if err := validateJSON(t, raw); err != nil {
		t.Errorf("the unmutated deposit does not validate: %v", err)
	}
}
