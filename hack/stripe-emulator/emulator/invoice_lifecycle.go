package emulator

import (
	"fmt"
	"strconv"
)

// The invoice lifecycle Stripe documents (billing/invoices/overview):
// draft → open (finalized: number, balance applied, amount_due fixed) →
// paid, or uncollectible / void. Subscription invoices are created, finalized
// and (charge_automatically) paid in one go here; Stripe waits about an hour
// between creating and finalizing a renewal invoice, which a test cannot
// tell apart from an instant.

// newInvoiceObject starts a draft subscription invoice for cus. sub may be
// nil (no such invoices are made yet, but the shape allows it).
func newInvoiceObject(c *Call, cus, sub Object, reason, currency string) Object {
	inv := c.NewObject("invoice")
	collection, subID := "charge_automatically", any(nil)
	subDetails := map[string]any{"metadata": nil}
	if sub != nil {
		collection, subID = sub.Str("collection_method"), sub.ID()
		subDetails["metadata"] = cloneValue(sub["metadata"])
	}
	settings := cus.Map("invoice_settings")
	now := c.Now().Unix()
	country, _, accountName := accountProfile(c)
	for k, v := range map[string]any{
		"account_country": country, "account_name": accountName, "account_tax_ids": nil, "amount_due": int64(0),
		"amount_paid": int64(0), "amount_remaining": int64(0), "amount_shipping": int64(0), "application": nil,
		"application_fee_amount": nil, "attempt_count": int64(0), "attempted": false,
		"auto_advance":   collection == "charge_automatically",
		"automatic_tax":  map[string]any{"enabled": false, "liability": nil, "status": nil},
		"billing_reason": reason, "charge": nil, "collection_method": collection, "currency": currency,
		"custom_fields": cloneValue(settings["custom_fields"]), "customer": cus.ID(),
		"customer_address": cloneValue(cus["address"]), "customer_email": cus["email"], "customer_name": cus["name"],
		"customer_phone": cus["phone"], "customer_shipping": cloneValue(cus["shipping"]),
		"customer_tax_exempt": cus["tax_exempt"], "customer_tax_ids": []any{}, "default_payment_method": nil,
		"default_source": nil, "default_tax_rates": []any{}, "description": nil, "discount": nil, "discounts": []any{},
		"due_date": nil, "effective_at": nil, "ending_balance": nil, "footer": settings["footer"], "from_invoice": nil,
		"hosted_invoice_url": nil, "invoice_pdf": nil, "issuer": map[string]any{"type": "self"},
		"last_finalization_error": nil, "latest_revision": nil, "metadata": map[string]any{},
		"next_payment_attempt": nil, "number": nil, "on_behalf_of": nil, "paid": false, "paid_out_of_band": false,
		"payment_intent":   nil,
		"payment_settings": map[string]any{"default_mandate": nil, "payment_method_options": nil, "payment_method_types": nil},
		"period_end":       now, "period_start": now, "post_payment_credit_notes_amount": int64(0),
		"pre_payment_credit_notes_amount": int64(0), "quote": nil, "receipt_number": nil, "rendering": nil,
		"shipping_cost": nil, "shipping_details": nil, "starting_balance": int64(0), "statement_descriptor": nil,
		"status":             "draft",
		"status_transitions": map[string]any{"finalized_at": nil, "marked_uncollectible_at": nil, "paid_at": nil, "voided_at": nil},
		"subscription":       subID, "subscription_details": subDetails, "subtotal": int64(0),
		"subtotal_excluding_tax": int64(0), "tax": nil, "test_clock": nil, "threshold_reason": nil, "total": int64(0),
		"total_discount_amounts": []any{}, "total_excluding_tax": int64(0), "total_tax_amounts": []any{},
		"transfer_data": nil, "webhooks_delivered_at": nil,
	} {
		inv[k] = v
	}
	inv["lines"] = embeddedList("/v1/invoices/"+inv.ID()+"/lines", nil)
	return inv
}

