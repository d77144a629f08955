package emulator

import "net/http"

// Payouts move available funds to the account's bank. Automatic payouts
// (Stripe's payout schedule) are made by the control API's SimulatePayout:
// each pays out every available transaction not yet paid out, and
// GET /v1/balance_transactions?payout= lists them. Manual payouts
// (POST /v1/payouts) debit the balance but, as Stripe documents, cannot be
// reconciled through that filter.

func registerPayouts(e *Emulator) {
	e.AddResource(&Resource{
		Object: "payout", Noun: "payout", IDPrefix: "po", Path: "/v1/payouts",
		Expandable: map[string]string{"balance_transaction": "balance_transaction",
			"failure_balance_transaction": "balance_transaction"},
	})
	r := e.Router()
	r.Handle(http.MethodPost, "/v1/payouts", createManualPayout)
	r.Handle(http.MethodGet, "/v1/payouts", listPayouts)
	r.Handle(http.MethodGet, "/v1/payouts/{payout}", func(c *Call) (any, error) {
		po, err := c.Lookup("payout", c.PathParam("payout"), "payout")
		if err != nil {
			return nil, err
		}
		return c.Render(po)
	})
	r.Handle(http.MethodPost, "/v1/payouts/{payout}", func(c *Call) (any, error) {
		old, err := c.Lookup("payout", c.PathParam("payout"), "payout")
		if err != nil {
			return nil, err
		}
		po := old.Clone()
		md, merr := c.Params().ApplyMetadata(po.Map("metadata"))
		if merr != nil {
			return nil, merr
		}
		po["metadata"] = md
		if _, err := c.Save(old, po); err != nil {
			return nil, err
		}
		return c.Render(po)
	})
	r.Handle(http.MethodPost, "/v1/payouts/{payout}/cancel", cancelPayout)
}

func newPayoutObject(c *Call, amount int64, currency string, automatic bool) Object {
	po := c.NewObject("payout")
	reconciliation := "not_applicable"
	if automatic {
		reconciliation = "in_progress"
	}
	for k, v := range map[string]any{
		"amount": amount, "arrival_date": startOfDay(c.Now()).Unix(), "automatic": automatic,
		"balance_transaction": nil, "currency": currency, "description": "STRIPE PAYOUT", "destination": nil,
		"failure_balance_transaction": nil, "failure_code": nil, "failure_message": nil, "metadata": map[string]any{},
		"method": "standard", "original_payout": nil, "reconciliation_status": reconciliation, "reversed_by": nil,
		"source_type": "card", "statement_descriptor": nil, "status": "pending", "type": "bank_account",
	} {
		po[k] = v
	}
	return po
}

// insertPayout stores a payout and its balance transaction (debiting the
// balance at once) and emits payout.created.
func insertPayout(c *Call, po Object) (Object, error) {
	txn := newBalanceTxn(c, balanceTxnSpec{
		typ: "payout", category: "payout", amount: -po.Int("amount"), currency: po.Str("currency"), source: po.ID(),
		description: po["description"], availableOn: c.Now().Unix(),
	})
	if err := c.Insert("balance_transaction", txn); err != nil {
		return nil, err
	}
	po["balance_transaction"] = txn.ID()
	return po, c.Create(po)
}

func availableIn(c *Call, currency string) int64 {
	for _, a := range balanceObject(c)["available"].([]any) {
		if m := a.(map[string]any); m["currency"] == currency {
			return m["amount"].(int64)
		}
	}
	return 0
}

func createManualPayout(c *Call) (any, error) {
	p := c.Params()
	if err := refuseUnsupported(p, "destination"); err != nil {
		return nil, err
	}
	if m, _ := p.String("method"); m == "instant" {
		return nil, refuseUnsupported(p, "method")
	}
	if st, ok := p.String("source_type"); ok && st != "card" {
		return nil, refuseUnsupported(p, "source_type")
	}
	amount, ok, err := p.Int("amount")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, MissingParam("amount")
	}
	if amount < 1 {
		return nil, InvalidRequest("amount", "This value must be greater than or equal to 1.")
	}
	cur, ok := p.String("currency")
	if !ok {
		return nil, MissingParam("currency")
	}
	currency, cerr := normalizeCurrency("currency", cur)
	if cerr != nil {
		return nil, cerr
	}
	if err := settleBalance(c); err != nil {
		return nil, err
	}
	if availableIn(c, currency) < amount {
		return nil, InvalidRequestCode("balance_insufficient", "amount",
			"You have insufficient funds in your Stripe account for this transfer. Your card balance is too low. "+
				"You can use the /v1/balance endpoint to view your Stripe balance (for more details, see stripe.com/docs/api#balance).")
	}
	po := newPayoutObject(c, amount, currency, false)
	if d, ok := p.String("description"); ok {
		po["description"] = nilIfEmpty(d)
	}
	if d, ok := p.String("statement_descriptor"); ok {
		po["statement_descriptor"] = nilIfEmpty(d)
	}
	md, merr := p.ApplyMetadata(nil)
	if merr != nil {
		return nil, merr
	}
	po["metadata"] = md
	if _, err := insertPayout(c, po); err != nil {
		return nil, err
	}
	return c.Render(po)
}

