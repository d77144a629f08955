package stripeapi

import (
	"context"
	"time"
)

// The interfaces below are the narrow views adapters depend on: one per Stripe resource, in the
// manner of cert-manager's ACME client. They never leak stripe-go types: parameters and results are
// this package's plain structs, errors are *Error (wrapped). Every call takes a context and waits on
// the connection's budget. *Client implements them all; package fake implements them with function
// fields for tests.
//
// Conventions shared by all of them:
//   - Get*, Update*, Delete* of an object that does not exist return an error for which IsNotFound
//     is true (Delete callers usually treat that as done).
//   - Create* and Update* params carry IdempotencyKey (required) and the create params carry Tags
//     (required), merged into the object's metadata with any user Metadata (which may not use the
//     reserved "cloudip_" prefix). Update params' Metadata merges like Stripe's: a key set to ""
//     is removed, absent keys are kept.
//   - In update params, a nil pointer or nil slice means "leave unchanged".
//   - List* follow Stripe's order (newest first) across pages; Limit caps the items returned
//     (0: all). Find*ByTags list (never search) and keep the objects whose metadata Matches the
//     tags; an empty result is not an error.

// PlatformAPI reads the platform account the connection's key belongs to. It never leaks stripe-go
// types; every call takes ctx.
type PlatformAPI interface {
	// GetPlatformAccount is GET /v1/account: verifies the key and tells whose it is.
	GetPlatformAccount(ctx context.Context) (*PlatformAccount, error)
}

// AccountAPI manages Connect connected accounts. It never leaks stripe-go types; every call takes ctx.
type AccountAPI interface {
	CreateAccount(ctx context.Context, p AccountCreateParams) (*Account, error)
	GetAccount(ctx context.Context, id string) (*Account, error)
	UpdateAccount(ctx context.Context, id string, p AccountUpdateParams) (*Account, error)
	// DeleteAccount fails (Terminal) for accounts Stripe will not delete: live Standard accounts,
	// accounts with a balance.
	DeleteAccount(ctx context.Context, id string) error
	ListAccounts(ctx context.Context, p AccountListParams) ([]Account, error)
	FindAccountsByTags(ctx context.Context, tags Tags, opts FindOptions) ([]Account, error)
}

// AccountLinkAPI creates onboarding links for connected accounts. It never leaks stripe-go types;
// every call takes ctx.
type AccountLinkAPI interface {
	CreateAccountLink(ctx context.Context, p AccountLinkCreateParams) (*AccountLink, error)
}

// ProductAPI manages products. It never leaks stripe-go types; every call takes ctx.
type ProductAPI interface {
	CreateProduct(ctx context.Context, p ProductCreateParams) (*Product, error)
	GetProduct(ctx context.Context, id string) (*Product, error)
	UpdateProduct(ctx context.Context, id string, p ProductUpdateParams) (*Product, error)
	// DeleteProduct fails (Terminal) for a product with prices: archive it (Active=false) instead.
	DeleteProduct(ctx context.Context, id string) error
	ListProducts(ctx context.Context, p ProductListParams) ([]Product, error)
	FindProductsByTags(ctx context.Context, tags Tags, opts FindOptions) ([]Product, error)
}

// PriceAPI manages prices. Prices cannot be deleted, and their amount, currency and recurrence never
// change: create a new price (TransferLookupKey moves the lookup key to it) and archive the old one.
// It never leaks stripe-go types; every call takes ctx.
type PriceAPI interface {
	CreatePrice(ctx context.Context, p PriceCreateParams) (*Price, error)
	GetPrice(ctx context.Context, id string) (*Price, error)
	UpdatePrice(ctx context.Context, id string, p PriceUpdateParams) (*Price, error)
	ListPrices(ctx context.Context, p PriceListParams) ([]Price, error)
	FindPricesByTags(ctx context.Context, tags Tags, opts FindOptions) ([]Price, error)
}

// CustomerAPI manages customers. It never leaks stripe-go types; every call takes ctx.
type CustomerAPI interface {
	CreateCustomer(ctx context.Context, p CustomerCreateParams) (*Customer, error)
	// GetCustomer returns a NotFound error for a deleted customer (Stripe answers 200 deleted=true).
	GetCustomer(ctx context.Context, id string) (*Customer, error)
	UpdateCustomer(ctx context.Context, id string, p CustomerUpdateParams) (*Customer, error)
	// DeleteCustomer also cancels the customer's subscriptions, at once.
	DeleteCustomer(ctx context.Context, id string) error
	ListCustomers(ctx context.Context, p CustomerListParams) ([]Customer, error)
	FindCustomersByTags(ctx context.Context, tags Tags, opts FindOptions) ([]Customer, error)
}

