package stripeapi

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestCustomerLifecycle(t *testing.T) {
	f := newFakeStripe(t)
	cus := map[string]any{"id": "cus_1", "object": "customer", "name": "Tenant", "email": "billing@tenant.example", "created": 1700000000}
	f.on("POST /v1/customers", cus)
	f.on("POST /v1/customers/cus_1", cus)
	f.on("GET /v1/customers/cus_1", cus)
	f.on("GET /v1/customers/cus_gone", map[string]any{"id": "cus_gone", "object": "customer", "deleted": true})
	f.on("DELETE /v1/customers/cus_1", map[string]any{"id": "cus_1", "object": "customer", "deleted": true})
	f.on("GET /v1/customers", list("/v1/customers", false, cus))
	c := newTestClient(t, f, nil)
	ctx := context.Background()

	got, err := c.CreateCustomer(ctx, CustomerCreateParams{IdempotencyKey: "k", Tags: testTags(), Name: "Tenant", Email: "billing@tenant.example"})
	if err != nil || got.ID != "cus_1" || got.Email != "billing@tenant.example" {
		t.Fatalf("create: %+v, %v", got, err)
	}
	if form := f.last(t).Form; form.Get("name") != "Tenant" || form.Get("metadata[cloudip_uid]") == "" || form.Has("phone") {
		t.Errorf("create form %v", form)
	}
	if _, err := c.UpdateCustomer(ctx, "cus_1", CustomerUpdateParams{IdempotencyKey: "k2", Description: strPtrEmpty()}); err != nil {
		t.Fatal(err)
	}
	if form := f.last(t).Form; !form.Has("description") || form.Has("name") {
		t.Errorf("update form %v: want description cleared, nothing else", form)
	}
	if _, err := c.GetCustomer(ctx, "cus_1"); err != nil {
		t.Fatal(err)
	}
	// Stripe answers 200 {deleted: true} for a deleted customer: that is NotFound to us.
	if _, err := c.GetCustomer(ctx, "cus_gone"); !IsNotFound(err) {
		t.Errorf("deleted customer: err = %v, want NotFound", err)
	}
	if err := c.DeleteCustomer(ctx, "cus_1"); err != nil {
		t.Fatal(err)
	}
	found, err := c.ListCustomers(ctx, CustomerListParams{Email: "billing@tenant.example", CreatedSince: time.Unix(1700000000, 0)})
	if err != nil || len(found) != 1 {
		t.Fatalf("list: %v, %v", found, err)
	}
	if form := f.last(t).Form; form.Get("email") != "billing@tenant.example" || form.Get("created[gte]") != "1700000000" {
		t.Errorf("list form %v", form)
	}
}

var subscriptionJSON = map[string]any{
	"id": "sub_1", "object": "subscription", "status": "trialing", "customer": "cus_1",
	"collection_method": "charge_automatically", "created": 1700000000,
	"current_period_start": 1700000000, "current_period_end": 1702592000,
	"trial_start": 1700000000, "trial_end": 1701209600, "latest_invoice": "in_1",
	"items": map[string]any{"object": "list", "has_more": false, "url": "/v1/subscription_items", "data": []any{
		map[string]any{"id": "si_1", "object": "subscription_item", "quantity": 3,
			"price": map[string]any{"id": "price_m", "object": "price"}},
	}},
	"metadata": map[string]string{"cloudip_uid": "t-uid"},
}

