package stripeapi

import (
	"context"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/charge"
	"github.com/stripe/stripe-go/v76/refund"
)

const (
	resourceCharge = "charge"
	resourceRefund = "refund"
)

// Charge is what the ledger feed reads of a Stripe charge: its amounts and the ids that tie it to an
// invoice, a customer and a balance transaction.
type Charge struct {
	ID string
	// Status: succeeded, pending or failed.
	Status string
	// Amount, AmountCaptured and AmountRefunded are in the currency's minor unit.
	Amount         int64
	AmountCaptured int64
	AmountRefunded int64
	Currency       string
	// CustomerID, InvoiceID, BalanceTransactionID and PaymentIntentID are "" when the charge has none.
	CustomerID           string
	InvoiceID            string
	BalanceTransactionID string
	PaymentIntentID      string
	Paid                 bool
	Refunded             bool
	Disputed             bool
	FailureCode          string
	FailureMessage       string
	Livemode             bool
	Created              time.Time
}

// Refund is a refund of a charge.
type Refund struct {
	ID       string
	ChargeID string
	// Status: pending, requires_action, succeeded, failed or canceled.
	Status               string
	Amount               int64
	Currency             string
	BalanceTransactionID string
	Reason               string
	Created              time.Time
}

func (c *Client) charges() charge.Client { return charge.Client{B: c.backend, Key: c.key} }

// GetCharge implements LedgerAPI.
func (c *Client) GetCharge(ctx context.Context, id string) (*Charge, error) {
	var out *Charge
	err := c.call(ctx, resourceCharge, "get", id, func(ctx context.Context) error {
		sc, err := c.charges().Get(id, &stripe.ChargeParams{Params: c.params(ctx, "")})
		if err != nil {
			return sdkErr(err)
		}
		out = chargeFromStripe(sc)
		return nil
	})
	return out, err
}

// ListRefundsForCharge implements LedgerAPI.
func (c *Client) ListRefundsForCharge(ctx context.Context, chargeID string) ([]Refund, error) {
	var out []Refund
	err := c.call(ctx, resourceRefund, "list", chargeID, func(ctx context.Context) error {
		lp := &stripe.RefundListParams{ListParams: c.listParams(ctx, 0), Charge: stripe.String(chargeID)}
		var err error
		out, err = collect(refund.Client{B: c.backend, Key: c.key}.List(lp).Iter, 0, refundFromStripe, nil)
		return sdkErr(err)
	})
	return out, err
}

func chargeFromStripe(ch *stripe.Charge) *Charge {
	out := &Charge{
		ID:             ch.ID,
		Status:         string(ch.Status),
		Amount:         ch.Amount,
		AmountCaptured: ch.AmountCaptured,
		AmountRefunded: ch.AmountRefunded,
		Currency:       string(ch.Currency),
		Paid:           ch.Paid,
		Refunded:       ch.Refunded,
		Disputed:       ch.Disputed,
		FailureCode:    ch.FailureCode,
		FailureMessage: ch.FailureMessage,
		Livemode:       ch.Livemode,
		Created:        unixTime(ch.Created),
	}
	if ch.Customer != nil {
		out.CustomerID = ch.Customer.ID
	}
	if ch.Invoice != nil {
		out.InvoiceID = ch.Invoice.ID
	}
	if ch.BalanceTransaction != nil {
		out.BalanceTransactionID = ch.BalanceTransaction.ID
	}
	if ch.PaymentIntent != nil {
		out.PaymentIntentID = ch.PaymentIntent.ID
	}
	return out
}

func refundFromStripe(r *stripe.Refund) Refund {
	out := Refund{
		ID:       r.ID,
		Status:   string(r.Status),
		Amount:   r.Amount,
		Currency: string(r.Currency),
		Reason:   string(r.Reason),
		Created:  unixTime(r.Created),
	}
	if r.Charge != nil {
		out.ChargeID = r.Charge.ID
	}
	if r.BalanceTransaction != nil {
		out.BalanceTransactionID = r.BalanceTransaction.ID
	}
	return out
}
