// Package fake implements stripeapi.Interface with one function field per method, for the unit
// tests of controllers and adapters (in the manner of cert-manager's fake ACME client). A method
// whose field is nil returns ErrNotImplemented, so a test notices a call it did not expect.
package fake

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudip/stripe-operator/internal/stripeapi"
)

// ErrNotImplemented is returned (wrapped with the method's name) by a method whose field is nil.
var ErrNotImplemented = errors.New("fake: method not implemented")

var _ stripeapi.Interface = (*Client)(nil)

// Client is a fake stripeapi.Interface. Set the fields a test needs.
type Client struct {
	// Account is what AccountID returns. The default ForAccount returns a copy with Account set.
	Account string
	// FakeForAccount replaces the default ForAccount, e.g. to hand out a per-tenant fake or to
	// record which account a controller chose.
	FakeForAccount                 func(accountID string) stripeapi.Interface
	FakeGetPlatformAccount         func(ctx context.Context) (*stripeapi.PlatformAccount, error)
	FakeCreateAccount              func(ctx context.Context, p stripeapi.AccountCreateParams) (*stripeapi.Account, error)
	FakeGetAccount                 func(ctx context.Context, id string) (*stripeapi.Account, error)
	FakeUpdateAccount              func(ctx context.Context, id string, p stripeapi.AccountUpdateParams) (*stripeapi.Account, error)
	FakeDeleteAccount              func(ctx context.Context, id string) error
	FakeListAccounts               func(ctx context.Context, p stripeapi.AccountListParams) ([]stripeapi.Account, error)
	FakeFindAccountsByTags         func(ctx context.Context, tags stripeapi.Tags, opts stripeapi.FindOptions) ([]stripeapi.Account, error)
	FakeCreateAccountLink          func(ctx context.Context, p stripeapi.AccountLinkCreateParams) (*stripeapi.AccountLink, error)
	FakeCreateProduct              func(ctx context.Context, p stripeapi.ProductCreateParams) (*stripeapi.Product, error)
	FakeGetProduct                 func(ctx context.Context, id string) (*stripeapi.Product, error)
	FakeUpdateProduct              func(ctx context.Context, id string, p stripeapi.ProductUpdateParams) (*stripeapi.Product, error)
	FakeDeleteProduct              func(ctx context.Context, id string) error
	FakeListProducts               func(ctx context.Context, p stripeapi.ProductListParams) ([]stripeapi.Product, error)
	FakeFindProductsByTags         func(ctx context.Context, tags stripeapi.Tags, opts stripeapi.FindOptions) ([]stripeapi.Product, error)
	FakeCreatePrice                func(ctx context.Context, p stripeapi.PriceCreateParams) (*stripeapi.Price, error)
	FakeGetPrice                   func(ctx context.Context, id string) (*stripeapi.Price, error)
	FakeUpdatePrice                func(ctx context.Context, id string, p stripeapi.PriceUpdateParams) (*stripeapi.Price, error)
	FakeListPrices                 func(ctx context.Context, p stripeapi.PriceListParams) ([]stripeapi.Price, error)
	FakeFindPricesByTags           func(ctx context.Context, tags stripeapi.Tags, opts stripeapi.FindOptions) ([]stripeapi.Price, error)
	FakeCreateCustomer             func(ctx context.Context, p stripeapi.CustomerCreateParams) (*stripeapi.Customer, error)
	FakeGetCustomer                func(ctx context.Context, id string) (*stripeapi.Customer, error)
	FakeUpdateCustomer             func(ctx context.Context, id string, p stripeapi.CustomerUpdateParams) (*stripeapi.Customer, error)
	FakeDeleteCustomer             func(ctx context.Context, id string) error
	FakeListCustomers              func(ctx context.Context, p stripeapi.CustomerListParams) ([]stripeapi.Customer, error)
	FakeFindCustomersByTags        func(ctx context.Context, tags stripeapi.Tags, opts stripeapi.FindOptions) ([]stripeapi.Customer, error)
	FakeCreateSubscription         func(ctx context.Context, p stripeapi.SubscriptionCreateParams) (*stripeapi.Subscription, error)
	FakeGetSubscription            func(ctx context.Context, id string) (*stripeapi.Subscription, error)
	FakeUpdateSubscription         func(ctx context.Context, id string, p stripeapi.SubscriptionUpdateParams) (*stripeapi.Subscription, error)
	FakeCancelSubscription         func(ctx context.Context, id string, p stripeapi.SubscriptionCancelParams) (*stripeapi.Subscription, error)
	FakeListSubscriptions          func(ctx context.Context, p stripeapi.SubscriptionListParams) ([]stripeapi.Subscription, error)
	FakeFindSubscriptionsByTags    func(ctx context.Context, tags stripeapi.Tags, opts stripeapi.FindOptions) ([]stripeapi.Subscription, error)
	FakeGetBalance                 func(ctx context.Context) (*stripeapi.Balance, error)
	FakeCreateWebhookEndpoint      func(ctx context.Context, p stripeapi.WebhookEndpointCreateParams) (*stripeapi.WebhookEndpoint, error)
	FakeGetWebhookEndpoint         func(ctx context.Context, id string) (*stripeapi.WebhookEndpoint, error)
	FakeUpdateWebhookEndpoint      func(ctx context.Context, id string, p stripeapi.WebhookEndpointUpdateParams) (*stripeapi.WebhookEndpoint, error)
	FakeDeleteWebhookEndpoint      func(ctx context.Context, id string) error
	FakeListWebhookEndpoints       func(ctx context.Context) ([]stripeapi.WebhookEndpoint, error)
	FakeFindWebhookEndpointsByTags func(ctx context.Context, tags stripeapi.Tags) ([]stripeapi.WebhookEndpoint, error)
	FakeListEventsSince            func(ctx context.Context, since time.Time) ([]stripeapi.Event, error)
}

