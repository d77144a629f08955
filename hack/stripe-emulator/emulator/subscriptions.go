package emulator

import (
	"net/http"
	"time"
)

// Subscriptions (Stripe's statuses: trialing, active, incomplete,
// past_due, canceled; see subscription_billing.go for what they bill).
// Events are customer.subscription.created/updated/deleted.

// maxTrial is how far a trial may reach: "at most two years".
const maxTrial = 730 * 24 * time.Hour

func registerSubscriptions(e *Emulator) {
	e.AddResource(&Resource{
		Object: "subscription", Noun: "subscription", IDPrefix: "sub", Path: "/v1/subscriptions",
		Expandable: map[string]string{"customer": "customer", "default_payment_method": "payment_method", "latest_invoice": "invoice"},
		Search: map[string]SearchField{
			"created":  {Type: SearchNumeric},
			"metadata": {Type: SearchMetadata},
			"status":   {Type: SearchToken},
		},
	})
	registerSubscriptionItems(e)
	r := e.Router()
	r.Handle(http.MethodPost, "/v1/subscriptions", func(c *Call) (any, error) {
		cusID, ok := c.Params().String("customer")
		if !ok {
			return nil, MissingParam("customer")
		}
		cus, err := c.Lookup("customer", cusID, "customer")
		if err != nil {
			return nil, err
		}
		return createSubscription(c, cus)
	})
	r.Handle(http.MethodGet, "/v1/subscriptions", listSubscriptions)
	r.Handle(http.MethodGet, "/v1/subscriptions/search", func(c *Call) (any, error) { return c.Search("subscription") })
	one := "/v1/subscriptions/{subscription_exposed_id}"
	r.Handle(http.MethodGet, one, func(c *Call) (any, error) { return withSubscription(c, "", renderSubscription) })
	r.Handle(http.MethodPost, one, func(c *Call) (any, error) { return withSubscription(c, "", updateSubscription) })
	r.Handle(http.MethodDelete, one, func(c *Call) (any, error) { return withSubscription(c, "", cancelSubscription) })
	// The customer-scoped paths of older integrations.
	r.Handle(http.MethodPost, "/v1/customers/{customer}/subscriptions", func(c *Call) (any, error) {
		cus, err := c.Lookup("customer", c.PathParam("customer"), "customer")
		if err != nil {
			return nil, err
		}
		return createSubscription(c, cus)
	})
	r.Handle(http.MethodGet, "/v1/customers/{customer}/subscriptions", func(c *Call) (any, error) {
		cus, err := c.Lookup("customer", c.PathParam("customer"), "customer")
		if err != nil {
			return nil, err
		}
		return c.List("subscription", func(o Object) bool { return o.Str("customer") == cus.ID() && o.Str("status") != "canceled" })
	})
	scoped := "/v1/customers/{customer}/subscriptions/{subscription_exposed_id}"
	r.Handle(http.MethodGet, scoped, func(c *Call) (any, error) { return withSubscription(c, c.PathParam("customer"), renderSubscription) })
	r.Handle(http.MethodPost, scoped, func(c *Call) (any, error) {
		return withSubscription(c, c.PathParam("customer"), updateSubscription)
	})
	r.Handle(http.MethodDelete, scoped, func(c *Call) (any, error) {
		return withSubscription(c, c.PathParam("customer"), cancelSubscription)
	})
}

func withSubscription(c *Call, customer string, fn func(*Call, Object) (any, error)) (any, error) {
	id := c.PathParam("subscription_exposed_id")
	sub, ok := c.Get("subscription", id)
	if !ok || (customer != "" && sub.Str("customer") != customer) {
		return nil, NoSuchObject("subscription", id, "id")
	}
	return fn(c, sub)
}

func renderSubscription(c *Call, sub Object) (any, error) { return c.Render(sub) }

