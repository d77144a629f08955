package stripeapi

import (
	"context"
	"strconv"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/price"
)

const resourcePrice = "price"

// Price is a Stripe price. Tiers are always fetched (Stripe returns them only when expanded).
type Price struct {
	ID        string
	ProductID string
	Active    bool
	Currency  string
	// UnitAmount, in the currency's minor unit; nil for tiered prices.
	UnitAmount *int64
	// UnitAmountDecimal is the same amount as a decimal string in the smallest currency unit
	// ("1250", "0.05"); Stripe echoes it for integer amounts too.
	UnitAmountDecimal string
	// BillingScheme is per_unit or tiered.
	BillingScheme string
	// TiersMode is graduated or volume, for tiered prices.
	TiersMode string
	Tiers     []PriceTier
	// Recurring is nil for one-time prices.
	Recurring   *Recurring
	TaxBehavior string // inclusive, exclusive, unspecified
	LookupKey   string
	Nickname    string
	Type        string // one_time, recurring
	Metadata    map[string]string
	Livemode    bool
	Created     time.Time
}

// PriceTier is one tier of a tiered price. Amounts are in the currency's minor unit; a zero
// FlatAmount is no flat amount.
type PriceTier struct {
	// UpTo is the tier's upper bound; 0 means infinity (the last tier).
	UpTo       int64
	UnitAmount int64
	FlatAmount int64
	// UnitAmountDecimal and FlatAmountDecimal are decimal strings (sub-unit precision); when set on
	// create they are sent instead of the integer amounts.
	UnitAmountDecimal string
	FlatAmountDecimal string
}

// Recurring is a price's recurrence.
type Recurring struct {
	Interval string // day, week, month, year
	// IntervalCount defaults to 1.
	IntervalCount int64
	// UsageType is licensed (default) or metered.
	UsageType string
	// AggregateUsage is for metered prices: sum, last_during_period, last_ever, max.
	AggregateUsage string
}

// PriceCreateParams creates a price: UnitAmount, or TiersMode and Tiers (BillingScheme is set to
// tiered when Tiers are given).
type PriceCreateParams struct {
	IdempotencyKey string
	Tags           Tags
	Metadata       map[string]string
	ProductID      string
	Currency       string
	UnitAmount     *int64
	// UnitAmountDecimal is sent instead of UnitAmount when set.
	UnitAmountDecimal string
	TiersMode         string
	Tiers             []PriceTier
	Recurring         *Recurring
	TaxBehavior       string
	LookupKey         string
	// TransferLookupKey moves LookupKey from the price holding it to this one.
	TransferLookupKey bool
	Nickname          string
	// Active defaults to true.
	Active *bool
}

// PriceUpdateParams changes what Stripe lets change on a price; nil fields are left unchanged.
type PriceUpdateParams struct {
	IdempotencyKey string
	Tags           *Tags
	Metadata       map[string]string
	Active         *bool
	Nickname       *string
	// LookupKey set to "" removes the price's lookup key.
	LookupKey         *string
	TransferLookupKey bool
	// TaxBehavior can only be set while it is unspecified.
	TaxBehavior *string
}

// PriceListParams filter ListPrices.
type PriceListParams struct {
	ProductID string
	// LookupKeys, at most 10.
	LookupKeys []string
	Active     *bool
	Currency   string
	Type       string
	// CreatedSince keeps prices created at or after this time (exactly; no skew). Zero: all.
	CreatedSince time.Time
	Limit        int
}

func (c *Client) prices() price.Client { return price.Client{B: c.backend, Key: c.key} }

