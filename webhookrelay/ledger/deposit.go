package ledger

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// Reporting categories the deposit totals name.
const (
	categoryCharge          = "charge"
	categoryRefund          = "refund"
	categoryRefundFailure   = "refund_failure"
	categoryDispute         = "dispute"
	categoryDisputeReversal = "dispute_reversal"
	categoryFee             = "fee"
)

// deposit builds the deposit record of an automatic payout: its balance transactions, each tied to
// its charge, invoice and customer, grouped and totalled. It returns an *UnbalancedError when the
// lines do not sum to the payout.
func (rc *recordContext) deposit(ctx context.Context, po payoutObject) (Record, error) {
	txns, err := rc.api.ListBalanceTransactionsForPayout(ctx, po.ID)
	if err != nil {
		return Record{}, err
	}
	txns = append([]stripeapi.BalanceTransaction(nil), txns...)
	sort.SliceStable(txns, func(i, j int) bool {
		a, b := txns[i], txns[j]
		if a.ReportingCategory != b.ReportingCategory {
			return a.ReportingCategory < b.ReportingCategory
		}
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.ID < b.ID
	})
	own := string(po.BalanceTransaction)
	var lines []DepositLine
	var linesNet, ownNet int64
	haveOwn := false
	var problems []string
	for _, bt := range txns {
		if bt.ID == own || (bt.Type == "payout" && bt.SourceID == po.ID) {
			haveOwn, ownNet = true, ownNet+bt.Net
			if own == "" {
				own = bt.ID
			}
			continue
		}
		if !strings.EqualFold(bt.Currency, po.Currency) {
			problems = append(problems, fmt.Sprintf("line %s is in %s", bt.ID, bt.Currency))
		}
		linesNet += bt.Net
		lines = append(lines, lineOf(bt))
	}
	if haveOwn && ownNet != -po.Amount {
		problems = append(problems, fmt.Sprintf("the payout's own transaction %s nets %d", own, ownNet))
	}
	if linesNet != po.Amount || len(problems) > 0 {
		return Record{}, &UnbalancedError{Account: rc.ev.Account, Payout: po.ID, Currency: po.Currency,
			Amount: po.Amount, LinesNet: linesNet, Lines: len(lines), Detail: strings.Join(problems, "; ")}
	}
	if err := rc.tieCharges(ctx, lines); err != nil {
		return Record{}, err
	}

	r := rc.record(KindDeposit, po.ID, "paid", po.ArrivalDate)
	r.Amount, r.Currency, r.Status, r.Payout, r.BalanceTransaction = po.Amount, po.Currency, po.Status, po.ID, own
	d := &Deposit{ArrivalDate: time.Unix(po.ArrivalDate, 0).UTC(), Lines: lines}
	if d.Lines == nil {
		d.Lines = []DepositLine{}
	}
	d.Categories, d.Totals = totals(lines)
	r.Deposit = d
	r.Fee, r.Net = int64p(d.Totals.Fees), int64p(d.Totals.Net)
	return r, nil
}

// lineOf is a balance transaction as a deposit line, with the ties its listing carried.
func lineOf(bt stripeapi.BalanceTransaction) DepositLine {
	l := DepositLine{BalanceTransaction: bt.ID, Type: bt.Type, ReportingCategory: bt.ReportingCategory, Source: bt.SourceID,
		Charge: bt.ChargeID, Invoice: bt.InvoiceID, Customer: bt.CustomerID, Amount: bt.Amount, Fee: bt.Fee, Net: bt.Net}
	switch {
	case bt.SourceType == "refund" || strings.HasPrefix(bt.SourceID, "re_") || strings.HasPrefix(bt.SourceID, "pyr_"):
		l.Refund = bt.SourceID
	case bt.SourceType == "dispute" || strings.HasPrefix(bt.SourceID, "du_") || strings.HasPrefix(bt.SourceID, "dp_"):
		l.Dispute = bt.SourceID
	case l.Charge == "" && (bt.SourceType == "charge" || strings.HasPrefix(bt.SourceID, "ch_") || strings.HasPrefix(bt.SourceID, "py_")):
		l.Charge = bt.SourceID
	}
	return l
}

// tieCharges fills each line's invoice and customer from its charge: from a charge line of the same
// payout when there is one (its listing carried them), else with one GetCharge per distinct charge.
func (rc *recordContext) tieCharges(ctx context.Context, lines []DepositLine) error {
	type tie struct{ invoice, customer string }
	known := map[string]tie{}
	for _, l := range lines {
		if l.Charge != "" && l.Charge == l.Source && (l.Invoice != "" || l.Customer != "") {
			known[l.Charge] = tie{l.Invoice, l.Customer}
		}
	}
	var missing []string
	seen := map[string]bool{}
	for _, l := range lines {
		if _, ok := known[l.Charge]; l.Charge != "" && !ok && !seen[l.Charge] && l.Invoice == "" && l.Customer == "" {
			seen[l.Charge] = true
			missing = append(missing, l.Charge)
		}
	}
	sort.Strings(missing)
	for _, id := range missing {
		ch, err := rc.api.GetCharge(ctx, id)
		if err != nil {
			return err
		}
		known[id] = tie{ch.InvoiceID, ch.CustomerID}
	}
	for i := range lines {
		if t, ok := known[lines[i].Charge]; ok && lines[i].Invoice == "" && lines[i].Customer == "" {
			lines[i].Invoice, lines[i].Customer = t.invoice, t.customer
		}
	}
	return nil
}

// totals groups the lines by reporting category and sums the deposit (see the package
// documentation for the definitions).
func totals(lines []DepositLine) ([]CategoryTotal, DepositTotals) {
	by := map[string]*CategoryTotal{}
	var t DepositTotals
	for _, l := range lines {
		c := by[l.ReportingCategory]
		if c == nil {
			c = &CategoryTotal{ReportingCategory: l.ReportingCategory}
			by[l.ReportingCategory] = c
		}
		c.Count++
		c.Amount += l.Amount
		c.Fee += l.Fee
		c.Net += l.Net
		t.Fees += l.Fee
		t.Net += l.Net
		switch l.ReportingCategory {
		case categoryCharge:
			t.Gross += l.Amount
		case categoryRefund, categoryRefundFailure:
			t.Refunds += l.Amount
		case categoryDispute, categoryDisputeReversal:
			t.Disputes += l.Amount
		case categoryFee:
			t.Fees -= l.Amount
		default:
			t.Other += l.Amount
		}
	}
	cats := make([]CategoryTotal, 0, len(by))
	for _, c := range by {
		cats = append(cats, *c)
	}
	sort.Slice(cats, func(i, j int) bool { return cats[i].ReportingCategory < cats[j].ReportingCategory })
	return cats, t
}
