package stripeapi

import (
	"context"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/customer"
)

const resourceCustomer = "customer"

// Customer is a Stripe customer.
type Customer struct {
	ID          string
	Name        string
	Email       string
	Description string
	Phone       string
	Metadata    map[string]string
	Livemode    bool
	Created     time.Time
}

// CustomerCreateParams creates a customer.
type CustomerCreateParams struct {
	IdempotencyKey string
	Tags           Tags
	Metadata       map[string]string
	Name           string
	Email          string
	Description    string
	Phone          string
}

// CustomerUpdateParams changes a customer; nil fields are left unchanged, a pointer to "" clears.
type CustomerUpdateParams struct {
	IdempotencyKey string
	Tags           *Tags
	Metadata       map[string]string
	Name           *string
	Email          *string
	Description    *string
	Phone          *string
}

// CustomerListParams filter ListCustomers.
type CustomerListParams struct {
	// Email matches exactly (case-sensitive).
	Email string
	// CreatedSince keeps customers created at or after this time (exactly; no skew). Zero: all.
	CreatedSince time.Time
	Limit        int
}

func (c *Client) customers() customer.Client { return customer.Client{B: c.backend, Key: c.key} }

// CreateCustomer implements CustomerAPI.
func (c *Client) CreateCustomer(ctx context.Context, p CustomerCreateParams) (*Customer, error) {
	var out *Customer
	err := c.call(ctx, resourceCustomer, "create", p.Email, func(ctx context.Context) error {
		if err := requireWrite(p.IdempotencyKey); err != nil {
			return err
		}
		md, err := mergeMetadata(p.Metadata, &p.Tags)
		if err != nil {
			return err
		}
		sc, err := c.customers().New(&stripe.CustomerParams{
			Params:      c.params(ctx, p.IdempotencyKey),
			Metadata:    md,
			Name:        strPtr(p.Name),
			Email:       strPtr(p.Email),
			Description: strPtr(p.Description),
			Phone:       strPtr(p.Phone),
		})
		if err != nil {
			return sdkErr(err)
		}
		out = customerFromStripe(sc)
		return nil
	})
	return out, err
}

// GetCustomer implements CustomerAPI.
func (c *Client) GetCustomer(ctx context.Context, id string) (*Customer, error) {
	var out *Customer
	err := c.call(ctx, resourceCustomer, "get", id, func(ctx context.Context) error {
		sc, err := c.customers().Get(id, &stripe.CustomerParams{Params: c.params(ctx, "")})
		if err != nil {
			return sdkErr(err)
		}
		if sc.Deleted {
			return notFound(resourceCustomer)
		}
		out = customerFromStripe(sc)
		return nil
	})
	return out, err
}

// UpdateCustomer implements CustomerAPI.
func (c *Client) UpdateCustomer(ctx context.Context, id string, p CustomerUpdateParams) (*Customer, error) {
	var out *Customer
	err := c.call(ctx, resourceCustomer, "update", id, func(ctx context.Context) error {
		if err := requireWrite(p.IdempotencyKey); err != nil {
			return err
		}
		md, err := mergeMetadata(p.Metadata, p.Tags)
		if err != nil {
			return err
		}
		sc, err := c.customers().Update(id, &stripe.CustomerParams{
			Params:      c.params(ctx, p.IdempotencyKey),
			Metadata:    md,
			Name:        p.Name,
			Email:       p.Email,
			Description: p.Description,
			Phone:       p.Phone,
		})
		if err != nil {
			return sdkErr(err)
		}
		out = customerFromStripe(sc)
		return nil
	})
	return out, err
}

// DeleteCustomer implements CustomerAPI.
func (c *Client) DeleteCustomer(ctx context.Context, id string) error {
	return c.call(ctx, resourceCustomer, "delete", id, func(ctx context.Context) error {
		_, err := c.customers().Del(id, &stripe.CustomerParams{Params: c.params(ctx, "")})
		return sdkErr(err)
	})
}

// ListCustomers implements CustomerAPI.
func (c *Client) ListCustomers(ctx context.Context, p CustomerListParams) ([]Customer, error) {
	lp := &stripe.CustomerListParams{Email: strPtr(p.Email), CreatedRange: createdFrom(p.CreatedSince)}
	return c.listCustomers(ctx, lp, p.Limit, nil)
}

// FindCustomersByTags implements CustomerAPI.
func (c *Client) FindCustomersByTags(ctx context.Context, tags Tags, opts FindOptions) ([]Customer, error) {
	return c.listCustomers(ctx, &stripe.CustomerListParams{CreatedRange: createdSince(opts.CreatedSince)}, 0,
		func(cu Customer) bool { return tags.Matches(cu.Metadata) })
}

func (c *Client) listCustomers(ctx context.Context, lp *stripe.CustomerListParams, limit int, keep func(Customer) bool) ([]Customer, error) {
	var out []Customer
	err := c.call(ctx, resourceCustomer, "list", "", func(ctx context.Context) error {
		lp.ListParams = c.listParams(ctx, limit)
		var err error
		out, err = collect(c.customers().List(lp).Iter, limit, customerValue, keep)
		return sdkErr(err)
	})
	return out, err
}

func customerValue(cu *stripe.Customer) Customer { return *customerFromStripe(cu) }

func customerFromStripe(cu *stripe.Customer) *Customer {
	return &Customer{
		ID:          cu.ID,
		Name:        cu.Name,
		Email:       cu.Email,
		Description: cu.Description,
		Phone:       cu.Phone,
		Metadata:    cu.Metadata,
		Livemode:    cu.Livemode,
		Created:     unixTime(cu.Created),
	}
}