// ForAccount implements stripeapi.Interface.
func (c *Client) ForAccount(accountID string) stripeapi.Interface {
	if c.FakeForAccount != nil {
		return c.FakeForAccount(accountID)
	}
	view := *c
	view.Account = accountID
	return &view
}

// AccountID implements stripeapi.Interface.
func (c *Client) AccountID() string { return c.Account }

func notImplemented(method string) error { return fmt.Errorf("%w: %s", ErrNotImplemented, method) }

// GetPlatformAccount implements stripeapi.Interface.
func (c *Client) GetPlatformAccount(ctx context.Context) (*stripeapi.PlatformAccount, error) {
	if c.FakeGetPlatformAccount == nil {
		return nil, notImplemented("GetPlatformAccount")
	}
	return c.FakeGetPlatformAccount(ctx)
}

// CreateAccount implements stripeapi.Interface.
func (c *Client) CreateAccount(ctx context.Context, p stripeapi.AccountCreateParams) (*stripeapi.Account, error) {
	if c.FakeCreateAccount == nil {
		return nil, notImplemented("CreateAccount")
	}
	return c.FakeCreateAccount(ctx, p)
}

// GetAccount implements stripeapi.Interface.
func (c *Client) GetAccount(ctx context.Context, id string) (*stripeapi.Account, error) {
	if c.FakeGetAccount == nil {
		return nil, notImplemented("GetAccount")
	}
	return c.FakeGetAccount(ctx, id)
}

// UpdateAccount implements stripeapi.Interface.
func (c *Client) UpdateAccount(ctx context.Context, id string, p stripeapi.AccountUpdateParams) (*stripeapi.Account, error) {
	if c.FakeUpdateAccount == nil {
		return nil, notImplemented("UpdateAccount")
	}
	return c.FakeUpdateAccount(ctx, id, p)
}

// DeleteAccount implements stripeapi.Interface.
func (c *Client) DeleteAccount(ctx context.Context, id string) error {
	if c.FakeDeleteAccount == nil {
		return notImplemented("DeleteAccount")
	}
	return c.FakeDeleteAccount(ctx, id)
}

