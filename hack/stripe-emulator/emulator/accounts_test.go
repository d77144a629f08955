package emulator

import (
	"errors"
	"strings"
	"testing"

	stripe "github.com/stripe/stripe-go/v76"
)

func cardAndTransfers() *stripe.AccountCapabilitiesParams {
	return &stripe.AccountCapabilitiesParams{
		CardPayments: &stripe.AccountCapabilitiesCardPaymentsParams{Requested: stripe.Bool(true)},
		Transfers:    &stripe.AccountCapabilitiesTransfersParams{Requested: stripe.Bool(true)},
	}
}

func (e *env) newAccount(t *testing.T, p *stripe.AccountParams) *stripe.Account {
	t.Helper()
	a, err := e.sc.Accounts.New(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func expressAccount() *stripe.AccountParams {
	return &stripe.AccountParams{Type: stripe.String("express"), Country: stripe.String("US"),
		Email: stripe.String("seller@example.com"), Capabilities: cardAndTransfers()}
}

// Rule: a new account with requested capabilities is disabled until it is
// onboarded: capabilities inactive, requirements past due, charges and
// payouts off; the platform controls it, with the controller properties
// Stripe maps the type to (reference: "Mapping account types to
// controller parameters").
func TestNewAccountStartsDisabled(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		typ        string
		controller wantController
	}{
		{"express", wantController{"application_express", "application", "stripe", "express"}},
		{"custom", wantController{"application_custom", "application", "application", "none"}},
		{"standard", wantController{"account", "stripe", "stripe", "full"}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			p := expressAccount()
			p.Type = stripe.String(tc.typ)
			a := e.newAccount(t, p)
			if a.Type != stripe.AccountType(tc.typ) || a.Country != "US" || a.DefaultCurrency != "usd" || a.Email != "seller@example.com" {
				t.Fatalf("account: %+v", a)
			}
			tc.controller.check(t, a)
			if a.ChargesEnabled || a.PayoutsEnabled || a.DetailsSubmitted {
				t.Fatalf("enabled too early: %+v", a)
			}
			if a.Capabilities.CardPayments != "inactive" || a.Capabilities.Transfers != "inactive" {
				t.Fatalf("capabilities: %+v", a.Capabilities)
			}
			r := a.Requirements
			if len(r.CurrentlyDue) == 0 || len(r.PastDue) != len(r.CurrentlyDue) || r.DisabledReason != "requirements.past_due" {
				t.Fatalf("requirements: %+v", r)
			}
			if a.Settings.Payouts.Schedule.Interval != "daily" || a.Settings.Payouts.Schedule.DelayDays != 2 {
				t.Fatalf("payout schedule: %+v", a.Settings.Payouts.Schedule)
			}
		})
	}
}

// Rule: create refuses what Stripe refuses (spec check included).
func TestAccountCreateValidation(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		name   string
		params *stripe.AccountParams
		param  string
	}{
		{"unknown type", &stripe.AccountParams{Type: stripe.String("platinum")}, "type"},
		{"unknown country", &stripe.AccountParams{Type: stripe.String("express"), Country: stripe.String("XX")}, "country"},
		{"custom needs a capability", &stripe.AccountParams{Type: stripe.String("custom")}, "capabilities"},
		{"no ToS acceptance for express", func() *stripe.AccountParams {
			p := expressAccount()
			p.TOSAcceptance = &stripe.AccountTOSAcceptanceParams{Date: stripe.Int64(1), IP: stripe.String("1.2.3.4")}
			return p
		}(), "tos_acceptance"},
		{"type and controller are exclusive", func() *stripe.AccountParams {
			p := expressAccount()
			p.Controller = &stripe.AccountControllerParams{Fees: &stripe.AccountControllerFeesParams{Payer: stripe.String("application")}}
			return p
		}(), "type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.sc.Accounts.New(tc.params)
			se := stripeErr(t, err)
			if se.HTTPStatusCode != 400 || se.Param != tc.param {
				t.Fatalf("got %d param=%q: %s", se.HTTPStatusCode, se.Param, se.Msg)
			}
		})
	}
}