// CreatePrice implements PriceAPI.
func (c *Client) CreatePrice(ctx context.Context, p PriceCreateParams) (*Price, error) {
	var out *Price
	subject := p.LookupKey
	if subject == "" {
		subject = p.Nickname
	}
	err := c.call(ctx, resourcePrice, "create", subject, func(ctx context.Context) error {
		if err := requireWrite(p.IdempotencyKey); err != nil {
			return err
		}
		md, err := mergeMetadata(p.Metadata, &p.Tags)
		if err != nil {
			return err
		}
		sp := &stripe.PriceParams{
			Params:      c.params(ctx, p.IdempotencyKey),
			Metadata:    md,
			Product:     strPtr(p.ProductID),
			Currency:    strPtr(p.Currency),
			UnitAmount:  p.UnitAmount,
			TaxBehavior: strPtr(p.TaxBehavior),
			LookupKey:   strPtr(p.LookupKey),
			Nickname:    strPtr(p.Nickname),
			Active:      p.Active,
		}
		if p.TransferLookupKey {
			sp.TransferLookupKey = stripe.Bool(true)
		}
		if p.UnitAmountDecimal != "" {
			d, err := parseDecimal("unit_amount_decimal", p.UnitAmountDecimal)
			if err != nil {
				return err
			}
			sp.UnitAmount, sp.UnitAmountDecimal = nil, d
		}
		if len(p.Tiers) > 0 {
			sp.BillingScheme = stripe.String("tiered")
			sp.TiersMode = strPtr(p.TiersMode)
			for _, t := range p.Tiers {
				tp, err := tierParams(t)
				if err != nil {
					return err
				}
				sp.Tiers = append(sp.Tiers, tp)
			}
		}
		if r := p.Recurring; r != nil {
			sp.Recurring = &stripe.PriceRecurringParams{
				Interval:       strPtr(r.Interval),
				UsageType:      strPtr(r.UsageType),
				AggregateUsage: strPtr(r.AggregateUsage),
			}
			if r.IntervalCount != 0 {
				sp.Recurring.IntervalCount = stripe.Int64(r.IntervalCount)
			}
		}
		sp.AddExpand("tiers")
		pr, err := c.prices().New(sp)
		if err != nil {
			return sdkErr(err)
		}
		out = priceFromStripe(pr)
		return nil
	})
	return out, err
}

// GetPrice implements PriceAPI.
func (c *Client) GetPrice(ctx context.Context, id string) (*Price, error) {
	var out *Price
	err := c.call(ctx, resourcePrice, "get", id, func(ctx context.Context) error {
		sp := &stripe.PriceParams{Params: c.params(ctx, "")}
		sp.AddExpand("tiers")
		pr, err := c.prices().Get(id, sp)
		if err != nil {
			return sdkErr(err)
		}
		if pr.Deleted {
			return notFound(resourcePrice)
		}
		out = priceFromStripe(pr)
		return nil
	})
	return out, err
}

// UpdatePrice implements PriceAPI.
func (c *Client) UpdatePrice(ctx context.Context, id string, p PriceUpdateParams) (*Price, error) {
	var out *Price
	err := c.call(ctx, resourcePrice, "update", id, func(ctx context.Context) error {
		if err := requireWrite(p.IdempotencyKey); err != nil {
			return err
		}
		md, err := mergeMetadata(p.Metadata, p.Tags)
		if err != nil {
			return err
		}
		sp := &stripe.PriceParams{
			Params:      c.params(ctx, p.IdempotencyKey),
			Metadata:    md,
			Active:      p.Active,
			Nickname:    p.Nickname,
			LookupKey:   p.LookupKey,
			TaxBehavior: p.TaxBehavior,
		}
		if p.TransferLookupKey {
			sp.TransferLookupKey = stripe.Bool(true)
		}
		sp.AddExpand("tiers")
		pr, err := c.prices().Update(id, sp)
		if err != nil {
			return sdkErr(err)
		}
		out = priceFromStripe(pr)
		return nil
	})
	return out, err
}

// ListPrices implements PriceAPI.
func (c *Client) ListPrices(ctx context.Context, p PriceListParams) ([]Price, error) {
	lp := &stripe.PriceListParams{
		Product:      strPtr(p.ProductID),
		LookupKeys:   strSlice(p.LookupKeys),
		Active:       p.Active,
		Currency:     strPtr(p.Currency),
		Type:         strPtr(p.Type),
		CreatedRange: createdFrom(p.CreatedSince),
	}
	return c.listPrices(ctx, lp, p.Limit, nil)
}