func newSubscriptionObject(c *Call, cus Object) Object {
	sub := c.NewObject("subscription")
	now := c.Now().Unix()
	for k, v := range map[string]any{
		"application": nil, "application_fee_percent": nil, "automatic_tax": map[string]any{"enabled": false, "liability": nil},
		"billing_cycle_anchor": now, "billing_cycle_anchor_config": nil, "billing_thresholds": nil, "cancel_at": nil,
		"cancel_at_period_end": false, "canceled_at": nil,
		"cancellation_details": map[string]any{"comment": nil, "feedback": nil, "reason": nil},
		"collection_method":    "charge_automatically", "currency": nil, "current_period_end": now, "current_period_start": now,
		"customer": cus.ID(), "days_until_due": nil, "default_payment_method": nil, "default_source": nil,
		"default_tax_rates": []any{}, "description": nil, "discount": nil, "ended_at": nil, "latest_invoice": nil,
		"metadata": map[string]any{}, "next_pending_invoice_item_invoice": nil, "on_behalf_of": nil, "pause_collection": nil,
		"payment_settings":              map[string]any{"payment_method_options": nil, "payment_method_types": nil, "save_default_payment_method": "off"},
		"pending_invoice_item_interval": nil, "pending_setup_intent": nil, "pending_update": nil, "schedule": nil,
		"start_date": now, "status": "incomplete", "test_clock": nil, "transfer_data": nil, "trial_end": nil,
		"trial_settings": map[string]any{"end_behavior": map[string]any{"missing_payment_method": "create_invoice"}},
		"trial_start":    nil,
	} {
		sub[k] = v
	}
	return sub
}

// Parameters both create and update refuse as not emulated.
var unsupportedSubscriptionParams = []string{
	"add_invoice_items", "application_fee_percent", "billing_cycle_anchor", "billing_thresholds", "cancel_at", "coupon",
	"default_source", "default_tax_rates", "invoice_settings", "on_behalf_of", "payment_settings",
	"pending_invoice_item_interval", "promotion_code", "transfer_data", "trial_from_plan", "trial_settings",
}

func refuseAutomaticTax(p Params) error {
	if at, ok := p.Sub("automatic_tax"); ok {
		if on, _, _ := at.Bool("enabled"); on {
			return refuseUnsupported(p, "automatic_tax")
		}
	}
	return nil
}

// noPaymentMethodError is what Stripe answers when a payment must be made
// and the customer has nothing to pay with.
func noPaymentMethodError() *Error {
	return InvalidRequest("", "This customer has no attached payment source or default payment method.")
}

// readPaymentBehavior reads payment_behavior (default allow_incomplete).
// pending_if_incomplete (pending updates) is not emulated.
func readPaymentBehavior(p Params) (string, error) {
	pb, ok := p.String("payment_behavior")
	if !ok {
		return "allow_incomplete", nil
	}
	if pb == "pending_if_incomplete" {
		return "", refuseUnsupported(p, "payment_behavior")
	}
	return pb, nil
}

// readCollection applies collection_method and days_until_due: Stripe
// requires days_until_due for send_invoice and takes it only there.
func readCollection(p Params, method string, days any) (string, any, error) {
	if m, ok := p.String("collection_method"); ok {
		method = m
	}
	if n, ok, err := p.Int("days_until_due"); err != nil {
		return "", nil, err
	} else if ok {
		if method != "send_invoice" {
			return "", nil, InvalidRequest("days_until_due", "Invalid days_until_due: it can only be set when collection_method is send_invoice.")
		}
		days = n
	}
	if method != "send_invoice" {
		return method, nil, nil
	}
	if days == nil {
		return "", nil, MissingParam("days_until_due")
	}
	return method, days, nil
}