// newLineItem starts an invoice line item (il_); issueSubscriptionInvoice
// sets its `invoice`.
func newLineItem(c *Call, currency string, subID any, typ string, amount int64, price Object, quantity any, start, end int64) Object {
	line := Object{
		"id": NewID("il"), "object": "line_item", "amount": amount, "amount_excluding_tax": amount,
		"currency": currency, "description": nil, "discount_amounts": []any{}, "discountable": true,
		"discounts": []any{}, "invoice": nil, "invoice_item": nil, "livemode": false, "metadata": map[string]any{},
		"period": map[string]any{"end": end, "start": start}, "price": nil, "proration": false,
		"proration_details": map[string]any{"credited_items": nil}, "quantity": quantity, "subscription": subID,
		"subscription_item": nil, "tax_amounts": []any{}, "tax_rates": []any{}, "type": typ,
		"unit_amount_excluding_tax": nil,
	}
	if price != nil {
		line["price"] = priceSnapshot(c, price)
	}
	if q, ok := quantity.(int64); ok && q != 0 {
		line["unit_amount_excluding_tax"] = trimDecimal(float64(amount) / float64(q))
	}
	return line
}

func trimDecimal(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// lineFromInvoiceItem turns a pending invoice item into a line of inv and
// marks the item as invoiced (stored without an event: Stripe has no
// invoiceitem.updated in this API version).
func lineFromInvoiceItem(c *Call, inv, ii Object) (Object, error) {
	period := ii.Map("period")
	price, _ := c.Get("price", ii.Map("price")["id"].(string))
	line := newLineItem(c, inv.Str("currency"), inv["subscription"], "invoiceitem", ii.Int("amount"), price, ii["quantity"],
		toInt(period["start"]), toInt(period["end"]))
	line["invoice"] = inv.ID()
	for _, k := range []string{"description", "discountable", "proration", "subscription", "subscription_item"} {
		line[k] = ii[k]
	}
	line["invoice_item"] = ii.ID()
	line["metadata"] = cloneValue(ii["metadata"])
	if price == nil {
		line["price"] = cloneValue(ii["price"])
	}
	updated := ii.Clone()
	updated["invoice"] = inv.ID()
	if err := c.Update("invoiceitem", updated); err != nil {
		return nil, err
	}
	return line, nil
}

func toInt(v any) int64 { n, _ := v.(int64); return n }

// setInvoiceLines stores the lines on inv and computes its totals (no tax,
// no discounts: the emulator has neither).
func setInvoiceLines(inv Object, lines []Object) {
	var total int64
	for _, l := range lines {
		total += l.Int("amount")
	}
	inv["lines"] = embeddedList("/v1/invoices/"+inv.ID()+"/lines", objectsToAny(lines))
	for _, k := range []string{"subtotal", "subtotal_excluding_tax", "total", "total_excluding_tax"} {
		inv[k] = total
	}
	due := max(total, 0)
	inv["amount_due"], inv["amount_remaining"] = due, due
}

// finalizeInvoice moves a draft to open as Stripe does at finalization: the
// customer's balance is applied (a credit lowers amount_due; a negative
// total becomes credit), the invoice gets its number (customer prefix and
// sequence), and invoice.finalized is emitted. An invoice with nothing to pay
// is paid at once (invoice.paid and invoice.payment_succeeded).
func finalizeInvoice(c *Call, inv Object) (Object, error) {
	cus, ok := c.Get("customer", inv.Str("customer"))
	if !ok {
		return nil, fmt.Errorf("finalize %s: customer %s is gone", inv.ID(), inv.Str("customer"))
	}
	now := c.Now().Unix()
	inv = inv.Clone()
	starting := cus.Int("balance")
	applied := starting + inv.Int("total")
	due, ending := applied, int64(0)
	if applied < 0 {
		due, ending = 0, applied
	}
	seq := cus.Int("next_invoice_sequence")
	inv["starting_balance"], inv["ending_balance"] = starting, ending
	inv["amount_due"], inv["amount_remaining"] = due, due
	inv["number"] = fmt.Sprintf("%s-%04d", cus.Str("invoice_prefix"), seq)
	inv["status"] = "open"
	inv.Map("status_transitions")["finalized_at"] = now
	inv["effective_at"] = now
	token := "test_" + randomString(40)
	inv["hosted_invoice_url"] = "https://invoice.stripe.com/i/" + c.Account + "/" + token
	inv["invoice_pdf"] = "https://pay.stripe.com/invoice/" + c.Account + "/" + token + "/pdf"
	if inv.Str("collection_method") == "send_invoice" {
		if sub, ok := c.Get("subscription", inv.Str("subscription")); ok {
			inv["due_date"] = now + sub.Int("days_until_due")*86400
		}
	}
	updatedCus := cus.Clone()
	updatedCus["next_invoice_sequence"] = seq + 1
	if err := saveQuiet(c, updatedCus); err != nil {
		return nil, err
	}
	if ending != starting {
		withBalance := updatedCus.Clone()
		withBalance["balance"] = ending
		if _, err := c.Save(updatedCus, withBalance); err != nil {
			return nil, err
		}
	}
	if err := c.Update("invoice", inv); err != nil {
		return nil, err
	}
	if err := c.Emit("invoice.finalized", inv, nil); err != nil {
		return nil, err
	}
	if due == 0 {
		return markInvoicePaid(c, inv, nil, false)
	}
	return inv, nil
}

// markInvoicePaid records a successful payment (charge nil: nothing to
// charge, or paid out of band) and emits invoice.paid, then
// invoice.payment_succeeded unless it was paid out of band, as Stripe
// documents the two events. A customer marked delinquent is no longer.
func markInvoicePaid(c *Call, inv, charge Object, outOfBand bool) (Object, error) {
	inv = inv.Clone()
	now := c.Now().Unix()
	inv["amount_paid"] = inv.Int("amount_due")
	inv["amount_remaining"] = int64(0)
	inv["paid"], inv["status"] = true, "paid"
	inv["next_payment_attempt"] = nil
	inv.Map("status_transitions")["paid_at"] = now
	if charge != nil {
		inv["charge"] = charge.ID()
		inv["attempted"] = true
		inv["attempt_count"] = inv.Int("attempt_count") + 1
	}
	if outOfBand {
		inv["paid_out_of_band"] = true
	}
	if err := c.Update("invoice", inv); err != nil {
		return nil, err
	}
	if err := c.Emit("invoice.paid", inv, nil); err != nil {
		return nil, err
	}
	if !outOfBand {
		if err := c.Emit("invoice.payment_succeeded", inv, nil); err != nil {
			return nil, err
		}
	}
	return inv, setDelinquent(c, inv.Str("customer"), false)
}

// setDelinquent follows Stripe's rule for customer.delinquent: an automatic
// payment failure sets it, paying an invoice clears it.
func setDelinquent(c *Call, cusID string, v bool) error {
	cus, ok := c.Get("customer", cusID)
	if !ok || cus.Bool("delinquent") == v {
		return nil
	}
	updated := cus.Clone()
	updated["delinquent"] = v
	_, err := c.Save(cus, updated)
	return err
}

// paymentOutcome is how an attempt to collect an invoice ended.
type paymentOutcome int

const (
	paymentSucceeded paymentOutcome = iota
	paymentDeclined
	paymentNoMethod
	paymentNotAttempted
)

// collectInvoice attempts to pay an open invoice with
// pm (nil: the customer has no usable payment method). A declined card
// leaves a failed charge (charge.failed), counts the attempt and emits
// invoice.payment_failed; without a payment method nothing is charged and,
// when countAttempt is set (renewals), the failed attempt is recorded the
// same way. The error returned with paymentDeclined is the card error
// Stripe answers when the caller asked for one (error_if_incomplete, pay).
func collectInvoice(c *Call, inv, pm Object, countAttempt bool) (Object, paymentOutcome, *Error, error) {
	if inv.Str("status") == "paid" {
		return inv, paymentSucceeded, nil, nil
	}
	if pm == nil {
		if !countAttempt {
			return inv, paymentNoMethod, nil, nil
		}
		failed, err := recordFailedAttempt(c, inv, nil)
		return failed, paymentNoMethod, nil, err
	}
	description := "Subscription update"
	if inv.Str("billing_reason") == "subscription_create" {
		description = "Subscription creation"
	}
	ch, cardErr, err := chargeCard(c, chargeRequest{
		customer: inv.Str("customer"), pm: pm, amount: inv.Int("amount_due"), currency: inv.Str("currency"),
		invoice: inv.ID(), description: description,
	})
	if err != nil {
		return nil, 0, nil, err
	}
	if cardErr != nil {
		failed, err := recordFailedAttempt(c, inv, ch)
		return failed, paymentDeclined, cardErr, err
	}
	paid, err := markInvoicePaid(c, inv, ch, false)
	return paid, paymentSucceeded, nil, err
}

// recordFailedAttempt counts a failed automatic payment attempt.
// next_payment_attempt stays null: the emulator runs no Smart Retries (the
// control API's renewals and POST /v1/invoices/{id}/pay are the only
// attempts).
func recordFailedAttempt(c *Call, inv, charge Object) (Object, error) {
	inv = inv.Clone()
	inv["attempted"] = true
	inv["attempt_count"] = inv.Int("attempt_count") + 1
	inv["next_payment_attempt"] = nil
	if charge != nil {
		inv["charge"] = charge.ID()
	}
	if err := c.Update("invoice", inv); err != nil {
		return nil, err
	}
	if err := c.Emit("invoice.payment_failed", inv, nil); err != nil {
		return nil, err
	}
	return inv, setDelinquent(c, inv.Str("customer"), true)
}

// invoiceRun describes a subscription invoice to issue.
type invoiceRun struct {
	id                     string // preset invoice id ("" for a fresh one)
	reason                 string // billing_reason
	lines                  []Object
	periodStart, periodEnd int64
	// attempt collects the invoice (charge_automatically) once finalized;
	// countAttempt records a failed attempt even without a payment method.
	attempt, countAttempt bool
}

// issueSubscriptionInvoice creates an invoice for sub with run.lines plus
// every pending invoice item that belongs on it (first), finalizes it and,
// if run.attempt, tries to collect it. It returns the invoice as it ended
// up.
func issueSubscriptionInvoice(c *Call, sub, cus Object, run invoiceRun) (Object, paymentOutcome, *Error, error) {
	inv := newInvoiceObject(c, cus, sub, run.reason, sub.Str("currency"))
	if run.id != "" {
		inv["id"] = run.id
		inv["lines"] = embeddedList("/v1/invoices/"+run.id+"/lines", nil)
	}
	inv["period_start"], inv["period_end"] = run.periodStart, run.periodEnd
	all := make([]Object, 0, len(run.lines))
	for _, ii := range pendingInvoiceItems(c, cus.ID(), sub.ID()) {
		line, err := lineFromInvoiceItem(c, inv, ii)
		if err != nil {
			return nil, 0, nil, err
		}
		all = append(all, line)
	}
	for _, l := range run.lines {
		l["invoice"] = inv.ID()
		all = append(all, l)
	}
	setInvoiceLines(inv, all)
	if err := c.Create(inv); err != nil {
		return nil, 0, nil, err
	}
	inv, err := finalizeInvoice(c, inv)
	if err != nil {
		return nil, 0, nil, err
	}
	if inv.Str("status") == "paid" {
		return inv, paymentSucceeded, nil, nil
	}
	if !run.attempt || inv.Str("collection_method") != "charge_automatically" {
		return inv, paymentNotAttempted, nil, nil
	}
	return collectInvoice(c, inv, paymentMethodFor(c, cus, sub), run.countAttempt)
}

// pendingInvoiceItems are the customer's invoice items not yet on an
// invoice that go on sub's next invoice: its own, and those attached to no
// subscription. Oldest first, as Stripe lists lines.
func pendingInvoiceItems(c *Call, cusID, subID string) []Object {
	items := scanAll(c, "invoiceitem", func(o Object) bool {
		if o.Str("customer") != cusID || o["invoice"] != nil {
			return false
		}
		s := o.Str("subscription")
		return s == "" || s == subID
	})
	oldestFirst(items)
	return items
}
