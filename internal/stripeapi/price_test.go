package stripeapi

import (
	"context"
	"reflect"
	"testing"
	"time"
)

var tieredPriceJSON = map[string]any{
	"id": "price_t", "object": "price", "active": true, "currency": "eur", "product": "prod_1",
	"billing_scheme": "tiered", "tiers_mode": "graduated", "type": "recurring", "lookup_key": "gold-usage",
	"unit_amount": nil, "created": 1700000000,
	"tiers": []any{
		// As Stripe answers: each amount also as a decimal string, null where the amount is null.
		map[string]any{"up_to": 1000, "unit_amount": 0, "unit_amount_decimal": "0", "flat_amount": nil, "flat_amount_decimal": nil},
		map[string]any{"up_to": nil, "unit_amount": 2, "unit_amount_decimal": "2", "flat_amount": 500, "flat_amount_decimal": "500"},
	},
	"recurring": map[string]any{"interval": "month", "interval_count": 1, "usage_type": "metered", "aggregate_usage": "sum"},
	"metadata":  map[string]string{},
}

var flatPriceJSON = map[string]any{
	"id": "price_f", "object": "price", "active": true, "currency": "usd", "product": "prod_1",
	"billing_scheme": "per_unit", "unit_amount": 0, "type": "one_time", "created": 1700000000,
}

func TestCreateTieredPrice(t *testing.T) {
	f := newFakeStripe(t)
	f.on("POST /v1/prices", tieredPriceJSON)
	c := newTestClient(t, f, nil)
	got, err := c.CreatePrice(context.Background(), PriceCreateParams{
		IdempotencyKey: "k", Tags: Tags{UID: "u", NamespacedName: "ns/p", Kind: "BillingPlan", Component: "usage"},
		ProductID: "prod_1", Currency: "eur", TiersMode: "graduated",
		Tiers:             []PriceTier{{UpTo: 1000, UnitAmount: 0}, {UnitAmount: 2, FlatAmount: 500}},
		Recurring:         &Recurring{Interval: "month", UsageType: "metered", AggregateUsage: "sum"},
		LookupKey:         "gold-usage",
		TransferLookupKey: true,
		TaxBehavior:       "exclusive",
	})
	if err != nil {
		t.Fatal(err)
	}
	form := f.last(t).Form
	wantForm(t, form, map[string]string{
		"product": "prod_1", "currency": "eur", "billing_scheme": "tiered", "tiers_mode": "graduated",
		"tiers[0][up_to]": "1000", "tiers[0][unit_amount]": "0",
		"tiers[1][up_to]": "inf", "tiers[1][unit_amount]": "2", "tiers[1][flat_amount]": "500",
		"recurring[interval]": "month", "recurring[usage_type]": "metered", "recurring[aggregate_usage]": "sum",
		"lookup_key": "gold-usage", "transfer_lookup_key": "true", "tax_behavior": "exclusive",
		"expand[0]": "tiers", "metadata[cloudip_component]": "usage",
	})
	for _, k := range []string{"unit_amount", "tiers[0][flat_amount]", "recurring[interval_count]"} {
		if form.Has(k) {
			t.Errorf("sent %s = %q, want it absent", k, form.Get(k))
		}
	}
	want := &Price{
		ID: "price_t", ProductID: "prod_1", Active: true, Currency: "eur", BillingScheme: "tiered",
		TiersMode: "graduated", Tiers: []PriceTier{{UpTo: 1000, UnitAmountDecimal: "0", FlatAmountDecimal: "0"}, {UnitAmount: 2, FlatAmount: 500, UnitAmountDecimal: "2", FlatAmountDecimal: "500"}},
		Recurring: &Recurring{Interval: "month", IntervalCount: 1, UsageType: "metered", AggregateUsage: "sum"},
		LookupKey: "gold-usage", Type: "recurring", Metadata: map[string]string{},
		Created: time.Unix(1700000000, 0).UTC(),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("price:\n got %+v\nwant %+v", got, want)
	}
}

