package emulator

import (
	"time"
)

// applySubscriptionUpdate is POST /v1/subscriptions/{id} (and the
// /v1/subscription_items writes, which are subscription updates), following
// Stripe's documented update semantics:
//
//   - items[] changes prices and quantities; with proration_behavior
//     create_prorations (the default) the change is prorated to the second
//     with pending invoice items billed on the next invoice; always_invoice
//     also invoices them at once; none does not prorate. Trials are not
//     prorated.
//   - Changing the billing interval, moving between free and paid, or
//     ending a trial (trial_end=now) resets the billing cycle: the unused
//     time is credited (unless proration_behavior=none) and the new period
//     is billed at once (billing_reason subscription_update).
//   - An invoice made by an update that cannot be paid leaves the
//     subscription past_due (allow_incomplete, the default;
//     default_incomplete does not even attempt payment), or fails the request
//     with nothing changed (error_if_incomplete).
//   - cancel_at_period_end schedules (or, false, withdraws) cancellation at
//     the period's end; canceled_at is the time of the request, as Stripe
//     documents.
//
// It saves the subscription (customer.subscription.updated, nothing when
// nothing changed) and returns it.
func applySubscriptionUpdate(c *Call, old Object, p Params) (Object, error) {
	status := old.Str("status")
	if subscriptionEnded(status) {
		return nil, InvalidRequest("", "You cannot update a subscription that is `canceled` or `incomplete_expired`.")
	}
	if err := refuseUnsupported(p, append(unsupportedSubscriptionParams, "pause_collection")...); err != nil {
		return nil, err
	}
	if err := refuseAutomaticTax(p); err != nil {
		return nil, err
	}
	if status == "incomplete" {
		for _, k := range p.Keys() {
			switch k {
			case "metadata", "description", "default_payment_method", "cancellation_details", "expand", "off_session":
			default:
				return nil, InvalidRequest(k, "A subscription with status `incomplete` can only have its metadata, description "+
					"and default payment method updated until its first invoice is paid.")
			}
		}
	}
	pb, err := readPaymentBehavior(p)
	if err != nil {
		return nil, err
	}
	proration := "create_prorations"
	if v, ok := p.String("proration_behavior"); ok {
		proration = v
	}
	now := c.Now().Unix()
	t := now
	if v, ok, err := p.Int("proration_date"); err != nil {
		return nil, err
	} else if ok {
		if v < old.Int("current_period_start") || v > old.Int("current_period_end") {
			return nil, InvalidRequest("proration_date", "The proration date must be within the subscription's current period.")
		}
		t = v
	}
	cus, err := c.Lookup("customer", old.Str("customer"), "customer")
	if err != nil {
		return nil, err
	}
	sub := old.Clone()
	if err := applySimpleSubscriptionParams(c, p, cus, sub, now); err != nil {
		return nil, err
	}
	oldItems := listData(old, "items")
	newItems := oldItems
	itemsChanged := false
	if p.Has("items") {
		if newItems, err = mergeItems(c, old, p); err != nil {
			return nil, err
		}
		if cur, _ := newItems[0].Map("price")["currency"].(string); cur != old.Str("currency") {
			return nil, InvalidRequest("items", "Currency and interval fields must match across all plans on this subscription. Found mismatch in currency field.")
		}
		itemsChanged = len(Diff(Object{"items": objectsToAny(oldItems)}, Object{"items": objectsToAny(newItems)})) > 0
	}
	trialEnd, err := readTrialEnd(c, p)
	if err != nil {
		return nil, err
	}
	endTrialNow := trialEnd == -1 && status == "trialing"
	if trialEnd > 0 {
		if status != "trialing" {
			return nil, refuseUnsupported(p, "trial_end")
		}
		sub["trial_end"], sub["current_period_end"], sub["billing_cycle_anchor"] = trialEnd, trialEnd, trialEnd
		if sub.Bool("cancel_at_period_end") {
			sub["cancel_at"] = trialEnd
		}
	}
	billing := status == "active" || status == "past_due"
	oldInterval, oldCount := itemsInterval(oldItems)
	newInterval, newCount := itemsInterval(newItems)
	reset := endTrialNow || (billing && itemsChanged &&
		(oldInterval != newInterval || oldCount != newCount || (itemsCost(c, oldItems) == 0) != (itemsCost(c, newItems) == 0)))
	if itemsChanged {
		if err := storeItems(c, sub, newItems); err != nil {
			return nil, err
		}
	}
	var run *invoiceRun
	switch {
	case reset:
		if billing && proration != "none" {
			if err := createAll(c, prorationItems(c, old, oldItems, nil, t)); err != nil {
				return nil, err
			}
		}
		end := addInterval(time.Unix(now, 0), newInterval, newCount).Unix()
		sub["current_period_start"], sub["current_period_end"], sub["billing_cycle_anchor"] = now, end, now
		if endTrialNow {
			sub["trial_end"] = now
		}
		if sub.Bool("cancel_at_period_end") {
			sub["cancel_at"] = end
		}
		run = &invoiceRun{reason: "subscription_update", lines: subscriptionLines(c, sub, newItems, now, end, false)}
	case itemsChanged && billing && proration != "none":
		created := prorationItems(c, old, oldItems, newItems, t)
		if err := createAll(c, created); err != nil {
			return nil, err
		}
		if proration == "always_invoice" && len(created) > 0 {
			run = &invoiceRun{reason: "subscription_update"}
		}
	}
	if run != nil {
		run.periodStart, run.periodEnd = old.Int("current_period_start"), now
		run.attempt, run.countAttempt = pb != "default_incomplete", true
		inv, outcome, cardErr, err := issueSubscriptionInvoice(c, sub, cus, *run)
		if err != nil {
			return nil, err
		}
		if inv.Str("status") != "paid" && pb == "error_if_incomplete" && sub.Str("collection_method") == "charge_automatically" {
			if outcome == paymentDeclined {
				return nil, cardErr
			}
			return nil, noPaymentMethodError()
		}
		sub["latest_invoice"] = inv.ID()
		sub["status"] = statusAfterCollection(status, outcome, inv)
	}
	if err := saveSubscription(c, old, sub); err != nil {
		return nil, err
	}
	return sub, nil
}

