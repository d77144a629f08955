package emulator

import (
	"net/http"
	"time"
)

// Charges are made by paying invoices (and by the control API's
// SimulateCharge); POST /v1/charges (the legacy Charges API) is not
// emulated. A successful charge creates its balance transaction.

func registerCharges(e *Emulator) {
	e.AddResource(&Resource{
		Object: "charge", Noun: "charge", IDPrefix: "ch", Path: "/v1/charges",
		Expandable: map[string]string{
			"balance_transaction": "balance_transaction", "customer": "customer", "invoice": "invoice",
			"failure_balance_transaction": "balance_transaction",
		},
		// Since API version 2022-11-15 a charge's refunds are only
		// included when expanded.
		Includable: []string{"refunds"},
		Search: map[string]SearchField{
			"amount":   {Type: SearchNumeric},
			"created":  {Type: SearchNumeric},
			"currency": {Type: SearchToken},
			"customer": {Type: SearchString},
			"disputed": {Type: SearchBool},
			"metadata": {Type: SearchMetadata},
			"refunded": {Type: SearchBool},
			"status":   {Type: SearchToken},
		},
	})
	r := e.Router()
	r.Handle(http.MethodGet, "/v1/charges", listCharges)
	r.Handle(http.MethodGet, "/v1/charges/search", func(c *Call) (any, error) { return c.Search("charge") })
	r.Handle(http.MethodGet, "/v1/charges/{charge}", func(c *Call) (any, error) {
		ch, err := c.Lookup("charge", c.PathParam("charge"), "charge")
		if err != nil {
			return nil, err
		}
		return c.Render(ch)
	})
	r.Handle(http.MethodPost, "/v1/charges/{charge}", updateCharge)
}

// chargeRequest is one card payment.
type chargeRequest struct {
	customer    string // "" for none
	pm          Object
	amount      int64
	currency    string
	invoice     string // "" for none
	description string
	metadata    map[string]any
}

// stripeFee is Stripe's standard card pricing in the US (2.9% + 30¢),
// applied to every currency here.
func stripeFee(amount int64) int64 { return (amount*29+500)/1000 + 30 }

// chargeCard charges pm as the test card it is made from behaves: a
// succeeded charge (charge.succeeded) with a balance transaction whose
// funds become available two days later at 00:00 UTC (at once for
// pm_card_bypassPending, which also emits balance.available), or a failed
// charge (charge.failed) and the card error Stripe answers.
func chargeCard(c *Call, req chargeRequest) (Object, *Error, error) {
	tc := cardBehavior(req.pm)
	ch := newChargeObject(c, req)
	if tc.declineOnCharge {
		ch["status"], ch["paid"], ch["captured"], ch["amount_captured"] = "failed", false, false, int64(0)
		ch["failure_code"], ch["failure_message"] = "card_declined", "Your card was declined."
		ch["outcome"] = map[string]any{
			"network_status": "declined_by_network", "reason": "generic_decline", "risk_level": "normal",
			"risk_score": int64(20), "rule": nil, "type": "issuer_declined",
			"seller_message": "The bank did not return any further details with this decline.",
		}
		if err := c.Insert("charge", ch); err != nil {
			return nil, nil, err
		}
		return ch, declinedError(""), c.Emit("charge.failed", ch, nil)
	}
	availableOn := startOfDay(c.Now()).Add(48 * time.Hour).Unix()
	if tc.bypassPending {
		availableOn = c.Now().Unix()
	}
	fee := stripeFee(req.amount)
	txn := newBalanceTxn(c, balanceTxnSpec{
		typ: "charge", category: "charge", amount: req.amount, fee: fee, currency: req.currency, source: ch.ID(),
		description: ch["description"], availableOn: availableOn,
	})
	if err := c.Insert("balance_transaction", txn); err != nil {
		return nil, nil, err
	}
	ch["balance_transaction"] = txn.ID()
	if err := c.Insert("charge", ch); err != nil {
		return nil, nil, err
	}
	if err := c.Emit("charge.succeeded", ch, nil); err != nil {
		return nil, nil, err
	}
	if tc.bypassPending {
		if err := c.Emit("balance.available", balanceObject(c), nil); err != nil {
			return nil, nil, err
		}
	}
	return ch, nil, nil
}