func TestFreeFlatPriceKeepsZeroAmount(t *testing.T) {
	f := newFakeStripe(t)
	f.on("POST /v1/prices", flatPriceJSON)
	c := newTestClient(t, f, nil)
	zero := int64(0)
	got, err := c.CreatePrice(context.Background(), PriceCreateParams{
		IdempotencyKey: "k", Tags: testTags(), ProductID: "prod_1", Currency: "usd", UnitAmount: &zero,
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.last(t).Form.Get("unit_amount") != "0" {
		t.Errorf("unit_amount 0 not sent: %v", f.last(t).Form)
	}
	if got.UnitAmount == nil || *got.UnitAmount != 0 || got.Recurring != nil {
		t.Errorf("price %+v: want UnitAmount 0 and no recurrence", got)
	}
}

func TestUpdatePriceSendsOnlyChanges(t *testing.T) {
	f := newFakeStripe(t)
	f.on("POST /v1/prices/price_f", flatPriceJSON)
	c := newTestClient(t, f, nil)
	_, err := c.UpdatePrice(context.Background(), "price_f", PriceUpdateParams{
		IdempotencyKey: "k", Active: new(bool), LookupKey: strPtrEmpty(),
	})
	if err != nil {
		t.Fatal(err)
	}
	form := f.last(t).Form
	if form.Get("active") != "false" || !form.Has("lookup_key") || form.Get("lookup_key") != "" {
		t.Errorf("update form %v: want active=false and lookup_key cleared", form)
	}
	for _, k := range []string{"nickname", "transfer_lookup_key", "tax_behavior", "currency", "unit_amount"} {
		if form.Has(k) {
			t.Errorf("update sent %s", k)
		}
	}
}

func strPtrEmpty() *string { s := ""; return &s }

func TestListPrices(t *testing.T) {
	f := newFakeStripe(t)
	page := func(from, to int, more bool) reply {
		var data []any
		for i := from; i > to; i-- {
			data = append(data, map[string]any{"id": "price_" + string(rune('a'+i)), "object": "price", "product": "prod_1"})
		}
		return reply{Body: list("/v1/prices", more, data...)}
	}
	f.handle("GET /v1/prices", func(req seen, _ int) reply {
		if req.Form.Get("starting_after") == "" {
			return page(9, 5, true) // j i h g
		}
		return page(5, 0, false) // f e d c b
	})
	c := newTestClient(t, f, nil)
	ctx := context.Background()

	all, err := c.ListPrices(ctx, PriceListParams{ProductID: "prod_1", LookupKeys: []string{"gold-monthly", "gold-yearly"}, Active: new(bool)})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 9 || all[0].ID != "price_j" || all[8].ID != "price_b" {
		t.Fatalf("listed %d prices %v", len(all), all)
	}
	reqs := f.seen()
	if len(reqs) != 2 || reqs[1].Form.Get("starting_after") != "price_g" {
		t.Fatalf("pagination requests: %+v", reqs)
	}
	first := reqs[0].Form
	for k, v := range map[string]string{
		"product": "prod_1", "lookup_keys[0]": "gold-monthly", "lookup_keys[1]": "gold-yearly",
		"active": "false", "expand[0]": "data.tiers", "limit": "100",
	} {
		if first.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, first.Get(k), v)
		}
	}

	// Limit stops without fetching pages it does not need, and sizes the page to it.
	limited, err := c.ListPrices(ctx, PriceListParams{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(limited) != 3 || len(f.seen()) != 3 || f.last(t).Form.Get("limit") != "3" {
		t.Errorf("Limit 3: got %d prices with %d requests in all (limit=%s)", len(limited), len(f.seen()), f.last(t).Form.Get("limit"))
	}
}

func TestFindPricesByTagsUsesListNeverSearch(t *testing.T) {
	f := newFakeStripe(t)
	tags := Tags{UID: "u", NamespacedName: "ns/p", Kind: "BillingPlan", Component: "monthly"}
	mine := map[string]any{"id": "price_mine", "object": "price", "metadata": tags.ToMetadata()}
	sibling := map[string]any{"id": "price_sibling", "object": "price", "metadata": Tags{UID: "u", NamespacedName: "ns/p", Kind: "BillingPlan", Component: "yearly"}.ToMetadata()}
	f.on("GET /v1/prices", list("/v1/prices", false, sibling, mine, map[string]any{"id": "price_untagged", "object": "price"}))
	c := newTestClient(t, f, nil)
	got, err := c.FindPricesByTags(context.Background(), tags, FindOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "price_mine" {
		t.Errorf("found %+v", got)
	}
	for _, r := range f.seen() {
		if r.Path != "/v1/prices" || r.Form.Has("query") {
			t.Errorf("lookup used %s %s %v", r.Method, r.Path, r.Form)
		}
	}
	if f.last(t).Form.Has("created[gte]") {
		t.Error("created filter sent without CreatedSince")
	}
}

// Pins: decimal amounts (sub-unit precision) are sent as unit_amount_decimal instead of unit_amount,
// in full precision, on flat and tiered prices, and come back canonical.
func TestCreateDecimalPrice(t *testing.T) {
	f := newFakeStripe(t)
	f.on("POST /v1/prices", map[string]any{
		"id": "price_d", "object": "price", "active": true, "currency": "eur", "product": "prod_1",
		"billing_scheme": "per_unit", "unit_amount": nil, "unit_amount_decimal": "0.05", "type": "one_time", "created": 1700000000,
	})
	c := newTestClient(t, f, nil)
	got, err := c.CreatePrice(context.Background(), PriceCreateParams{
		IdempotencyKey: "k", Tags: Tags{UID: "u", NamespacedName: "ns/p", Kind: "BillingPlan"},
		ProductID: "prod_1", Currency: "eur", UnitAmountDecimal: "0.05",
	})
	if err != nil {
		t.Fatal(err)
	}
	form := f.last(t).Form
	if form.Get("unit_amount_decimal") != "0.05" || form.Has("unit_amount") {
		t.Errorf("sent %v, want unit_amount_decimal=0.05 and no unit_amount", form)
	}
	if got.UnitAmountDecimal != "0.05" {
		t.Errorf("decoded decimal %q", got.UnitAmountDecimal)
	}
	if _, err := c.CreatePrice(context.Background(), PriceCreateParams{IdempotencyKey: "k2", Tags: Tags{UID: "u", NamespacedName: "ns/p", Kind: "BillingPlan"},
		ProductID: "prod_1", Currency: "eur", UnitAmountDecimal: "five"}); !IsTerminal(err) {
		t.Errorf("a malformed decimal should be refused before sending, got %v", err)
	}
}
