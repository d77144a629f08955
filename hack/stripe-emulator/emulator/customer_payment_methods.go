package emulator

import (
	"net/http"
	"strings"
)

// Payment methods exist here only as cards attached to customers, so that
// invoices can be charged: Stripe's test payment methods (pm_card_visa…)
// are attached with POST /v1/payment_methods/{id}/attach, with a customer's
// `payment_method` on create, or through the control API (AttachTestCard).

// testCard is one of Stripe's documented test cards
// (https://stripe.com/docs/testing), by its test PaymentMethod id.
type testCard struct {
	brand, last4 string
	// declineOnAttach: attaching the card fails as Stripe's validation of
	// a declined card does (pm_card_chargeDeclined).
	declineOnAttach bool
	// declineOnCharge: attaching succeeds, charging fails
	// (pm_card_chargeCustomerFail, 4000000000000341).
	declineOnCharge bool
	// bypassPending: the charge's funds are available at once
	// (pm_card_bypassPending, 4000000000000077).
	bypassPending bool
}

// Test card ids accepted by the control API and by attach.
const (
	TestCardVisa          = "pm_card_visa"
	TestCardMastercard    = "pm_card_mastercard"
	TestCardBypassPending = "pm_card_bypassPending"
	// TestCardFailing attaches but every charge is declined (4000000000000341).
	TestCardFailing = "pm_card_chargeCustomerFail"
	// TestCardDeclined is declined already when attached (4000000000000002).
	TestCardDeclined = "pm_card_chargeDeclined"
)

var testCards = map[string]testCard{
	TestCardVisa:          {brand: "visa", last4: "4242"},
	TestCardMastercard:    {brand: "mastercard", last4: "4444"},
	TestCardBypassPending: {brand: "visa", last4: "0077", bypassPending: true},
	TestCardFailing:       {brand: "visa", last4: "0341", declineOnCharge: true},
	TestCardDeclined:      {brand: "visa", last4: "0002", declineOnAttach: true},
}

// cardBehavior finds the test card a stored payment method was made from.
func cardBehavior(pm Object) testCard {
	card := pm.Map("card")
	for _, tc := range testCards {
		if card != nil && card["last4"] == tc.last4 && card["brand"] == tc.brand {
			return tc
		}
	}
	return testCard{brand: "visa", last4: "4242"}
}

func declinedError(param string) *Error {
	return CardError("card_declined", "generic_decline", param, "Your card was declined.")
}

func registerPaymentMethods(e *Emulator) {
	e.AddResource(&Resource{
		Object: "payment_method", Noun: "PaymentMethod", IDPrefix: "pm", Path: "/v1/payment_methods",
		Expandable: map[string]string{"customer": "customer"},
	})
	r := e.Router()
	r.Handle(http.MethodGet, "/v1/payment_methods/{payment_method}", retrieveByPath("payment_method", "payment_method"))
	r.Handle(http.MethodPost, "/v1/payment_methods/{payment_method}", updatePaymentMethod)
	r.Handle(http.MethodPost, "/v1/payment_methods/{payment_method}/attach", func(c *Call) (any, error) {
		cusID, ok := c.Params().String("customer")
		if !ok {
			return nil, MissingParam("customer")
		}
		cus, err := c.Lookup("customer", cusID, "customer")
		if err != nil {
			return nil, err
		}
		pm, err := attachPaymentMethod(c, c.PathParam("payment_method"), cus, "payment_method")
		if err != nil {
			return nil, err
		}
		return c.Render(pm)
	})
	r.Handle(http.MethodPost, "/v1/payment_methods/{payment_method}/detach", detachPaymentMethod)
	r.Handle(http.MethodGet, "/v1/customers/{customer}/payment_methods", func(c *Call) (any, error) {
		cus, err := c.Lookup("customer", c.PathParam("customer"), "customer")
		if err != nil {
			return nil, err
		}
		typ, hasType := c.Params().String("type")
		return c.List("payment_method", func(o Object) bool {
			return o.Str("customer") == cus.ID() && (!hasType || o.Str("type") == typ)
		})
	})
}

// newCardPaymentMethod builds the payment method a test card id stands for.
func newCardPaymentMethod(c *Call, tc testCard) Object {
	pm := c.NewObject("payment_method")
	addr := map[string]any{"city": nil, "country": nil, "line1": nil, "line2": nil, "postal_code": nil, "state": nil}
	for k, v := range map[string]any{
		"billing_details": map[string]any{"address": addr, "email": nil, "name": nil, "phone": nil},
		"card": map[string]any{
			"brand": tc.brand, "checks": map[string]any{"address_line1_check": nil, "address_postal_code_check": nil, "cvc_check": nil},
			"country": "US", "display_brand": tc.brand, "exp_month": int64(12), "exp_year": int64(c.Now().UTC().Year() + 3),
			"fingerprint": randomString(16), "funding": "credit", "generated_from": nil, "last4": tc.last4,
			"networks":             map[string]any{"available": []any{tc.brand}, "preferred": nil},
			"three_d_secure_usage": map[string]any{"supported": true}, "wallet": nil,
		},
		"customer": nil, "metadata": map[string]any{}, "type": "card",
	} {
		pm[k] = v
	}
	return pm
}

