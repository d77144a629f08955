package emulator

import (
	"net/http"
	"regexp"
)

// deletedCustomerKind keeps the ids of deleted customers: Stripe still
// answers GET /v1/customers/{id} for them, with {id, object, deleted: true}.
const deletedCustomerKind = "deleted_customer"

// invoicePrefixRule is Stripe's rule for invoice_prefix: 3–12 uppercase
// letters or numbers.
var invoicePrefixRule = regexp.MustCompile(`^[A-Z0-9]{3,12}$`)

func registerCustomers(e *Emulator) {
	e.AddResource(&Resource{
		Object: "customer", Noun: "customer", IDPrefix: "cus", Path: "/v1/customers",
		Search: map[string]SearchField{
			"created":  {Type: SearchNumeric},
			"email":    {Type: SearchString},
			"metadata": {Type: SearchMetadata},
			"name":     {Type: SearchString},
			"phone":    {Type: SearchString},
		},
	})
	r := e.Router()
	r.Handle(http.MethodPost, "/v1/customers", createCustomer)
	r.Handle(http.MethodGet, "/v1/customers", listCustomers)
	r.Handle(http.MethodGet, "/v1/customers/search", func(c *Call) (any, error) { return c.Search("customer") })
	r.Handle(http.MethodGet, "/v1/customers/{customer}", retrieveCustomer)
	r.Handle(http.MethodPost, "/v1/customers/{customer}", updateCustomer)
	r.Handle(http.MethodDelete, "/v1/customers/{customer}", deleteCustomer)
	r.Handle(http.MethodGet, "/v1/payment_methods", func(c *Call) (any, error) {
		p := c.Params()
		cus, hasCus := p.String("customer")
		typ, hasType := p.String("type")
		return c.List("payment_method", func(o Object) bool {
			return (!hasCus || o.Str("customer") == cus) && (!hasType || o.Str("type") == typ)
		})
	})
}

func newCustomerObject(c *Call) Object {
	cus := c.NewObject("customer")
	for k, v := range map[string]any{
		"address": nil, "balance": int64(0), "currency": nil, "default_source": nil, "delinquent": false,
		"description": nil, "discount": nil, "email": nil, "invoice_prefix": randomInvoicePrefix(),
		"invoice_settings": map[string]any{"custom_fields": nil, "default_payment_method": nil, "footer": nil, "rendering_options": nil},
		"metadata":         map[string]any{}, "name": nil, "next_invoice_sequence": int64(1), "phone": nil,
		"preferred_locales": []any{}, "shipping": nil, "tax_exempt": "none", "test_clock": nil,
	} {
		cus[k] = v
	}
	return cus
}

