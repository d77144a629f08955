package stripeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/form"
)

// resourceRaw labels the raw reads in metrics (the mirror's listings and refetches).
const resourceRaw = "object"

// RawPage is one page of a Stripe list endpoint, its objects as Stripe sent them.
type RawPage struct {
	Data    []json.RawMessage
	HasMore bool
	// At is Stripe's clock when it answered (the Date header, second precision): the page shows
	// every change made before this second.
	At time.Time
}

// RawObject is one object as Stripe sent it.
type RawObject struct {
	JSON json.RawMessage
	// At is Stripe's clock when it answered (the Date header).
	At time.Time
}

// RawReader reads Stripe objects as JSON, for copies that must hold exactly what Stripe holds (the
// mirror): the typed calls keep only the fields the operator uses.
type RawReader interface {
	// ListRaw reads one page of up to 100 objects of the list endpoint at path (/v1/customers), with
	// filters as query parameters, after the object id startingAfter ("" for the first page). Stripe
	// lists newest first.
	ListRaw(ctx context.Context, path string, filters url.Values, startingAfter string) (RawPage, error)
	// GetRaw reads the object at path (/v1/customers/cus_123).
	GetRaw(ctx context.Context, path string) (RawObject, error)
}

var _ RawReader = (*Client)(nil)

// rawPage receives a list page; APIResource keeps the response (its Date header).
type rawPage struct {
	stripe.APIResource
	Data    []json.RawMessage `json:"data"`
	HasMore bool              `json:"has_more"`
}

// rawObject receives one object.
type rawObject struct {
	stripe.APIResource
}

// ListRaw implements RawReader.
func (c *Client) ListRaw(ctx context.Context, path string, filters url.Values, startingAfter string) (RawPage, error) {
	if !strings.HasPrefix(path, "/v1/") {
		return RawPage{}, invalidParams("list path %q must start with /v1/", path)
	}
	var out RawPage
	err := c.call(ctx, resourceRaw, "list", path, func(ctx context.Context) error {
		values := &form.Values{}
		values.Add("limit", "100")
		if startingAfter != "" {
			values.Add("starting_after", startingAfter)
		}
		for key, vs := range filters {
			for _, v := range vs {
				values.Add(key, v)
			}
		}
		params := c.params(ctx, "")
		var page rawPage
		if err := c.backend.CallRaw(http.MethodGet, path, c.key, values, &params, &page); err != nil {
			return sdkErr(err)
		}
		out = RawPage{Data: page.Data, HasMore: page.HasMore, At: responseTime(page.LastResponse)}
		return nil
	})
	return out, err
}

// GetRaw implements RawReader.
func (c *Client) GetRaw(ctx context.Context, path string) (RawObject, error) {
	if !strings.HasPrefix(path, "/v1/") {
		return RawObject{}, invalidParams("object path %q must start with /v1/", path)
	}
	var out RawObject
	err := c.call(ctx, resourceRaw, "get", path, func(ctx context.Context) error {
		params := c.params(ctx, "")
		var obj rawObject
		if err := c.backend.CallRaw(http.MethodGet, path, c.key, &form.Values{}, &params, &obj); err != nil {
			return sdkErr(err)
		}
		if obj.LastResponse == nil || !json.Valid(obj.LastResponse.RawJSON) {
			return fmt.Errorf("stripeapi: GET %s: the response is not JSON", path)
		}
		out = RawObject{JSON: json.RawMessage(obj.LastResponse.RawJSON), At: responseTime(obj.LastResponse)}
		return nil
	})
	return out, err
}

// responseTime is the response's Date header: Stripe's clock, which orders its answers against its
// events' created times (ours may be off). Without one (a proxy that drops it), the local clock.
func responseTime(r *stripe.APIResponse) time.Time {
	if r != nil {
		if at, err := http.ParseTime(r.Header.Get("Date")); err == nil {
			return at
		}
	}
	return time.Now().Truncate(time.Second)
}

// RawForAccount returns the raw reader of a connected account (Stripe-Account: accountID), sharing
// c's budget; "" is the platform account.
func (c *Client) RawForAccount(accountID string) RawReader {
	return &Client{conn: c.conn, account: strings.TrimSpace(accountID)}
}
