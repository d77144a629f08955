package emulator

import (
	"net/http"
	"testing"

	stripe "github.com/stripe/stripe-go/v76"
)

// Rule 1: the OpenAPI spec the requests are checked against is the version
// stripe-go pins. A stripe-go upgrade that changes stripe.APIVersion fails
// here until stripe-mock (and so the spec) is bumped to match.
func TestSpecVersionMatchesStripeGo(t *testing.T) {
	if stripe.APIVersion != "2023-10-16" {
		t.Fatalf("stripe-go pins API version %s; bump stripe-mock to the release carrying that spec, then update this test", stripe.APIVersion)
	}
	v, err := SpecVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v != stripe.APIVersion {
		t.Fatalf("stripe-mock spec is %s, stripe-go speaks %s", v, stripe.APIVersion)
	}
}

// Rule 1: every request first goes through stripe-mock; what it refuses is
// answered with Stripe's error body naming the parameter, and nothing runs.
func TestSpecCheckRefusesInvalidRequests(t *testing.T) {
	e := newEnv(t, Options{})
	prod := e.newProduct(t, "Plan", nil)
	price := e.newPrice(t, monthly(prod.ID, 1000))
	cases := []struct {
		name, method, path, form string
		headers                  []string
		status                   int
		code, param, msg         string
	}{
		{"unknown param", "POST", "/v1/products", "name=x&nme=y", nil, 400, "parameter_unknown", "nme", "Received unknown parameter: nme"},
		{"unknown nested param", "POST", "/v1/prices", "currency=usd&unit_amount=1&product=" + prod.ID + "&recurring[interval]=month&recurring[every]=2",
			nil, 400, "parameter_unknown", "recurring[every]", "Received unknown parameter: recurring[every]"},
		{"missing required param", "POST", "/v1/products", "description=x", nil, 400, "parameter_missing", "name", "Missing required param: name."},
		{"bad enum", "POST", "/v1/prices", "currency=usd&unit_amount=1&product=" + prod.ID + "&recurring[interval]=fortnight",
			nil, 400, "", "recurring[interval]", "Invalid recurring[interval]: must be one of day, month, week, or year"},
		{"bad integer", "POST", "/v1/prices", "currency=usd&unit_amount=ten&product=" + prod.ID, nil, 400, "", "unit_amount", "Invalid integer: ten"},
		{"price amount is immutable", "POST", "/v1/prices/" + price.ID, "unit_amount=2000", nil, 400, "parameter_unknown", "unit_amount", "Received unknown parameter: unit_amount"},
		{"price currency is immutable", "POST", "/v1/prices/" + price.ID, "currency=eur", nil, 400, "parameter_unknown", "currency", ""},
		{"price recurrence is immutable", "POST", "/v1/prices/" + price.ID, "recurring[interval]=year", nil, 400, "parameter_unknown", "recurring", ""},
		{"unknown list filter", "GET", "/v1/products", "colour=red", nil, 400, "parameter_unknown", "colour", ""},
		{"other API version", "GET", "/v1/products", "", []string{"Stripe-Version", "2020-08-27"}, 400, "", "", ""},
		{"unknown URL", "GET", "/v1/widgets", "", nil, 404, "", "", "Unrecognized request URL (GET: /v1/widgets). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.method, tc.path, tc.form, tc.headers...)
			if r.status != tc.status || r.errField("type") != TypeInvalidRequest {
				t.Fatalf("got %d %s", r.status, r.body)
			}
			if code, _ := r.errField("code").(string); code != tc.code {
				t.Fatalf("code %q, want %q: %s", code, tc.code, r.body)
			}
			if param, _ := r.errField("param").(string); param != tc.param {
				t.Fatalf("param %q, want %q: %s", param, tc.param, r.body)
			}
			if tc.msg != "" && r.errField("message") != tc.msg {
				t.Fatalf("message %q, want %q", r.errField("message"), tc.msg)
			}
		})
	}
	// Nothing the spec refused reached the store: one product, one price,
	// and the price still costs what it did.
	got, err := e.sc.Prices.Get(price.ID, nil)
	if err != nil || got.UnitAmount != 1000 || got.Currency != "usd" {
		t.Fatalf("price changed: %+v %v", got, err)
	}
	if n := len(e.events(t, e.PlatformAccount())); n != 2 {
		t.Fatalf("%d events, want 2 (product.created, price.created)", n)
	}
}

// Rule 1: the spec check is what refuses unknown parameters; with it off
// the emulator's own rules still apply but unknown parameters pass.
func TestSpecCheckCanBeDisabled(t *testing.T) {
	e := newEnv(t, Options{DisableSpecCheck: true})
	if r := e.do(t, "POST", "/v1/products", "name=x&nme=y"); r.status != http.StatusOK {
		t.Fatalf("with the spec check off an unknown param is ignored; got %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", "/v1/products", "description=x"); r.status != http.StatusBadRequest || r.errField("param") != "name" {
		t.Fatalf("the handler still requires name; got %d %s", r.status, r.body)
	}
}

// Rule 1: an endpoint in Stripe's spec that the emulator does not implement
// is refused clearly, not silently answered with fixture data.
func TestUnimplementedEndpointIsExplicit(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.do(t, "GET", "/v1/coupons", "")
	if r.status != http.StatusNotFound {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if msg, _ := r.errField("message").(string); msg == "" || !containsAll(msg, "stripe-emulator", "GET: /v1/coupons") {
		t.Fatalf("message does not explain: %q", msg)
	}
}