// cancelPayout cancels a pending manual payout; a payout_cancel transaction
// returns its funds.
func cancelPayout(c *Call) (any, error) {
	old, err := c.Lookup("payout", c.PathParam("payout"), "payout")
	if err != nil {
		return nil, err
	}
	if old.Bool("automatic") {
		return nil, InvalidRequest("payout", "Automatic payouts cannot be canceled.")
	}
	if old.Str("status") != "pending" {
		return nil, InvalidRequest("payout", "Only pending payouts can be canceled; this payout is %s.", old.Str("status"))
	}
	txn := newBalanceTxn(c, balanceTxnSpec{
		typ: "payout_cancel", category: "payout_reversal", amount: old.Int("amount"), currency: old.Str("currency"),
		source: old.ID(), description: old["description"], availableOn: c.Now().Unix(),
	})
	if err := c.Insert("balance_transaction", txn); err != nil {
		return nil, err
	}
	po := old.Clone()
	po["status"] = "canceled"
	if _, err := c.Save(old, po); err != nil {
		return nil, err
	}
	if err := c.Emit("payout.canceled", po, nil); err != nil {
		return nil, err
	}
	return c.Render(po)
}

func listPayouts(c *Call) (any, error) {
	p := c.Params()
	created, err := parseCreatedFilter(p)
	if err != nil {
		return nil, err
	}
	arrival, err := parseCreatedFilter(NewParams(map[string]any{"created": p.Raw()["arrival_date"]}))
	if !p.Has("arrival_date") {
		arrival, err = createdFilter{}, nil
	}
	if err != nil {
		return nil, err
	}
	status, hasStatus := p.String("status")
	dest, hasDest := p.String("destination")
	return c.List("payout", func(o Object) bool {
		return created.match(o.Int("created")) && arrival.match(o.Int("arrival_date")) &&
			(!hasStatus || o.Str("status") == status) && (!hasDest || o.Str("destination") == dest)
	})
}

// createAutomaticPayouts pays out, per currency, every available balance
// transaction no automatic payout has covered yet (pending payouts, status
// pending, reconciliation in_progress). Currencies with nothing positive to
// pay out get no payout.
func createAutomaticPayouts(c *Call) ([]Object, error) {
	if err := settleBalance(c); err != nil {
		return nil, err
	}
	covered := map[string]bool{}
	c.Scan(payoutSettlementKind, func(o Object) bool {
		for _, id := range o["balance_transactions"].([]any) {
			covered[id.(string)] = true
		}
		return true
	})
	now := c.Now().Unix()
	byCurrency := map[string][]string{}
	sums := map[string]int64{}
	txns := scanAll(c, "balance_transaction", func(o Object) bool {
		return !covered[o.ID()] && o.Int("available_on") <= now
	})
	oldestFirst(txns)
	for _, t := range txns {
		cur := t.Str("currency")
		byCurrency[cur] = append(byCurrency[cur], t.ID())
		sums[cur] += t.Int("net")
	}
	var out []Object
	for _, cur := range sortedKeys(byCurrency) {
		if sums[cur] <= 0 {
			continue
		}
		po := newPayoutObject(c, sums[cur], cur, true)
		po, err := insertPayout(c, po)
		if err != nil {
			return nil, err
		}
		ids := []any{}
		for _, id := range byCurrency[cur] {
			ids = append(ids, id)
		}
		ids = append(ids, po.Str("balance_transaction"))
		rec := Object{"id": po.ID(), "object": payoutSettlementKind, "balance_transactions": ids}
		if err := c.Insert(payoutSettlementKind, rec); err != nil {
			return nil, err
		}
		out = append(out, po)
	}
	return out, nil
}

// markPayoutPaid moves a pending payout to paid (payout.updated, then
// payout.paid) and, for an automatic payout, completes its reconciliation
// (payout.reconciliation_completed).
func markPayoutPaid(c *Call, old Object) (Object, error) {
	if s := old.Str("status"); s != "pending" && s != "in_transit" {
		return nil, InvalidRequest("payout", "Payout %s is %s; only pending or in-transit payouts can be paid.", old.ID(), s)
	}
	po := old.Clone()
	po["status"] = "paid"
	if po.Int("arrival_date") < startOfDay(c.Now()).Unix() {
		po["arrival_date"] = startOfDay(c.Now()).Unix()
	}
	if po.Bool("automatic") {
		po["reconciliation_status"] = "completed"
	}
	if _, err := c.Save(old, po); err != nil {
		return nil, err
	}
	if err := c.Emit("payout.paid", po, nil); err != nil {
		return nil, err
	}
	if po.Bool("automatic") {
		if err := c.Emit("payout.reconciliation_completed", po, nil); err != nil {
			return nil, err
		}
	}
	return po, nil
}
