package emulator

import (
	"net/http"
	"strings"
	"testing"

	stripe "github.com/stripe/stripe-go/v76"
)

// A finalized subscription invoice as stripe-go decodes it: number from
// the customer's prefix and sequence, status transitions, amounts, lines.
func TestInvoiceShapeAndNumbering(t *testing.T) {
	e := newBillingEnv(t)
	cus := e.customer(t, "n@example.com", TestCardVisa)
	sub := e.mustSubscribe(t, cus.ID, func(p *stripe.SubscriptionParams) {
		p.Metadata = map[string]string{"tenant": "acme"}
	}, e.price.ID)
	inv := e.invoice(t, sub.LatestInvoice.ID)
	now := e.Now().Unix()
	if inv.Number != cus.InvoicePrefix+"-0001" || inv.StatusTransitions.FinalizedAt != now || inv.StatusTransitions.PaidAt != now ||
		inv.Total != 1000 || inv.Subtotal != 1000 || inv.AmountDue != 1000 || inv.AmountRemaining != 0 || inv.Currency != "usd" ||
		inv.CustomerEmail != "n@example.com" || !inv.Paid || inv.HostedInvoiceURL == "" || inv.SubscriptionDetails.Metadata["tenant"] != "acme" {
		t.Fatalf("invoice %+v", inv)
	}
	line := inv.Lines.Data[0]
	if len(inv.Lines.Data) != 1 || line.Type != "subscription" || line.Description != "1 × Gold (at $10.00 / month)" ||
		line.Price.ID != e.price.ID || line.SubscriptionItem.ID != sub.Items.Data[0].ID || line.Period.Start != now ||
		line.Period.End != sub.CurrentPeriodEnd || line.Quantity != 1 || line.Metadata["tenant"] != "acme" || !strings.HasPrefix(line.ID, "il_") {
		t.Fatalf("line %+v", line)
	}
	second := e.mustSubscribe(t, cus.ID, nil, e.newPrice(t, monthly(e.product.ID, 500)).ID)
	if second.LatestInvoice.Number != cus.InvoicePrefix+"-0002" {
		t.Fatalf("second number %s", second.LatestInvoice.Number)
	}
	if c, _ := e.sc.Customers.Get(cus.ID, nil); c.NextInvoiceSequence != 3 || c.Currency != "usd" {
		t.Fatalf("customer %+v", c)
	}
	it := e.sc.Invoices.ListLines(&stripe.InvoiceListLinesParams{Invoice: stripe.String(inv.ID)})
	if !it.Next() || it.InvoiceLineItem().ID != line.ID || it.Next() {
		t.Fatalf("lines endpoint: %v", it.Err())
	}
}

// List filters: customer, subscription, status, collection_method; search
// by status.
func TestInvoiceListFilters(t *testing.T) {
	e := newBillingEnv(t)
	a := e.customer(t, "a@example.com", TestCardVisa)
	b := e.customer(t, "b@example.com", "")
	sa := e.mustSubscribe(t, a.ID, nil, e.price.ID)
	sb := e.mustSubscribe(t, b.ID, nil, e.price.ID)
	count := func(p *stripe.InvoiceListParams) []string {
		var ids []string
		it := e.sc.Invoices.List(p)
		for it.Next() {
			ids = append(ids, it.Invoice().ID)
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	cases := []struct {
		name   string
		params *stripe.InvoiceListParams
		want   string
	}{
		{"customer", &stripe.InvoiceListParams{Customer: stripe.String(a.ID)}, sa.LatestInvoice.ID},
		{"subscription", &stripe.InvoiceListParams{Subscription: stripe.String(sb.ID)}, sb.LatestInvoice.ID},
		{"status open", &stripe.InvoiceListParams{Status: stripe.String("open")}, sb.LatestInvoice.ID},
		{"status paid", &stripe.InvoiceListParams{Status: stripe.String("paid")}, sa.LatestInvoice.ID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := count(tc.params); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("got %v want %s", got, tc.want)
			}
		})
	}
	r := e.do(t, "GET", "/v1/invoices/search", "query=status:'open'")
	if r.status != http.StatusOK || len(r.obj["data"].([]any)) != 1 {
		t.Fatalf("search %d %s", r.status, r.body)
	}
}

