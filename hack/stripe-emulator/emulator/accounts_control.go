package emulator

import (
	"net/http"
	"sort"
	"strings"
	"time"
)

// Control operations on connected accounts: what Stripe (or the account
// holder in Stripe's hosted onboarding) does on its own, which no API call
// of the platform can do. Each emits the events Stripe emits, with
// request.id null as for Stripe's own changes.

// ConnectRules are the Connect behaviours that differ between test and
// live mode.
type ConnectRules struct {
	// LiveModeDeletion applies the live-mode deletion rules of the
	// reference: Standard accounts cannot be deleted; other accounts only
	// when every balance is zero. Off (test mode): accounts can be deleted
	// at any time, as the reference says of test-mode accounts.
	LiveModeDeletion bool `json:"live_mode_deletion"`
}

// ConnectRules returns the current Connect rules.
func (e *Emulator) ConnectRules() ConnectRules {
	ps := e.platformState()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.rules
}

// SetConnectRules replaces the Connect rules.
func (e *Emulator) SetConnectRules(r ConnectRules) {
	ps := e.platformState()
	ps.mu.Lock()
	ps.rules = r
	ps.mu.Unlock()
}

// controlWrite runs fn as Stripe acting on its own: a write transaction in
// the platform's scope, with a request that has no id.
func (e *Emulator) controlWrite(fn func(c *Call) error) error {
	req := &Request{Method: http.MethodPost, Path: controlPrefix, Account: e.platform, Params: NewParams(nil)}
	return e.store.Write(e.platform, e.clock.Now(), func(tx *Tx) error {
		return fn(&Call{Tx: tx, Req: req, emu: e})
	})
}

func (c *Call) connectedAccount(id string) (Object, error) {
	if acct, ok := c.GetIn(c.emu.platform, "account", id); ok {
		return acct, nil
	}
	return nil, NoSuchObject("account", id, "account")
}

// changeAccount applies change to a connected account and saves it with
// its events; it returns the account as stored.
func (e *Emulator) changeAccount(id string, change func(c *Call, acct, st Object) error) (Object, error) {
	var out Object
	err := e.controlWrite(func(c *Call) error {
		old, err := c.connectedAccount(id)
		if err != nil {
			return err
		}
		acct := old.Clone()
		st := accountState(c.Tx, e.platform, id)
		if err := change(c, acct, st); err != nil {
			return err
		}
		if err := putAccountState(c.Tx, e.platform, st); err != nil {
			return err
		}
		if err := c.saveAccount(old, acct); err != nil {
			return err
		}
		out = acct
		return nil
	})
	return out, err
}

// SubmitOnboarding is the account holder finishing Stripe's hosted
// onboarding: details_submitted becomes true, the due fields move to
// pending_verification, and requested capabilities become pending while
// Stripe verifies. CompleteOnboarding finishes verification.
func (e *Emulator) SubmitOnboarding(account string) (Object, error) {
	return e.changeAccount(account, func(c *Call, acct, st Object) error {
		st["onboarding_started"] = true
		acct["details_submitted"] = true
		req := acct.Map("requirements")
		pending := strList(req["pending_verification"])
		pending = append(pending, strList(req["currently_due"])...)
		pending = append(pending, strList(req["past_due"])...)
		sort.Strings(pending)
		req["pending_verification"] = anyList(dedupe(pending))
		for _, l := range []string{"currently_due", "eventually_due", "past_due", "errors"} {
			req[l] = []any{}
		}
		req["current_deadline"] = nil
		for name, s := range acct.Map("capabilities") {
			if s == "inactive" {
				acct.Map("capabilities")[name] = "pending"
			}
		}
		return nil
	})
}

// CompleteOnboarding is onboarding and verification finished: every
// requirement (current and future) cleared, details submitted, every
// requested capability active, so charges and payouts are enabled. An
// account with no capability gets card_payments and transfers requested
// first. A rejection or other disabled_reason Stripe set is cleared too.
func (e *Emulator) CompleteOnboarding(account string) (Object, error) {
	return e.changeAccount(account, func(c *Call, acct, st Object) error {
		st["onboarding_started"] = true
		st["onboarded"] = true
		acct["details_submitted"] = true
		acct["requirements"] = emptyRequirements()
		acct["future_requirements"] = emptyRequirements()
		caps := acct.Map("capabilities")
		if len(caps) == 0 {
			caps = map[string]any{"card_payments": "inactive", "transfers": "inactive"}
		}
		for name := range caps {
			caps[name] = "active"
		}
		acct["capabilities"] = caps
		if t := acct.Map("tos_acceptance"); t != nil && t["date"] == nil {
			t["date"] = c.Now().Unix()
		}
		return nil
	})
}