func createAll(c *Call, objs []Object) error {
	for _, o := range objs {
		if err := c.Create(o); err != nil {
			return err
		}
	}
	return nil
}

// applySimpleSubscriptionParams sets the fields an update changes without
// billing consequences.
func applySimpleSubscriptionParams(c *Call, p Params, cus, sub Object, now int64) error {
	md, merr := p.ApplyMetadata(sub.Map("metadata"))
	if merr != nil {
		return merr
	}
	sub["metadata"] = md
	if d, ok := p.String("description"); ok {
		sub["description"] = nilIfEmpty(d)
	}
	if v, ok := p.String("default_payment_method"); ok {
		if v != "" {
			if _, err := customerPaymentMethod(c, cus, v, "default_payment_method"); err != nil {
				return err
			}
		}
		sub["default_payment_method"] = nilIfEmpty(v)
	}
	details := sub.Map("cancellation_details")
	if cd, ok := p.Sub("cancellation_details"); ok {
		for _, k := range []string{"comment", "feedback"} {
			if v, ok := cd.String(k); ok {
				details[k] = nilIfEmpty(v)
			}
		}
	}
	if v, ok, err := p.Bool("cancel_at_period_end"); err != nil {
		return err
	} else if ok && v != sub.Bool("cancel_at_period_end") {
		sub["cancel_at_period_end"] = v
		if v {
			sub["cancel_at"], sub["canceled_at"], details["reason"] = sub["current_period_end"], now, "cancellation_requested"
		} else {
			sub["cancel_at"], sub["canceled_at"], details["reason"] = nil, nil, nil
		}
	}
	method, days, err := readCollection(p, sub.Str("collection_method"), sub["days_until_due"])
	if err != nil {
		return err
	}
	sub["collection_method"], sub["days_until_due"] = method, days
	return nil
}