// Rule: settings.payouts.schedule follows the reference: anchors required
// and applicable only for their interval, monthly_anchor 1–31, delay_days
// not below the country's minimum ("minimum" = that minimum).
func TestPayoutScheduleRules(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.newAccount(t, expressAccount())
	sched := func(s *stripe.AccountSettingsPayoutsScheduleParams) (*stripe.Account, error) {
		return e.sc.Accounts.Update(a.ID, &stripe.AccountParams{Settings: &stripe.AccountSettingsParams{
			Payouts: &stripe.AccountSettingsPayoutsParams{Schedule: s}}})
	}
	for _, tc := range []struct {
		name  string
		s     *stripe.AccountSettingsPayoutsScheduleParams
		param string // "" = accepted
		check func(*stripe.AccountSettingsPayoutsSchedule) bool
	}{
		{"weekly needs weekly_anchor", &stripe.AccountSettingsPayoutsScheduleParams{Interval: stripe.String("weekly")},
			"settings[payouts][schedule][weekly_anchor]", nil},
		{"weekly with anchor", &stripe.AccountSettingsPayoutsScheduleParams{Interval: stripe.String("weekly"), WeeklyAnchor: stripe.String("friday")}, "",
			func(s *stripe.AccountSettingsPayoutsSchedule) bool {
				return s.Interval == "weekly" && s.WeeklyAnchor == "friday"
			}},
		{"monthly_anchor only with monthly", &stripe.AccountSettingsPayoutsScheduleParams{Interval: stripe.String("daily"), MonthlyAnchor: stripe.Int64(3)},
			"settings[payouts][schedule][monthly_anchor]", nil},
		{"monthly_anchor at most 31", &stripe.AccountSettingsPayoutsScheduleParams{Interval: stripe.String("monthly"), MonthlyAnchor: stripe.Int64(32)},
			"settings[payouts][schedule][monthly_anchor]", nil},
		{"monthly drops the weekly anchor", &stripe.AccountSettingsPayoutsScheduleParams{Interval: stripe.String("monthly"), MonthlyAnchor: stripe.Int64(31)}, "",
			func(s *stripe.AccountSettingsPayoutsSchedule) bool {
				return s.MonthlyAnchor == 31 && s.WeeklyAnchor == ""
			}},
		{"delay_days below the minimum", &stripe.AccountSettingsPayoutsScheduleParams{DelayDays: stripe.Int64(1)},
			"settings[payouts][schedule][delay_days]", nil},
		{"delay_days minimum", &stripe.AccountSettingsPayoutsScheduleParams{Interval: stripe.String("daily"), DelayDaysMinimum: stripe.Bool(true)}, "",
			func(s *stripe.AccountSettingsPayoutsSchedule) bool { return s.DelayDays == 2 && s.MonthlyAnchor == 0 }},
		{"manual keeps delay_days", &stripe.AccountSettingsPayoutsScheduleParams{Interval: stripe.String("manual")}, "",
			func(s *stripe.AccountSettingsPayoutsSchedule) bool { return s.Interval == "manual" && s.DelayDays == 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sched(tc.s)
			if tc.param != "" {
				wantStripeErr(t, err, 400, "invalid_request_error", stripeCode(err), tc.param, "")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(got.Settings.Payouts.Schedule) {
				t.Fatalf("schedule: %+v", got.Settings.Payouts.Schedule)
			}
		})
	}
}

func stripeCode(err error) string {
	var se *stripe.Error
	if errors.As(err, &se) {
		return string(se.Code)
	}
	return ""
}

// Rule: country and type cannot change after create (the update endpoint
// has no such parameters).
func TestAccountCountryImmutable(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.newAccount(t, expressAccount())
	_, err := e.sc.Accounts.Update(a.ID, &stripe.AccountParams{Country: stripe.String("GB")})
	wantStripeErr(t, err, 400, "invalid_request_error", "parameter_unknown", "country", "Received unknown parameter: country")
	_, err = e.sc.Accounts.Update(a.ID, &stripe.AccountParams{Type: stripe.String("custom")})
	wantStripeErr(t, err, 400, "invalid_request_error", "parameter_unknown", "type", "Received unknown parameter: type")
}

// Rule: once onboarding has started (an account link exists), only Custom
// accounts may change business_type, company and individual; anything may
// change before.
func TestOnboardingStartedLocksIdentityForNonCustom(t *testing.T) {
	e := newEnv(t, Options{})
	for _, typ := range []string{"express", "custom"} {
		t.Run(typ, func(t *testing.T) {
			p := expressAccount()
			p.Type = stripe.String(typ)
			a := e.newAccount(t, p)
			if _, err := e.sc.Accounts.Update(a.ID, &stripe.AccountParams{BusinessType: stripe.String("individual")}); err != nil {
				t.Fatalf("before onboarding: %v", err)
			}
			e.newAccountLink(t, a.ID, "account_onboarding")
			_, err := e.sc.Accounts.Update(a.ID, &stripe.AccountParams{BusinessType: stripe.String("company")})
			if typ == "custom" {
				if err != nil {
					t.Fatalf("custom after onboarding: %v", err)
				}
				return
			}
			wantStripeErr(t, err, 400, "invalid_request_error", "", "business_type", "")
			// metadata and business_profile still change.
			if _, err := e.sc.Accounts.Update(a.ID, &stripe.AccountParams{Metadata: map[string]string{"k": "v"}}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Rule: account.updated is an event of the connected account (`account`
// set), with previous_attributes; capability.updated follows a capability
// change.
func TestAccountUpdatedIsAConnectEvent(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.newAccount(t, expressAccount())
	if _, err := e.sc.Accounts.Update(a.ID, &stripe.AccountParams{Capabilities: &stripe.AccountCapabilitiesParams{
		USBankAccountACHPayments: &stripe.AccountCapabilitiesUSBankAccountACHPaymentsParams{Requested: stripe.Bool(true)},
	}}); err != nil {
		t.Fatal(err)
	}
	evs := e.events(t, a.ID)
	if len(evs) != 2 {
		t.Fatalf("events: %v", evs)
	}
	capEv, acctEv := evs[0], evs[1]
	if acctEv.Str("type") != "account.updated" || acctEv.Str("account") != a.ID {
		t.Fatalf("account event: %v", acctEv)
	}
	prev := acctEv.Map("data")["previous_attributes"].(map[string]any)
	if _, ok := prev["capabilities"].(map[string]any)["us_bank_account_ach_payments"]; !ok {
		t.Fatalf("previous_attributes: %v", prev)
	}
	obj := capEv.Map("data")["object"].(map[string]any)
	if capEv.Str("type") != "capability.updated" || obj["id"] != "us_bank_account_ach_payments" || obj["status"] != "inactive" || obj["account"] != a.ID {
		t.Fatalf("capability event: %v", capEv)
	}
	if len(e.events(t, e.PlatformAccount())) != 0 {
		t.Fatal("account events must not be platform events")
	}
}

// Rule: test-mode accounts can be deleted at any time, balances or not;
// under live-mode rules an account where Stripe is liable for losses
// (controller.losses.payments stripe: Standard accounts, and any account
// created with that property) is never deleted, and the others only when
// every balance is zero. Deleted accounts are gone (403 account_invalid).
func TestAccountDeletion(t *testing.T) {
	const stripeLiable = "Live-mode accounts where Stripe is responsible for negative account balances cannot be deleted, " +
		"which includes Standard accounts."
	standard := func() *stripe.AccountParams { p := expressAccount(); p.Type = stripe.String("standard"); return p }
	custom := func() *stripe.AccountParams { p := expressAccount(); p.Type = stripe.String("custom"); return p }
	for _, tc := range []struct {
		name     string
		live     bool
		params   *stripe.AccountParams
		balances map[string]int64 // funded before the delete
		msg      string           // "" = deleted
	}{
		{"test mode: express with a balance", false, expressAccount(), map[string]int64{"usd": 500}, ""},
		{"test mode: standard with a balance", false, standard(), map[string]int64{"usd": 500}, ""},
		{"test mode: Stripe-liable controller account", false, controllerAccount(ctl("", "", "", "")), nil, ""},
		{"live: standard", true, standard(), nil, stripeLiable},
		{"live: Standard-like controller account", true, controllerAccount(ctl("account", "stripe", "stripe", "full")), nil, stripeLiable},
		{"live: no Dashboard, Stripe liable", true, controllerAccount(ctl("application", "stripe", "stripe", "none")), nil, stripeLiable},
		{"live: express with a balance", true, expressAccount(), map[string]int64{"usd": 500},
			"For an account created with your live-mode key, you cannot delete the account when the balance in any currency is non-zero. " +
				"Currencies with non-zero balances: usd."},
		{"live: custom with a negative balance", true, custom(), map[string]int64{"usd": -100}, "Currencies with non-zero balances: usd."},
		{"live: Custom-like with two balances", true, controllerAccount(customLike()), map[string]int64{"usd": 1, "eur": 2},
			"Currencies with non-zero balances: eur, usd."},
		{"live: Express-like with a balance", true, controllerAccount(expressLike()), map[string]int64{"gbp": 7},
			"Currencies with non-zero balances: gbp."},
		{"live: express, balances back to zero", true, expressAccount(), map[string]int64{"usd": 0}, ""},
		{"live: Custom-like, no balance", true, controllerAccount(customLike()), nil, ""},
		{"live: Express-like, no balance", true, controllerAccount(expressLike()), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{Connect: ConnectRules{LiveModeDeletion: tc.live}})
			a := e.newAccount(t, tc.params)
			for _, cur := range sortedKeys(tc.balances) {
				amount := tc.balances[cur]
				if amount == 0 { // funded and taken back: a zero balance in that currency
					if _, err := e.FundAccount(a.ID, 300, cur); err != nil {
						t.Fatal(err)
					}
					amount = -300
				}
				if _, err := e.FundAccount(a.ID, amount, cur); err != nil {
					t.Fatal(err)
				}
			}
			del, err := e.sc.Accounts.Del(a.ID, nil)
			if tc.msg != "" {
				se := stripeErr(t, err)
				if se.HTTPStatusCode != 400 || se.Param != "account" || !strings.HasSuffix(se.Msg, tc.msg) {
					t.Fatalf("got %d param=%q %q; want 400 param=account ending %q", se.HTTPStatusCode, se.Param, se.Msg, tc.msg)
				}
				if _, err := e.sc.Accounts.GetByID(a.ID, nil); err != nil {
					t.Fatalf("refused delete removed the account: %v", err)
				}
				return
			}
			if err != nil || !del.Deleted || del.ID != a.ID {
				t.Fatalf("delete: %v %+v", err, del)
			}
			_, err = e.sc.Accounts.GetByID(a.ID, nil)
			wantStripeErr(t, err, 403, "invalid_request_error", "account_invalid", "", "")
		})
	}
}

// Rule: the accounts list holds connected accounts only (not the
// platform), newest first.
func TestListAccountsIsConnectedOnly(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.newAccount(t, expressAccount())
	e.clock.Advance(1)
	b := e.newAccount(t, expressAccount())
	it := e.sc.Accounts.List(&stripe.AccountListParams{})
	var ids []string
	for it.Next() {
		ids = append(ids, it.Account().ID)
	}
	if it.Err() != nil || len(ids) != 2 || ids[0] != b.ID || ids[1] != a.ID {
		t.Fatalf("list: %v %v", ids, it.Err())
	}
}

// Rule: a connected account is a Stripe-Account scope as soon as it
// exists.
func TestCreatedAccountIsAScope(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.newAccount(t, expressAccount())
	p := &stripe.ProductParams{Name: stripe.String("tenant")}
	p.SetStripeAccount(a.ID)
	if _, err := e.sc.Products.New(p); err != nil {
		t.Fatal(err)
	}
}

// Rule: capabilities are objects of their own under the account: status,
// requested, requested_at; requested=false removes one; unknown names are
// 404 (names come from the 2023-10-16 account schema).
func TestCapabilityEndpoints(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.newAccount(t, expressAccount())
	c, err := e.sc.Capabilities.Get("card_payments", &stripe.CapabilityParams{Account: stripe.String(a.ID)})
	if err != nil || c.Status != "inactive" || !c.Requested || c.RequestedAt != testEpoch.Unix() || c.Account.ID != a.ID {
		t.Fatalf("capability: %v %+v", err, c)
	}
	if c, err := e.sc.Capabilities.Get("klarna_payments", &stripe.CapabilityParams{Account: stripe.String(a.ID)}); err != nil || c.Status != "unrequested" || c.Requested {
		t.Fatalf("unrequested: %v %+v", err, c)
	}
	_, err = e.sc.Capabilities.Get("teleport_payments", &stripe.CapabilityParams{Account: stripe.String(a.ID)})
	wantStripeErr(t, err, 404, "invalid_request_error", "resource_missing", "capability", "No such capability: 'teleport_payments'")
	if c, err := e.sc.Capabilities.Update("card_payments", &stripe.CapabilityParams{Account: stripe.String(a.ID), Requested: stripe.Bool(false)}); err != nil || c.Requested {
		t.Fatalf("remove: %v %+v", err, c)
	}
	it := e.sc.Capabilities.List(&stripe.CapabilityListParams{Account: stripe.String(a.ID)})
	var names []string
	for it.Next() {
		names = append(names, it.Capability().ID)
	}
	if it.Err() != nil || len(names) != 1 || names[0] != "transfers" {
		t.Fatalf("list: %v %v", names, it.Err())
	}
}
