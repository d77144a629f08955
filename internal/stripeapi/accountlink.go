package stripeapi

import (
	"context"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/accountlink"
)

const resourceAccountLink = "account_link"

// AccountLink is a short-lived (minutes), single-use URL where a tenant onboards or updates its
// connected account.
type AccountLink struct {
	URL       string
	Created   time.Time
	ExpiresAt time.Time
}

// AccountLinkCreateParams creates an account link. Stripe replays a link for 24 hours to the same
// idempotency key, expired or not: derive the key from something that changes when a new link is
// wanted (e.g. the previous link's expiry), not only from the generation.
type AccountLinkCreateParams struct {
	IdempotencyKey string
	Account        string
	RefreshURL     string
	ReturnURL      string
	// Type is account_onboarding or account_update.
	Type string
	// Collect is currently_due (default) or eventually_due.
	Collect string
}

// CreateAccountLink implements AccountLinkAPI.
func (c *Client) CreateAccountLink(ctx context.Context, p AccountLinkCreateParams) (*AccountLink, error) {
	var out *AccountLink
	err := c.call(ctx, resourceAccountLink, "create", p.Account, func(ctx context.Context) error {
		if err := requireWrite(p.IdempotencyKey); err != nil {
			return err
		}
		if p.Account == "" {
			return invalidParams("account link: account is required")
		}
		l, err := accountlink.Client{B: c.backend, Key: c.key}.New(&stripe.AccountLinkParams{
			Params:     c.params(ctx, p.IdempotencyKey),
			Account:    stripe.String(p.Account),
			RefreshURL: strPtr(p.RefreshURL),
			ReturnURL:  strPtr(p.ReturnURL),
			Type:       strPtr(p.Type),
			Collect:    strPtr(p.Collect),
		})
		if err != nil {
			return sdkErr(err)
		}
		out = &AccountLink{URL: l.URL, Created: unixTime(l.Created), ExpiresAt: unixTime(l.ExpiresAt)}
		return nil
	})
	return out, err
}
