package emulator

import (
	"net/http"
	"sort"
	"strings"
)

// Connected accounts (/v1/accounts). They are stored in the platform's
// scope as objects of kind `account`, which is what makes a Stripe-Account
// header naming them valid (see resolveAccount). Events about them
// (account.updated, capability.updated) are events of the connected
// account: they carry `account` and go to Connect webhook endpoints.
// Stripe has no account.created or account.deleted event.

func registerAccounts(e *Emulator) {
	r := e.Router()
	r.Handle(http.MethodPost, "/v1/accounts", createAccount)
	r.Handle(http.MethodGet, "/v1/accounts", listAccounts)
	r.Handle(http.MethodPost, "/v1/accounts/{account}", updateAccount)
	r.Handle(http.MethodDelete, "/v1/accounts/{account}", deleteAccount)
	r.Handle(http.MethodPost, "/v1/accounts/{account}/reject", rejectAccount)
	r.Handle(http.MethodGet, "/v1/accounts/{account}/capabilities", listCapabilities)
	r.Handle(http.MethodGet, "/v1/accounts/{account}/capabilities/{capability}", retrieveCapability)
	r.Handle(http.MethodPost, "/v1/accounts/{account}/capabilities/{capability}", updateCapability)
}

// countryCurrencies maps the countries the emulator accepts to their
// default currency (Stripe: "defaults to the country's currency"). The
// list is Stripe's main markets (emulator's own subset†).
var countryCurrencies = func() map[string]string {
	m := map[string]string{
		"US": "usd", "CA": "cad", "GB": "gbp", "AU": "aud", "NZ": "nzd", "JP": "jpy", "SG": "sgd", "HK": "hkd",
		"CH": "chf", "SE": "sek", "NO": "nok", "DK": "dkk", "PL": "pln", "CZ": "czk", "HU": "huf", "RO": "ron",
		"BG": "bgn", "MX": "mxn", "BR": "brl", "IN": "inr", "MY": "myr", "TH": "thb", "AE": "aed", "LI": "chf",
		"GI": "gbp",
	}
	for _, c := range strings.Fields("AT BE CY DE EE ES FI FR GR HR IE IT LT LU LV MT NL PT SI SK") {
		m[c] = "eur"
	}
	return m
}()

func createAccount(c *Call) (any, error) {
	if c.Req.Connected {
		return nil, newError(http.StatusForbidden, TypeInvalidRequest, "", "",
			"Connected accounts cannot create accounts; use the platform's key without Stripe-Account.")
	}
	p := c.Params()
	typ, prof, err := accountKind(p)
	if err != nil {
		return nil, err
	}
	country := c.emu.Platform().Country
	if v, ok := p.String("country"); ok && v != "" {
		country = strings.ToUpper(v)
	}
	currency, ok := countryCurrencies[country]
	if !ok {
		return nil, InvalidRequest("country", "Country '%s' is unknown. Try using a 2-character alphanumeric country code "+
			"instead, such as 'US', 'EG', or 'GB'.", country)
	}
	acct := baseAccount(NewID("acct"), c.Now().Unix(), country, currency, typ, prof)
	provided, err := applyAccountParams(p, acct, prof, false)
	if err != nil {
		return nil, err
	}
	if !p.Has("capabilities") {
		switch prof.Dashboard {
		case "full":
			// Accounts with the full Dashboard (Standard accounts) get
			// the payments and transfers capabilities without asking
			// (emulator's reading of the Standard account docs†; Stripe
			// requests "a set of capabilities ... based on the selected
			// country").
			acct["capabilities"] = map[string]any{"card_payments": "inactive", "transfers": "inactive"}
		case "none":
			// Reference: capabilities are "required when
			// controller.stripe_dashboard.type is none, which includes
			// Custom accounts".
			return nil, InvalidRequest("capabilities",
				"You must request at least one capability when creating an account without a Stripe-hosted Dashboard "+
					"(controller[stripe_dashboard][type]=none, which includes Custom accounts): capabilities[<name>][requested]=true.")
		}
	}
	st := accountState(c.Tx, c.emu.platform, acct.ID())
	st["provided"] = anyList(provided)
	reqAt := map[string]any{}
	for _, name := range requestedCapabilities(acct) {
		reqAt[name] = c.Now().Unix()
	}
	st["requested_at"] = reqAt
	refreshOnboardingRequirements(acct, st)
	recomputeAccount(acct)
	if err := c.InsertIn(c.emu.platform, "account", acct); err != nil {
		return nil, err
	}
	if err := putAccountState(c.Tx, c.emu.platform, st); err != nil {
		return nil, err
	}
	return c.renderAccount(acct)
}