// ListAccounts implements stripeapi.Interface.
func (c *Client) ListAccounts(ctx context.Context, p stripeapi.AccountListParams) ([]stripeapi.Account, error) {
	if c.FakeListAccounts == nil {
		return nil, notImplemented("ListAccounts")
	}
	return c.FakeListAccounts(ctx, p)
}

// FindAccountsByTags implements stripeapi.Interface.
func (c *Client) FindAccountsByTags(ctx context.Context, tags stripeapi.Tags, opts stripeapi.FindOptions) ([]stripeapi.Account, error) {
	if c.FakeFindAccountsByTags == nil {
		return nil, notImplemented("FindAccountsByTags")
	}
	return c.FakeFindAccountsByTags(ctx, tags, opts)
}

// CreateAccountLink implements stripeapi.Interface.
func (c *Client) CreateAccountLink(ctx context.Context, p stripeapi.AccountLinkCreateParams) (*stripeapi.AccountLink, error) {
	if c.FakeCreateAccountLink == nil {
		return nil, notImplemented("CreateAccountLink")
	}
	return c.FakeCreateAccountLink(ctx, p)
}

// CreateProduct implements stripeapi.Interface.
func (c *Client) CreateProduct(ctx context.Context, p stripeapi.ProductCreateParams) (*stripeapi.Product, error) {
	if c.FakeCreateProduct == nil {
		return nil, notImplemented("CreateProduct")
	}
	return c.FakeCreateProduct(ctx, p)
}

// GetProduct implements stripeapi.Interface.
func (c *Client) GetProduct(ctx context.Context, id string) (*stripeapi.Product, error) {
	if c.FakeGetProduct == nil {
		return nil, notImplemented("GetProduct")
	}
	return c.FakeGetProduct(ctx, id)
}

// UpdateProduct implements stripeapi.Interface.
func (c *Client) UpdateProduct(ctx context.Context, id string, p stripeapi.ProductUpdateParams) (*stripeapi.Product, error) {
	if c.FakeUpdateProduct == nil {
		return nil, notImplemented("UpdateProduct")
	}
	return c.FakeUpdateProduct(ctx, id, p)
}

// DeleteProduct implements stripeapi.Interface.
func (c *Client) DeleteProduct(ctx context.Context, id string) error {
	if c.FakeDeleteProduct == nil {
		return notImplemented("DeleteProduct")
	}
	return c.FakeDeleteProduct(ctx, id)
}

// ListProducts implements stripeapi.Interface.
func (c *Client) ListProducts(ctx context.Context, p stripeapi.ProductListParams) ([]stripeapi.Product, error) {
	if c.FakeListProducts == nil {
		return nil, notImplemented("ListProducts")
	}
	return c.FakeListProducts(ctx, p)
}

// FindProductsByTags implements stripeapi.Interface.
func (c *Client) FindProductsByTags(ctx context.Context, tags stripeapi.Tags, opts stripeapi.FindOptions) ([]stripeapi.Product, error) {
	if c.FakeFindProductsByTags == nil {
		return nil, notImplemented("FindProductsByTags")
	}
	return c.FakeFindProductsByTags(ctx, tags, opts)
}

// CreatePrice implements stripeapi.Interface.
func (c *Client) CreatePrice(ctx context.Context, p stripeapi.PriceCreateParams) (*stripeapi.Price, error) {
	if c.FakeCreatePrice == nil {
		return nil, notImplemented("CreatePrice")
	}
	return c.FakeCreatePrice(ctx, p)
}

// GetPrice implements stripeapi.Interface.
func (c *Client) GetPrice(ctx context.Context, id string) (*stripeapi.Price, error) {
	if c.FakeGetPrice == nil {
		return nil, notImplemented("GetPrice")
	}
	return c.FakeGetPrice(ctx, id)
}

// UpdatePrice implements stripeapi.Interface.
func (c *Client) UpdatePrice(ctx context.Context, id string, p stripeapi.PriceUpdateParams) (*stripeapi.Price, error) {
	if c.FakeUpdatePrice == nil {
		return nil, notImplemented("UpdatePrice")
	}
	return c.FakeUpdatePrice(ctx, id, p)
}

