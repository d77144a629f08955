package emulator

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// The platform account: the account the API key belongs to. GET
// /v1/account returns it (or, with Stripe-Account, the connected account
// named there), and GET /v1/accounts/{account} returns it for its own id.
// It is configuration, not state: Reset keeps it, and it is not part of
// GET /v1/accounts (which lists connected accounts only).

// PlatformProfile describes the platform account. Zero fields take the
// defaults below.
type PlatformProfile struct {
	// Country is the platform's country (default "US").
	Country string
	// DefaultCurrency is its default currency (default "usd").
	DefaultCurrency string
	// Email is the account's email (default "platform@example.com").
	Email string
	// DisplayName is settings.dashboard.display_name and
	// business_profile.name (default "stripe-emulator platform").
	DisplayName string
}

func (p PlatformProfile) withDefaults() PlatformProfile {
	if p.Country == "" {
		p.Country = "US"
	}
	p.Country = strings.ToUpper(p.Country)
	if p.DefaultCurrency == "" {
		p.DefaultCurrency = "usd"
	}
	p.DefaultCurrency = strings.ToLower(p.DefaultCurrency)
	if p.Email == "" {
		p.Email = "platform@example.com"
	}
	if p.DisplayName == "" {
		p.DisplayName = "stripe-emulator platform"
	}
	return p
}

// platformState holds the platform account's profile and creation time.
type platformState struct {
	mu      sync.Mutex
	profile PlatformProfile
	created int64
	rules   ConnectRules
}

func (e *Emulator) platformState() *platformState { return e.platformAcct }

// Platform returns the platform account's profile.
func (e *Emulator) Platform() PlatformProfile {
	ps := e.platformState()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.profile
}

// SetPlatform changes the platform account's profile (zero fields take the
// defaults); the id stays.
func (e *Emulator) SetPlatform(p PlatformProfile) {
	ps := e.platformState()
	ps.mu.Lock()
	ps.profile = p.withDefaults()
	ps.mu.Unlock()
}

// platformAccountObject renders the platform account: a fully onboarded
// standard account (charges and payouts enabled, nothing due).
func (e *Emulator) platformAccountObject() Object {
	ps := e.platformState()
	ps.mu.Lock()
	prof, created := ps.profile, ps.created
	ps.mu.Unlock()
	acct := baseAccount(e.platform, created, prof.Country, prof.DefaultCurrency, "standard", typeControllers["standard"])
	acct["email"] = prof.Email
	acct["charges_enabled"] = true
	acct["payouts_enabled"] = true
	acct["details_submitted"] = true
	acct["capabilities"] = map[string]any{"card_payments": "active", "transfers": "active"}
	bp := acct.Map("business_profile")
	bp["name"] = prof.DisplayName
	settings := acct.Map("settings")
	settings["dashboard"] = map[string]any{"display_name": prof.DisplayName, "timezone": "Etc/UTC"}
	acct["tos_acceptance"] = map[string]any{"date": created, "ip": nil, "user_agent": nil}
	// The platform's own account has no controller: it is not connected to
	// anyone.
	delete(acct, "controller")
	return acct
}

