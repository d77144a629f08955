package emulator

import (
	"testing"
	"time"

	stripe "github.com/stripe/stripe-go/v76"
)

// Helpers of the billing tests (customers, subscriptions, invoices,
// charges, refunds, payouts, balance).

// billingEnv is an emulator with a product "Gold" and a $10.00 monthly
// price.
type billingEnv struct {
	*env
	product *stripe.Product
	price   *stripe.Price
}

func newBillingEnv(t *testing.T) *billingEnv {
	t.Helper()
	e := newEnv(t, Options{})
	prod := e.newProduct(t, "Gold", nil)
	return &billingEnv{env: e, product: prod, price: e.newPrice(t, monthly(prod.ID, 1000))}
}

// customer creates a customer; card ("" for none) is a pm_card_* test id
// attached on create and made the default, as Stripe's docs show.
func (e *env) customer(t *testing.T, email, card string) *stripe.Customer {
	t.Helper()
	params := &stripe.CustomerParams{Email: stripe.String(email)}
	if card != "" {
		params.PaymentMethod = stripe.String(card)
		params.InvoiceSettings = &stripe.CustomerInvoiceSettingsParams{DefaultPaymentMethod: stripe.String(card)}
	}
	cus, err := e.sc.Customers.New(params)
	if err != nil {
		t.Fatal(err)
	}
	return cus
}

// subscribe creates a subscription of cus to prices (quantity 1 each) with
// extra settings applied by tweak (may be nil).
func (e *env) subscribe(t *testing.T, cus string, tweak func(*stripe.SubscriptionParams), prices ...string) (*stripe.Subscription, error) {
	t.Helper()
	params := &stripe.SubscriptionParams{Customer: stripe.String(cus)}
	for _, p := range prices {
		params.Items = append(params.Items, &stripe.SubscriptionItemsParams{Price: stripe.String(p)})
	}
	params.AddExpand("latest_invoice")
	if tweak != nil {
		tweak(params)
	}
	return e.sc.Subscriptions.New(params)
}

func (e *env) mustSubscribe(t *testing.T, cus string, tweak func(*stripe.SubscriptionParams), prices ...string) *stripe.Subscription {
	t.Helper()
	sub, err := e.subscribe(t, cus, tweak, prices...)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// eventTypes lists an account's event types, oldest first.
func (e *env) eventTypes(t *testing.T, account string) []string {
	t.Helper()
	evs := e.events(t, account)
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[len(evs)-1-i] = ev.Str("type")
	}
	return out
}

// eventTypesSince lists event types after the first n, oldest first.
func (e *env) eventTypesSince(t *testing.T, account string, n int) []string {
	t.Helper()
	all := e.eventTypes(t, account)
	if n > len(all) {
		return nil
	}
	return all[n:]
}

func countType(types []string, typ string) int {
	n := 0
	for _, x := range types {
		if x == typ {
			n++
		}
	}
	return n
}

// inOrder reports whether want appears in got as a subsequence.
func inOrder(got []string, want ...string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func (e *env) invoice(t *testing.T, id string) *stripe.Invoice {
	t.Helper()
	inv, err := e.sc.Invoices.Get(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func (e *env) subscription(t *testing.T, id string) *stripe.Subscription {
	t.Helper()
	sub, err := e.sc.Subscriptions.Get(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// pendingItems lists a customer's invoice items not yet invoiced.
func (e *env) pendingItems(t *testing.T, cus string) []*stripe.InvoiceItem {
	t.Helper()
	var out []*stripe.InvoiceItem
	it := e.sc.InvoiceItems.List(&stripe.InvoiceItemListParams{Customer: stripe.String(cus), Pending: stripe.Bool(true)})
	for it.Next() {
		out = append(out, it.InvoiceItem())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// secondsPerDay is one day in seconds.
const secondsPerDay = int64(24 * time.Hour / time.Second)
