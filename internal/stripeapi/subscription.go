package stripeapi

import (
	"context"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/subscription"
)

const resourceSubscription = "subscription"

// expandLatestInvoice is the expansion Get, Create, Update and Cancel ask for, so that one call reads
// the subscription and what its latest invoice says.
const expandLatestInvoice = "latest_invoice"

// Subscription is a Stripe subscription.
type Subscription struct {
	ID         string
	CustomerID string
	// Status: incomplete, incomplete_expired, trialing, active, past_due, canceled, unpaid, paused.
	Status string
	Items  []SubscriptionItem
	// CollectionMethod: charge_automatically or send_invoice.
	CollectionMethod string
	// DaysUntilDue is set with send_invoice: the days the customer has to pay an invoice.
	DaysUntilDue       int64
	CancelAtPeriodEnd  bool
	CancelAt           time.Time
	CanceledAt         time.Time
	CurrentPeriodStart time.Time
	CurrentPeriodEnd   time.Time
	TrialStart         time.Time
	TrialEnd           time.Time
	LatestInvoiceID    string
	// LatestInvoice is the latest invoice, read in the same call (expanded) by CreateSubscription,
	// GetSubscription, UpdateSubscription and CancelSubscription; nil when there is none, and from
	// List* and Find* (which carry only LatestInvoiceID).
	LatestInvoice *InvoiceSummary
	Metadata      map[string]string
	Livemode      bool
	Created       time.Time
}

// InvoiceSummary is what a subscription's status needs of an invoice.
type InvoiceSummary struct {
	ID string
	// Number is shown to the customer; empty until the invoice is finalized.
	Number string
	// Status: draft, open, paid, uncollectible, void.
	Status string
	// AmountDue in the currency's minor unit.
	AmountDue int64
	Currency  string
	// DueDate is set for send_invoice invoices.
	DueDate time.Time
	// HostedInvoiceURL is the page where the customer pays. Anyone holding it can see and pay the
	// invoice: keep it out of status, events and logs (tell the customer to use the emailed invoice).
	HostedInvoiceURL string
}

// SubscriptionItem is one price on a subscription.
type SubscriptionItem struct {
	ID       string
	PriceID  string
	Quantity int64
}

// SubscriptionItemParams is one price to subscribe to.
type SubscriptionItemParams struct {
	PriceID string
	// Quantity; 0 leaves Stripe's default (1; none for metered prices).
	Quantity int64
}

// SubscriptionCreateParams creates a subscription.
type SubscriptionCreateParams struct {
	IdempotencyKey string
	Tags           Tags
	Metadata       map[string]string
	CustomerID     string
	Items          []SubscriptionItemParams
	// TrialPeriodDays or TrialEnd start the subscription trialing.
	TrialPeriodDays int64
	TrialEnd        time.Time
	// ProrationBehavior: create_prorations (default), none, always_invoice.
	ProrationBehavior string
	// PaymentBehavior: allow_incomplete (default), default_incomplete, error_if_incomplete,
	// pending_if_incomplete.
	PaymentBehavior string
	// CollectionMethod: charge_automatically (default) or send_invoice (with DaysUntilDue).
	CollectionMethod  string
	DaysUntilDue      int64
	CancelAtPeriodEnd bool
}

// SubscriptionItemUpdate changes one item: with ID, that item (PriceID to switch price, Quantity,
// Deleted to remove it); without ID, a new item.
type SubscriptionItemUpdate struct {
	ID       string
	PriceID  string
	Quantity *int64
	Deleted  bool
}

// SubscriptionUpdateParams changes a subscription; nil and empty fields are left unchanged.
type SubscriptionUpdateParams struct {
	IdempotencyKey string
	Tags           *Tags
	Metadata       map[string]string
	Items          []SubscriptionItemUpdate
	// ProrationBehavior applies to this update's changes: create_prorations, none, always_invoice.
	ProrationBehavior string
	PaymentBehavior   string
	// CollectionMethod: charge_automatically, or send_invoice (with DaysUntilDue, which Stripe
	// requires when switching to send_invoice).
	CollectionMethod string
	// DaysUntilDue: days to pay an invoice, with send_invoice only.
	DaysUntilDue      *int64
	CancelAtPeriodEnd *bool
	TrialEnd          *time.Time
}

// SubscriptionCancelParams tune an immediate cancellation.
type SubscriptionCancelParams struct {
	// Prorate credits unused time.
	Prorate bool
	// InvoiceNow bills pending usage and prorations at once.
	InvoiceNow bool
}