// randomInvoicePrefix is an 8-character prefix like the ones Stripe
// generates (uppercase letters and digits).
func randomInvoicePrefix() string {
	const alphabet = "0123456789ABCDEF"
	b := []byte(randomString(8))
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func createCustomer(c *Call) (any, error) {
	p := c.Params()
	if err := refuseUnsupported(p, "cash_balance", "coupon", "promotion_code", "source", "tax", "tax_id_data", "test_clock"); err != nil {
		return nil, err
	}
	cus := newCustomerObject(c)
	// payment_method attaches a card once the customer exists;
	// invoice_settings may already name it (Stripe's documented
	// create-with-card call passes the test id in both places).
	pmParam, hasPM := p.String("payment_method")
	var pm, pmOld Object
	if hasPM {
		var err error
		if pm, pmOld, err = preparePaymentMethod(c, pmParam, cus.ID(), "payment_method"); err != nil {
			return nil, err
		}
	}
	if err := applyCustomerParams(c, p, cus, pm, pmParam); err != nil {
		return nil, err
	}
	if err := c.Create(cus); err != nil {
		return nil, err
	}
	if pm != nil {
		if err := storeAttached(c, pm, pmOld); err != nil {
			return nil, err
		}
	}
	return renderCustomer(c, cus)
}

// applyCustomerParams sets the fields create and update share; "" unsets a
// nullable field. attached/attachedAs let invoice_settings name the payment
// method a create attaches.
func applyCustomerParams(c *Call, p Params, cus, attached Object, attachedAs string) error {
	for _, f := range []string{"description", "email", "name", "phone"} {
		if v, ok := p.String(f); ok {
			cus[f] = nilIfEmpty(v)
		}
	}
	if v, ok, err := p.Int("balance"); err != nil {
		return err
	} else if ok {
		cus["balance"] = v
	}
	if v, ok, err := p.Int("next_invoice_sequence"); err != nil {
		return err
	} else if ok {
		if v < 1 {
			return InvalidRequest("next_invoice_sequence", "This value must be greater than or equal to 1.")
		}
		cus["next_invoice_sequence"] = v
	}
	if v, ok := p.String("invoice_prefix"); ok {
		if !invoicePrefixRule.MatchString(v) {
			return InvalidRequest("invoice_prefix", "Invalid invoice_prefix: must be 3-12 uppercase letters or numbers.")
		}
		cus["invoice_prefix"] = v
	}
	if v, ok := p.String("tax_exempt"); ok {
		if v == "" {
			v = "none"
		}
		cus["tax_exempt"] = v
	}
	if p.Has("preferred_locales") {
		locales := []any{}
		for _, l := range p.Strings("preferred_locales") {
			locales = append(locales, l)
		}
		cus["preferred_locales"] = locales
	}
	if p.IsEmpty("address") {
		cus["address"] = nil
	} else if a, ok := p.Sub("address"); ok {
		cus["address"] = addressFrom(a)
	}
	if p.IsEmpty("shipping") {
		cus["shipping"] = nil
	} else if s, ok := p.Sub("shipping"); ok {
		name, _ := s.String("name")
		if name == "" {
			return MissingParam(s.Name("name"))
		}
		a, _ := s.Sub("address")
		phone, _ := s.String("phone")
		cus["shipping"] = map[string]any{"address": addressFrom(a), "name": name, "phone": nilIfEmpty(phone)}
	}
	if err := applyInvoiceSettings(c, p, cus, attached, attachedAs); err != nil {
		return err
	}
	md, merr := p.ApplyMetadata(cus.Map("metadata"))
	if merr != nil {
		return merr
	}
	cus["metadata"] = md
	return nil
}

func addressFrom(a Params) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"city", "country", "line1", "line2", "postal_code", "state"} {
		v, _ := a.String(k)
		out[k] = nilIfEmpty(v)
	}
	return out
}

func applyInvoiceSettings(c *Call, p Params, cus, attached Object, attachedAs string) error {
	is, ok := p.Sub("invoice_settings")
	if !ok {
		return nil
	}
	settings := cus.Map("invoice_settings")
	if v, ok := is.String("default_payment_method"); ok {
		switch {
		case v == "":
			settings["default_payment_method"] = nil
		case attached != nil && (v == attachedAs || v == attached.ID()):
			settings["default_payment_method"] = attached.ID()
		default:
			if _, err := customerPaymentMethod(c, cus, v, is.Name("default_payment_method")); err != nil {
				return err
			}
			settings["default_payment_method"] = v
		}
	}
	if v, ok := is.String("footer"); ok {
		settings["footer"] = nilIfEmpty(v)
	}
	if is.IsEmpty("custom_fields") {
		settings["custom_fields"] = nil
	} else if is.Has("custom_fields") {
		fields := []any{}
		for _, f := range is.SubList("custom_fields") {
			name, _ := f.String("name")
			value, _ := f.String("value")
			fields = append(fields, map[string]any{"name": name, "value": value})
		}
		if len(fields) > 4 {
			return InvalidRequest(is.Name("custom_fields"), "You can have at most 4 custom fields.")
		}
		settings["custom_fields"] = fields
	}
	if is.IsEmpty("rendering_options") {
		settings["rendering_options"] = nil
	} else if ro, ok := is.Sub("rendering_options"); ok {
		display, _ := ro.String("amount_tax_display")
		settings["rendering_options"] = map[string]any{"amount_tax_display": nilIfEmpty(display)}
	}
	return nil
}

func retrieveCustomer(c *Call) (any, error) {
	id := c.PathParam("customer")
	cus, ok := c.Get("customer", id)
	if !ok {
		if _, deleted := c.Get(deletedCustomerKind, id); deleted {
			return Object{"id": id, "object": "customer", "deleted": true}, nil
		}
		return nil, NoSuchObject("customer", id, "id")
	}
	return renderCustomer(c, cus)
}

