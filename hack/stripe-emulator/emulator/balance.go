package emulator

import (
	"net/http"
	"strings"
)

// Balance transactions record every movement of funds (charge, refund,
// payout, payout_cancel); the balance is their sum by status. A
// transaction is `pending` until its available_on and `available` after;
// reads compute the status from the clock, and every billing write (and
// the control API's SettleBalance) stores it and emits balance.available
// when funds became available.

// payoutSettlementKind records, per automatic payout, the balance
// transactions it paid out (what GET /v1/balance_transactions?payout=
// lists). It is internal: no endpoint returns it.
const payoutSettlementKind = "payout_settlement"

func registerBalance(e *Emulator) {
	e.AddResource(&Resource{Object: "balance_transaction", Noun: "balance transaction", IDPrefix: "txn", Path: "/v1/balance_transactions"})
	r := e.Router()
	r.Handle(http.MethodGet, "/v1/balance", func(c *Call) (any, error) {
		if len(c.Params().Expand()) > 0 {
			return nil, InvalidRequest("expand", "This property cannot be expanded (%s).", c.Params().Expand()[0])
		}
		return balanceObject(c), nil
	})
	for _, base := range []string{"/v1/balance_transactions", "/v1/balance/history"} {
		r.Handle(http.MethodGet, base, listBalanceTxns)
		r.Handle(http.MethodGet, base+"/{id}", retrieveBalanceTxn)
	}
}

// balanceTxnSpec describes a new balance transaction.
type balanceTxnSpec struct {
	typ, category    string
	amount, fee      int64
	currency, source string
	description      any
	availableOn      int64
}

func newBalanceTxn(c *Call, s balanceTxnSpec) Object {
	txn := c.NewObject("balance_transaction")
	delete(txn, "livemode") // balance transactions have no livemode
	fees := []any{}
	if s.fee != 0 {
		fees = append(fees, map[string]any{"amount": s.fee, "application": nil, "currency": s.currency,
			"description": "Stripe processing fees", "type": "stripe_fee"})
	}
	status := "pending"
	if s.availableOn <= c.Now().Unix() {
		status = "available"
	}
	for k, v := range map[string]any{
		"amount": s.amount, "available_on": s.availableOn, "currency": s.currency, "description": s.description,
		"exchange_rate": nil, "fee": s.fee, "fee_details": fees, "net": s.amount - s.fee,
		"reporting_category": s.category, "source": s.source, "status": status, "type": s.typ,
	} {
		txn[k] = v
	}
	return txn
}

// liveStatus sets a transaction's status from the clock.
func liveStatus(txn map[string]any, now int64) {
	if on, _ := txn["available_on"].(int64); on <= now {
		txn["status"] = "available"
	}
}

// settleBalance stores `available` on the transactions whose funds have
// become available and emits balance.available when there were any.
func settleBalance(c *Call) error {
	now := c.Now().Unix()
	due := scanAll(c, "balance_transaction", func(o Object) bool {
		return o.Str("status") == "pending" && o.Int("available_on") <= now
	})
	for _, txn := range due {
		txn["status"] = "available"
		if err := c.Update("balance_transaction", txn); err != nil {
			return err
		}
	}
	if len(due) == 0 {
		return nil
	}
	return c.Emit("balance.available", balanceObject(c), nil)
}

// balanceObject sums the account's transactions by currency and status.
// An account that never moved money shows 0 in its default currency.
func balanceObject(c *Call) Object {
	now := c.Now().Unix()
	avail, pend := map[string]int64{}, map[string]int64{}
	c.Scan("balance_transaction", func(o Object) bool {
		if o.Int("available_on") <= now {
			avail[o.Str("currency")] += o.Int("net")
		} else {
			pend[o.Str("currency")] += o.Int("net")
		}
		return true
	})
	if c.Req.Connected {
		// What FundAccount added is available at once, as the live-mode deletion rule counts it.
		for cur, v := range balanceOf(accountState(c.Tx, c.emu.platform, c.Req.Account)) {
			avail[cur] += v
		}
	}
	currencies := map[string]bool{}
	for cur := range avail {
		currencies[cur] = true
	}
	for cur := range pend {
		currencies[cur] = true
	}
	if len(currencies) == 0 {
		_, cur, _ := accountProfile(c)
		currencies[cur] = true
	}
	codes := sortedKeys(currencies)
	amounts := func(m map[string]int64) []any {
		out := make([]any, 0, len(codes))
		for _, cur := range codes {
			out = append(out, map[string]any{"amount": m[cur], "currency": cur, "source_types": map[string]any{"card": m[cur]}})
		}
		return out
	}
	return Object{"object": "balance", "available": amounts(avail), "pending": amounts(pend), "livemode": false}
}