// SubscriptionListParams filter ListSubscriptions.
type SubscriptionListParams struct {
	CustomerID string
	PriceID    string
	// Status filters; empty lists every status, canceled included (Stripe's own default hides
	// canceled subscriptions).
	Status string
	// CreatedSince keeps subscriptions created at or after this time (exactly; no skew). Zero: all.
	CreatedSince time.Time
	Limit        int
}

func (c *Client) subscriptions() subscription.Client {
	return subscription.Client{B: c.backend, Key: c.key}
}

// CreateSubscription implements SubscriptionAPI.
func (c *Client) CreateSubscription(ctx context.Context, p SubscriptionCreateParams) (*Subscription, error) {
	var out *Subscription
	err := c.call(ctx, resourceSubscription, "create", p.CustomerID, func(ctx context.Context) error {
		if err := requireWrite(p.IdempotencyKey); err != nil {
			return err
		}
		md, err := mergeMetadata(p.Metadata, &p.Tags)
		if err != nil {
			return err
		}
		sp := &stripe.SubscriptionParams{
			Params:            c.params(ctx, p.IdempotencyKey),
			Metadata:          md,
			Customer:          strPtr(p.CustomerID),
			ProrationBehavior: strPtr(p.ProrationBehavior),
			PaymentBehavior:   strPtr(p.PaymentBehavior),
			CollectionMethod:  strPtr(p.CollectionMethod),
		}
		sp.AddExpand(expandLatestInvoice)
		for _, it := range p.Items {
			ip := &stripe.SubscriptionItemsParams{Price: stripe.String(it.PriceID)}
			if it.Quantity != 0 {
				ip.Quantity = stripe.Int64(it.Quantity)
			}
			sp.Items = append(sp.Items, ip)
		}
		if p.TrialPeriodDays != 0 {
			sp.TrialPeriodDays = stripe.Int64(p.TrialPeriodDays)
		}
		if !p.TrialEnd.IsZero() {
			sp.TrialEnd = stripe.Int64(p.TrialEnd.Unix())
		}
		if p.DaysUntilDue != 0 {
			sp.DaysUntilDue = stripe.Int64(p.DaysUntilDue)
		}
		if p.CancelAtPeriodEnd {
			sp.CancelAtPeriodEnd = stripe.Bool(true)
		}
		s, err := c.subscriptions().New(sp)
		if err != nil {
			return sdkErr(err)
		}
		out = subscriptionFromStripe(s)
		return nil
	})
	return out, err
}

// GetSubscription implements SubscriptionAPI.
func (c *Client) GetSubscription(ctx context.Context, id string) (*Subscription, error) {
	var out *Subscription
	err := c.call(ctx, resourceSubscription, "get", id, func(ctx context.Context) error {
		sp := &stripe.SubscriptionParams{Params: c.params(ctx, "")}
		sp.AddExpand(expandLatestInvoice)
		s, err := c.subscriptions().Get(id, sp)
		if err != nil {
			return sdkErr(err)
		}
		out = subscriptionFromStripe(s)
		return nil
	})
	return out, err
}

// UpdateSubscription implements SubscriptionAPI.
func (c *Client) UpdateSubscription(ctx context.Context, id string, p SubscriptionUpdateParams) (*Subscription, error) {
	var out *Subscription
	err := c.call(ctx, resourceSubscription, "update", id, func(ctx context.Context) error {
		if err := requireWrite(p.IdempotencyKey); err != nil {
			return err
		}
		md, err := mergeMetadata(p.Metadata, p.Tags)
		if err != nil {
			return err
		}
		sp := &stripe.SubscriptionParams{
			Params:            c.params(ctx, p.IdempotencyKey),
			Metadata:          md,
			ProrationBehavior: strPtr(p.ProrationBehavior),
			PaymentBehavior:   strPtr(p.PaymentBehavior),
			CollectionMethod:  strPtr(p.CollectionMethod),
			DaysUntilDue:      p.DaysUntilDue,
			CancelAtPeriodEnd: p.CancelAtPeriodEnd,
		}
		sp.AddExpand(expandLatestInvoice)
		for _, it := range p.Items {
			ip := &stripe.SubscriptionItemsParams{ID: strPtr(it.ID), Price: strPtr(it.PriceID), Quantity: it.Quantity}
			if it.Deleted {
				ip.Deleted = stripe.Bool(true)
			}
			sp.Items = append(sp.Items, ip)
		}
		if p.TrialEnd != nil {
			sp.TrialEnd = stripe.Int64(p.TrialEnd.Unix())
		}
		s, err := c.subscriptions().Update(id, sp)
		if err != nil {
			return sdkErr(err)
		}
		out = subscriptionFromStripe(s)
		return nil
	})
	return out, err
}