// attachPaymentMethod attaches id (a stored payment method or one of
// Stripe's test ids, which attach a fresh copy, as on Stripe) to cus and
// emits payment_method.attached.
func attachPaymentMethod(c *Call, id string, cus Object, param string) (Object, error) {
	pm, old, err := preparePaymentMethod(c, id, cus.ID(), param)
	if err != nil {
		return nil, err
	}
	return pm, storeAttached(c, pm, old)
}

// preparePaymentMethod checks that id can be attached to customer cusID and
// returns the attached payment method without storing it, with the stored
// version it replaces (nil for a new one made from a test id).
func preparePaymentMethod(c *Call, id, cusID, param string) (pm, old Object, err error) {
	if tc, ok := testCards[id]; ok {
		if tc.declineOnAttach {
			return nil, nil, declinedError("")
		}
		pm := newCardPaymentMethod(c, tc)
		pm["customer"] = cusID
		return pm, nil, nil
	}
	if strings.HasPrefix(id, "pm_card_") {
		return nil, nil, NoSuchObject("PaymentMethod", id, param)
	}
	old, err = c.Lookup("payment_method", id, param)
	if err != nil {
		return nil, nil, err
	}
	if owner := old.Str("customer"); owner != "" && owner != cusID {
		return nil, nil, InvalidRequest(param, "The payment method you provided has already been attached to a customer.")
	}
	pm = old.Clone()
	pm["customer"] = cusID
	return pm, old, nil
}

// storeAttached stores what preparePaymentMethod returned and emits
// payment_method.attached (nothing when it was attached already).
func storeAttached(c *Call, pm, old Object) error {
	if old == nil {
		if err := c.Insert("payment_method", pm); err != nil {
			return err
		}
		return c.Emit("payment_method.attached", pm, nil)
	}
	prev := Diff(old, pm)
	if len(prev) == 0 {
		return nil
	}
	if err := c.Update("payment_method", pm); err != nil {
		return err
	}
	return c.Emit("payment_method.attached", pm, prev)
}

// customerPaymentMethod checks that id is a payment method attached to cus:
// Stripe refuses a default payment method that belongs to nobody or to
// another customer.
func customerPaymentMethod(c *Call, cus Object, id, param string) (Object, error) {
	pm, err := c.Lookup("payment_method", id, param)
	if err != nil {
		return nil, err
	}
	if pm.Str("customer") != cus.ID() {
		return nil, InvalidRequest(param, "The customer does not have a payment method with the ID %s. "+
			"The payment method must be attached to the customer.", id)
	}
	return pm, nil
}

func updatePaymentMethod(c *Call) (any, error) {
	p := c.Params()
	old, err := c.Lookup("payment_method", c.PathParam("payment_method"), "payment_method")
	if err != nil {
		return nil, err
	}
	if err := refuseUnsupported(p, "billing_details", "card", "link", "us_bank_account"); err != nil {
		return nil, err
	}
	pm := old.Clone()
	md, merr := p.ApplyMetadata(pm.Map("metadata"))
	if merr != nil {
		return nil, merr
	}
	pm["metadata"] = md
	if _, err := c.Save(old, pm); err != nil {
		return nil, err
	}
	return c.Render(pm)
}

// detachPaymentMethod detaches a payment method; a customer or subscription
// default that pointed at it is cleared, as on Stripe.
func detachPaymentMethod(c *Call) (any, error) {
	old, err := c.Lookup("payment_method", c.PathParam("payment_method"), "payment_method")
	if err != nil {
		return nil, err
	}
	cusID := old.Str("customer")
	if cusID == "" {
		return nil, InvalidRequest("payment_method", "The payment method %s is not attached to a customer.", old.ID())
	}
	pm := old.Clone()
	pm["customer"] = nil
	if err := c.Update("payment_method", pm); err != nil {
		return nil, err
	}
	if err := c.Emit("payment_method.detached", pm, Diff(old, pm)); err != nil {
		return nil, err
	}
	if cus, ok := c.Get("customer", cusID); ok {
		if settings := cus.Map("invoice_settings"); settings != nil && settings["default_payment_method"] == pm.ID() {
			updated := cus.Clone()
			updated.Map("invoice_settings")["default_payment_method"] = nil
			if _, err := c.Save(cus, updated); err != nil {
				return nil, err
			}
		}
	}
	for _, sub := range scanAll(c, "subscription", func(o Object) bool { return o.Str("default_payment_method") == pm.ID() }) {
		updated := sub.Clone()
		updated["default_payment_method"] = nil
		if err := saveSubscription(c, sub, updated); err != nil {
			return nil, err
		}
	}
	return c.Render(pm)
}

// paymentMethodFor picks the card an invoice of cus (and sub, may be nil)
// is charged with: the subscription's default_payment_method, else the
// customer's invoice_settings.default_payment_method (Stripe's documented
// order; default_source is not emulated). nil means none.
func paymentMethodFor(c *Call, cus, sub Object) Object {
	ids := []string{}
	if sub != nil {
		ids = append(ids, sub.Str("default_payment_method"))
	}
	if s := cus.Map("invoice_settings"); s != nil {
		id, _ := s["default_payment_method"].(string)
		ids = append(ids, id)
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		if pm, ok := c.Get("payment_method", id); ok && pm.Str("customer") == cus.ID() {
			return pm
		}
	}
	return nil
}
