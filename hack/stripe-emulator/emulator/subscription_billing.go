package emulator

import (
	"fmt"
	"math"
	"time"
)

// What a subscription bills: the lines of its invoices, prorations when its
// items change mid-period, renewals, and immediate cancellation.

// subscriptionEnded reports the terminal statuses.
func subscriptionEnded(status string) bool {
	return status == "canceled" || status == "incomplete_expired"
}

// lineDescription is how Stripe describes a subscription line:
// "1 × Gold (at $10.00 / month)", "3 × Gold (at $5.00 every 3 months)".
func lineDescription(price Object, qty int64, name string) string {
	if price.Str("billing_scheme") == "tiered" {
		return fmt.Sprintf("%d × %s", qty, name)
	}
	rec := price.Map("recurring")
	interval, _ := rec["interval"].(string)
	count, _ := rec["interval_count"].(int64)
	per := "/ " + interval
	if count > 1 {
		per = fmt.Sprintf("every %d %ss", count, interval)
	}
	unit := decimalValue(price, "unit_amount", "unit_amount_decimal")
	return fmt.Sprintf("%d × %s (at %s %s)", qty, name, formatMoney(int64(math.Round(unit)), price.Str("currency")), per)
}

// subscriptionLines are the lines that bill items for [start, end]. During
// a trial they cost nothing and read "Trial period for <product>". Their
// metadata is the subscription's, as Stripe documents for subscription lines.
func subscriptionLines(c *Call, sub Object, items []Object, start, end int64, trial bool) []Object {
	lines := make([]Object, 0, len(items))
	for _, it := range items {
		price := itemPrice(c, it)
		qty := itemQuantity(it)
		amount := int64(0)
		if !trial {
			amount = priceAmount(price, qty)
		}
		line := newLineItem(c, sub.Str("currency"), sub.ID(), "subscription", amount, price, it["quantity"], start, end)
		name := productName(c, price)
		if trial {
			line["description"] = "Trial period for " + name
		} else {
			line["description"] = lineDescription(price, qty, name)
		}
		line["subscription_item"] = it.ID()
		line["metadata"] = cloneValue(sub["metadata"])
		lines = append(lines, line)
	}
	return lines
}

// newInvoiceItem makes a pending invoice item of sub (not stored).
func newInvoiceItem(c *Call, sub, item, price Object, amount int64, qty any, start, end int64, desc string) Object {
	ii := c.NewObject("invoiceitem")
	var unit, unitDec any
	if q, ok := qty.(int64); ok && q != 0 {
		unitDec = trimDecimal(float64(amount) / float64(q))
		if amount%q == 0 {
			unit = amount / q
		}
	}
	for k, v := range map[string]any{
		"amount": amount, "currency": sub.Str("currency"), "customer": sub.Str("customer"), "date": start,
		"description": desc, "discountable": false, "discounts": []any{}, "invoice": nil, "metadata": map[string]any{},
		"period": map[string]any{"end": end, "start": start}, "price": priceSnapshot(c, price), "proration": true,
		"quantity": qty, "subscription": sub.ID(), "subscription_item": item.ID(), "tax_rates": []any{},
		"test_clock": nil, "unit_amount": unit, "unit_amount_decimal": unitDec,
	} {
		ii[k] = v
	}
	if qty == nil {
		ii["quantity"] = int64(0)
	}
	return ii
}

// prorationItems are the invoice items Stripe creates when a
// subscription's items change at t inside the current period: a credit for
// the unused time of what is replaced ("Unused time on Gold after 15 Mar
// 2024") and a charge for the remaining time of what replaces it
// ("Remaining time on 2 × Platinum after 15 Mar 2024"), each prorated to
// the second. newItems nil means everything ends (a prorated cancellation).
func prorationItems(c *Call, sub Object, oldItems, newItems []Object, t int64) []Object {
	start, end := sub.Int("current_period_start"), sub.Int("current_period_end")
	if t >= end || end <= start {
		return nil
	}
	frac := float64(end-t) / float64(end-start)
	var out []Object
	add := func(item Object, sign float64, verb string) {
		price := itemPrice(c, item)
		qty := itemQuantity(item)
		amount := int64(math.Round(sign * float64(priceAmount(price, qty)) * frac))
		if amount == 0 {
			return
		}
		name := productName(c, price)
		if qty != 1 {
			name = fmt.Sprintf("%d × %s", qty, name)
		}
		desc := fmt.Sprintf("%s time on %s after %s", verb, name, formatDay(t))
		out = append(out, newInvoiceItem(c, sub, item, price, amount, item["quantity"], t, end, desc))
	}
	byID := map[string]Object{}
	for _, it := range newItems {
		byID[it.ID()] = it
	}
	for _, old := range oldItems {
		nw, kept := byID[old.ID()]
		if kept && itemPriceID(nw) == itemPriceID(old) && itemQuantity(nw) == itemQuantity(old) {
			continue
		}
		add(old, -1, "Unused")
	}
	oldByID := map[string]Object{}
	for _, it := range oldItems {
		oldByID[it.ID()] = it
	}
	for _, nw := range newItems {
		old, existed := oldByID[nw.ID()]
		if existed && itemPriceID(nw) == itemPriceID(old) && itemQuantity(nw) == itemQuantity(old) {
			continue
		}
		add(nw, 1, "Remaining")
	}
	return out
}

// itemsCost is what a set of items costs per period.
func itemsCost(c *Call, items []Object) int64 {
	var total int64
	for _, it := range items {
		total += priceAmount(itemPrice(c, it), itemQuantity(it))
	}
	return total
}