// refreshOnboardingRequirements sets the initial requirements of an
// account that has requested capabilities and has not submitted its
// details: every onboarding field not provided yet is currently due and,
// as for a new account on Stripe, already past due (the account stays
// disabled until they are collected).
func refreshOnboardingRequirements(acct, st Object) {
	if acct.Bool("details_submitted") || st.Bool("onboarded") {
		return
	}
	req := acct.Map("requirements")
	if len(acct.Map("capabilities")) == 0 {
		for _, l := range []string{"currently_due", "eventually_due", "past_due"} {
			req[l] = []any{}
		}
		return
	}
	have := map[string]bool{}
	for _, f := range strList(st["provided"]) {
		have[f] = true
	}
	var due []string
	for _, f := range onboardingFields(acct.Str("business_type")) {
		covered := have[f]
		for h := range have {
			if strings.HasPrefix(f, h+".") {
				covered = true
			}
		}
		if !covered {
			due = append(due, f)
		}
	}
	req["currently_due"], req["eventually_due"], req["past_due"] = anyList(due), anyList(due), anyList(due)
}

func updateAccount(c *Call) (any, error) {
	id := c.PathParam("account")
	if id == c.emu.platform {
		return nil, InvalidRequest("account",
			"You cannot update your own account through the API; use the Dashboard (https://dashboard.stripe.com/settings/account).")
	}
	old, err := c.lookupAccount(id)
	if err != nil {
		return nil, err
	}
	platform := c.emu.platform
	st := accountState(c.Tx, platform, id)
	acct := old.Clone()
	prof := controllerOf(acct)
	started := st.Bool("onboarding_started") || acct.Bool("details_submitted")
	provided, err := applyAccountParams(c.Params(), acct, prof, started)
	if err != nil {
		return nil, err
	}
	all := append(strList(st["provided"]), provided...)
	sort.Strings(all)
	st["provided"] = anyList(dedupe(all))
	refreshOnboardingRequirements(acct, st)
	satisfyRequirements(acct, provided)
	req := acct.Map("requirements")
	if prof.platformCollects() && !acct.Bool("details_submitted") && len(acct.Map("capabilities")) > 0 &&
		len(strList(req["currently_due"])) == 0 && len(strList(req["past_due"])) == 0 {
		// The platform collected everything: the account's details are
		// submitted and Stripe verifies them (capabilities pending until
		// CompleteOnboarding, the emulator's stand-in for verification).
		acct["details_submitted"] = true
		for name, stt := range acct.Map("capabilities") {
			if stt == "inactive" {
				acct.Map("capabilities")[name] = "pending"
			}
		}
	}
	if err := putAccountState(c.Tx, platform, st); err != nil {
		return nil, err
	}
	if err := c.saveAccount(old, acct); err != nil {
		return nil, err
	}
	return c.renderAccount(acct)
}