func retrieveBalanceTxn(c *Call) (any, error) {
	txn, err := c.Lookup("balance_transaction", c.PathParam("id"), "id")
	if err != nil {
		return nil, err
	}
	rest, sourcePaths := splitSourceExpand(c.Params().Expand(), "")
	out, err := c.emu.renderObject(c.Tx, txn, rest, 0)
	if err != nil {
		return nil, err
	}
	liveStatus(out, c.Now().Unix())
	if sourcePaths != nil {
		if err := expandSource(c, out, sourcePaths); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// listBalanceTxns lists transactions with Stripe's filters: created,
// currency, source ("only returns the original transaction"), type, and
// payout ("for automatic Stripe payouts only, only returns transactions that
// were paid out on the specified payout ID", the payout's own transaction
// included, so that the amounts of the list sum to zero).
func listBalanceTxns(c *Call) (any, error) {
	p := c.Params()
	created, err := parseCreatedFilter(p)
	if err != nil {
		return nil, err
	}
	currency, hasCurrency := p.String("currency")
	source, hasSource := p.String("source")
	typ, hasType := p.String("type")
	var settled map[string]bool
	if poID, ok := p.String("payout"); ok {
		po, err := c.Lookup("payout", poID, "payout")
		if err != nil {
			return nil, err
		}
		if !po.Bool("automatic") {
			return nil, InvalidRequest("payout", "Balance transaction history can only be filtered on automatic transfers, not manual.")
		}
		settled = map[string]bool{}
		if rec, ok := c.Get(payoutSettlementKind, po.ID()); ok {
			for _, id := range rec["balance_transactions"].([]any) {
				settled[id.(string)] = true
			}
		}
	}
	rest, sourcePaths := splitSourceExpand(p.Expand(), "data.")
	raw := map[string]any{}
	for k, v := range p.Raw() {
		raw[k] = v
	}
	expand := []any{}
	for _, x := range rest {
		expand = append(expand, x)
	}
	raw["expand"] = expand
	req := *c.Req
	req.Params = NewParams(raw)
	listing := &Call{Tx: c.Tx, Req: &req, emu: c.emu}
	res, err := listing.List("balance_transaction", func(o Object) bool {
		return created.match(o.Int("created")) && (!hasCurrency || o.Str("currency") == currency) &&
			(!hasSource || o.Str("source") == source) && (!hasType || o.Str("type") == typ) &&
			(settled == nil || settled[o.ID()])
	})
	if err != nil {
		return nil, err
	}
	now := c.Now().Unix()
	for _, d := range res.(Object)["data"].([]any) {
		m := d.(map[string]any)
		liveStatus(m, now)
		if sourcePaths != nil {
			if err := expandSource(c, m, sourcePaths); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

// splitSourceExpand separates expansions of `source` (which may name a
// charge, refund or payout, so the generic one-kind expansion cannot serve
// it) from the others. sourcePaths is nil when source is not expanded, and
// holds the paths below source ("" for source itself).
func splitSourceExpand(expand []string, prefix string) (rest, sourcePaths []string) {
	for _, x := range expand {
		r, ok := strings.CutPrefix(x, prefix)
		if ok && (r == "source" || strings.HasPrefix(r, "source.")) {
			sourcePaths = append(sourcePaths, strings.TrimPrefix(strings.TrimPrefix(r, "source"), "."))
			continue
		}
		rest = append(rest, x)
	}
	return rest, sourcePaths
}

func expandSource(c *Call, txn map[string]any, paths []string) error {
	id, _ := txn["source"].(string)
	res := c.emu.resourceForID(id)
	if res == nil {
		return nil
	}
	obj, ok := c.Get(res.Object, id)
	if !ok {
		return nil
	}
	var sub []string
	for _, p := range paths {
		if p != "" {
			sub = append(sub, p)
		}
	}
	rendered, err := c.emu.renderObject(c.Tx, obj, sub, 1)
	if err != nil {
		return err
	}
	txn["source"] = map[string]any(rendered)
	return nil
}