func TestSubscriptionLifecycle(t *testing.T) {
	f := newFakeStripe(t)
	f.on("POST /v1/subscriptions", subscriptionJSON)
	f.on("POST /v1/subscriptions/sub_1", subscriptionJSON)
	f.on("GET /v1/subscriptions/sub_1", subscriptionJSON)
	f.on("DELETE /v1/subscriptions/sub_1", subscriptionJSON)
	f.on("GET /v1/subscriptions", list("/v1/subscriptions", false, subscriptionJSON))
	c := newTestClient(t, f, nil)
	ctx := context.Background()

	got, err := c.CreateSubscription(ctx, SubscriptionCreateParams{
		IdempotencyKey: "k", Tags: testTags(), CustomerID: "cus_1",
		Items:           []SubscriptionItemParams{{PriceID: "price_m", Quantity: 3}},
		TrialPeriodDays: 14, ProrationBehavior: "none", PaymentBehavior: "default_incomplete",
	})
	if err != nil {
		t.Fatal(err)
	}
	wantForm(t, f.last(t).Form, map[string]string{
		"customer": "cus_1", "items[0][price]": "price_m", "items[0][quantity]": "3",
		"trial_period_days": "14", "proration_behavior": "none", "payment_behavior": "default_incomplete",
	})
	if got.Status != "trialing" || got.CustomerID != "cus_1" || got.LatestInvoiceID != "in_1" ||
		len(got.Items) != 1 || got.Items[0] != (SubscriptionItem{ID: "si_1", PriceID: "price_m", Quantity: 3}) ||
		!got.TrialEnd.Equal(time.Unix(1701209600, 0)) {
		t.Errorf("subscription %+v", got)
	}

	qty := int64(5)
	_, err = c.UpdateSubscription(ctx, "sub_1", SubscriptionUpdateParams{
		IdempotencyKey: "k2", ProrationBehavior: "always_invoice",
		Items: []SubscriptionItemUpdate{{ID: "si_1", PriceID: "price_y", Quantity: &qty}, {ID: "si_old", Deleted: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantForm(t, f.last(t).Form, map[string]string{
		"items[0][id]": "si_1", "items[0][price]": "price_y", "items[0][quantity]": "5",
		"items[1][id]": "si_old", "items[1][deleted]": "true", "proration_behavior": "always_invoice",
	})

	if _, err := c.CancelSubscription(ctx, "sub_1", SubscriptionCancelParams{Prorate: true}); err != nil {
		t.Fatal(err)
	}
	if r := f.last(t); r.Method != "DELETE" || r.Header.Get("Idempotency-Key") != "" {
		t.Errorf("cancel: %s with Idempotency-Key %q", r.Method, r.Header.Get("Idempotency-Key"))
	}

	if _, err := c.ListSubscriptions(ctx, SubscriptionListParams{CustomerID: "cus_1"}); err != nil {
		t.Fatal(err)
	}
	if form := f.last(t).Form; form.Get("status") != "all" || form.Get("customer") != "cus_1" {
		t.Errorf("list form %v: want status=all", form)
	}
	found, err := c.FindSubscriptionsByTags(ctx, Tags{UID: "t-uid", NamespacedName: "x", Kind: ""}, FindOptions{})
	if err != nil || len(found) != 1 {
		t.Errorf("find: %v, %v", found, err)
	}
	if f.last(t).Form.Get("status") != "all" {
		t.Error("find by tags must see canceled subscriptions too")
	}
}

func TestWebhookEndpointLifecycle(t *testing.T) {
	f := newFakeStripe(t)
	we := map[string]any{
		"id": "we_1", "object": "webhook_endpoint", "url": "https://relay.example/stripe", "status": "enabled",
		"enabled_events": []string{"account.updated", "invoice.paid"}, "api_version": APIVersion, "created": 1700000000,
		"metadata": testTags().ToMetadata(),
	}
	created := map[string]any{"secret": "whsec_once"}
	for k, v := range we {
		created[k] = v
	}
	f.on("POST /v1/webhook_endpoints", created)
	f.on("GET /v1/webhook_endpoints/we_1", we)
	f.on("POST /v1/webhook_endpoints/we_1", we)
	f.on("DELETE /v1/webhook_endpoints/we_1", map[string]any{"id": "we_1", "object": "webhook_endpoint", "deleted": true})
	f.on("GET /v1/webhook_endpoints", list("/v1/webhook_endpoints", false, we))
	c := newTestClient(t, f, nil)
	ctx := context.Background()

	got, err := c.CreateWebhookEndpoint(ctx, WebhookEndpointCreateParams{
		IdempotencyKey: "k", Tags: testTags(), URL: "https://relay.example/stripe",
		EnabledEvents: []string{"account.updated", "invoice.paid"}, Connect: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Secret != "whsec_once" || got.Status != "enabled" || len(got.EnabledEvents) != 2 {
		t.Errorf("created %+v", got)
	}
	wantForm(t, f.last(t).Form, map[string]string{
		"url": "https://relay.example/stripe", "enabled_events[0]": "account.updated", "enabled_events[1]": "invoice.paid",
		"connect": "true", "api_version": APIVersion,
	})
	read, err := c.GetWebhookEndpoint(ctx, "we_1")
	if err != nil || read.Secret != "" {
		t.Errorf("get: %+v, %v", read, err)
	}
	if _, err := c.UpdateWebhookEndpoint(ctx, "we_1", WebhookEndpointUpdateParams{IdempotencyKey: "k2", Disabled: new(bool)}); err != nil {
		t.Fatal(err)
	}
	if form := f.last(t).Form; form.Get("disabled") != "false" || form.Has("url") || form.Has("enabled_events[0]") {
		t.Errorf("update form %v", form)
	}
	found, err := c.FindWebhookEndpointsByTags(ctx, testTags())
	if err != nil || len(found) != 1 || found[0].ID != "we_1" {
		t.Errorf("find: %+v, %v", found, err)
	}
	if err := c.DeleteWebhookEndpoint(ctx, "we_1"); err != nil {
		t.Fatal(err)
	}
}

// subscriptionWithInvoice is subscriptionJSON as Stripe answers with expand[]=latest_invoice.
func subscriptionWithInvoice() map[string]any {
	s := map[string]any{}
	for k, v := range subscriptionJSON {
		s[k] = v
	}
	s["status"] = "past_due"
	s["collection_method"] = "send_invoice"
	s["days_until_due"] = 30
	s["latest_invoice"] = map[string]any{
		"id": "in_1", "object": "invoice", "number": "ACME-0001", "status": "open", "amount_due": 4900,
		"currency": "eur", "due_date": 1702592000, "hosted_invoice_url": "https://invoice.stripe.com/i/secret",
	}
	return s
}

// Pins: Get, Create, Update and Cancel read the latest invoice in the same call (expand[]=
// latest_invoice), with the item's price and quantity and the days until due; List does not expand.
func TestSubscriptionReadsLatestInvoice(t *testing.T) {
	f := newFakeStripe(t)
	expanded := subscriptionWithInvoice()
	for _, r := range []string{"POST /v1/subscriptions", "GET /v1/subscriptions/sub_1", "POST /v1/subscriptions/sub_1", "DELETE /v1/subscriptions/sub_1"} {
		f.on(r, expanded)
	}
	f.on("GET /v1/subscriptions", list("/v1/subscriptions", false, subscriptionJSON))
	c := newTestClient(t, f, nil)
	ctx := context.Background()
	want := &InvoiceSummary{
		ID: "in_1", Number: "ACME-0001", Status: "open", AmountDue: 4900, Currency: "eur",
		DueDate: time.Unix(1702592000, 0).UTC(), HostedInvoiceURL: "https://invoice.stripe.com/i/secret",
	}
	check := func(op string, s *Subscription, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if got := f.last(t).Form; got.Get("expand[0]") != "latest_invoice" || got.Has("expand[1]") {
			t.Errorf("%s: expand[0] = %q, want latest_invoice only", op, got.Get("expand[0]"))
		}
		if s.LatestInvoice == nil || *s.LatestInvoice != *want || s.LatestInvoiceID != "in_1" {
			t.Errorf("%s: latest invoice %+v (id %q), want %+v", op, s.LatestInvoice, s.LatestInvoiceID, want)
		}
		if s.DaysUntilDue != 30 || s.CollectionMethod != "send_invoice" || s.Status != "past_due" {
			t.Errorf("%s: days until due %d, collection %q, status %q", op, s.DaysUntilDue, s.CollectionMethod, s.Status)
		}
		if len(s.Items) != 1 || s.Items[0] != (SubscriptionItem{ID: "si_1", PriceID: "price_m", Quantity: 3}) {
			t.Errorf("%s: items %+v", op, s.Items)
		}
	}
	s, err := c.CreateSubscription(ctx, SubscriptionCreateParams{
		IdempotencyKey: "k", Tags: testTags(), CustomerID: "cus_1", Items: []SubscriptionItemParams{{PriceID: "price_m", Quantity: 3}},
		CollectionMethod: "send_invoice", DaysUntilDue: 30,
	})
	check("create", s, err)
	wantForm(t, f.last(t).Form, map[string]string{"collection_method": "send_invoice", "days_until_due": "30"})
	s, err = c.GetSubscription(ctx, "sub_1")
	check("get", s, err)
	s, err = c.UpdateSubscription(ctx, "sub_1", SubscriptionUpdateParams{IdempotencyKey: "k2", CancelAtPeriodEnd: new(bool)})
	check("update", s, err)
	s, err = c.CancelSubscription(ctx, "sub_1", SubscriptionCancelParams{})
	check("cancel", s, err)

	listed, err := c.ListSubscriptions(ctx, SubscriptionListParams{CustomerID: "cus_1"})
	if err != nil || len(listed) != 1 {
		t.Fatalf("list: %v, %v", listed, err)
	}
	if f.last(t).Form.Has("expand[0]") || listed[0].LatestInvoice != nil || listed[0].LatestInvoiceID != "in_1" {
		t.Errorf("list: expand %v, latest invoice %+v, id %q: want the id only, unexpanded",
			f.last(t).Form.Get("expand[0]"), listed[0].LatestInvoice, listed[0].LatestInvoiceID)
	}
}

// Pins: an update sends collection_method and days_until_due only when set.
func TestUpdateSubscriptionCollection(t *testing.T) {
	f := newFakeStripe(t)
	f.on("POST /v1/subscriptions/sub_1", subscriptionWithInvoice())
	c := newTestClient(t, f, nil)
	ctx := context.Background()
	days := int64(14)
	if _, err := c.UpdateSubscription(ctx, "sub_1", SubscriptionUpdateParams{
		IdempotencyKey: "k1", CollectionMethod: "send_invoice", DaysUntilDue: &days, ProrationBehavior: "none",
	}); err != nil {
		t.Fatal(err)
	}
	wantForm(t, f.last(t).Form, map[string]string{"collection_method": "send_invoice", "days_until_due": "14", "proration_behavior": "none"})

	yes := true
	if _, err := c.UpdateSubscription(ctx, "sub_1", SubscriptionUpdateParams{IdempotencyKey: "k2", CancelAtPeriodEnd: &yes}); err != nil {
		t.Fatal(err)
	}
	form := f.last(t).Form
	if form.Get("cancel_at_period_end") != "true" {
		t.Errorf("cancel_at_period_end = %q", form.Get("cancel_at_period_end"))
	}
	for _, k := range []string{"collection_method", "days_until_due", "proration_behavior", "items[0][id]", "trial_end"} {
		if form.Has(k) {
			t.Errorf("update sent %s = %q, which was not set", k, form.Get(k))
		}
	}
}

// Pins: GET /v1/balance, on the connected account through ForAccount, summed by currency.
func TestGetBalance(t *testing.T) {
	f := newFakeStripe(t)
	f.on("GET /v1/balance", map[string]any{
		"object": "balance", "livemode": false,
		"available": []any{map[string]any{"amount": 1200, "currency": "eur"}, map[string]any{"amount": -200, "currency": "usd"}},
		"pending":   []any{map[string]any{"amount": 0, "currency": "eur"}},
	})
	c := newTestClient(t, f, nil)
	b, err := c.ForAccount("acct_1").GetBalance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req := f.last(t)
	if req.Method != "GET" || req.Header.Get("Stripe-Account") != "acct_1" || req.Header.Get("Idempotency-Key") != "" {
		t.Errorf("request %s %s, Stripe-Account %q, Idempotency-Key %q", req.Method, req.Path, req.Header.Get("Stripe-Account"), req.Header.Get("Idempotency-Key"))
	}
	if b.Available["eur"] != 1200 || b.Available["usd"] != -200 || b.Pending["eur"] != 0 || len(b.Pending) != 1 || b.IsZero() {
		t.Errorf("balance %+v", b)
	}
	if !(&Balance{Available: map[string]int64{"eur": 0}, Pending: map[string]int64{}}).IsZero() {
		t.Error("a balance of zeros is not IsZero")
	}
	if (&Balance{ConnectReserved: map[string]int64{"eur": 5}}).IsZero() {
		t.Error("a reserved amount is IsZero")
	}

	f.handle("GET /v1/balance", func(seen, int) reply {
		return stripeErr(403, "invalid_request_error", "account_invalid", "", "The provided key does not have access to account 'acct_2'")
	})
	_, err = c.ForAccount("acct_2").GetBalance(context.Background())
	if !IsAccountInvalid(err) || !strings.HasPrefix(err.Error(), "get balance on acct_2: stripe: 403") {
		t.Errorf("err = %v", err)
	}
}