// Status transitions of pay, void and mark_uncollectible, each allowed
// only from the statuses Stripe allows.
func TestInvoiceStatusTransitions(t *testing.T) {
	e := newBillingEnv(t)
	openInvoice := func() (*stripe.Customer, *stripe.Invoice) {
		cus := e.customer(t, "s@example.com", "")
		sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
		return cus, sub.LatestInvoice
	}
	t.Run("void", func(t *testing.T) {
		_, inv := openInvoice()
		got, err := e.sc.Invoices.VoidInvoice(inv.ID, nil)
		if err != nil || got.Status != "void" || got.StatusTransitions.VoidedAt == 0 {
			t.Fatalf("void %+v %v", got, err)
		}
		_, err = e.sc.Invoices.Pay(inv.ID, nil)
		wantStripeErr(t, err, 400, "invalid_request_error", "", "", "This invoice has been voided and cannot be paid.")
		_, err = e.sc.Invoices.VoidInvoice(inv.ID, nil)
		if se := stripeErr(t, err); se.HTTPStatusCode != 400 {
			t.Fatalf("void twice: %v", err)
		}
	})
	t.Run("uncollectible then paid out of band", func(t *testing.T) {
		_, inv := openInvoice()
		got, err := e.sc.Invoices.MarkUncollectible(inv.ID, nil)
		if err != nil || got.Status != "uncollectible" || got.StatusTransitions.MarkedUncollectibleAt == 0 {
			t.Fatalf("uncollectible %+v %v", got, err)
		}
		n := len(e.eventTypes(t, e.PlatformAccount()))
		got, err = e.sc.Invoices.Pay(inv.ID, &stripe.InvoicePayParams{PaidOutOfBand: stripe.Bool(true)})
		if err != nil || got.Status != "paid" || !got.PaidOutOfBand || got.Charge != nil {
			t.Fatalf("out of band %+v %v", got, err)
		}
		evs := e.eventTypesSince(t, e.PlatformAccount(), n)
		if countType(evs, "invoice.paid") != 1 || countType(evs, "invoice.payment_succeeded") != 0 {
			t.Fatalf("events %v", evs)
		}
		_, err = e.sc.Invoices.Pay(inv.ID, nil)
		wantStripeErr(t, err, 400, "invalid_request_error", "", "", "Invoice is already paid")
	})
	t.Run("pay with a declined card", func(t *testing.T) {
		cus, inv := openInvoice()
		pm, err := e.sc.PaymentMethods.Attach(TestCardFailing, &stripe.PaymentMethodAttachParams{Customer: stripe.String(cus.ID)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.sc.Invoices.Pay(inv.ID, &stripe.InvoicePayParams{PaymentMethod: stripe.String(pm.ID)})
		wantStripeErr(t, err, 402, "card_error", "card_declined", "", "Your card was declined.")
		if got := e.invoice(t, inv.ID); got.Status != "open" {
			t.Fatalf("status %s", got.Status)
		}
	})
}

// Invoice items: prorations are listed with the pending filter and cannot
// be deleted once invoiced.
func TestInvoiceItemsPendingAndInvoiced(t *testing.T) {
	e := newBillingEnv(t)
	cus := e.customer(t, "i@example.com", TestCardVisa)
	sub := e.mustSubscribe(t, cus.ID, nil, e.price.ID)
	e.clock.Advance(halfPeriod)
	if _, err := e.sc.Subscriptions.Update(sub.ID, &stripe.SubscriptionParams{
		Items: []*stripe.SubscriptionItemsParams{{ID: stripe.String(sub.Items.Data[0].ID), Quantity: stripe.Int64(3)}},
	}); err != nil {
		t.Fatal(err)
	}
	pending := e.pendingItems(t, cus.ID)
	if len(pending) != 2 {
		t.Fatalf("pending %d", len(pending))
	}
	del, err := e.sc.InvoiceItems.Del(pending[0].ID, nil)
	if err != nil || !del.Deleted {
		t.Fatalf("delete pending: %v", err)
	}
	renewed, err := e.AdvanceSubscription("", sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	invoiced, err := e.sc.InvoiceItems.Get(pending[1].ID, nil)
	if err != nil || invoiced.Invoice == nil || invoiced.Invoice.ID != renewed.Str("latest_invoice") {
		t.Fatalf("invoiced item %+v %v", invoiced, err)
	}
	r := e.do(t, "DELETE", "/v1/invoiceitems/"+pending[1].ID, "")
	if r.status != 400 {
		t.Fatalf("delete invoiced item: %d %s", r.status, r.body)
	}
}