// RequirementsDue describes requirements Stripe starts asking for.
type RequirementsDue struct {
	// Fields are the requirement names (e.g. individual.verification.document).
	Fields []string `json:"fields"`
	// PastDue puts them in past_due as well: the deadline has passed and
	// the account is disabled (charges and payouts off).
	PastDue bool `json:"past_due"`
	// Deadline is current_deadline (zero: none).
	Deadline time.Time `json:"-"`
	// DisabledReason overrides the derived disabled_reason (e.g.
	// `under_review`, `rejected.fraud`, `platform_paused`).
	DisabledReason string `json:"disabled_reason"`
	// Future puts the fields in future_requirements instead (they become
	// due later; the account stays enabled).
	Future bool `json:"future"`
}

// SetRequirementsDue adds requirements to an account, as Stripe does when
// thresholds are reached or information expires, and disables the account
// when they are past due.
func (e *Emulator) SetRequirementsDue(account string, due RequirementsDue) (Object, error) {
	return e.changeAccount(account, func(c *Call, acct, st Object) error {
		key := "requirements"
		if due.Future {
			key = "future_requirements"
		}
		req := acct.Map(key)
		add := func(list string) {
			l := append(strList(req[list]), due.Fields...)
			sort.Strings(l)
			req[list] = anyList(dedupe(l))
		}
		add("currently_due")
		add("eventually_due")
		if due.PastDue {
			add("past_due")
		}
		if !due.Deadline.IsZero() {
			req["current_deadline"] = due.Deadline.Unix()
		}
		if due.DisabledReason != "" {
			req["disabled_reason"] = due.DisabledReason
		}
		return nil
	})
}

// FundAccount adds amount (in the currency's smallest unit; negative to
// debit) to an account's available balance in currency. A non-zero balance
// blocks deletion under the live-mode rules (ConnectRules).
func (e *Emulator) FundAccount(account string, amount int64, currency string) (map[string]int64, error) {
	cur, cerr := normalizeCurrency("currency", currency)
	if cerr != nil {
		return nil, cerr
	}
	var out map[string]int64
	err := e.controlWrite(func(c *Call) error {
		if _, err := c.connectedAccount(account); err != nil {
			return err
		}
		st := accountState(c.Tx, e.platform, account)
		bal := st.Map("balance")
		if bal == nil {
			bal = map[string]any{}
		}
		v, _ := bal[cur].(int64)
		bal[cur] = v + amount
		st["balance"] = bal
		out = balanceOf(st)
		return putAccountState(c.Tx, e.platform, st)
	})
	return out, err
}

// AccountBalance returns an account's balance by currency (see
// accountBalances).
func (e *Emulator) AccountBalance(account string) (map[string]int64, error) {
	var out map[string]int64
	err := e.store.Read(e.platform, e.clock.Now(), func(tx *Tx) error {
		if _, ok := tx.GetIn(e.platform, "account", account); !ok {
			return NoSuchObject("account", account, "account")
		}
		out = accountBalances(tx, e.platform, account)
		return nil
	})
	return out, err
}

// accountBalances is an account's balance by currency: what FundAccount
// added plus the net of the balance transactions in the account's scope
// (charges, refunds, payouts, when those resources record them).
func accountBalances(tx *Tx, platform, id string) map[string]int64 {
	out := balanceOf(accountState(tx, platform, id))
	tx.ScanIn(id, "balance_transaction", func(t Object) bool {
		if cur := t.Str("currency"); cur != "" {
			out[cur] += t.Int("net")
		}
		return true
	})
	return out
}

func balanceOf(st Object) map[string]int64 {
	out := map[string]int64{}
	for k, v := range st.Map("balance") {
		if n, ok := v.(int64); ok {
			out[k] = n
		}
	}
	return out
}

// DeauthorizeAccount is the account holder disconnecting the platform's
// application (Standard accounts can): the platform loses access (requests
// with Stripe-Account answer 403) and receives account.application.
// deauthorized as an event of that account.
func (e *Emulator) DeauthorizeAccount(account string) error {
	return e.controlWrite(func(c *Call) error {
		if _, err := c.connectedAccount(account); err != nil {
			return err
		}
		if err := c.DeleteIn(e.platform, "account", account); err != nil {
			return err
		}
		app := Object{"id": "ca_" + strings.TrimPrefix(e.platform, "acct_"), "object": "application",
			"name": e.Platform().DisplayName}
		return c.EmitIn(account, "account.application.deauthorized", app, nil)
	})
}

// markOnboardingStarted records that Connect onboarding started (an
// account link was created).
func (c *Call) markOnboardingStarted(id string) error {
	st := accountState(c.Tx, c.emu.platform, id)
	if st.Bool("onboarding_started") {
		return nil
	}
	st["onboarding_started"] = true
	return putAccountState(c.Tx, c.emu.platform, st)
}
