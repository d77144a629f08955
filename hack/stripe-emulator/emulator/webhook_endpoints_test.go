package emulator

import (
	"fmt"
	"strings"
	"testing"

	stripe "github.com/stripe/stripe-go/v76"
)

func (e *env) newEndpoint(t *testing.T, url string, connect bool, events ...string) *stripe.WebhookEndpoint {
	t.Helper()
	p := &stripe.WebhookEndpointParams{URL: stripe.String(url), EnabledEvents: stripe.StringSlice(events)}
	if connect {
		p.Connect = stripe.Bool(true)
	}
	we, err := e.sc.WebhookEndpoints.New(p)
	if err != nil {
		t.Fatal(err)
	}
	return we
}

// Rule: the endpoint secret (whsec_…) is returned only by create.
func TestWebhookSecretOnlyInCreateResponse(t *testing.T) {
	e := newEnv(t, Options{})
	we := e.newEndpoint(t, "https://example.com/hook", false, "*")
	if !strings.HasPrefix(we.Secret, "whsec_") || we.Status != "enabled" || we.Object != "webhook_endpoint" ||
		!strings.HasPrefix(we.ID, "we_") || len(we.EnabledEvents) != 1 || we.EnabledEvents[0] != "*" {
		t.Fatalf("created: %+v", we)
	}
	got, err := e.sc.WebhookEndpoints.Get(we.ID, nil)
	if err != nil || got.Secret != "" {
		t.Fatalf("retrieve shows the secret: %v %+v", err, got)
	}
	upd, err := e.sc.WebhookEndpoints.Update(we.ID, &stripe.WebhookEndpointParams{Description: stripe.String("d")})
	if err != nil || upd.Secret != "" || upd.Description != "d" {
		t.Fatalf("update: %v %+v", err, upd)
	}
	it := e.sc.WebhookEndpoints.List(&stripe.WebhookEndpointListParams{})
	for it.Next() {
		if it.WebhookEndpoint().Secret != "" {
			t.Fatal("list shows the secret")
		}
	}
}

// Rule: enabled_events must be Stripe event types (or `*`); there are no
// webhook_endpoint.* events.
func TestWebhookEnabledEventsAreStripeEventTypes(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		name   string
		events []string
		ok     bool
	}{
		{"wildcard", []string{"*"}, true},
		{"known types", []string{"product.created", "account.updated", "capability.updated"}, true},
		{"no webhook_endpoint events", []string{"webhook_endpoint.created"}, false},
		{"unknown type", []string{"product.exploded"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.sc.WebhookEndpoints.New(&stripe.WebhookEndpointParams{URL: stripe.String("https://example.com/h"),
				EnabledEvents: stripe.StringSlice(tc.events)})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			se := stripeErr(t, err)
			if se.HTTPStatusCode != 400 || !strings.HasPrefix(se.Param, "enabled_events") {
				t.Fatalf("got %d %q %s", se.HTTPStatusCode, se.Param, se.Msg)
			}
		})
	}
	// With the spec check off the emulator's own check refuses the same.
	off := newEnv(t, Options{DisableSpecCheck: true})
	_, err := off.sc.WebhookEndpoints.New(&stripe.WebhookEndpointParams{URL: stripe.String("https://example.com/h"),
		EnabledEvents: stripe.StringSlice([]string{"webhook_endpoint.updated"})})
	wantStripeErr(t, err, 400, "invalid_request_error", "", "enabled_events[0]", "")
	_, err = e.sc.WebhookEndpoints.New(&stripe.WebhookEndpointParams{URL: stripe.String("https://example.com/h")})
	wantStripeErr(t, err, 400, "invalid_request_error", "parameter_missing", "enabled_events", "")
}

// Rule: at most 16 webhook endpoints per account.
func TestWebhookEndpointLimitIs16(t *testing.T) {
	e := newEnv(t, Options{})
	for i := 0; i < 16; i++ {
		e.newEndpoint(t, fmt.Sprintf("https://example.com/%d", i), false, "*")
	}
	_, err := e.sc.WebhookEndpoints.New(&stripe.WebhookEndpointParams{URL: stripe.String("https://example.com/17"),
		EnabledEvents: stripe.StringSlice([]string{"*"})})
	wantStripeErr(t, err, 400, "invalid_request_error", "", "url", "")
	// The limit is per account: a connected account has its own 16.
	acct := seedConnectedAccount(t, e.Emulator)
	p := &stripe.WebhookEndpointParams{URL: stripe.String("https://example.com/c"), EnabledEvents: stripe.StringSlice([]string{"*"})}
	p.SetStripeAccount(acct)
	if _, err := e.sc.WebhookEndpoints.New(p); err != nil {
		t.Fatal(err)
	}
}

// Rule: update changes url, enabled_events, description, metadata and
// disabled (→ status); connect and api_version are create-only.
func TestWebhookEndpointUpdate(t *testing.T) {
	e := newEnv(t, Options{})
	we := e.newEndpoint(t, "https://example.com/a", false, "product.created")
	got, err := e.sc.WebhookEndpoints.Update(we.ID, &stripe.WebhookEndpointParams{Disabled: stripe.Bool(true),
		URL: stripe.String("https://example.com/b"), EnabledEvents: stripe.StringSlice([]string{"price.created"})})
	if err != nil || got.Status != "disabled" || got.URL != "https://example.com/b" || got.EnabledEvents[0] != "price.created" {
		t.Fatalf("update: %v %+v", err, got)
	}
	_, err = e.sc.WebhookEndpoints.Update(we.ID, &stripe.WebhookEndpointParams{Connect: stripe.Bool(true)})
	wantStripeErr(t, err, 400, "invalid_request_error", "parameter_unknown", "connect", "")
	_, err = e.sc.WebhookEndpoints.Update(we.ID, &stripe.WebhookEndpointParams{URL: stripe.String("ftp://x")})
	wantStripeErr(t, err, 400, "invalid_request_error", "", "url", "")
}

// Rule: deleting answers deleted:true and the endpoint is gone; endpoint
// changes emit no events (Stripe has no webhook_endpoint.* types).
func TestWebhookEndpointDeleteAndNoEvents(t *testing.T) {
	e := newEnv(t, Options{})
	we := e.newEndpoint(t, "https://example.com/a", false, "*")
	del, err := e.sc.WebhookEndpoints.Del(we.ID, nil)
	if err != nil || !del.Deleted {
		t.Fatalf("delete: %v %+v", err, del)
	}
	_, err = e.sc.WebhookEndpoints.Get(we.ID, nil)
	wantStripeErr(t, err, 404, "invalid_request_error", "resource_missing", "webhook_endpoint", "No such webhook endpoint: '"+we.ID+"'")
	if evs := e.events(t, e.PlatformAccount()); len(evs) != 0 {
		t.Fatalf("events: %v", evs)
	}
}
