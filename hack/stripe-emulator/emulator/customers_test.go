package emulator

import (
	"net/http"
	"strings"
	"testing"

	stripe "github.com/stripe/stripe-go/v76"
)

// A customer's shape, as stripe-go decodes it, and the create-with-card
// pattern of Stripe's docs (payment_method + invoice_settings naming the
// same test id).
func TestCustomerCreateShapeAndTestCard(t *testing.T) {
	e := newEnv(t, Options{})
	cus, err := e.sc.Customers.New(&stripe.CustomerParams{
		Email: stripe.String("Ann@Example.com"), Name: stripe.String("Ann"), Metadata: map[string]string{"tenant": "t1"},
		PaymentMethod:   stripe.String(TestCardVisa),
		InvoiceSettings: &stripe.CustomerInvoiceSettingsParams{DefaultPaymentMethod: stripe.String(TestCardVisa)},
		Address:         &stripe.AddressParams{Country: stripe.String("DE")},
	})
	if err != nil {
		t.Fatal(err)
	}
	pm := cus.InvoiceSettings.DefaultPaymentMethod
	if !strings.HasPrefix(cus.ID, "cus_") || cus.Email != "Ann@Example.com" || cus.Balance != 0 || cus.Currency != "" ||
		len(cus.InvoicePrefix) != 8 || cus.NextInvoiceSequence != 1 || cus.TaxExempt != "none" || cus.Address.Country != "DE" ||
		pm == nil || !strings.HasPrefix(pm.ID, "pm_") || pm.ID == TestCardVisa {
		t.Fatalf("customer %+v", cus)
	}
	got, err := e.sc.PaymentMethods.Get(pm.ID, nil)
	if err != nil || got.Customer.ID != cus.ID || got.Card.Last4 != "4242" || got.Type != "card" {
		t.Fatalf("payment method %+v %v", got, err)
	}
	if evs := e.eventTypes(t, e.PlatformAccount()); !inOrder(evs, "customer.created", "payment_method.attached") {
		t.Fatalf("events %v", evs)
	}
	expanded, err := e.sc.Customers.Get(cus.ID, &stripe.CustomerParams{Expand: []*string{stripe.String("invoice_settings.default_payment_method")}})
	if err != nil || expanded.InvoiceSettings.DefaultPaymentMethod.Card == nil {
		t.Fatalf("expand: %+v %v", expanded, err)
	}
	// A card that Stripe declines already when attached.
	_, err = e.sc.Customers.New(&stripe.CustomerParams{PaymentMethod: stripe.String(TestCardDeclined)})
	wantStripeErr(t, err, 402, "card_error", "card_declined", "", "Your card was declined.")
}

// Parameter rules of create and update.
func TestCustomerParamRules(t *testing.T) {
	e := newEnv(t, Options{})
	other := e.customer(t, "o@example.com", TestCardVisa)
	cus := e.customer(t, "c@example.com", "")
	cases := []struct {
		name, path, form string
		status           int
		param, inMsg     string
	}{
		{"invoice_prefix format", "/v1/customers", "invoice_prefix=ab", 400, "invoice_prefix", "3-12 uppercase"},
		{"shipping needs a name", "/v1/customers", "shipping[address][city]=Berlin&shipping[name]=", 400, "shipping[name]", "Missing required param"},
		{"unknown payment method", "/v1/customers", "payment_method=pm_nope", 404, "payment_method", "No such PaymentMethod: 'pm_nope'"},
		{"default payment method of another customer", "/v1/customers/" + cus.ID,
			"invoice_settings[default_payment_method]=" + other.InvoiceSettings.DefaultPaymentMethod.ID, 400,
			"invoice_settings[default_payment_method]", "The customer does not have a payment method with the ID"},
		{"not emulated parameter", "/v1/customers", "source=tok_visa", 400, "source", "does not implement"},
		{"unknown customer", "/v1/customers/cus_nope", "name=x", 404, "customer", "No such customer: 'cus_nope'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "POST", tc.path, tc.form)
			msg, _ := r.errField("message").(string)
			if r.status != tc.status || r.errField("param") != tc.param || !strings.Contains(msg, tc.inMsg) {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		})
	}
	// "" unsets; metadata merges.
	up, err := e.sc.Customers.Update(cus.ID, &stripe.CustomerParams{Name: stripe.String("Cee"), Metadata: map[string]string{"a": "1"}})
	if err != nil || up.Name != "Cee" || up.Metadata["a"] != "1" {
		t.Fatalf("update %+v %v", up, err)
	}
	r := e.do(t, "POST", "/v1/customers/"+cus.ID, "name=&email=")
	if r.status != 200 || r.obj["name"] != nil || r.obj["email"] != nil {
		t.Fatalf("unset: %s", r.body)
	}
}

