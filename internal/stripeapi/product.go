package stripeapi

import (
	"context"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/product"
)

const resourceProduct = "product"

// Product is a Stripe product.
type Product struct {
	ID                  string
	Name                string
	Description         string
	Active              bool
	DefaultPriceID      string
	TaxCode             string
	UnitLabel           string
	StatementDescriptor string
	URL                 string
	Metadata            map[string]string
	Livemode            bool
	Created             time.Time
	Updated             time.Time
}

// ProductCreateParams creates a product. Name is required.
type ProductCreateParams struct {
	IdempotencyKey      string
	Tags                Tags
	Metadata            map[string]string
	Name                string
	Description         string
	TaxCode             string
	UnitLabel           string
	StatementDescriptor string
	URL                 string
	// Active defaults to true.
	Active *bool
}

// ProductUpdateParams changes a product; nil fields are left unchanged, a pointer to "" clears.
type ProductUpdateParams struct {
	IdempotencyKey      string
	Tags                *Tags
	Metadata            map[string]string
	Name                *string
	Description         *string
	TaxCode             *string
	UnitLabel           *string
	StatementDescriptor *string
	URL                 *string
	Active              *bool
	DefaultPriceID      *string
}

// ProductListParams filter ListProducts.
type ProductListParams struct {
	Active *bool
	IDs    []string
	// CreatedSince keeps products created at or after this time (exactly; no skew). Zero: all.
	CreatedSince time.Time
	Limit        int
}

func (c *Client) products() product.Client { return product.Client{B: c.backend, Key: c.key} }

// CreateProduct implements ProductAPI.
func (c *Client) CreateProduct(ctx context.Context, p ProductCreateParams) (*Product, error) {
	var out *Product
	err := c.call(ctx, resourceProduct, "create", p.Name, func(ctx context.Context) error {
		if err := requireWrite(p.IdempotencyKey); err != nil {
			return err
		}
		md, err := mergeMetadata(p.Metadata, &p.Tags)
		if err != nil {
			return err
		}
		sp, err := c.products().New(&stripe.ProductParams{
			Params:              c.params(ctx, p.IdempotencyKey),
			Metadata:            md,
			Name:                stripe.String(p.Name),
			Description:         strPtr(p.Description),
			TaxCode:             strPtr(p.TaxCode),
			UnitLabel:           strPtr(p.UnitLabel),
			StatementDescriptor: strPtr(p.StatementDescriptor),
			URL:                 strPtr(p.URL),
			Active:              p.Active,
		})
		if err != nil {
			return sdkErr(err)
		}
		out = productFromStripe(sp)
		return nil
	})
	return out, err
}

// GetProduct implements ProductAPI.
func (c *Client) GetProduct(ctx context.Context, id string) (*Product, error) {
	var out *Product
	err := c.call(ctx, resourceProduct, "get", id, func(ctx context.Context) error {
		sp, err := c.products().Get(id, &stripe.ProductParams{Params: c.params(ctx, "")})
		if err != nil {
			return sdkErr(err)
		}
		if sp.Deleted {
			return notFound(resourceProduct)
		}
		out = productFromStripe(sp)
		return nil
	})
	return out, err
}

// UpdateProduct implements ProductAPI.
func (c *Client) UpdateProduct(ctx context.Context, id string, p ProductUpdateParams) (*Product, error) {
	var out *Product
	err := c.call(ctx, resourceProduct, "update", id, func(ctx context.Context) error {
		if err := requireWrite(p.IdempotencyKey); err != nil {
			return err
		}
		md, err := mergeMetadata(p.Metadata, p.Tags)
		if err != nil {
			return err
		}
		sp, err := c.products().Update(id, &stripe.ProductParams{
			Params:              c.params(ctx, p.IdempotencyKey),
			Metadata:            md,
			Name:                p.Name,
			Description:         p.Description,
			TaxCode:             p.TaxCode,
			UnitLabel:           p.UnitLabel,
			StatementDescriptor: p.StatementDescriptor,
			URL:                 p.URL,
			Active:              p.Active,
			DefaultPrice:        p.DefaultPriceID,
		})
		if err != nil {
			return sdkErr(err)
		}
		out = productFromStripe(sp)
		return nil
	})
	return out, err
}

// DeleteProduct implements ProductAPI.
func (c *Client) DeleteProduct(ctx context.Context, id string) error {
	return c.call(ctx, resourceProduct, "delete", id, func(ctx context.Context) error {
		_, err := c.products().Del(id, &stripe.ProductParams{Params: c.params(ctx, "")})
		return sdkErr(err)
	})
}

// ListProducts implements ProductAPI.
func (c *Client) ListProducts(ctx context.Context, p ProductListParams) ([]Product, error) {
	lp := &stripe.ProductListParams{Active: p.Active, IDs: strSlice(p.IDs), CreatedRange: createdFrom(p.CreatedSince)}
	return c.listProducts(ctx, lp, p.Limit, nil)
}

// FindProductsByTags implements ProductAPI.
func (c *Client) FindProductsByTags(ctx context.Context, tags Tags, opts FindOptions) ([]Product, error) {
	return c.listProducts(ctx, &stripe.ProductListParams{CreatedRange: createdSince(opts.CreatedSince)}, 0,
		func(p Product) bool { return tags.Matches(p.Metadata) })
}

func (c *Client) listProducts(ctx context.Context, lp *stripe.ProductListParams, limit int, keep func(Product) bool) ([]Product, error) {
	var out []Product
	err := c.call(ctx, resourceProduct, "list", "", func(ctx context.Context) error {
		lp.ListParams = c.listParams(ctx, limit)
		var err error
		out, err = collect(c.products().List(lp).Iter, limit, productValue, keep)
		return sdkErr(err)
	})
	return out, err
}

func productValue(p *stripe.Product) Product { return *productFromStripe(p) }

func productFromStripe(p *stripe.Product) *Product {
	out := &Product{
		ID:                  p.ID,
		Name:                p.Name,
		Description:         p.Description,
		Active:              p.Active,
		UnitLabel:           p.UnitLabel,
		StatementDescriptor: p.StatementDescriptor,
		URL:                 p.URL,
		Metadata:            p.Metadata,
		Livemode:            p.Livemode,
		Created:             unixTime(p.Created),
		Updated:             unixTime(p.Updated),
	}
	if p.DefaultPrice != nil {
		out.DefaultPriceID = p.DefaultPrice.ID
	}
	if p.TaxCode != nil {
		out.TaxCode = p.TaxCode.ID
	}
	return out
}