func newChargeObject(c *Call, req chargeRequest) Object {
	ch := c.NewObject("charge")
	card := req.pm.Map("card")
	md := req.metadata
	if md == nil {
		md = map[string]any{}
	}
	var customer, invoice, description any
	if req.customer != "" {
		customer = req.customer
	}
	if req.invoice != "" {
		invoice = req.invoice
	}
	if req.description != "" {
		description = req.description
	}
	for k, v := range map[string]any{
		"amount": req.amount, "amount_captured": req.amount, "amount_refunded": int64(0), "application": nil,
		"application_fee": nil, "application_fee_amount": nil, "balance_transaction": nil,
		"billing_details": cloneValue(req.pm["billing_details"]), "calculated_statement_descriptor": nil,
		"captured": true, "currency": req.currency, "customer": customer, "description": description,
		"disputed": false, "failure_balance_transaction": nil, "failure_code": nil, "failure_message": nil,
		"fraud_details": map[string]any{}, "invoice": invoice, "metadata": md, "on_behalf_of": nil,
		"outcome": map[string]any{
			"network_status": "approved_by_network", "reason": nil, "risk_level": "normal", "risk_score": int64(20),
			"rule": nil, "seller_message": "Payment complete.", "type": "authorized",
		},
		"paid": true, "payment_intent": nil, "payment_method": req.pm.ID(),
		"payment_method_details": map[string]any{"type": "card", "card": map[string]any{
			"amount_authorized": req.amount, "brand": card["brand"], "capture_before": nil,
			"checks": cloneValue(card["checks"]), "country": card["country"], "exp_month": card["exp_month"],
			"exp_year": card["exp_year"], "extended_authorization": map[string]any{"status": "disabled"},
			"fingerprint": card["fingerprint"], "funding": card["funding"],
			"incremental_authorization": map[string]any{"status": "unavailable"}, "installments": nil,
			"last4": card["last4"], "mandate": nil, "multicapture": map[string]any{"status": "unavailable"},
			"network": card["brand"], "network_token": map[string]any{"used": false},
			"overcapture":    map[string]any{"maximum_amount_capturable": req.amount, "status": "unavailable"},
			"three_d_secure": nil, "wallet": nil,
		}},
		"radar_options": nil, "receipt_email": nil, "receipt_number": nil, "receipt_url": nil, "refunded": false,
		"review": nil, "shipping": nil, "source_transfer": nil, "statement_descriptor": nil,
		"statement_descriptor_suffix": nil, "status": "succeeded", "transfer": nil, "transfer_data": nil,
		"transfer_group": nil,
	} {
		ch[k] = v
	}
	ch["refunds"] = embeddedList("/v1/charges/"+ch.ID()+"/refunds", nil)
	return ch
}

func listCharges(c *Call) (any, error) {
	p := c.Params()
	customer, hasCustomer := p.String("customer")
	pi, hasPI := p.String("payment_intent")
	group, hasGroup := p.String("transfer_group")
	created, err := parseCreatedFilter(p)
	if err != nil {
		return nil, err
	}
	return c.List("charge", func(o Object) bool {
		return (!hasCustomer || o.Str("customer") == customer) && (!hasPI || o.Str("payment_intent") == pi) &&
			(!hasGroup || o.Str("transfer_group") == group) && created.match(o.Int("created"))
	})
}

func updateCharge(c *Call) (any, error) {
	p := c.Params()
	old, err := c.Lookup("charge", c.PathParam("charge"), "charge")
	if err != nil {
		return nil, err
	}
	if err := refuseUnsupported(p, "customer", "fraud_details", "shipping"); err != nil {
		return nil, err
	}
	ch := old.Clone()
	for _, f := range []string{"description", "receipt_email", "transfer_group"} {
		if v, ok := p.String(f); ok {
			ch[f] = nilIfEmpty(v)
		}
	}
	md, merr := p.ApplyMetadata(ch.Map("metadata"))
	if merr != nil {
		return nil, merr
	}
	ch["metadata"] = md
	if _, err := c.Save(old, ch); err != nil {
		return nil, err
	}
	return c.Render(ch)
}