// SubscriptionAPI manages subscriptions. It never leaks stripe-go types; every call takes ctx.
type SubscriptionAPI interface {
	CreateSubscription(ctx context.Context, p SubscriptionCreateParams) (*Subscription, error)
	GetSubscription(ctx context.Context, id string) (*Subscription, error)
	UpdateSubscription(ctx context.Context, id string, p SubscriptionUpdateParams) (*Subscription, error)
	// CancelSubscription cancels at once (DELETE); to cancel at the period's end, update
	// CancelAtPeriodEnd instead.
	CancelSubscription(ctx context.Context, id string, p SubscriptionCancelParams) (*Subscription, error)
	ListSubscriptions(ctx context.Context, p SubscriptionListParams) ([]Subscription, error)
	FindSubscriptionsByTags(ctx context.Context, tags Tags, opts FindOptions) ([]Subscription, error)
}

// BalanceAPI reads an account's balance. It never leaks stripe-go types; every call takes ctx.
type BalanceAPI interface {
	// GetBalance is GET /v1/balance: the platform's balance, or through ForAccount the connected
	// account's (e.g. before deleting it: Stripe deletes a live account only at zero balance).
	GetBalance(ctx context.Context) (*Balance, error)
}

// WebhookEndpointAPI manages webhook endpoints (at most 16 per account). It never leaks stripe-go
// types; every call takes ctx.
type WebhookEndpointAPI interface {
	// CreateWebhookEndpoint returns the endpoint with its signing Secret, which Stripe shows only
	// here: store it in the same reconcile. (Repeating the create with the same idempotency key
	// within 24 hours returns the same endpoint and secret again.)
	CreateWebhookEndpoint(ctx context.Context, p WebhookEndpointCreateParams) (*WebhookEndpoint, error)
	GetWebhookEndpoint(ctx context.Context, id string) (*WebhookEndpoint, error)
	UpdateWebhookEndpoint(ctx context.Context, id string, p WebhookEndpointUpdateParams) (*WebhookEndpoint, error)
	DeleteWebhookEndpoint(ctx context.Context, id string) error
	ListWebhookEndpoints(ctx context.Context) ([]WebhookEndpoint, error)
	FindWebhookEndpointsByTags(ctx context.Context, tags Tags) ([]WebhookEndpoint, error)
}

// Interface is everything a connection's client can do; *Client implements it. Controllers hold an
// Interface and hand adapters the narrow view they need.
type Interface interface {
	PlatformAPI
	AccountAPI
	AccountLinkAPI
	ProductAPI
	PriceAPI
	CustomerAPI
	SubscriptionAPI
	BalanceAPI
	WebhookEndpointAPI
	EventAPI

	// ForAccount returns a view whose every call carries "Stripe-Account: accountID" and acts on
	// that connected account, sharing the same budget. "" is the platform account.
	ForAccount(accountID string) Interface
	// AccountID returns the connected account the view acts on, "" for the platform account.
	AccountID() string
}

// LedgerAPI is what the relay's ledger feed reads to turn payment events into ledger records and to
// reconcile a paid payout against its balance transactions. It is not part of Interface (the
// operator's controllers never need it): Client.Ledger returns it, on the platform account or on a
// connected account. It never leaks stripe-go types; every call takes ctx.
type LedgerAPI interface {
	// GetCharge is GET /v1/charges/{id}: the charge with its invoice, customer and balance
	// transaction ids.
	GetCharge(ctx context.Context, id string) (*Charge, error)
	// ListRefundsForCharge is GET /v1/refunds?charge=… (every page, newest first): a charge's refunds,
	// which its events no longer carry (since API version 2022-11-15 a charge's refunds are only
	// included when expanded).
	ListRefundsForCharge(ctx context.Context, chargeID string) ([]Refund, error)
	// GetBalanceTransaction is GET /v1/balance_transactions/{id}; the source is not expanded
	// (SourceType, ChargeID, InvoiceID and CustomerID are "").
	GetBalanceTransaction(ctx context.Context, id string) (*BalanceTransaction, error)
	// ListBalanceTransactionsForPayout is GET /v1/balance_transactions?payout=… with data.source
	// expanded, every page: the transactions an automatic payout paid out, the payout's own
	// included. Stripe refuses the filter (an invalid-request error) for a manual payout.
	ListBalanceTransactionsForPayout(ctx context.Context, payoutID string) ([]BalanceTransaction, error)
}

// FindOptions narrow a lookup by tags.
type FindOptions struct {
	// CreatedSince skips objects created before this time less FindClockSkew. Pass the Kubernetes
	// object's creationTimestamp: its Stripe objects cannot be older, and a lookup before the first
	// create then costs one request however many objects the account holds. Zero: no limit.
	CreatedSince time.Time
}
