package emulator

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	stripe "github.com/stripe/stripe-go/v76"
)

// Rule 2: nested form parameters are decoded as Stripe decodes them, and the
// JSON objects are what stripe-go v76 decodes: id prefixes, object, created
// in unix seconds, livemode false, nested and nullable fields.
func TestWireFormatRoundTripsThroughStripeGo(t *testing.T) {
	e := newEnv(t, Options{})
	prod, err := e.sc.Products.New(&stripe.ProductParams{
		Name:     stripe.String("Gold"),
		Metadata: map[string]string{"k8s_uid": "u-1", "namespace/name": "ns/gold"},
		Features: []*stripe.ProductFeatureParams{{Name: stripe.String("SSO")}},
		Images:   []*string{stripe.String("https://img/1.png")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(prod.ID, "prod_") || prod.Object != "product" || prod.Livemode ||
		prod.Created != testEpoch.Unix() || prod.Updated != testEpoch.Unix() {
		t.Fatalf("product envelope: %+v", prod)
	}
	if prod.Metadata["namespace/name"] != "ns/gold" || len(prod.Features) != 1 || prod.Features[0].Name != "SSO" || prod.Images[0] != "https://img/1.png" {
		t.Fatalf("nested params lost: %+v", prod)
	}
	price, err := e.sc.Prices.New(&stripe.PriceParams{
		Product: stripe.String(prod.ID), Currency: stripe.String("EUR"), BillingScheme: stripe.String("tiered"),
		TiersMode: stripe.String("graduated"),
		Tiers: []*stripe.PriceTierParams{
			{UpTo: stripe.Int64(10), UnitAmount: stripe.Int64(500)},
			{UpToInf: stripe.Bool(true), UnitAmountDecimal: stripe.Float64(250.5), FlatAmount: stripe.Int64(100)},
		},
		Recurring: &stripe.PriceRecurringParams{Interval: stripe.String("month"), IntervalCount: stripe.Int64(3), UsageType: stripe.String("metered")},
		Expand:    []*string{stripe.String("tiers"), stripe.String("product")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(price.ID, "price_") || price.Currency != "eur" || price.Type != "recurring" ||
		price.BillingScheme != "tiered" || price.TiersMode != "graduated" || price.UnitAmount != 0 {
		t.Fatalf("price envelope: %+v", price)
	}
	if r := price.Recurring; r.Interval != "month" || r.IntervalCount != 3 || r.UsageType != "metered" || r.AggregateUsage != "sum" {
		t.Fatalf("recurring: %+v", r)
	}
	if len(price.Tiers) != 2 || price.Tiers[0].UpTo != 10 || price.Tiers[0].UnitAmount != 500 ||
		price.Tiers[1].UpTo != 0 || price.Tiers[1].UnitAmountDecimal != 250.5 || price.Tiers[1].FlatAmount != 100 {
		t.Fatalf("tiers: %+v %+v", price.Tiers[0], price.Tiers[1])
	}
	if price.Product == nil || price.Product.Name != "Gold" {
		t.Fatalf("expand[]=product: %+v", price.Product)
	}
}

// Rule 2: every response, success or error, carries a Request-Id.
func TestRequestIDOnEveryResponse(t *testing.T) {
	e := newEnv(t, Options{})
	for _, r := range []rawResp{
		e.do(t, "GET", "/v1/products", ""),
		e.do(t, "GET", "/v1/products/prod_missing", ""),
		e.do(t, "GET", "/v1/products", "", "Authorization", ""),
		e.do(t, "POST", "/v1/products", "nme=x"),
	} {
		if id := r.header.Get("Request-Id"); !strings.HasPrefix(id, "req_") {
			t.Fatalf("%d response without Request-Id: %v", r.status, r.header)
		}
	}
}

// Rule 2: Stripe's error bodies and status codes.
func TestErrorBodies(t *testing.T) {
	e := newEnv(t, Options{})
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(testKey+":"))
	cases := []struct {
		name    string
		path    string
		headers []string
		status  int
		code    string
		param   string
		msg     string
	}{
		{"missing key", "/v1/products", []string{"Authorization", ""}, 401, "", "",
			"You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/."},
		{"live key", "/v1/products", []string{"Authorization", "Bearer sk_live_abcdefgh1234"}, 401, "", "", "Invalid API Key provided: sk_live_********1234"},
		{"publishable key", "/v1/products", []string{"Authorization", "Bearer pk_test_abcdefgh1234"}, 401, "", "", "Invalid API Key provided: pk_test_********1234"},
		{"basic auth accepted", "/v1/products", []string{"Authorization", basic}, 200, "", "", ""},
		{"missing object", "/v1/products/prod_nope", nil, 404, "resource_missing", "id", "No such product: 'prod_nope'"},
		{"missing price", "/v1/prices/price_nope", nil, 404, "resource_missing", "price", "No such price: 'price_nope'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "GET", tc.path, "", tc.headers...)
			if r.status != tc.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if tc.status == 200 {
				return
			}
			if r.errField("type") != TypeInvalidRequest || r.errField("message") != tc.msg {
				t.Fatalf("body %s", r.body)
			}
			code, _ := r.errField("code").(string)
			param, _ := r.errField("param").(string)
			if code != tc.code || param != tc.param {
				t.Fatalf("code %q param %q: %s", code, param, r.body)
			}
			if tc.code != "" && r.errField("doc_url") != "https://stripe.com/docs/error-codes/"+strings.ReplaceAll(tc.code, "_", "-") {
				t.Fatalf("doc_url: %s", r.body)
			}
			if tc.status == http.StatusUnauthorized && r.header.Get("Www-Authenticate") == "" {
				t.Fatalf("401 without WWW-Authenticate")
			}
		})
	}
	// stripe-go decodes the same body into its typed error.
	_, err := e.sc.Products.Get("prod_nope", nil)
	wantStripeErr(t, err, 404, "invalid_request_error", "resource_missing", "id", "No such product: 'prod_nope'")
	if se := stripeErr(t, err); !strings.HasPrefix(se.RequestID, "req_") {
		t.Fatalf("stripe-go sees no request id: %+v", se)
	}
}