// FindPricesByTags implements PriceAPI.
func (c *Client) FindPricesByTags(ctx context.Context, tags Tags, opts FindOptions) ([]Price, error) {
	return c.listPrices(ctx, &stripe.PriceListParams{CreatedRange: createdSince(opts.CreatedSince)}, 0,
		func(p Price) bool { return tags.Matches(p.Metadata) })
}

func (c *Client) listPrices(ctx context.Context, lp *stripe.PriceListParams, limit int, keep func(Price) bool) ([]Price, error) {
	var out []Price
	err := c.call(ctx, resourcePrice, "list", "", func(ctx context.Context) error {
		lp.ListParams = c.listParams(ctx, limit)
		lp.AddExpand("data.tiers")
		var err error
		out, err = collect(c.prices().List(lp).Iter, limit, priceValue, keep)
		return sdkErr(err)
	})
	return out, err
}

func priceValue(p *stripe.Price) Price { return *priceFromStripe(p) }

func priceFromStripe(p *stripe.Price) *Price {
	out := &Price{
		ID:            p.ID,
		Active:        p.Active,
		Currency:      string(p.Currency),
		BillingScheme: string(p.BillingScheme),
		TiersMode:     string(p.TiersMode),
		TaxBehavior:   string(p.TaxBehavior),
		LookupKey:     p.LookupKey,
		Nickname:      p.Nickname,
		Type:          string(p.Type),
		Metadata:      p.Metadata,
		Livemode:      p.Livemode,
		Created:       unixTime(p.Created),
	}
	if p.Product != nil {
		out.ProductID = p.Product.ID
	}
	if p.BillingScheme != stripe.PriceBillingSchemeTiered && p.CustomUnitAmount == nil {
		amount := p.UnitAmount
		out.UnitAmount = &amount
		out.UnitAmountDecimal = formatDecimal(p.UnitAmountDecimal)
	}
	for _, t := range p.Tiers {
		if t != nil {
			out.Tiers = append(out.Tiers, PriceTier{
				UpTo: t.UpTo, UnitAmount: t.UnitAmount, FlatAmount: t.FlatAmount,
				UnitAmountDecimal: formatDecimal(t.UnitAmountDecimal), FlatAmountDecimal: formatDecimal(t.FlatAmountDecimal),
			})
		}
	}
	if r := p.Recurring; r != nil {
		out.Recurring = &Recurring{
			Interval:       string(r.Interval),
			IntervalCount:  r.IntervalCount,
			UsageType:      string(r.UsageType),
			AggregateUsage: string(r.AggregateUsage),
		}
	}
	return out
}

// tierParams renders one tier; decimal amounts, when given, replace the integer ones.
func tierParams(t PriceTier) (*stripe.PriceTierParams, error) {
	tp := &stripe.PriceTierParams{UnitAmount: stripe.Int64(t.UnitAmount)}
	if t.UpTo == 0 {
		tp.UpToInf = stripe.Bool(true)
	} else {
		tp.UpTo = stripe.Int64(t.UpTo)
	}
	if t.FlatAmount != 0 {
		tp.FlatAmount = stripe.Int64(t.FlatAmount)
	}
	if t.UnitAmountDecimal != "" {
		d, err := parseDecimal("tiers[].unit_amount_decimal", t.UnitAmountDecimal)
		if err != nil {
			return nil, err
		}
		tp.UnitAmount, tp.UnitAmountDecimal = nil, d
	}
	if t.FlatAmountDecimal != "" {
		d, err := parseDecimal("tiers[].flat_amount_decimal", t.FlatAmountDecimal)
		if err != nil {
			return nil, err
		}
		tp.FlatAmount, tp.FlatAmountDecimal = nil, d
	}
	return tp, nil
}

// parseDecimal reads a decimal amount for stripe-go, which sends it with full precision.
func parseDecimal(param, value string) (*float64, error) {
	d, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return nil, invalidParams("%s: %q is not a decimal number", param, value)
	}
	return &d, nil
}

// formatDecimal renders a decimal amount the way Stripe does: no exponent, no trailing zeros.
func formatDecimal(d float64) string {
	return strconv.FormatFloat(d, 'f', -1, 64)
}