// ListPrices implements stripeapi.Interface.
func (c *Client) ListPrices(ctx context.Context, p stripeapi.PriceListParams) ([]stripeapi.Price, error) {
	if c.FakeListPrices == nil {
		return nil, notImplemented("ListPrices")
	}
	return c.FakeListPrices(ctx, p)
}

// FindPricesByTags implements stripeapi.Interface.
func (c *Client) FindPricesByTags(ctx context.Context, tags stripeapi.Tags, opts stripeapi.FindOptions) ([]stripeapi.Price, error) {
	if c.FakeFindPricesByTags == nil {
		return nil, notImplemented("FindPricesByTags")
	}
	return c.FakeFindPricesByTags(ctx, tags, opts)
}

// CreateCustomer implements stripeapi.Interface.
func (c *Client) CreateCustomer(ctx context.Context, p stripeapi.CustomerCreateParams) (*stripeapi.Customer, error) {
	if c.FakeCreateCustomer == nil {
		return nil, notImplemented("CreateCustomer")
	}
	return c.FakeCreateCustomer(ctx, p)
}

// GetCustomer implements stripeapi.Interface.
func (c *Client) GetCustomer(ctx context.Context, id string) (*stripeapi.Customer, error) {
	if c.FakeGetCustomer == nil {
		return nil, notImplemented("GetCustomer")
	}
	return c.FakeGetCustomer(ctx, id)
}

// UpdateCustomer implements stripeapi.Interface.
func (c *Client) UpdateCustomer(ctx context.Context, id string, p stripeapi.CustomerUpdateParams) (*stripeapi.Customer, error) {
	if c.FakeUpdateCustomer == nil {
		return nil, notImplemented("UpdateCustomer")
	}
	return c.FakeUpdateCustomer(ctx, id, p)
}

// DeleteCustomer implements stripeapi.Interface.
func (c *Client) DeleteCustomer(ctx context.Context, id string) error {
	if c.FakeDeleteCustomer == nil {
		return notImplemented("DeleteCustomer")
	}
	return c.FakeDeleteCustomer(ctx, id)
}

// ListCustomers implements stripeapi.Interface.
func (c *Client) ListCustomers(ctx context.Context, p stripeapi.CustomerListParams) ([]stripeapi.Customer, error) {
	if c.FakeListCustomers == nil {
		return nil, notImplemented("ListCustomers")
	}
	return c.FakeListCustomers(ctx, p)
}

// FindCustomersByTags implements stripeapi.Interface.
func (c *Client) FindCustomersByTags(ctx context.Context, tags stripeapi.Tags, opts stripeapi.FindOptions) ([]stripeapi.Customer, error) {
	if c.FakeFindCustomersByTags == nil {
		return nil, notImplemented("FindCustomersByTags")
	}
	return c.FakeFindCustomersByTags(ctx, tags, opts)
}

// CreateSubscription implements stripeapi.Interface.
func (c *Client) CreateSubscription(ctx context.Context, p stripeapi.SubscriptionCreateParams) (*stripeapi.Subscription, error) {
	if c.FakeCreateSubscription == nil {
		return nil, notImplemented("CreateSubscription")
	}
	return c.FakeCreateSubscription(ctx, p)
}

// GetSubscription implements stripeapi.Interface.
func (c *Client) GetSubscription(ctx context.Context, id string) (*stripeapi.Subscription, error) {
	if c.FakeGetSubscription == nil {
		return nil, notImplemented("GetSubscription")
	}
	return c.FakeGetSubscription(ctx, id)
}

// UpdateSubscription implements stripeapi.Interface.
func (c *Client) UpdateSubscription(ctx context.Context, id string, p stripeapi.SubscriptionUpdateParams) (*stripeapi.Subscription, error) {
	if c.FakeUpdateSubscription == nil {
		return nil, notImplemented("UpdateSubscription")
	}
	return c.FakeUpdateSubscription(ctx, id, p)
}

// CancelSubscription implements stripeapi.Interface.
func (c *Client) CancelSubscription(ctx context.Context, id string, p stripeapi.SubscriptionCancelParams) (*stripeapi.Subscription, error) {
	if c.FakeCancelSubscription == nil {
		return nil, notImplemented("CancelSubscription")
	}
	return c.FakeCancelSubscription(ctx, id, p)
}

