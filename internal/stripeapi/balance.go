package stripeapi

import (
	"context"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/balance"
)

const resourceBalance = "balance"

// Balance is an account's balance, by currency (lowercase ISO 4217) in the currency's minor unit.
// Amounts may be negative (refunds and disputes beyond the funds).
type Balance struct {
	// Available can be paid out or transferred now.
	Available map[string]int64
	// Pending is not available yet (charges settling).
	Pending map[string]int64
	// ConnectReserved is held for negative balances of connected accounts (platform) or of this
	// account.
	ConnectReserved map[string]int64
	Livemode        bool
}

// IsZero reports whether every amount of the balance is zero: what Stripe requires before it deletes
// a live-mode connected account.
func (b *Balance) IsZero() bool {
	for _, m := range []map[string]int64{b.Available, b.Pending, b.ConnectReserved} {
		for _, v := range m {
			if v != 0 {
				return false
			}
		}
	}
	return true
}

// GetBalance implements BalanceAPI.
func (c *Client) GetBalance(ctx context.Context) (*Balance, error) {
	var out *Balance
	err := c.call(ctx, resourceBalance, "get", "", func(ctx context.Context) error {
		b, err := balance.Client{B: c.backend, Key: c.key}.Get(&stripe.BalanceParams{Params: c.params(ctx, "")})
		if err != nil {
			return sdkErr(err)
		}
		out = &Balance{
			Available:       amountsByCurrency(b.Available),
			Pending:         amountsByCurrency(b.Pending),
			ConnectReserved: amountsByCurrency(b.ConnectReserved),
			Livemode:        b.Livemode,
		}
		return nil
	})
	return out, err
}

// amountsByCurrency sums Stripe's per-currency amounts (one entry per currency in practice).
func amountsByCurrency(in []*stripe.Amount) map[string]int64 {
	out := map[string]int64{}
	for _, a := range in {
		if a != nil {
			out[string(a.Currency)] += a.Amount
		}
	}
	return out
}