// baseAccount is an account object with every field of the 2023-10-16
// schema at its initial value (as stripe-mock's fixture and Stripe's docs
// show it): no capabilities, nothing submitted, nothing enabled. typ is
// the `type` Stripe reports (none for accounts created with controller
// properties that match no type) and prof the controller properties.
func baseAccount(id string, created int64, country, currency, typ string, prof controllerProps) Object {
	return Object{
		"id": id, "object": "account", "created": created,
		"business_profile": map[string]any{
			"annual_revenue": nil, "estimated_worker_count": nil, "mcc": nil, "name": nil,
			"product_description": nil, "support_address": nil, "support_email": nil,
			"support_phone": nil, "support_url": nil, "url": nil,
		},
		"business_type":     nil,
		"capabilities":      map[string]any{},
		"charges_enabled":   false,
		"controller":        controllerObject(prof),
		"country":           country,
		"default_currency":  currency,
		"details_submitted": false,
		"email":             nil,
		"external_accounts": map[string]any{
			"object": "list", "data": []any{}, "has_more": false, "total_count": int64(0),
			"url": "/v1/accounts/" + id + "/external_accounts",
		},
		"future_requirements": emptyRequirements(),
		"metadata":            map[string]any{},
		"payouts_enabled":     false,
		"requirements":        emptyRequirements(),
		"settings": map[string]any{
			"bacs_debit_payments": map[string]any{"display_name": nil, "service_user_number": nil},
			"branding":            map[string]any{"icon": nil, "logo": nil, "primary_color": nil, "secondary_color": nil},
			"card_issuing":        map[string]any{"tos_acceptance": map[string]any{"date": nil, "ip": nil}},
			"card_payments": map[string]any{
				"decline_on":                  map[string]any{"avs_failure": false, "cvc_failure": false},
				"statement_descriptor_prefix": nil, "statement_descriptor_prefix_kana": nil,
				"statement_descriptor_prefix_kanji": nil,
			},
			"dashboard": map[string]any{"display_name": nil, "timezone": "Etc/UTC"},
			"invoices":  map[string]any{"default_account_tax_ids": nil},
			"payments": map[string]any{
				"statement_descriptor": nil, "statement_descriptor_kana": nil, "statement_descriptor_kanji": nil,
			},
			"payouts": map[string]any{
				"debit_negative_balances": true,
				"schedule":                defaultPayoutSchedule(country),
				"statement_descriptor":    nil,
			},
			"sepa_debit_payments": map[string]any{},
		},
		"tos_acceptance": map[string]any{"date": nil, "ip": nil, "user_agent": nil},
		"type":           typ,
	}
}

func emptyRequirements() map[string]any {
	return map[string]any{
		"alternatives": []any{}, "current_deadline": nil, "currently_due": []any{}, "disabled_reason": nil,
		"errors": []any{}, "eventually_due": []any{}, "past_due": []any{}, "pending_verification": []any{},
	}
}

// defaultPayoutSchedule is Stripe's default: daily, with the country's
// standard delay (2 days in the US; 7 days is the common default elsewhere
// for new accounts — the emulator uses 2 for US and 7 otherwise†).
func defaultPayoutSchedule(country string) map[string]any {
	delay := int64(7)
	if country == "US" {
		delay = 2
	}
	return map[string]any{"delay_days": delay, "interval": "daily"}
}

// accountInvalid is Stripe's 403 for an account the key cannot reach.
func accountInvalid(key, acct string) *Error {
	return newError(http.StatusForbidden, TypeInvalidRequest, "account_invalid", "", fmt.Sprintf(
		"The provided key '%s' does not have access to account '%s' (or that account does not exist). "+
			"Application access may have been revoked.", redactKey(key), acct))
}

// lookupAccount finds the account id as the request may see it: the
// platform itself, or a connected account of the platform. A request made
// on behalf of a connected account (Stripe-Account) sees only that account.
func (c *Call) lookupAccount(id string) (Object, error) {
	platform := c.emu.platform
	if c.Req.Connected && id != c.Account {
		return nil, accountInvalid(c.Req.Key, id)
	}
	if id == platform {
		return c.emu.platformAccountObject(), nil
	}
	if obj, ok := c.GetIn(platform, "account", id); ok {
		return obj, nil
	}
	return nil, accountInvalid(c.Req.Key, id)
}

// renderAccount renders an account (platform or connected) with expand[].
func (c *Call) renderAccount(acct Object) (Object, error) {
	return c.emu.renderObject(c.Tx, acct, c.Params().Expand(), 0)
}

func registerAccount(e *Emulator) {
	e.platformAcct = &platformState{profile: e.opts.Platform.withDefaults(), created: e.clock.Now().Unix(), rules: e.opts.Connect}
	e.AddResource(&Resource{Object: "account", Noun: "account", IDPrefix: "acct", Path: "/v1/accounts"})
	r := e.Router()
	r.Handle(http.MethodGet, "/v1/account", retrieveOwnAccount)
	r.Handle(http.MethodGet, "/v1/accounts/{account}", func(c *Call) (any, error) {
		acct, err := c.lookupAccount(c.PathParam("account"))
		if err != nil {
			return nil, err
		}
		return c.renderAccount(acct)
	})
}

// retrieveOwnAccount is GET /v1/account: the account the request is made
// as — the platform, or the connected account of Stripe-Account.
func retrieveOwnAccount(c *Call) (any, error) {
	acct, err := c.lookupAccount(c.Account)
	if err != nil {
		return nil, err
	}
	return c.renderAccount(acct)
}