// Deleting a customer cancels its subscriptions at once (their events
// first); the customer then answers {id, object, deleted: true} and is
// gone from lists and lookups.
func TestCustomerDeleteCancelsSubscriptions(t *testing.T) {
	e := newBillingEnv(t)
	cus := e.customer(t, "d@example.com", TestCardVisa)
	sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
	n := len(e.eventTypes(t, e.PlatformAccount()))
	del, err := e.sc.Customers.Del(cus.ID, nil)
	if err != nil || !del.Deleted || del.ID != cus.ID {
		t.Fatalf("delete %+v %v", del, err)
	}
	if evs := e.eventTypesSince(t, e.PlatformAccount(), n); !inOrder(evs, "customer.subscription.deleted", "customer.deleted") {
		t.Fatalf("events %v", evs)
	}
	if got := e.subscription(t, sub.ID); got.Status != "canceled" || got.CancellationDetails.Reason != "cancellation_requested" {
		t.Fatalf("subscription %s", got.Status)
	}
	r := e.do(t, "GET", "/v1/customers/"+cus.ID, "")
	if r.status != http.StatusOK || r.obj["deleted"] != true || r.obj["object"] != "customer" || len(r.obj) != 3 {
		t.Fatalf("deleted customer: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", "/v1/customers/"+cus.ID, "name=x"); r.status != http.StatusNotFound {
		t.Fatalf("update of a deleted customer: %d", r.status)
	}
	if r := e.do(t, "DELETE", "/v1/customers/"+cus.ID, ""); r.status != http.StatusNotFound {
		t.Fatalf("second delete: %d", r.status)
	}
	if it := e.sc.Customers.List(&stripe.CustomerListParams{}); it.Next() {
		t.Fatalf("listed: %s", it.Customer().ID)
	}
	_, err = e.subscribe(t, cus.ID, nil, e.price.ID)
	wantStripeErr(t, err, 404, "invalid_request_error", "resource_missing", "customer", "No such customer: '"+cus.ID+"'")
}

// The email filter is exact and case-sensitive (Stripe's docs); search
// finds customers by metadata.
func TestCustomerListAndSearch(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.customer(t, "ann@example.com", "")
	e.customer(t, "Ann@example.com", "")
	if _, err := e.sc.Customers.Update(a.ID, &stripe.CustomerParams{Metadata: map[string]string{"tenant": "acme"}}); err != nil {
		t.Fatal(err)
	}
	it := e.sc.Customers.List(&stripe.CustomerListParams{Email: stripe.String("ann@example.com")})
	if !it.Next() || it.Customer().ID != a.ID || it.Next() {
		t.Fatal("email filter")
	}
	res := e.sc.Customers.Search(&stripe.CustomerSearchParams{SearchParams: stripe.SearchParams{Query: "metadata['tenant']:'acme'"}})
	if !res.Next() || res.Customer().ID != a.ID || res.Next() {
		t.Fatalf("search: %v", res.Err())
	}
	r := e.do(t, "GET", "/v1/customers/"+a.ID, "expand[]=subscriptions")
	subs, _ := r.obj["subscriptions"].(map[string]any)
	if r.status != 200 || subs["object"] != "list" {
		t.Fatalf("expand subscriptions: %s", r.body)
	}
}

// Payment methods: attach (a test id attaches a fresh copy), detach clears
// the customer's default, a payment method belongs to one customer.
func TestPaymentMethodAttachDetach(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.customer(t, "a@example.com", TestCardVisa)
	b := e.customer(t, "b@example.com", "")
	pmID := a.InvoiceSettings.DefaultPaymentMethod.ID
	_, err := e.sc.PaymentMethods.Attach(pmID, &stripe.PaymentMethodAttachParams{Customer: stripe.String(b.ID)})
	wantStripeErr(t, err, 400, "invalid_request_error", "", "payment_method", "The payment method you provided has already been attached to a customer.")
	if _, err := e.sc.PaymentMethods.Detach(pmID, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.sc.Customers.Get(a.ID, nil); got.InvoiceSettings.DefaultPaymentMethod != nil {
		t.Fatal("detaching the default must clear it")
	}
	if _, err := e.sc.PaymentMethods.Attach(pmID, &stripe.PaymentMethodAttachParams{Customer: stripe.String(b.ID)}); err != nil {
		t.Fatal(err)
	}
	it := e.sc.PaymentMethods.List(&stripe.PaymentMethodListParams{Customer: stripe.String(b.ID)})
	if !it.Next() || it.PaymentMethod().ID != pmID {
		t.Fatalf("list: %v", it.Err())
	}
	_, err = e.sc.PaymentMethods.Attach("pm_card_nonsense", &stripe.PaymentMethodAttachParams{Customer: stripe.String(b.ID)})
	wantStripeErr(t, err, 404, "invalid_request_error", "resource_missing", "payment_method", "No such PaymentMethod: 'pm_card_nonsense'")
}
