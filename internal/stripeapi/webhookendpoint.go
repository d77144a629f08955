package stripeapi

import (
	"context"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhookendpoint"
)

const resourceWebhookEndpoint = "webhook_endpoint"

// WebhookEndpoint is a Stripe webhook endpoint.
type WebhookEndpoint struct {
	ID            string
	URL           string
	Description   string
	EnabledEvents []string
	APIVersion    string
	// Status is enabled or disabled.
	Status string
	// Secret is the signing secret (whsec_...), returned only by CreateWebhookEndpoint.
	Secret string
	// Application is set on endpoints of a Connect application. Stripe does not return whether an
	// endpoint was created with connect=true: record it in metadata if you need to observe it.
	Application string
	Metadata    map[string]string
	Livemode    bool
	Created     time.Time
}

// WebhookEndpointCreateParams creates a webhook endpoint.
type WebhookEndpointCreateParams struct {
	IdempotencyKey string
	Tags           Tags
	Metadata       map[string]string
	URL            string
	Description    string
	// EnabledEvents, e.g. "account.updated", or "*" for all.
	EnabledEvents []string
	// Connect receives the events of connected accounts instead of the platform's own. Fixed at
	// creation.
	Connect bool
	// APIVersion of the events; empty means APIVersion (the SDK's), so that events decode.
	APIVersion string
}

// WebhookEndpointUpdateParams changes a webhook endpoint; nil fields are left unchanged.
type WebhookEndpointUpdateParams struct {
	IdempotencyKey string
	Tags           *Tags
	Metadata       map[string]string
	URL            *string
	Description    *string
	EnabledEvents  []string
	Disabled       *bool
}

func (c *Client) webhookEndpoints() webhookendpoint.Client {
	return webhookendpoint.Client{B: c.backend, Key: c.key}
}

// CreateWebhookEndpoint implements WebhookEndpointAPI.
func (c *Client) CreateWebhookEndpoint(ctx context.Context, p WebhookEndpointCreateParams) (*WebhookEndpoint, error) {
	var out *WebhookEndpoint
	err := c.call(ctx, resourceWebhookEndpoint, "create", p.URL, func(ctx context.Context) error {
		if err := requireWrite(p.IdempotencyKey); err != nil {
			return err
		}
		md, err := mergeMetadata(p.Metadata, &p.Tags)
		if err != nil {
			return err
		}
		version := p.APIVersion
		if version == "" {
			version = APIVersion
		}
		sp := &stripe.WebhookEndpointParams{
			Params:        c.params(ctx, p.IdempotencyKey),
			Metadata:      md,
			URL:           stripe.String(p.URL),
			Description:   strPtr(p.Description),
			EnabledEvents: strSlice(p.EnabledEvents),
			APIVersion:    stripe.String(version),
		}
		if p.Connect {
			sp.Connect = stripe.Bool(true)
		}
		we, err := c.webhookEndpoints().New(sp)
		if err != nil {
			return sdkErr(err)
		}
		out = webhookEndpointFromStripe(we)
		return nil
	})
	return out, err
}

// GetWebhookEndpoint implements WebhookEndpointAPI.
func (c *Client) GetWebhookEndpoint(ctx context.Context, id string) (*WebhookEndpoint, error) {
	var out *WebhookEndpoint
	err := c.call(ctx, resourceWebhookEndpoint, "get", id, func(ctx context.Context) error {
		we, err := c.webhookEndpoints().Get(id, &stripe.WebhookEndpointParams{Params: c.params(ctx, "")})
		if err != nil {
			return sdkErr(err)
		}
		if we.Deleted {
			return notFound(resourceWebhookEndpoint)
		}
		out = webhookEndpointFromStripe(we)
		return nil
	})
	return out, err
}

// UpdateWebhookEndpoint implements WebhookEndpointAPI.
func (c *Client) UpdateWebhookEndpoint(ctx context.Context, id string, p WebhookEndpointUpdateParams) (*WebhookEndpoint, error) {
	var out *WebhookEndpoint
	err := c.call(ctx, resourceWebhookEndpoint, "update", id, func(ctx context.Context) error {
		if err := requireWrite(p.IdempotencyKey); err != nil {
			return err
		}
		md, err := mergeMetadata(p.Metadata, p.Tags)
		if err != nil {
			return err
		}
		we, err := c.webhookEndpoints().Update(id, &stripe.WebhookEndpointParams{
			Params:        c.params(ctx, p.IdempotencyKey),
			Metadata:      md,
			URL:           p.URL,
			Description:   p.Description,
			EnabledEvents: strSlice(p.EnabledEvents),
			Disabled:      p.Disabled,
		})
		if err != nil {
			return sdkErr(err)
		}
		out = webhookEndpointFromStripe(we)
		return nil
	})
	return out, err
}

// DeleteWebhookEndpoint implements WebhookEndpointAPI.
func (c *Client) DeleteWebhookEndpoint(ctx context.Context, id string) error {
	return c.call(ctx, resourceWebhookEndpoint, "delete", id, func(ctx context.Context) error {
		_, err := c.webhookEndpoints().Del(id, &stripe.WebhookEndpointParams{Params: c.params(ctx, "")})
		return sdkErr(err)
	})
}

// ListWebhookEndpoints implements WebhookEndpointAPI.
func (c *Client) ListWebhookEndpoints(ctx context.Context) ([]WebhookEndpoint, error) {
	return c.listWebhookEndpoints(ctx, nil)
}

// FindWebhookEndpointsByTags implements WebhookEndpointAPI. (Stripe keeps at most 16 endpoints
// and cannot filter them by creation time: this is one request.)
func (c *Client) FindWebhookEndpointsByTags(ctx context.Context, tags Tags) ([]WebhookEndpoint, error) {
	return c.listWebhookEndpoints(ctx, func(we WebhookEndpoint) bool { return tags.Matches(we.Metadata) })
}

func (c *Client) listWebhookEndpoints(ctx context.Context, keep func(WebhookEndpoint) bool) ([]WebhookEndpoint, error) {
	var out []WebhookEndpoint
	err := c.call(ctx, resourceWebhookEndpoint, "list", "", func(ctx context.Context) error {
		lp := &stripe.WebhookEndpointListParams{ListParams: c.listParams(ctx, 0)}
		var err error
		out, err = collect(c.webhookEndpoints().List(lp).Iter, 0, webhookEndpointValue, keep)
		return sdkErr(err)
	})
	return out, err
}

func webhookEndpointValue(we *stripe.WebhookEndpoint) WebhookEndpoint {
	return *webhookEndpointFromStripe(we)
}

func webhookEndpointFromStripe(we *stripe.WebhookEndpoint) *WebhookEndpoint {
	return &WebhookEndpoint{
		ID:            we.ID,
		URL:           we.URL,
		Description:   we.Description,
		EnabledEvents: we.EnabledEvents,
		APIVersion:    we.APIVersion,
		Status:        we.Status,
		Secret:        we.Secret,
		Application:   we.Application,
		Metadata:      we.Metadata,
		Livemode:      we.Livemode,
		Created:       unixTime(we.Created),
	}
}
