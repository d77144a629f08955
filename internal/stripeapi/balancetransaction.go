package stripeapi

import (
	"context"
	"strings"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/balancetransaction"
)

const resourceBalanceTransaction = "balance_transaction"

var _ LedgerAPI = (*Client)(nil)

// BalanceTransaction is one movement of an account's Stripe balance (a charge, a refund, a fee, a
// dispute, a payout, …), in the currency's minor unit with Stripe's signs: Net = Amount - Fee.
type BalanceTransaction struct {
	ID string
	// Type is Stripe's type (charge, payment, refund, adjustment, stripe_fee, payout, …);
	// ReportingCategory is the coarser grouping Stripe recommends for reporting (charge, refund,
	// fee, dispute, dispute_reversal, payout, …).
	Type              string
	ReportingCategory string
	Amount            int64
	Fee               int64
	Net               int64
	Currency          string
	// Status: pending or available.
	Status      string
	Description string
	Created     time.Time
	AvailableOn time.Time
	// SourceID is the object the transaction is about (ch_, py_, re_, du_, po_, …); SourceType its
	// object type (charge, refund, dispute, payout, …), known only when the source was read with the
	// transaction (ListBalanceTransactionsForPayout), else "".
	SourceID   string
	SourceType string
	// ChargeID is the charge the source is or refers to: the source itself for a charge, a refund's
	// or a dispute's charge. InvoiceID and CustomerID are the charge's, when the source is the charge
	// itself. All "" when unknown.
	ChargeID   string
	InvoiceID  string
	CustomerID string
}

// Ledger returns the ledger feed's view of c on account ("" for the platform account, else a
// connected account: every call carries Stripe-Account). It shares c's budget.
func (c *Client) Ledger(account string) LedgerAPI {
	return &Client{conn: c.conn, account: strings.TrimSpace(account)}
}

func (c *Client) balanceTransactions() balancetransaction.Client {
	return balancetransaction.Client{B: c.backend, Key: c.key}
}

// GetBalanceTransaction implements LedgerAPI.
func (c *Client) GetBalanceTransaction(ctx context.Context, id string) (*BalanceTransaction, error) {
	var out *BalanceTransaction
	err := c.call(ctx, resourceBalanceTransaction, "get", id, func(ctx context.Context) error {
		bt, err := c.balanceTransactions().Get(id, &stripe.BalanceTransactionParams{Params: c.params(ctx, "")})
		if err != nil {
			return sdkErr(err)
		}
		v := balanceTransactionFromStripe(bt)
		out = &v
		return nil
	})
	return out, err
}

// ListBalanceTransactionsForPayout implements LedgerAPI.
func (c *Client) ListBalanceTransactionsForPayout(ctx context.Context, payoutID string) ([]BalanceTransaction, error) {
	var out []BalanceTransaction
	err := c.call(ctx, resourceBalanceTransaction, "list", payoutID, func(ctx context.Context) error {
		lp := &stripe.BalanceTransactionListParams{ListParams: c.listParams(ctx, 0), Payout: stripe.String(payoutID)}
		// The sources come with the page (Stripe's own reconciliation recipe): a charge's invoice and
		// customer, a refund's or a dispute's charge, without one request per transaction.
		lp.AddExpand("data.source")
		var err error
		out, err = collect(c.balanceTransactions().List(lp).Iter, 0, balanceTransactionFromStripe, nil)
		return sdkErr(err)
	})
	return out, err
}

func balanceTransactionFromStripe(bt *stripe.BalanceTransaction) BalanceTransaction {
	out := BalanceTransaction{
		ID:                bt.ID,
		Type:              string(bt.Type),
		ReportingCategory: string(bt.ReportingCategory),
		Amount:            bt.Amount,
		Fee:               bt.Fee,
		Net:               bt.Net,
		Currency:          string(bt.Currency),
		Status:            string(bt.Status),
		Description:       bt.Description,
		Created:           unixTime(bt.Created),
		AvailableOn:       unixTime(bt.AvailableOn),
	}
	src := bt.Source
	if src == nil {
		return out
	}
	out.SourceID, out.SourceType = src.ID, string(src.Type)
	switch {
	case src.Charge != nil && src.Type == stripe.BalanceTransactionSourceTypeCharge:
		out.ChargeID = src.Charge.ID
		if src.Charge.Invoice != nil {
			out.InvoiceID = src.Charge.Invoice.ID
		}
		if src.Charge.Customer != nil {
			out.CustomerID = src.Charge.Customer.ID
		}
	case src.Refund != nil && src.Type == stripe.BalanceTransactionSourceTypeRefund:
		if src.Refund.Charge != nil {
			out.ChargeID = src.Refund.Charge.ID
		}
	case src.Dispute != nil && src.Type == stripe.BalanceTransactionSourceTypeDispute:
		if src.Dispute.Charge != nil {
			out.ChargeID = src.Dispute.Charge.ID
		}
	}
	return out
}
