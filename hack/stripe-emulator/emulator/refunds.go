package emulator

import "net/http"

// Refunds of card charges succeed at once: each creates a refund balance
// transaction (the amount leaves the balance; Stripe keeps its fee), updates
// the charge (amount_refunded, refunded, refunds) and emits charge.refunded.
//
// Events as of API version 2023-10-16: a refund of a charge emits no
// refund.created, and an update of one emits charge.refund.updated, not
// refund.updated. Stripe's changelog for 2024-10-28.acacia ("Adds created,
// updated, and failed events for all refund types") says of refund.created,
// refund.updated and refund.failed: "Previously, these events were only sent
// for refunds without a corresponding charge" — and the emulator only has
// refunds of charges.

func registerRefunds(e *Emulator) {
	e.AddResource(&Resource{
		Object: "refund", Noun: "refund", IDPrefix: "re", Path: "/v1/refunds",
		Expandable: map[string]string{"balance_transaction": "balance_transaction", "charge": "charge",
			"failure_balance_transaction": "balance_transaction"},
	})
	r := e.Router()
	r.Handle(http.MethodPost, "/v1/refunds", func(c *Call) (any, error) {
		p := c.Params()
		chID, hasCharge := p.String("charge")
		_, hasPI := p.String("payment_intent")
		switch {
		case hasCharge && hasPI:
			return nil, Exclusive("charge", "payment_intent")
		case hasPI:
			return nil, refuseUnsupported(p, "payment_intent")
		case !hasCharge:
			return nil, InvalidRequest("", "One of the following params should be provided for this request: payment_intent or charge.")
		}
		return createRefund(c, chID, "charge")
	})
	r.Handle(http.MethodPost, "/v1/charges/{charge}/refunds", func(c *Call) (any, error) {
		return createRefund(c, c.PathParam("charge"), "charge")
	})
	r.Handle(http.MethodPost, "/v1/charges/{charge}/refund", func(c *Call) (any, error) {
		// The legacy endpoint answers with the charge.
		if _, err := createRefund(c, c.PathParam("charge"), "charge"); err != nil {
			return nil, err
		}
		ch, _ := c.Get("charge", c.PathParam("charge"))
		return c.Render(ch)
	})
	r.Handle(http.MethodGet, "/v1/refunds", func(c *Call) (any, error) {
		p := c.Params()
		ch, hasCharge := p.String("charge")
		pi, hasPI := p.String("payment_intent")
		created, err := parseCreatedFilter(p)
		if err != nil {
			return nil, err
		}
		return c.List("refund", func(o Object) bool {
			return (!hasCharge || o.Str("charge") == ch) && (!hasPI || o.Str("payment_intent") == pi) && created.match(o.Int("created"))
		})
	})
	r.Handle(http.MethodGet, "/v1/charges/{charge}/refunds", func(c *Call) (any, error) {
		ch, err := c.Lookup("charge", c.PathParam("charge"), "charge")
		if err != nil {
			return nil, err
		}
		return c.List("refund", func(o Object) bool { return o.Str("charge") == ch.ID() })
	})
	r.Handle(http.MethodGet, "/v1/refunds/{refund}", func(c *Call) (any, error) {
		re, err := c.Lookup("refund", c.PathParam("refund"), "refund")
		if err != nil {
			return nil, err
		}
		return c.Render(re)
	})
	r.Handle(http.MethodGet, "/v1/charges/{charge}/refunds/{refund}", func(c *Call) (any, error) {
		re, ok := c.Get("refund", c.PathParam("refund"))
		if !ok || re.Str("charge") != c.PathParam("charge") {
			return nil, NoSuchObject("refund", c.PathParam("refund"), "refund")
		}
		return c.Render(re)
	})
	r.Handle(http.MethodPost, "/v1/refunds/{refund}", func(c *Call) (any, error) {
		old, err := c.Lookup("refund", c.PathParam("refund"), "refund")
		if err != nil {
			return nil, err
		}
		re := old.Clone()
		md, merr := c.Params().ApplyMetadata(re.Map("metadata"))
		if merr != nil {
			return nil, merr
		}
		re["metadata"] = md
		// A refund of a charge: charge.refund.updated (see the top of
		// this file); nothing when nothing changed.
		if prev := Diff(old, re); len(prev) > 0 {
			if err := c.Update("refund", re); err != nil {
				return nil, err
			}
			if err := c.Emit("charge.refund.updated", re, prev); err != nil {
				return nil, err
			}
		}
		return c.Render(re)
	})
}

