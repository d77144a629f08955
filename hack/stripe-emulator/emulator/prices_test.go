package emulator

import (
	"net/http"
	"strings"
	"testing"

	stripe "github.com/stripe/stripe-go/v76"
)

// Rule 8: price creation rules, each as Stripe states it.
func TestPriceCreateRules(t *testing.T) {
	e := newEnv(t, Options{})
	prod := e.newProduct(t, "p", nil)
	base := "product=" + prod.ID + "&currency=usd"
	cases := []struct {
		name, form   string
		status       int
		param, inMsg string
	}{
		{"no amount", base, 400, "unit_amount", "Missing required param: unit_amount."},
		{"amount and decimal", base + "&unit_amount=1&unit_amount_decimal=1.5", 400, "unit_amount", "You may only specify one of these parameters: unit_amount, unit_amount_decimal."},
		{"negative amount", base + "&unit_amount=-1", 400, "unit_amount", "greater than or equal to 0"},
		{"bad decimal", base + "&unit_amount_decimal=1.1234567890123", 400, "unit_amount_decimal", "at most 12 decimal places"},
		{"unknown currency", "product=" + prod.ID + "&currency=xyz&unit_amount=1", 400, "currency", "Invalid currency: xyz"},
		{"no product", "currency=usd&unit_amount=1", 400, "product", "Missing required param: product."},
		{"product and product_data", base + "&unit_amount=1&product_data[name]=x", 400, "product", "You may only specify one of these parameters: product, product_data."},
		{"unknown product", "product=prod_nope&currency=usd&unit_amount=1", 404, "product", "No such product: 'prod_nope'"},
		{"tiers without tiered", base + "&unit_amount=1&tiers[0][up_to]=inf&tiers[0][unit_amount]=1", 400, "tiers", "billing_scheme"},
		{"tiered without tiers", base + "&billing_scheme=tiered&tiers_mode=volume&recurring[interval]=month", 400, "tiers", "Missing required param: tiers."},
		{"tiered without mode", base + "&billing_scheme=tiered&tiers[0][up_to]=inf&tiers[0][unit_amount]=1&recurring[interval]=month", 400, "tiers_mode", "Missing required param: tiers_mode."},
		{"tiered with unit_amount", base + "&billing_scheme=tiered&tiers_mode=volume&unit_amount=1&tiers[0][up_to]=inf&tiers[0][unit_amount]=1", 400, "unit_amount", "billing_scheme"},
		{"last tier bounded", base + "&billing_scheme=tiered&tiers_mode=volume&tiers[0][up_to]=10&tiers[0][unit_amount]=1", 400, "tiers[0][up_to]", "inf"},
		{"tiers out of order", base + "&billing_scheme=tiered&tiers_mode=volume&tiers[0][up_to]=10&tiers[0][unit_amount]=1&tiers[1][up_to]=5&tiers[1][unit_amount]=1&tiers[2][up_to]=inf&tiers[2][unit_amount]=1", 400, "tiers[1][up_to]", "ascending"},
		{"tier without amount", base + "&billing_scheme=tiered&tiers_mode=volume&tiers[0][up_to]=inf", 400, "tiers", "An entry in the tiers array is missing an amount."},
		{"tiers and transform", base + "&billing_scheme=tiered&tiers_mode=volume&tiers[0][up_to]=inf&tiers[0][unit_amount]=1&transform_quantity[divide_by]=2&transform_quantity[round]=up", 400, "tiers", "You may only specify one of these parameters: tiers, transform_quantity."},
		{"interval too long", base + "&unit_amount=1&recurring[interval]=month&recurring[interval_count]=37", 400, "recurring[interval_count]", "three years"},
		{"aggregate_usage on licensed", base + "&unit_amount=1&recurring[interval]=month&recurring[aggregate_usage]=max", 400, "recurring[aggregate_usage]", "metered"},
		{"custom amount recurring", base + "&custom_unit_amount[enabled]=true&recurring[interval]=month", 400, "custom_unit_amount", "one-time"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "POST", "/v1/prices", tc.form)
			msg, _ := r.errField("message").(string)
			if r.status != tc.status || r.errField("param") != tc.param || !strings.Contains(msg, tc.inMsg) {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		})
	}
	if n := countObjects(t, e, e.PlatformAccount(), "price"); n != 0 {
		t.Fatalf("%d prices created by refused requests", n)
	}
}

