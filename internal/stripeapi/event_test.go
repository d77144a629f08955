package stripeapi

import (
	"context"
	"testing"
	"time"
)

// TestListEventsSince pins the backfill's read: created[gte] carries the cursor, a connected
// account's view sends Stripe-Account, and each listed event reads like a delivered one (its request's
// idempotency key, data.object's metadata and customer survive the SDK's decoding).
func TestListEventsSince(t *testing.T) {
	f := newFakeStripe(t)
	ev := map[string]any{"id": "evt_1", "object": "event", "type": "invoice.paid", "created": 1700000100, "livemode": false,
		"api_version": APIVersion, "account": "acct_1",
		"request": map[string]any{"id": "req_1", "idempotency_key": "cloudip-create-x"},
		"data":    map[string]any{"object": map[string]any{"id": "in_1", "object": "invoice", "customer": "cus_1", "metadata": map[string]any{"k": "v"}}}}
	f.on("GET /v1/events", list("/v1/events", false, ev))
	c := newTestClient(t, f, nil)

	got, err := c.ForAccount("acct_1").ListEventsSince(context.Background(), time.Unix(1700000000, 0))
	if err != nil || len(got) != 1 {
		t.Fatalf("list: %v, %v", got, err)
	}
	req := f.last(t)
	if req.Form.Get("created[gte]") != "1700000000" || req.Header.Get("Stripe-Account") != "acct_1" {
		t.Errorf("list request form %v, Stripe-Account %q", req.Form, req.Header.Get("Stripe-Account"))
	}
	e := got[0]
	if e.ID != "evt_1" || e.Account != "acct_1" || e.ObjectCustomer != "cus_1" || e.ObjectMetadata["k"] != "v" ||
		!e.CausedByOperator() || e.RequestID != "req_1" || !e.Created.Equal(time.Unix(1700000100, 0)) {
		t.Errorf("listed event %+v", e)
	}
}
