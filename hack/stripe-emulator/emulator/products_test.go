package emulator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

// Rule 8: product create, retrieve, update, list and delete.
func TestProductLifecycle(t *testing.T) {
	e := newEnv(t, Options{})
	prod, err := e.sc.Products.New(&stripe.ProductParams{
		Name: stripe.String("Gold"), Description: stripe.String("the gold plan"), URL: stripe.String("https://x"),
		Metadata: map[string]string{"a": "1", "b": "2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	upd, err := e.sc.Products.Update(prod.ID, &stripe.ProductParams{
		Name: stripe.String("Gold+"), Description: stripe.String(""), Metadata: map[string]string{"a": "", "c": "3"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if upd.Name != "Gold+" || upd.Description != "" || upd.URL != "https://x" || upd.Updated != testEpoch.Add(time.Minute).Unix() || upd.Created != prod.Created {
		t.Fatalf("update: %+v", upd)
	}
	if len(upd.Metadata) != 2 || upd.Metadata["b"] != "2" || upd.Metadata["c"] != "3" {
		t.Fatalf("metadata merge (k= removes, others kept): %v", upd.Metadata)
	}
	r := e.do(t, "GET", "/v1/products/"+prod.ID, "")
	if r.obj["description"] != nil {
		t.Fatalf("description= should unset to null: %s", r.body)
	}
	// metadata= clears every key.
	if r := e.do(t, "POST", "/v1/products/"+prod.ID, "metadata="); len(r.obj["metadata"].(map[string]any)) != 0 {
		t.Fatalf("metadata= : %s", r.body)
	}
	del, err := e.sc.Products.Del(prod.ID, nil)
	if err != nil || !del.Deleted || del.ID != prod.ID {
		t.Fatalf("delete: %+v %v", del, err)
	}
	_, err = e.sc.Products.Get(prod.ID, nil)
	wantStripeErr(t, err, 404, "invalid_request_error", "resource_missing", "id", "No such product: '"+prod.ID+"'")
}

// Rule 8: a product with prices cannot be deleted (archive it instead).
func TestProductWithPricesCannotBeDeleted(t *testing.T) {
	e := newEnv(t, Options{})
	prod := e.newProduct(t, "Gold", nil)
	price := e.newPrice(t, monthly(prod.ID, 100))
	// Archiving the price does not help: it still exists.
	if _, err := e.sc.Prices.Update(price.ID, &stripe.PriceParams{Active: stripe.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	_, err := e.sc.Products.Del(prod.ID, nil)
	wantStripeErr(t, err, 400, "invalid_request_error", "", "", "This product cannot be deleted because it has one or more user-created prices.")
	if _, err := e.sc.Products.Update(prod.ID, &stripe.ProductParams{Active: stripe.Bool(false)}); err != nil {
		t.Fatalf("archiving instead: %v", err)
	}
}

// Rule 8: custom ids are allowed once.
func TestProductCustomID(t *testing.T) {
	e := newEnv(t, Options{})
	p := &stripe.ProductParams{Name: stripe.String("x"), ID: stripe.String("gold-plan")}
	if got, err := e.sc.Products.New(p); err != nil || got.ID != "gold-plan" {
		t.Fatalf("custom id: %v %v", got, err)
	}
	_, err := e.sc.Products.New(p)
	wantStripeErr(t, err, 400, "invalid_request_error", "resource_already_exists", "id", "Product already exists.")
}

// Rule 8: default_price — set at creation through default_price_data,
// changed only to an active price of the same product, unset with "".
func TestProductDefaultPrice(t *testing.T) {
	e := newEnv(t, Options{})
	prod, err := e.sc.Products.New(&stripe.ProductParams{
		Name:             stripe.String("Gold"),
		DefaultPriceData: &stripe.ProductDefaultPriceDataParams{Currency: stripe.String("usd"), UnitAmount: stripe.Int64(500)},
		Expand:           []*string{stripe.String("default_price")},
	})
	if err != nil {
		t.Fatal(err)
	}
	dp := prod.DefaultPrice
	if dp == nil || dp.UnitAmount != 500 || dp.Product.ID != prod.ID {
		t.Fatalf("default_price_data: %+v", dp)
	}
	other := e.newProduct(t, "Other", nil)
	foreign := e.newPrice(t, monthly(other.ID, 1))
	_, err = e.sc.Products.Update(prod.ID, &stripe.ProductParams{DefaultPrice: stripe.String(foreign.ID)})
	wantStripeErr(t, err, 400, "invalid_request_error", "", "default_price", "")
	_, err = e.sc.Products.Update(prod.ID, &stripe.ProductParams{DefaultPrice: stripe.String("price_nope")})
	wantStripeErr(t, err, 404, "invalid_request_error", "resource_missing", "default_price", "No such price: 'price_nope'")

	// The default price cannot be archived until it is unset.
	_, err = e.sc.Prices.Update(dp.ID, &stripe.PriceParams{Active: stripe.Bool(false)})
	wantStripeErr(t, err, 400, "invalid_request_error", "", "active", "This price cannot be archived because it is the default price of its product.")
	second := e.newPrice(t, monthly(prod.ID, 700))
	got, err := e.sc.Products.Update(prod.ID, &stripe.ProductParams{DefaultPrice: stripe.String(second.ID)})
	if err != nil || got.DefaultPrice.ID != second.ID {
		t.Fatalf("switch default price: %v %v", got, err)
	}
	if _, err := e.sc.Prices.Update(dp.ID, &stripe.PriceParams{Active: stripe.Bool(false)}); err != nil {
		t.Fatalf("archive the former default: %v", err)
	}
	if r := e.do(t, "POST", "/v1/products/"+prod.ID, "default_price="); r.status != 200 || r.obj["default_price"] != nil {
		t.Fatalf("unset default_price: %s", r.body)
	}
}

// Rule 8/9: an update that changes nothing emits no event and leaves
// `updated` alone (the operator's steady state must be silent).
func TestNoOpUpdateIsSilent(t *testing.T) {
	e := newEnv(t, Options{})
	prod := e.newProduct(t, "Gold", map[string]string{"a": "1"})
	e.clock.Advance(time.Hour)
	got, err := e.sc.Products.Update(prod.ID, &stripe.ProductParams{Name: stripe.String("Gold"), Metadata: map[string]string{"a": "1"}})
	if err != nil || got.Updated != prod.Updated {
		t.Fatalf("no-op update: %+v %v", got, err)
	}
	if n := len(e.events(t, e.PlatformAccount())); n != 1 {
		t.Fatalf("%d events, want only product.created", n)
	}
}

// Rule 8: Stripe's metadata limits (50 keys, 40-character keys, 500-character
// values, no square brackets) and product list limits on images/features.
func TestProductFieldLimits(t *testing.T) {
	e := newEnv(t, Options{})
	var many []string
	for i := 0; i < 51; i++ {
		many = append(many, fmt.Sprintf("metadata[k%d]=v", i))
	}
	cases := []struct{ name, form, param string }{
		{"51 keys", "name=x&" + strings.Join(many, "&"), "metadata"},
		{"long key", "name=x&metadata[" + strings.Repeat("k", 41) + "]=v", "metadata[" + strings.Repeat("k", 41) + "]"},
		{"long value", "name=x&metadata[k]=" + strings.Repeat("v", 501), "metadata[k]"},
		{"9 images", "name=x" + strings.Repeat("&images[]=https://i", 9), "images"},
	}
	for _, tc := range cases {
		r := e.do(t, "POST", "/v1/products", tc.form)
		if r.status != 400 || r.errField("param") != tc.param {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
	if r := e.do(t, "POST", "/v1/products", "name=x&"+strings.Join(many[:50], "&")); r.status != 200 {
		t.Fatalf("50 keys are allowed: %d %s", r.status, r.body)
	}
	// Lists expand the default price per item.
	e.do(t, "POST", "/v1/products", "name=y&default_price_data[currency]=usd&default_price_data[unit_amount]=5")
	r := e.do(t, "GET", "/v1/products", "limit=1&expand[]=data.default_price")
	dp, _ := r.obj["data"].([]any)[0].(map[string]any)["default_price"].(map[string]any)
	if dp["unit_amount"] != float64(5) {
		t.Fatalf("data.default_price: %s", r.body)
	}
}