// Rule 8: what a valid price looks like: currency lowercased, decimals
// normalised, tiers and currency_options only when expanded, product_data
// creating the product.
func TestPriceShapes(t *testing.T) {
	e := newEnv(t, Options{})
	prod := e.newProduct(t, "p", nil)
	p := e.newPrice(t, &stripe.PriceParams{Product: stripe.String(prod.ID), Currency: stripe.String("USD"),
		UnitAmountDecimal: stripe.Float64(1250), Nickname: stripe.String("std"), TaxBehavior: stripe.String("exclusive")})
	if p.Currency != "usd" || p.UnitAmount != 1250 || p.UnitAmountDecimal != 1250 || p.Type != "one_time" || p.Nickname != "std" || p.TaxBehavior != "exclusive" {
		t.Fatalf("per-unit: %+v", p)
	}
	frac := e.do(t, "POST", "/v1/prices", "product="+prod.ID+"&currency=usd&unit_amount_decimal=12.50")
	if frac.obj["unit_amount"] != nil || frac.obj["unit_amount_decimal"] != "12.5" {
		t.Fatalf("fractional decimal: %s", frac.body)
	}
	tiered := e.do(t, "POST", "/v1/prices", "product="+prod.ID+"&currency=usd&billing_scheme=tiered&tiers_mode=graduated"+
		"&recurring[interval]=month&tiers[0][up_to]=5&tiers[0][flat_amount]=0&tiers[1][up_to]=inf&tiers[1][unit_amount]=100")
	if _, has := tiered.obj["tiers"]; has || tiered.status != 200 {
		t.Fatalf("tiers must be left out unless expanded: %s", tiered.body)
	}
	if _, has := tiered.obj["currency_options"]; has {
		t.Fatalf("currency_options must be left out unless expanded: %s", tiered.body)
	}
	got, err := e.sc.Prices.Get(tiered.obj["id"].(string), &stripe.PriceParams{Expand: []*string{stripe.String("tiers"), stripe.String("currency_options")}})
	if err != nil || len(got.Tiers) != 2 || got.Tiers[1].UnitAmount != 100 || got.CurrencyOptions["usd"] == nil {
		t.Fatalf("expanded tiers: %+v %v", got, err)
	}
	withData, err := e.sc.Prices.New(&stripe.PriceParams{Currency: stripe.String("eur"), UnitAmount: stripe.Int64(1),
		ProductData: &stripe.PriceProductDataParams{Name: stripe.String("made inline")}, Expand: []*string{stripe.String("product")}})
	if err != nil || withData.Product.Name != "made inline" || !strings.HasPrefix(withData.Product.ID, "prod_") {
		t.Fatalf("product_data: %+v %v", withData, err)
	}
	// Expanding what cannot be expanded is refused.
	r := e.do(t, "GET", "/v1/prices/"+p.ID, "expand[]=nickname")
	if r.status != 400 || r.errField("message") != "This property cannot be expanded (nickname)." {
		t.Fatalf("bad expand: %d %s", r.status, r.body)
	}
	// There is no DELETE for prices.
	if r := e.do(t, "DELETE", "/v1/prices/"+p.ID, ""); r.status != http.StatusNotFound {
		t.Fatalf("DELETE price: %d %s", r.status, r.body)
	}
}