// renderCustomer applies expand[]; `subscriptions` (which Stripe only
// includes when expanded) is built from the customer's current
// subscriptions, and invoice_settings.default_payment_method (a nested
// reference the generic renderer does not reach) is expanded here.
func renderCustomer(c *Call, cus Object) (any, error) {
	var paths []string
	withSubs, withPM := false, false
	for _, x := range c.Params().Expand() {
		switch x {
		case "subscriptions":
			withSubs = true
		case "invoice_settings.default_payment_method":
			withPM = true
		default:
			paths = append(paths, x)
		}
	}
	out, err := c.emu.renderObject(c.Tx, cus, paths, 0)
	if err != nil {
		return nil, err
	}
	if id, _ := out.Map("invoice_settings")["default_payment_method"].(string); withPM && id != "" {
		if pm, ok := c.Get("payment_method", id); ok {
			out.Map("invoice_settings")["default_payment_method"] = map[string]any(pm)
		}
	}
	if withSubs {
		subs := scanAll(c, "subscription", func(o Object) bool {
			return o.Str("customer") == cus.ID() && !subscriptionEnded(o.Str("status"))
		})
		out["subscriptions"] = embeddedList("/v1/customers/"+cus.ID()+"/subscriptions", objectsToAny(subs))
	}
	return out, nil
}

func updateCustomer(c *Call) (any, error) {
	p := c.Params()
	old, err := c.Lookup("customer", c.PathParam("customer"), "customer")
	if err != nil {
		return nil, err
	}
	if err := refuseUnsupported(p, "bank_account", "card", "cash_balance", "coupon", "default_alipay_account",
		"default_bank_account", "default_card", "default_source", "promotion_code", "source", "tax"); err != nil {
		return nil, err
	}
	cus := old.Clone()
	if err := applyCustomerParams(c, p, cus, nil, ""); err != nil {
		return nil, err
	}
	if _, err := c.Save(old, cus); err != nil {
		return nil, err
	}
	return renderCustomer(c, cus)
}

// deleteCustomer deletes a customer for good. As Stripe documents, it
// "also immediately cancels any active subscriptions on the customer"
// (each emits customer.subscription.deleted before customer.deleted).
func deleteCustomer(c *Call) (any, error) {
	cus, err := c.Lookup("customer", c.PathParam("customer"), "customer")
	if err != nil {
		return nil, err
	}
	subs := scanAll(c, "subscription", func(o Object) bool {
		return o.Str("customer") == cus.ID() && !subscriptionEnded(o.Str("status"))
	})
	oldestFirst(subs)
	for _, sub := range subs {
		if _, err := cancelSubscriptionNow(c, sub, cancelOptions{reason: "cancellation_requested"}); err != nil {
			return nil, err
		}
	}
	if err := c.Remove(cus); err != nil {
		return nil, err
	}
	if err := c.Insert(deletedCustomerKind, Object{"id": cus.ID(), "object": "customer", "deleted": true}); err != nil {
		return nil, err
	}
	return Object{"id": cus.ID(), "object": "customer", "deleted": true}, nil
}

func listCustomers(c *Call) (any, error) {
	p := c.Params()
	if err := refuseUnsupported(p, "test_clock"); err != nil {
		return nil, err
	}
	email, hasEmail := p.String("email")
	created, err := parseCreatedFilter(p)
	if err != nil {
		return nil, err
	}
	// Stripe documents the email filter as case-sensitive.
	return c.List("customer", func(o Object) bool {
		return (!hasEmail || o.Str("email") == email) && created.match(o.Int("created"))
	})
}

// claimCustomerCurrency sets a customer's currency the first time it is
// billed in one, and refuses a second currency with Stripe's error.
func claimCustomerCurrency(c *Call, cus Object, currency, param string) (Object, error) {
	switch cur := cus.Str("currency"); cur {
	case currency:
		return cus, nil
	case "":
		updated := cus.Clone()
		updated["currency"] = currency
		if _, err := c.Save(cus, updated); err != nil {
			return nil, err
		}
		return updated, nil
	default:
		return nil, InvalidRequest(param, "You cannot combine currencies on a single customer. This customer has an "+
			"active subscription, subscription schedule, discount, quote, or invoice item with currency %s.", cur)
	}
}