// statusAfterCollection maps how collecting an update's or renewal's
// invoice ended to the subscription status Stripe documents: paid → active,
// failed or awaiting payment → past_due; send_invoice leaves it as it was
// (a trial that ends becomes active).
func statusAfterCollection(current string, outcome paymentOutcome, inv Object) string {
	switch {
	case outcome == paymentSucceeded || inv.Str("status") == "paid":
		return "active"
	case inv.Str("collection_method") == "send_invoice":
		if current == "trialing" {
			return "active"
		}
		return current
	}
	return "past_due"
}

// renewSubscription moves sub into its next period as Stripe does when the
// period ends: a subscription set to cancel at period end is canceled
// (customer.subscription.deleted); otherwise a subscription_cycle invoice
// bills the new period in advance (plus pending invoice items, such as
// prorations) and is collected: paid → active, failed → past_due. A
// trialing subscription ends its trial the same way.
func renewSubscription(c *Call, sub Object) (Object, error) {
	switch sub.Str("status") {
	case "active", "past_due", "trialing":
	default:
		return nil, InvalidRequest("subscription", "Subscription %s is %s; only active, past_due and trialing subscriptions renew.",
			sub.ID(), sub.Str("status"))
	}
	t := sub.Int("current_period_end")
	if c.Now().Unix() < t {
		return nil, InvalidRequest("subscription", "Subscription %s's period ends at %s; the clock is earlier.",
			sub.ID(), time.Unix(t, 0).UTC().Format(time.RFC3339))
	}
	updated := sub.Clone()
	if sub.Bool("cancel_at_period_end") {
		updated["status"], updated["ended_at"], updated["cancel_at_period_end"] = "canceled", t, false
		if err := c.Update("subscription", updated); err != nil {
			return nil, err
		}
		return updated, c.Emit("customer.subscription.deleted", updated, nil)
	}
	cus, err := c.Lookup("customer", sub.Str("customer"), "customer")
	if err != nil {
		return nil, err
	}
	items := listData(sub, "items")
	interval, count := itemsInterval(items)
	end := nextPeriodEnd(sub.Int("billing_cycle_anchor"), interval, count, t)
	lines := subscriptionLines(c, sub, items, t, end, false)
	inv, outcome, _, err := issueSubscriptionInvoice(c, sub, cus, invoiceRun{reason: "subscription_cycle", lines: lines,
		periodStart: sub.Int("current_period_start"), periodEnd: t, attempt: true, countAttempt: true})
	if err != nil {
		return nil, err
	}
	updated["current_period_start"], updated["current_period_end"] = t, end
	updated["latest_invoice"] = inv.ID()
	updated["status"] = statusAfterCollection(sub.Str("status"), outcome, inv)
	return updated, saveSubscription(c, sub, updated)
}

// cancelOptions are DELETE /v1/subscriptions/{id}'s parameters.
type cancelOptions struct {
	reason, comment, feedback string
	prorate, invoiceNow       bool
}

// cancelSubscriptionNow cancels sub at once. prorate credits the unused
// time of the current period (an invoice item); invoice_now bills what is
// pending (that credit included) on a final invoice; with neither, pending
// prorations of the subscription are removed, as Stripe documents.
func cancelSubscriptionNow(c *Call, sub Object, opts cancelOptions) (Object, error) {
	now := c.Now().Unix()
	updated := sub.Clone()
	status := sub.Str("status")
	if opts.prorate && (status == "active" || status == "past_due") {
		for _, ii := range prorationItems(c, sub, listData(sub, "items"), nil, now) {
			if err := c.Create(ii); err != nil {
				return nil, err
			}
		}
	}
	cus, hasCustomer := c.Get("customer", sub.Str("customer"))
	switch {
	case opts.invoiceNow && hasCustomer:
		if pending := pendingInvoiceItems(c, cus.ID(), sub.ID()); len(pending) > 0 {
			inv, _, _, err := issueSubscriptionInvoice(c, sub, cus, invoiceRun{reason: "subscription_update",
				periodStart: sub.Int("current_period_start"), periodEnd: now, attempt: true, countAttempt: true})
			if err != nil {
				return nil, err
			}
			updated["latest_invoice"] = inv.ID()
		}
	case !opts.prorate:
		for _, ii := range scanAll(c, "invoiceitem", func(o Object) bool {
			return o.Str("subscription") == sub.ID() && o["invoice"] == nil && o.Bool("proration")
		}) {
			if err := c.Remove(ii); err != nil {
				return nil, err
			}
		}
	}
	updated["status"], updated["canceled_at"], updated["ended_at"] = "canceled", now, now
	updated["cancel_at"], updated["cancel_at_period_end"] = nil, false
	updated["cancellation_details"] = map[string]any{
		"comment": nilIfEmpty(opts.comment), "feedback": nilIfEmpty(opts.feedback), "reason": nilIfEmpty(opts.reason),
	}
	if err := c.Update("subscription", updated); err != nil {
		return nil, err
	}
	return updated, c.Emit("customer.subscription.deleted", updated, nil)
}

// afterInvoicePaid applies what paying a subscription's latest invoice
// does to it: incomplete (its first invoice) and past_due become active.
func afterInvoicePaid(c *Call, inv Object) error {
	sub, ok := c.Get("subscription", inv.Str("subscription"))
	if !ok || sub.Str("latest_invoice") != inv.ID() {
		return nil
	}
	switch sub.Str("status") {
	case "incomplete", "past_due", "unpaid":
		updated := sub.Clone()
		updated["status"] = "active"
		return saveSubscription(c, sub, updated)
	}
	return nil
}