// Rule 8: a lookup key names one price per account; transfer_lookup_key
// moves it, on create or update, and the old price reports the change.
func TestPriceLookupKeys(t *testing.T) {
	e := newEnv(t, Options{})
	prod := e.newProduct(t, "p", nil)
	withKey := func(amount int64) *stripe.PriceParams {
		pp := monthly(prod.ID, amount)
		pp.LookupKey = stripe.String("gold-monthly")
		return pp
	}
	old := e.newPrice(t, withKey(1000))
	_, err := e.sc.Prices.New(withKey(1200))
	wantStripeErr(t, err, 400, "invalid_request_error", "", "lookup_key", "A price (`"+old.ID+"`) already uses that lookup key.")

	moved := withKey(1200)
	moved.TransferLookupKey = stripe.Bool(true)
	newer := e.newPrice(t, moved)
	if newer.LookupKey != "gold-monthly" {
		t.Fatalf("new price lookup key: %q", newer.LookupKey)
	}
	if got, _ := e.sc.Prices.Get(old.ID, nil); got.LookupKey != "" {
		t.Fatalf("old price kept the key: %q", got.LookupKey)
	}
	evs := e.events(t, e.PlatformAccount())
	// Newest first: price.created (new), price.updated (old lost the key).
	if evs[0].Str("type") != "price.created" || evs[1].Str("type") != "price.updated" {
		t.Fatalf("events: %s, %s", evs[0].Str("type"), evs[1].Str("type"))
	}
	prev := evs[1].Map("data")["previous_attributes"].(map[string]any)
	if prev["lookup_key"] != "gold-monthly" {
		t.Fatalf("previous_attributes: %v", prev)
	}
	// Updating another price to the key is refused without the transfer flag.
	third := e.newPrice(t, monthly(prod.ID, 1500))
	_, err = e.sc.Prices.Update(third.ID, &stripe.PriceParams{LookupKey: stripe.String("gold-monthly")})
	wantStripeErr(t, err, 400, "invalid_request_error", "", "lookup_key", "A price (`"+newer.ID+"`) already uses that lookup key.")
	got, err := e.sc.Prices.Update(third.ID, &stripe.PriceParams{LookupKey: stripe.String("gold-monthly"), TransferLookupKey: stripe.Bool(true)})
	if err != nil || got.LookupKey != "gold-monthly" {
		t.Fatalf("transfer on update: %v %v", got, err)
	}
	it := e.sc.Prices.List(&stripe.PriceListParams{LookupKeys: []*string{stripe.String("gold-monthly")}})
	n := 0
	for it.Next() {
		n++
		if it.Price().ID != third.ID {
			t.Fatalf("lookup_keys list returned %s", it.Price().ID)
		}
	}
	if n != 1 {
		t.Fatalf("%d prices hold the key", n)
	}
}

// Rule 8: what a price update may change. Amounts, currency and recurrence
// are refused by the spec check (see TestSpecCheckRefusesInvalidRequests);
// tax_behavior may be set once from unspecified.
func TestPriceUpdateRules(t *testing.T) {
	e := newEnv(t, Options{})
	prod := e.newProduct(t, "p", nil)
	price := e.newPrice(t, monthly(prod.ID, 100))
	got, err := e.sc.Prices.Update(price.ID, &stripe.PriceParams{Nickname: stripe.String("n"), Metadata: map[string]string{"k": "v"}, TaxBehavior: stripe.String("exclusive")})
	if err != nil || got.Nickname != "n" || got.Metadata["k"] != "v" || got.TaxBehavior != "exclusive" || got.UnitAmount != 100 {
		t.Fatalf("update: %+v %v", got, err)
	}
	_, err = e.sc.Prices.Update(price.ID, &stripe.PriceParams{TaxBehavior: stripe.String("inclusive")})
	wantStripeErr(t, err, 400, "invalid_request_error", "", "tax_behavior", "")
	r := e.do(t, "POST", "/v1/prices/"+price.ID, "currency_options[eur][unit_amount]=90&expand[]=currency_options")
	opts, _ := r.obj["currency_options"].(map[string]any)
	if eur, _ := opts["eur"].(map[string]any); eur["unit_amount"] != float64(90) || opts["usd"] == nil {
		t.Fatalf("currency_options: %s", r.body)
	}
	r = e.do(t, "POST", "/v1/prices/"+price.ID, "currency_options[usd][unit_amount]=1")
	if r.status != 400 || r.errField("param") != "currency_options[usd]" {
		t.Fatalf("own currency via currency_options: %d %s", r.status, r.body)
	}
}