// readTrialEnd reads trial_end ("now" or a future time, at most two
// years away) or trial_period_days. It returns 0 for no trial and -1 for
// trial_end=now.
func readTrialEnd(c *Call, p Params) (int64, error) {
	now := c.Now()
	hasEnd, hasDays := p.Has("trial_end"), p.Has("trial_period_days")
	if hasEnd && hasDays {
		return 0, Exclusive("trial_end", "trial_period_days")
	}
	var end time.Time
	switch {
	case hasEnd:
		if s, _ := p.String("trial_end"); s == "now" {
			return -1, nil
		}
		n, _, err := p.Int("trial_end")
		if err != nil {
			return 0, err
		}
		end = time.Unix(n, 0)
		if !end.After(now) {
			return 0, InvalidRequest("trial_end", "Invalid timestamp: must be an integer Unix timestamp in the future.")
		}
	case hasDays:
		days, _, err := p.Int("trial_period_days")
		if err != nil {
			return 0, err
		}
		if days < 0 {
			return 0, InvalidRequest("trial_period_days", "This value must be greater than or equal to 0.")
		}
		if days == 0 {
			return 0, nil
		}
		end = now.Add(time.Duration(days) * 24 * time.Hour)
	default:
		return 0, nil
	}
	if end.Sub(now) > maxTrial {
		return 0, InvalidRequest(p.Name("trial_end"), "Invalid trial: a trial can be at most two years (730 days) long.")
	}
	return end.Unix(), nil
}

// createSubscription creates a subscription and its first invoice
// (billing_reason subscription_create), which is finalized at once. With
// charge_automatically it is paid with the subscription's or customer's
// default payment method: paid → active; not paid → incomplete
// (allow_incomplete, the default: a declined card leaves a failed charge and
// invoice.payment_failed; no payment method leaves the invoice open and
// unattempted), or the request fails (error_if_incomplete: 402 card error,
// or 400 when there is no payment method; nothing is created).
// default_incomplete does not attempt payment. A trial bills nothing first
// (status trialing); send_invoice leaves the invoice open (status active).
func createSubscription(c *Call, cus Object) (any, error) {
	p := c.Params()
	if err := refuseUnsupported(p, append(unsupportedSubscriptionParams, "backdate_start_date", "billing_cycle_anchor_config")...); err != nil {
		return nil, err
	}
	if err := refuseAutomaticTax(p); err != nil {
		return nil, err
	}
	sub := newSubscriptionObject(c, cus)
	items, err := buildCreateItems(c, p, sub.ID())
	if err != nil {
		return nil, err
	}
	currency, _ := items[0].Map("price")["currency"].(string)
	if cur, ok := p.String("currency"); ok {
		code, cerr := normalizeCurrency("currency", cur)
		if cerr != nil {
			return nil, cerr
		}
		if code != currency {
			return nil, InvalidRequest("currency", "The currency `%s` does not match the currency of the subscription's prices (`%s`).", code, currency)
		}
	}
	method, days, err := readCollection(p, "charge_automatically", nil)
	if err != nil {
		return nil, err
	}
	pb, err := readPaymentBehavior(p)
	if err != nil {
		return nil, err
	}
	if pm, ok := p.String("default_payment_method"); ok && pm != "" {
		if _, err := customerPaymentMethod(c, cus, pm, "default_payment_method"); err != nil {
			return nil, err
		}
		sub["default_payment_method"] = pm
	}
	trialEnd, err := readTrialEnd(c, p)
	if err != nil {
		return nil, err
	}
	md, merr := p.ApplyMetadata(nil)
	if merr != nil {
		return nil, merr
	}
	if d, ok := p.String("description"); ok {
		sub["description"] = nilIfEmpty(d)
	}
	if cus, err = claimCustomerCurrency(c, cus, currency, "currency"); err != nil {
		return nil, err
	}
	now := c.Now().Unix()
	interval, count := itemsInterval(items)
	sub["metadata"], sub["currency"], sub["collection_method"], sub["days_until_due"] = md, currency, method, days
	sub["current_period_end"] = addInterval(time.Unix(now, 0), interval, count).Unix()
	trial := trialEnd > 0
	switch {
	case trial:
		sub["status"], sub["trial_start"], sub["trial_end"] = "trialing", now, trialEnd
		sub["current_period_end"], sub["billing_cycle_anchor"] = trialEnd, trialEnd
	case method == "send_invoice":
		sub["status"] = "active"
	}
	if v, _, err := p.Bool("cancel_at_period_end"); err != nil {
		return nil, err
	} else if v {
		sub["cancel_at_period_end"], sub["cancel_at"], sub["canceled_at"] = true, sub["current_period_end"], now
		sub.Map("cancellation_details")["reason"] = "cancellation_requested"
	}
	if err := storeItems(c, sub, items); err != nil {
		return nil, err
	}
	run := invoiceRun{
		id: NewID("in"), reason: "subscription_create", periodStart: now, periodEnd: now,
		lines: subscriptionLines(c, sub, items, now, sub.Int("current_period_end"), trial), attempt: pb != "default_incomplete",
	}
	sub["latest_invoice"] = run.id
	if err := c.Insert("subscription", sub); err != nil {
		return nil, err
	}
	if err := c.Emit("customer.subscription.created", sub, nil); err != nil {
		return nil, err
	}
	inv, outcome, cardErr, err := issueSubscriptionInvoice(c, sub, cus, run)
	if err != nil {
		return nil, err
	}
	updated := sub.Clone()
	if sub.Str("status") == "incomplete" {
		if inv.Str("status") == "paid" {
			updated["status"] = "active"
		} else if pb == "error_if_incomplete" {
			if outcome == paymentDeclined {
				return nil, cardErr
			}
			return nil, noPaymentMethodError()
		}
	}
	if err := saveSubscription(c, sub, updated); err != nil {
		return nil, err
	}
	return c.Render(updated)
}

