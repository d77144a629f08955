package stripeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/event"
)

const resourceEvent = "event"

// EventAPI lists the account's events (Stripe keeps them 30 days), for the relay's backfill.
type EventAPI interface {
	// ListEventsSince returns every event created at or after since, newest first (Stripe's
	// order), each with its JSON as Stripe renders it (Event.Raw). A view made by ForAccount lists
	// that connected account's events.
	ListEventsSince(ctx context.Context, since time.Time) ([]Event, error)
}

// ListEventsSince implements EventAPI.
func (c *Client) ListEventsSince(ctx context.Context, since time.Time) ([]Event, error) {
	var out []Event
	err := c.call(ctx, resourceEvent, "list", "", func(ctx context.Context) error {
		lp := &stripe.EventListParams{ListParams: c.listParams(ctx, 0), CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: since.Unix()}}
		it := event.Client{B: c.backend, Key: c.key}.List(lp)
		for it.Next() {
			ev, err := eventFromStripe(it.Event())
			if err != nil {
				return err
			}
			out = append(out, *ev)
		}
		return sdkErr(it.Err())
	})
	return out, err
}

// eventFromStripe re-encodes stripe-go's event (data.object is kept raw) and reads it as the relay
// reads a delivered one, so a listed event and a delivered one are stored alike.
func eventFromStripe(se *stripe.Event) (*Event, error) {
	raw, err := json.Marshal(se)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", se.ID, err)
	}
	return DecodeEvent(raw)
}