func dedupe(sorted []string) []string {
	var out []string
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

func deleteAccount(c *Call) (any, error) {
	id := c.PathParam("account")
	if id == c.emu.platform {
		return nil, InvalidRequest("account",
			"You cannot delete your own account through the API; use the account information tab in your account settings.")
	}
	acct, err := c.lookupAccount(id)
	if err != nil {
		return nil, err
	}
	platform := c.emu.platform
	if c.emu.ConnectRules().LiveModeDeletion {
		if err := liveModeDeletable(acct, accountBalances(c.Tx, platform, id)); err != nil {
			return nil, err
		}
	}
	if err := c.DeleteIn(platform, "account", id); err != nil {
		return nil, err
	}
	if _, ok := c.GetIn(platform, accountStateKind, id); ok {
		if err := c.DeleteIn(platform, accountStateKind, id); err != nil {
			return nil, err
		}
	}
	return Object{"id": id, "object": "account", "deleted": true}, nil
}

// liveModeDeletable applies the reference's live-mode rules ("Delete an
// account"; test-mode accounts can be deleted at any time, the default):
// "Live-mode accounts where Stripe is responsible for negative account
// balances cannot be deleted, which includes Standard accounts" — that is
// controller.losses.payments stripe, however the account was created;
// "live-mode accounts where your platform is liable for negative account
// balances, which includes Custom and Express accounts, can be deleted when
// all balances are zero". The first message is the reference's sentence
// (Stripe's exact error is not known†); the second is Stripe's, as its API
// answers (currencies joined with ", "†).
func liveModeDeletable(acct Object, balances map[string]int64) *Error {
	if !controllerOf(acct).platformLiable() {
		return InvalidRequest("account", "Live-mode accounts where Stripe is responsible for negative account balances "+
			"cannot be deleted, which includes Standard accounts.")
	}
	var nonZero []string
	for _, cur := range sortedKeys(balances) {
		if balances[cur] != 0 {
			nonZero = append(nonZero, cur)
		}
	}
	if len(nonZero) > 0 {
		return InvalidRequest("account", "For an account created with your live-mode key, you cannot delete the account "+
			"when the balance in any currency is non-zero. Currencies with non-zero balances: %s.", strings.Join(nonZero, ", "))
	}
	return nil
}

func listAccounts(c *Call) (any, error) {
	created, err := parseCreatedFilter(c.Params())
	if err != nil {
		return nil, err
	}
	// A connected account has no connected accounts: its list is empty,
	// as Stripe's reference says for non-platforms.
	return c.List("account", func(o Object) bool { return created.match(o.Int("created")) })
}

// rejectAccount flags an account as rejected. Only accounts where the
// platform is liable for negative balances (controller.losses.payments
// application: Custom and Express accounts) can be rejected (reference,
// "Reject an account").
func rejectAccount(c *Call) (any, error) {
	id := c.PathParam("account")
	old, err := c.lookupAccount(id)
	if err != nil {
		return nil, err
	}
	if id == c.emu.platform || !controllerOf(old).platformLiable() {
		return nil, InvalidRequest("account",
			"Only accounts where your platform is liable for negative balances (Custom and Express accounts) can be rejected.")
	}
	reason, _ := c.Params().String("reason")
	acct := old.Clone()
	acct.Map("requirements")["disabled_reason"] = "rejected." + reason
	if err := c.saveAccount(old, acct); err != nil {
		return nil, err
	}
	return c.renderAccount(acct)
}

func (c *Call) capabilityFor(acct Object, name string) (Object, error) {
	if _, requested := acct.Map("capabilities")[name]; !requested && !knownCapability(name) {
		return nil, NoSuchObject("capability", name, "capability")
	}
	st := accountState(c.Tx, c.emu.platform, acct.ID())
	return capabilityObject(acct, name, st.Map("requested_at")[name]), nil
}

// knownCapability reports whether name is a capability of the 2023-10-16
// account schema.
func knownCapability(name string) bool {
	b, err := sharedSpec()
	if err != nil {
		return true
	}
	s := b.comps["account_capabilities"]
	if s == nil {
		return true
	}
	_, ok := s.Properties[name]
	return ok
}

func listCapabilities(c *Call) (any, error) {
	acct, err := c.lookupAccount(c.PathParam("account"))
	if err != nil {
		return nil, err
	}
	data := []any{}
	for _, name := range requestedCapabilities(acct) {
		capObj, err := c.capabilityFor(acct, name)
		if err != nil {
			return nil, err
		}
		data = append(data, map[string]any(capObj))
	}
	return Object{"object": "list", "data": data, "has_more": false,
		"url": "/v1/accounts/" + acct.ID() + "/capabilities"}, nil
}

func retrieveCapability(c *Call) (any, error) {
	acct, err := c.lookupAccount(c.PathParam("account"))
	if err != nil {
		return nil, err
	}
	return c.capabilityFor(acct, c.PathParam("capability"))
}

func updateCapability(c *Call) (any, error) {
	id, name := c.PathParam("account"), c.PathParam("capability")
	old, err := c.lookupAccount(id)
	if err != nil {
		return nil, err
	}
	if id == c.emu.platform {
		return nil, InvalidRequest("account", "You cannot update your own account's capabilities through the API; use the Dashboard.")
	}
	if !knownCapability(name) {
		return nil, NoSuchObject("capability", name, "capability")
	}
	acct := old.Clone()
	if c.Params().Has("requested") {
		caps := NewParams(map[string]any{"capabilities": map[string]any{name: map[string]any{"requested": c.Params().Raw()["requested"]}}})
		sub, _ := caps.Sub("capabilities")
		if err := applyCapabilities(sub, acct); err != nil {
			return nil, err
		}
	}
	st := accountState(c.Tx, c.emu.platform, id)
	refreshOnboardingRequirements(acct, st)
	if err := c.saveAccount(old, acct); err != nil {
		return nil, err
	}
	return c.capabilityFor(acct, name)
}