// CancelSubscription implements SubscriptionAPI.
func (c *Client) CancelSubscription(ctx context.Context, id string, p SubscriptionCancelParams) (*Subscription, error) {
	var out *Subscription
	err := c.call(ctx, resourceSubscription, "cancel", id, func(ctx context.Context) error {
		sp := &stripe.SubscriptionCancelParams{Params: c.params(ctx, "")}
		sp.AddExpand(expandLatestInvoice)
		if p.Prorate {
			sp.Prorate = stripe.Bool(true)
		}
		if p.InvoiceNow {
			sp.InvoiceNow = stripe.Bool(true)
		}
		s, err := c.subscriptions().Cancel(id, sp)
		if err != nil {
			return sdkErr(err)
		}
		out = subscriptionFromStripe(s)
		return nil
	})
	return out, err
}

// ListSubscriptions implements SubscriptionAPI.
func (c *Client) ListSubscriptions(ctx context.Context, p SubscriptionListParams) ([]Subscription, error) {
	status := p.Status
	if status == "" {
		status = "all"
	}
	lp := &stripe.SubscriptionListParams{
		Customer:     strPtr(p.CustomerID),
		Price:        strPtr(p.PriceID),
		Status:       stripe.String(status),
		CreatedRange: createdFrom(p.CreatedSince),
	}
	return c.listSubscriptions(ctx, lp, p.Limit, nil)
}

// FindSubscriptionsByTags implements SubscriptionAPI.
func (c *Client) FindSubscriptionsByTags(ctx context.Context, tags Tags, opts FindOptions) ([]Subscription, error) {
	lp := &stripe.SubscriptionListParams{Status: stripe.String("all"), CreatedRange: createdSince(opts.CreatedSince)}
	return c.listSubscriptions(ctx, lp, 0, func(s Subscription) bool { return tags.Matches(s.Metadata) })
}

func (c *Client) listSubscriptions(ctx context.Context, lp *stripe.SubscriptionListParams, limit int, keep func(Subscription) bool) ([]Subscription, error) {
	var out []Subscription
	err := c.call(ctx, resourceSubscription, "list", "", func(ctx context.Context) error {
		lp.ListParams = c.listParams(ctx, limit)
		var err error
		out, err = collect(c.subscriptions().List(lp).Iter, limit, subscriptionValue, keep)
		return sdkErr(err)
	})
	return out, err
}

func subscriptionValue(s *stripe.Subscription) Subscription { return *subscriptionFromStripe(s) }

func subscriptionFromStripe(s *stripe.Subscription) *Subscription {
	out := &Subscription{
		ID:                 s.ID,
		Status:             string(s.Status),
		CollectionMethod:   string(s.CollectionMethod),
		DaysUntilDue:       s.DaysUntilDue,
		CancelAtPeriodEnd:  s.CancelAtPeriodEnd,
		CancelAt:           unixTime(s.CancelAt),
		CanceledAt:         unixTime(s.CanceledAt),
		CurrentPeriodStart: unixTime(s.CurrentPeriodStart),
		CurrentPeriodEnd:   unixTime(s.CurrentPeriodEnd),
		TrialStart:         unixTime(s.TrialStart),
		TrialEnd:           unixTime(s.TrialEnd),
		Metadata:           s.Metadata,
		Livemode:           s.Livemode,
		Created:            unixTime(s.Created),
	}
	if s.Customer != nil {
		out.CustomerID = s.Customer.ID
	}
	if inv := s.LatestInvoice; inv != nil {
		out.LatestInvoiceID = inv.ID
		// Unexpanded, stripe-go decodes the id alone (no object, no status): no summary then.
		if inv.Object != "" || inv.Status != "" {
			out.LatestInvoice = &InvoiceSummary{
				ID:               inv.ID,
				Number:           inv.Number,
				Status:           string(inv.Status),
				AmountDue:        inv.AmountDue,
				Currency:         string(inv.Currency),
				DueDate:          unixTime(inv.DueDate),
				HostedInvoiceURL: inv.HostedInvoiceURL,
			}
		}
	}
	if s.Items != nil {
		for _, it := range s.Items.Data {
			if it == nil {
				continue
			}
			item := SubscriptionItem{ID: it.ID, Quantity: it.Quantity}
			if it.Price != nil {
				item.PriceID = it.Price.ID
			}
			out.Items = append(out.Items, item)
		}
	}
	return out
}