func updateSubscription(c *Call, sub Object) (any, error) {
	updated, err := applySubscriptionUpdate(c, sub, c.Params())
	if err != nil {
		return nil, err
	}
	return c.Render(updated)
}

// cancelSubscription is DELETE /v1/subscriptions/{id}: immediate
// cancellation (reason cancellation_requested), optionally prorated
// (`prorate`) and invoiced (`invoice_now`).
func cancelSubscription(c *Call, sub Object) (any, error) {
	p := c.Params()
	if subscriptionEnded(sub.Str("status")) {
		return nil, InvalidRequest("", "The subscription %s has already been canceled.", sub.ID())
	}
	opts := cancelOptions{reason: "cancellation_requested"}
	var perr *Error
	if opts.prorate, _, perr = p.Bool("prorate"); perr != nil {
		return nil, perr
	}
	if opts.invoiceNow, _, perr = p.Bool("invoice_now"); perr != nil {
		return nil, perr
	}
	if cd, ok := p.Sub("cancellation_details"); ok {
		opts.comment, _ = cd.String("comment")
		opts.feedback, _ = cd.String("feedback")
	}
	updated, err := cancelSubscriptionNow(c, sub, opts)
	if err != nil {
		return nil, err
	}
	return c.Render(updated)
}

// listSubscriptions applies Stripe's filters. Without `status` every
// subscription that is not canceled is listed; `all` lists every one,
// `ended` the canceled and incomplete_expired ones.
func listSubscriptions(c *Call) (any, error) {
	p := c.Params()
	if err := refuseUnsupported(p, "test_clock", "automatic_tax"); err != nil {
		return nil, err
	}
	customer, hasCustomer := p.String("customer")
	price, hasPrice := p.String("price")
	method, hasMethod := p.String("collection_method")
	status, _ := p.String("status")
	ranges := map[string]createdFilter{}
	for _, k := range []string{"created", "current_period_end", "current_period_start"} {
		if !p.Has(k) {
			continue
		}
		f, err := parseCreatedFilter(NewParams(map[string]any{"created": p.Raw()[k]}))
		if err != nil {
			return nil, err
		}
		ranges[k] = f
	}
	return c.List("subscription", func(o Object) bool {
		for k, f := range ranges {
			if !f.match(o.Int(k)) {
				return false
			}
		}
		if (hasCustomer && o.Str("customer") != customer) || (hasMethod && o.Str("collection_method") != method) {
			return false
		}
		if hasPrice {
			found := false
			for _, it := range listData(o, "items") {
				found = found || itemPriceID(it) == price
			}
			if !found {
				return false
			}
		}
		st := o.Str("status")
		switch status {
		case "":
			return st != "canceled"
		case "all":
			return true
		case "ended":
			return subscriptionEnded(st)
		}
		return st == status
	})
}
