package emulator

import (
	"net/http"
	"time"
)

// The control API's billing operations: what a customer or Stripe itself
// does, which no API call can (a customer entering a card, a period
// ending, a payout being paid). account is "" for the platform or a
// connected account's id; events are emitted in that account as the API's
// are (with `account` for connected accounts).

// AttachCardOptions tune AttachTestCard.
type AttachCardOptions struct {
	// Default makes the card the customer's
	// invoice_settings.default_payment_method, which subscriptions charge.
	Default bool `json:"default"`
	// PayOpenInvoices then pays the customer's open invoices with it,
	// oldest first, as the customer paying them on the hosted invoice page
	// would: an incomplete or past_due subscription whose latest invoice is
	// paid becomes active. With a failing card each attempt fails instead.
	PayOpenInvoices bool `json:"pay_open_invoices"`
}

// AttachTestCard attaches one of Stripe's test cards (TestCardVisa,
// TestCardFailing, TestCardBypassPending, … — the pm_card_* ids) to a
// customer, like a customer entering a card. It returns the new payment
// method.
func (e *Emulator) AttachTestCard(account, customer, card string, opts AttachCardOptions) (Object, error) {
	if card == "" {
		card = TestCardVisa
	}
	var pm Object
	err := e.controlTx(account, "customers/cards", func(c *Call) error {
		cus, err := c.Lookup("customer", customer, "customer")
		if err != nil {
			return err
		}
		if _, known := testCards[card]; !known {
			return InvalidRequest("card", "Unknown test card %q; use one of Stripe's pm_card_* test ids.", card)
		}
		if pm, err = attachPaymentMethod(c, card, cus, "card"); err != nil {
			return err
		}
		if opts.Default {
			updated := cus.Clone()
			updated.Map("invoice_settings")["default_payment_method"] = pm.ID()
			if _, err := c.Save(cus, updated); err != nil {
				return err
			}
		}
		if !opts.PayOpenInvoices {
			return nil
		}
		open := scanAll(c, "invoice", func(o Object) bool { return o.Str("customer") == cus.ID() && o.Str("status") == "open" })
		oldestFirst(open)
		for _, inv := range open {
			paid, _, _, err := collectInvoice(c, inv, pm, true)
			if err != nil {
				return err
			}
			if paid.Str("status") == "paid" {
				if err := afterInvoicePaid(c, paid); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return pm, err
}

// AdvanceSubscription ends a subscription's current period and runs what
// Stripe runs then (renewSubscription): cancel at period end, or a
// subscription_cycle invoice paid with the default card (active) or not
// (past_due); a trial ends the same way. If the emulator clock is before
// the period's end it is moved there first (for every object: it is the one
// clock), so timestamps stay consistent. It returns the subscription.
func (e *Emulator) AdvanceSubscription(account, subscription string) (Object, error) {
	acct := account
	if acct == "" {
		acct = e.platform
	}
	var end int64
	_ = e.store.Read(acct, e.clock.Now(), func(tx *Tx) error {
		if sub, ok := tx.Get("subscription", subscription); ok {
			end = sub.Int("current_period_end")
		}
		return nil
	})
	if end > e.Now().Unix() {
		e.SetClock(time.Unix(end, 0))
	}
	var out Object
	err := e.controlTx(account, "subscriptions/advance", func(c *Call) error {
		sub, err := c.Lookup("subscription", subscription, "subscription")
		if err != nil {
			return err
		}
		if err := settleBalance(c); err != nil {
			return err
		}
		out, err = renewSubscription(c, sub)
		return err
	})
	return out, err
}

// SimulatedCharge describes a card payment made outside billing (a
// one-off purchase on the account).
type SimulatedCharge struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"` // default usd
	// Customer (optional) is charged with Card, or with their default
	// payment method when Card is empty.
	Customer    string            `json:"customer"`
	Card        string            `json:"card"` // a pm_card_* test id; default pm_card_visa
	Description string            `json:"description"`
	Metadata    map[string]string `json:"metadata"`
}

// SimulateCharge makes a card charge on the account (charge.succeeded and a
// charge balance transaction, or charge.failed for a failing card). It
// returns the charge, failed or not.
func (e *Emulator) SimulateCharge(account string, in SimulatedCharge) (Object, error) {
	if in.Amount < 1 {
		return nil, InvalidRequest("amount", "This value must be greater than or equal to 1.")
	}
	currency, cerr := normalizeCurrency("currency", defaultString(in.Currency, "usd"))
	if cerr != nil {
		return nil, cerr
	}
	var ch Object
	err := e.controlTx(account, "charges", func(c *Call) error {
		var pm Object
		var cus Object
		if in.Customer != "" {
			var err error
			if cus, err = c.Lookup("customer", in.Customer, "customer"); err != nil {
				return err
			}
			if in.Card == "" {
				if pm = paymentMethodFor(c, cus, nil); pm == nil {
					return noPaymentMethodError()
				}
			}
		}
		if pm == nil {
			tc, known := testCards[defaultString(in.Card, TestCardVisa)]
			if !known || tc.declineOnAttach {
				return InvalidRequest("card", "Unknown or unusable test card %q.", in.Card)
			}
			pm = newCardPaymentMethod(c, tc)
			if err := c.Insert("payment_method", pm); err != nil {
				return err
			}
		}
		md := map[string]any{}
		for k, v := range in.Metadata {
			md[k] = v
		}
		req := chargeRequest{pm: pm, amount: in.Amount, currency: currency, description: in.Description, metadata: md}
		if cus != nil {
			req.customer = cus.ID()
		}
		var err error
		ch, _, err = chargeCard(c, req)
		return err
	})
	return ch, err
}

func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// PayoutOptions tune SimulatePayout.
type PayoutOptions struct {
	// LeavePending stops after creating the payouts (status pending);
	// PayPayout completes them later.
	LeavePending bool `json:"leave_pending"`
}

// SimulatePayout runs the account's automatic payout: funds whose
// available_on has passed become available (balance.available), then every
// available balance transaction not yet paid out is paid out, one payout
// per currency (payout.created; then payout.updated, payout.paid and
// payout.reconciliation_completed unless LeavePending). It returns the
// payouts (none when there is nothing to pay out).
func (e *Emulator) SimulatePayout(account string, opts PayoutOptions) ([]Object, error) {
	var out []Object
	err := e.controlTx(account, "payouts", func(c *Call) error {
		pos, err := createAutomaticPayouts(c)
		if err != nil {
			return err
		}
		for _, po := range pos {
			if !opts.LeavePending {
				if po, err = markPayoutPaid(c, po); err != nil {
					return err
				}
			}
			out = append(out, po)
		}
		return nil
	})
	return out, err
}

// PayPayout marks a pending payout paid (the bank received it).
func (e *Emulator) PayPayout(account, payout string) (Object, error) {
	var out Object
	err := e.controlTx(account, "payouts/pay", func(c *Call) error {
		po, err := c.Lookup("payout", payout, "payout")
		if err != nil {
			return err
		}
		out, err = markPayoutPaid(c, po)
		return err
	})
	return out, err
}

// SettleBalance makes the funds whose available_on has passed available
// (emitting balance.available) and returns the balance. Reads already show
// the right status; this is for the event, e.g. after AdvanceClock.
func (e *Emulator) SettleBalance(account string) (Object, error) {
	var out Object
	err := e.controlTx(account, "balance/settle", func(c *Call) error {
		if err := settleBalance(c); err != nil {
			return err
		}
		out = balanceObject(c)
		return nil
	})
	return out, err
}

// serveBillingControl serves the billing operations over HTTP; it reports
// whether op was one of them.
//
//	POST customers/cards         {"account","customer","card","default","pay_open_invoices"}
//	POST subscriptions/advance   {"account","subscription"}
//	POST charges                 {"account","amount","currency","customer","card","description","metadata"}
//	POST payouts                 {"account","leave_pending"} → {"payouts": [...]}
//	POST payouts/pay             {"account","payout"}
//	POST balance/settle          {"account"}
func (e *Emulator) serveBillingControl(w http.ResponseWriter, r *http.Request, op string) bool {
	if r.Method != http.MethodPost {
		return false
	}
	var result any
	var err error
	switch op {
	case "customers/cards":
		var in struct {
			Account  string `json:"account"`
			Customer string `json:"customer"`
			Card     string `json:"card"`
			AttachCardOptions
		}
		if !readControl(w, r, &in) {
			return true
		}
		result, err = e.AttachTestCard(in.Account, in.Customer, in.Card, in.AttachCardOptions)
	case "subscriptions/advance":
		var in struct {
			Account      string `json:"account"`
			Subscription string `json:"subscription"`
		}
		if !readControl(w, r, &in) {
			return true
		}
		result, err = e.AdvanceSubscription(in.Account, in.Subscription)
	case "charges":
		var in struct {
			Account string `json:"account"`
			SimulatedCharge
		}
		if !readControl(w, r, &in) {
			return true
		}
		result, err = e.SimulateCharge(in.Account, in.SimulatedCharge)
	case "payouts":
		var in struct {
			Account string `json:"account"`
			PayoutOptions
		}
		if !readControl(w, r, &in) {
			return true
		}
		var pos []Object
		pos, err = e.SimulatePayout(in.Account, in.PayoutOptions)
		if pos == nil {
			pos = []Object{}
		}
		result = map[string]any{"payouts": pos}
	case "payouts/pay":
		var in struct {
			Account string `json:"account"`
			Payout  string `json:"payout"`
		}
		if !readControl(w, r, &in) {
			return true
		}
		result, err = e.PayPayout(in.Account, in.Payout)
	case "balance/settle":
		var in struct {
			Account string `json:"account"`
		}
		if !readControl(w, r, &in) {
			return true
		}
		result, err = e.SettleBalance(in.Account)
	default:
		return false
	}
	if err != nil {
		controlError(w, err)
		return true
	}
	writeControl(w, http.StatusOK, result)
	return true
}
