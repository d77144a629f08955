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

// Account link types.
const (
	// AccountLinkTypeOnboarding is Stripe-hosted onboarding: the first collection of the account's
	// information, and of what is due later, for every account type.
	AccountLinkTypeOnboarding = "account_onboarding"
	// AccountLinkTypeUpdate lets the account holder update information already given. Stripe allows it
	// only where the platform collects requirements (Custom accounts, or controller
	// requirement_collection application).
	AccountLinkTypeUpdate = "account_update"
)

// AccountLinkCreateParams creates an account link. Stripe replays a link for 24 hours to the same
// idempotency key, expired or not: derive the key from something that changes when a new link is
// wanted (e.g. the request annotation's value), not only from the generation.
type AccountLinkCreateParams struct {
	IdempotencyKey string
	Account        string
	RefreshURL     string
	ReturnURL      string
	// Type is AccountLinkTypeOnboarding or AccountLinkTypeUpdate (required).
	Type string
	// Collect is which requirements the link collects: currently_due (Stripe's default when empty) or
	// eventually_due. Sent as collection_options[fields] (Stripe's deprecated collect parameter is
	// never sent).
	Collect string
	// FutureRequirements is include or omit (Stripe's default): whether the link also collects
	// future_requirements. Sent as collection_options[future_requirements], with fields
	// currently_due when Collect is empty (Stripe requires fields).
	FutureRequirements string
}

// CreateAccountLink implements AccountLinkAPI.
func (c *Client) CreateAccountLink(ctx context.Context, p AccountLinkCreateParams) (*AccountLink, error) {
	var out *AccountLink
	err := c.call(ctx, resourceAccountLink, "create", p.Account, func(ctx context.Context) error {
		if err := requireWrite(p.IdempotencyKey); err != nil {
			return err
		}
		if p.Account == "" {
			return invalidParams("account is required")
		}
		if p.Type != AccountLinkTypeOnboarding && p.Type != AccountLinkTypeUpdate {
			return invalidParams("type %q: want %s or %s", p.Type, AccountLinkTypeOnboarding, AccountLinkTypeUpdate)
		}
		if p.Collect != "" && p.Collect != "currently_due" && p.Collect != "eventually_due" {
			return invalidParams("collect %q: want currently_due or eventually_due", p.Collect)
		}
		if p.FutureRequirements != "" && p.FutureRequirements != "include" && p.FutureRequirements != "omit" {
			return invalidParams("future requirements %q: want include or omit", p.FutureRequirements)
		}
		lp := &stripe.AccountLinkParams{
			Params:     c.params(ctx, p.IdempotencyKey),
			Account:    stripe.String(p.Account),
			RefreshURL: strPtr(p.RefreshURL),
			ReturnURL:  strPtr(p.ReturnURL),
			Type:       stripe.String(p.Type),
		}
		if p.Collect != "" || p.FutureRequirements != "" {
			fields := p.Collect
			if fields == "" {
				fields = "currently_due"
			}
			lp.CollectionOptions = &stripe.AccountLinkCollectionOptionsParams{
				Fields:             stripe.String(fields),
				FutureRequirements: strPtr(p.FutureRequirements),
			}
		}
		l, err := accountlink.Client{B: c.backend, Key: c.key}.New(lp)
		if err != nil {
			return sdkErr(err)
		}
		out = &AccountLink{URL: l.URL, Created: unixTime(l.Created), ExpiresAt: unixTime(l.ExpiresAt)}
		return nil
	})
	return out, err
}
