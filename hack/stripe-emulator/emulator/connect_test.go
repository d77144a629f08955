package emulator

import (
	"net/http"
	"testing"

	stripe "github.com/stripe/stripe-go/v76"
)

// Rule 3: Stripe-Account scopes every object to one account; an object of
// another account does not exist as far as the request is concerned.
func TestConnectScoping(t *testing.T) {
	e := newEnv(t, Options{})
	acct := seedConnectedAccount(t, e.Emulator)

	onPlatform := e.newProduct(t, "platform plan", nil)
	params := &stripe.ProductParams{Name: stripe.String("tenant plan")}
	params.SetStripeAccount(acct)
	onTenant, err := e.sc.Products.New(params)
	if err != nil {
		t.Fatal(err)
	}

	get := func(id, account string) error {
		p := &stripe.ProductParams{}
		if account != "" {
			p.SetStripeAccount(account)
		}
		_, err := e.sc.Products.Get(id, p)
		return err
	}
	if err := get(onTenant.ID, acct); err != nil {
		t.Fatalf("tenant product in its own account: %v", err)
	}
	if err := get(onPlatform.ID, e.PlatformAccount()); err != nil {
		t.Fatalf("Stripe-Account naming the platform itself: %v", err)
	}
	wantStripeErr(t, get(onTenant.ID, ""), 404, "invalid_request_error", "resource_missing", "id", "No such product: '"+onTenant.ID+"'")
	wantStripeErr(t, get(onPlatform.ID, acct), 404, "invalid_request_error", "resource_missing", "id", "")

	// Lists are scoped too.
	lp := &stripe.ProductListParams{}
	lp.SetStripeAccount(acct)
	it := e.sc.Products.List(lp)
	var ids []string
	for it.Next() {
		ids = append(ids, it.Product().ID)
	}
	if len(ids) != 1 || ids[0] != onTenant.ID {
		t.Fatalf("tenant list: %v", ids)
	}

	// A price cannot point at a product of another account.
	pp := monthly(onPlatform.ID, 100)
	pp.SetStripeAccount(acct)
	_, err = e.sc.Prices.New(pp)
	wantStripeErr(t, err, 404, "invalid_request_error", "resource_missing", "product", "No such product: '"+onPlatform.ID+"'")

	// Events of a connected account carry `account` and live in that
	// account; platform events do not.
	tenantEvents := e.events(t, acct)
	if len(tenantEvents) != 1 || tenantEvents[0].Str("account") != acct {
		t.Fatalf("tenant events: %v", tenantEvents)
	}
	for _, ev := range e.events(t, e.PlatformAccount()) {
		if _, has := ev["account"]; has {
			t.Fatalf("platform event with account: %v", ev)
		}
	}
}

// Rule 3: a Stripe-Account the platform has no access to is refused the way
// Stripe refuses it.
func TestUnknownConnectedAccount(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.do(t, "GET", "/v1/products", "", "Stripe-Account", "acct_doesnotexist")
	if r.status != http.StatusForbidden || r.errField("code") != "account_invalid" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	want := "The provided key 'sk_test_*********ests' does not have access to account 'acct_doesnotexist' (or that account does not exist). Application access may have been revoked."
	if r.errField("message") != want {
		t.Fatalf("message %q\nwant    %q", r.errField("message"), want)
	}
}