func createRefund(c *Call, chargeID, param string) (any, error) {
	p := c.Params()
	if err := refuseUnsupported(p, "customer", "instructions_email", "origin", "refund_application_fee", "reverse_transfer"); err != nil {
		return nil, err
	}
	old, err := c.Lookup("charge", chargeID, param)
	if err != nil {
		return nil, err
	}
	if old.Str("status") != "succeeded" {
		return nil, InvalidRequest(param, "Charge %s has not succeeded and cannot be refunded.", chargeID)
	}
	remaining := old.Int("amount") - old.Int("amount_refunded")
	if remaining <= 0 {
		return nil, InvalidRequestCode("charge_already_refunded", param, "Charge %s has already been refunded.", chargeID)
	}
	amount := remaining
	if v, ok, err := p.Int("amount"); err != nil {
		return nil, err
	} else if ok {
		if v < 1 {
			return nil, InvalidRequest("amount", "This value must be greater than or equal to 1.")
		}
		cur := old.Str("currency")
		if v > old.Int("amount") {
			return nil, InvalidRequestCode("amount_too_large", "amount", "Refund amount (%s) is greater than charge amount (%s)",
				formatMoney(v, cur), formatMoney(old.Int("amount"), cur))
		}
		if v > remaining {
			return nil, InvalidRequestCode("amount_too_large", "amount", "Refund amount (%s) is greater than unrefunded amount on charge (%s)",
				formatMoney(v, cur), formatMoney(remaining, cur))
		}
		amount = v
	}
	if cur, ok := p.String("currency"); ok {
		if code, cerr := normalizeCurrency("currency", cur); cerr != nil || code != old.Str("currency") {
			return nil, InvalidRequest("currency", "The refund currency must be the charge's currency (%s).", old.Str("currency"))
		}
	}
	re := c.NewObject("refund")
	delete(re, "livemode") // refunds have no livemode
	reason, _ := p.String("reason")
	md, merr := p.ApplyMetadata(nil)
	if merr != nil {
		return nil, merr
	}
	description := "REFUND FOR CHARGE"
	if d := old.Str("description"); d != "" {
		description += " (" + d + ")"
	}
	txn := newBalanceTxn(c, balanceTxnSpec{
		typ: "refund", category: "refund", amount: -amount, currency: old.Str("currency"), source: re.ID(),
		description: description, availableOn: c.Now().Unix(),
	})
	if err := c.Insert("balance_transaction", txn); err != nil {
		return nil, err
	}
	for k, v := range map[string]any{
		"amount": amount, "balance_transaction": txn.ID(), "charge": old.ID(), "currency": old.Str("currency"),
		"description": nil,
		"destination_details": map[string]any{"type": "card", "card": map[string]any{
			"reference": nil, "reference_status": "pending", "reference_type": "acquirer_reference_number", "type": "refund"}},
		"failure_balance_transaction": nil, "failure_reason": nil, "instructions_email": nil, "metadata": md,
		"next_action": nil, "payment_intent": old["payment_intent"], "reason": nilIfEmpty(reason),
		"receipt_number": nil, "source_transfer_reversal": nil, "status": "succeeded", "transfer_reversal": nil,
	} {
		re[k] = v
	}
	// Stored without refund.created (2023-10-16 sends it only for refunds
	// without a charge); charge.refunded below carries the change.
	if err := c.Insert("refund", re); err != nil {
		return nil, err
	}
	ch := old.Clone()
	ch["amount_refunded"] = old.Int("amount_refunded") + amount
	ch["refunded"] = ch.Int("amount_refunded") == ch.Int("amount")
	refunds := append([]any{map[string]any(re.Clone())}, objectsToAny(listData(old, "refunds"))...)
	ch["refunds"] = embeddedList("/v1/charges/"+ch.ID()+"/refunds", refunds)
	if err := c.Update("charge", ch); err != nil {
		return nil, err
	}
	if err := c.Emit("charge.refunded", ch, Diff(old, ch)); err != nil {
		return nil, err
	}
	return c.Render(re)
}