// ListSubscriptions implements stripeapi.Interface.
func (c *Client) ListSubscriptions(ctx context.Context, p stripeapi.SubscriptionListParams) ([]stripeapi.Subscription, error) {
	if c.FakeListSubscriptions == nil {
		return nil, notImplemented("ListSubscriptions")
	}
	return c.FakeListSubscriptions(ctx, p)
}

// FindSubscriptionsByTags implements stripeapi.Interface.
func (c *Client) FindSubscriptionsByTags(ctx context.Context, tags stripeapi.Tags, opts stripeapi.FindOptions) ([]stripeapi.Subscription, error) {
	if c.FakeFindSubscriptionsByTags == nil {
		return nil, notImplemented("FindSubscriptionsByTags")
	}
	return c.FakeFindSubscriptionsByTags(ctx, tags, opts)
}

// GetBalance implements stripeapi.Interface.
func (c *Client) GetBalance(ctx context.Context) (*stripeapi.Balance, error) {
	if c.FakeGetBalance == nil {
		return nil, notImplemented("GetBalance")
	}
	return c.FakeGetBalance(ctx)
}

// CreateWebhookEndpoint implements stripeapi.Interface.
func (c *Client) CreateWebhookEndpoint(ctx context.Context, p stripeapi.WebhookEndpointCreateParams) (*stripeapi.WebhookEndpoint, error) {
	if c.FakeCreateWebhookEndpoint == nil {
		return nil, notImplemented("CreateWebhookEndpoint")
	}
	return c.FakeCreateWebhookEndpoint(ctx, p)
}

// GetWebhookEndpoint implements stripeapi.Interface.
func (c *Client) GetWebhookEndpoint(ctx context.Context, id string) (*stripeapi.WebhookEndpoint, error) {
	if c.FakeGetWebhookEndpoint == nil {
		return nil, notImplemented("GetWebhookEndpoint")
	}
	return c.FakeGetWebhookEndpoint(ctx, id)
}

// UpdateWebhookEndpoint implements stripeapi.Interface.
func (c *Client) UpdateWebhookEndpoint(ctx context.Context, id string, p stripeapi.WebhookEndpointUpdateParams) (*stripeapi.WebhookEndpoint, error) {
	if c.FakeUpdateWebhookEndpoint == nil {
		return nil, notImplemented("UpdateWebhookEndpoint")
	}
	return c.FakeUpdateWebhookEndpoint(ctx, id, p)
}

// DeleteWebhookEndpoint implements stripeapi.Interface.
func (c *Client) DeleteWebhookEndpoint(ctx context.Context, id string) error {
	if c.FakeDeleteWebhookEndpoint == nil {
		return notImplemented("DeleteWebhookEndpoint")
	}
	return c.FakeDeleteWebhookEndpoint(ctx, id)
}

// ListWebhookEndpoints implements stripeapi.Interface.
func (c *Client) ListWebhookEndpoints(ctx context.Context) ([]stripeapi.WebhookEndpoint, error) {
	if c.FakeListWebhookEndpoints == nil {
		return nil, notImplemented("ListWebhookEndpoints")
	}
	return c.FakeListWebhookEndpoints(ctx)
}

// FindWebhookEndpointsByTags implements stripeapi.Interface.
func (c *Client) FindWebhookEndpointsByTags(ctx context.Context, tags stripeapi.Tags) ([]stripeapi.WebhookEndpoint, error) {
	if c.FakeFindWebhookEndpointsByTags == nil {
		return nil, notImplemented("FindWebhookEndpointsByTags")
	}
	return c.FakeFindWebhookEndpointsByTags(ctx, tags)
}

// ListEventsSince implements stripeapi.Interface.
func (c *Client) ListEventsSince(ctx context.Context, since time.Time) ([]stripeapi.Event, error) {
	if c.FakeListEventsSince == nil {
		return nil, notImplemented("ListEventsSince")
	}
	return c.FakeListEventsSince(ctx, since)
}
