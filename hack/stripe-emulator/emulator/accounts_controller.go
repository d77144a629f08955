package emulator

import (
	"fmt"
	"strings"
)

// Controller properties: how a connected account is run, set once at
// creation (Stripe, "Migrate your Connect integration to use controller
// properties instead of account types",
// https://docs.stripe.com/connect/migrate-to-controller-properties).
// An account is created either with `type` (standard, express, custom),
// which maps to a fixed set of properties, or with `controller` (the spec
// overlay lets it through), whose unspecified properties take Stripe's
// defaults. Every behaviour that depends on the kind of account reads the
// properties, not `type`: who collects requirements decides tos_acceptance,
// identity updates after onboarding and account_update links; who is liable
// for losses decides rejection and live-mode deletion; the Dashboard
// decides whether capabilities are requested for the account.

// controllerProps is an account's controller properties.
type controllerProps struct {
	FeesPayer             string // controller.fees.payer
	LossesPayments        string // controller.losses.payments
	RequirementCollection string // controller.requirement_collection
	Dashboard             string // controller.stripe_dashboard.type
}

// platformCollects says whether the platform is responsible for collecting
// requirements (Custom accounts are): it may then accept the services
// agreement for the account and change its identity after onboarding.
func (p controllerProps) platformCollects() bool { return p.RequirementCollection == "application" }

// platformLiable says whether the platform is liable for the account's
// negative balances (Custom and Express accounts are).
func (p controllerProps) platformLiable() bool { return p.LossesPayments == "application" }

// typeControllers are the properties Stripe gives accounts created with
// `type` (the reference's mapping table; `fees.payer` application_express /
// application_custom mark the legacy fee behaviour of those types).
var typeControllers = map[string]controllerProps{
	"standard": {FeesPayer: "account", LossesPayments: "stripe", RequirementCollection: "stripe", Dashboard: "full"},
	"express":  {FeesPayer: "application_express", LossesPayments: "application", RequirementCollection: "stripe", Dashboard: "express"},
	"custom":   {FeesPayer: "application_custom", LossesPayments: "application", RequirementCollection: "application", Dashboard: "none"},
}

// legacyType is the `type` Stripe reports for an account created with
// controller properties: standard when they match a Standard account, none
// otherwise (an Express- or Custom-like account created this way has
// fees.payer application, not application_express/custom, so it matches
// neither).
func (p controllerProps) legacyType() string {
	if p == typeControllers["standard"] {
		return "standard"
	}
	return "none"
}

// controllerField is one create parameter of the controller hash, with the
// values the 2023-10-16 overlay accepts and Stripe's default.
type controllerField struct {
	form   string // form name
	path   []string
	values []string
	def    string
	set    func(*controllerProps, string)
	get    func(controllerProps) string
}

// controllerFields are the fragment's properties in its order (the test
// checks them against specoverlay_account_controller.json). Defaults are the
// API reference's ("Defaults to `account`", "`stripe`", "`stripe`",
// "`full`").
var controllerFields = []controllerField{
	{"controller[fees][payer]", []string{"fees", "payer"}, []string{"account", "application"}, "account",
		func(p *controllerProps, v string) { p.FeesPayer = v }, func(p controllerProps) string { return p.FeesPayer }},
	{"controller[losses][payments]", []string{"losses", "payments"}, []string{"application", "stripe"}, "stripe",
		func(p *controllerProps, v string) { p.LossesPayments = v }, func(p controllerProps) string { return p.LossesPayments }},
	{"controller[requirement_collection]", []string{"requirement_collection"}, []string{"application", "stripe"}, "stripe",
		func(p *controllerProps, v string) { p.RequirementCollection = v }, func(p controllerProps) string { return p.RequirementCollection }},
	{"controller[stripe_dashboard][type]", []string{"stripe_dashboard", "type"}, []string{"express", "full", "none"}, "full",
		func(p *controllerProps, v string) { p.Dashboard = v }, func(p controllerProps) string { return p.Dashboard }},
}

func fieldByForm(form string) controllerField {
	for _, f := range controllerFields {
		if f.form == form {
			return f
		}
	}
	panic("unknown controller field " + form)
}

// controllerSetting is one property at one value.
type controllerSetting struct{ form, value string }

// controllerConflict is a combination Stripe does not support: all its
// settings together. msg is Stripe's message where it is known.
type controllerConflict struct {
	settings []controllerSetting
	msg      string
}

// controllerConflicts are the reference's "Unsupported configurations",
// in its order:
//
//   - requirement_collection=application isn't compatible with
//     losses.payments=stripe, fees.payer=account, stripe_dashboard.type
//     express or full;
//   - stripe_dashboard.type=express isn't compatible with
//     losses.payments=stripe, fees.payer=account (or
//     requirement_collection=application, above);
//   - stripe_dashboard.type=full isn't compatible with
//     losses.payments=application, fees.payer=application (or
//     requirement_collection=application, above);
//   - stripe_dashboard.type=none isn't supported with both
//     requirement_collection=stripe and losses.payments=application.
//
// The last one's message is Stripe's (quoted from live API errors); the
// others use the emulator's wording†.
var controllerConflicts = func() []controllerConflict {
	const (
		req    = "controller[requirement_collection]"
		losses = "controller[losses][payments]"
		fees   = "controller[fees][payer]"
		dash   = "controller[stripe_dashboard][type]"
	)
	pair := func(f1, v1, f2, v2 string) controllerConflict {
		return controllerConflict{settings: []controllerSetting{{f1, v1}, {f2, v2}}}
	}
	return []controllerConflict{
		pair(req, "application", losses, "stripe"),
		pair(req, "application", fees, "account"),
		pair(req, "application", dash, "express"),
		pair(req, "application", dash, "full"),
		pair(dash, "express", losses, "stripe"),
		pair(dash, "express", fees, "account"),
		pair(dash, "full", losses, "application"),
		pair(dash, "full", fees, "application"),
		{settings: []controllerSetting{{dash, "none"}, {req, "stripe"}, {losses, "application"}},
			msg: "When `stripe_dashboard[type]=none` and `requirement_collection=stripe`, " +
				"Stripe must be liable for negative balances or refunds and chargebacks."},
	}
}()

// controllerFromParams reads the controller hash of an account create (absent
// = every property at its default), fills Stripe's defaults and refuses
// the combinations Stripe does not support.
func controllerFromParams(p Params) (controllerProps, error) {
	var ctl Params
	if p.Has("controller") {
		sub, ok := p.Sub("controller")
		if !ok {
			return controllerProps{}, InvalidRequest("controller", "Invalid hash")
		}
		ctl = sub
	}
	var prof controllerProps
	sent := map[string]bool{}
	for _, f := range controllerFields {
		v, err := controllerParam(ctl, f)
		if err != nil {
			return controllerProps{}, err
		}
		if v == "" {
			v = f.def
		} else {
			sent[f.form] = true
		}
		f.set(&prof, v)
	}
	for _, c := range controllerConflicts {
		if e := c.check(prof, sent); e != nil {
			return controllerProps{}, e
		}
	}
	return prof, nil
}

// controllerParam returns the value sent for f ("" when not sent), or the
// error for a value the overlay's enum does not allow (the spec check
// answers first; this holds with the spec check off).
func controllerParam(ctl Params, f controllerField) (string, error) {
	cur := ctl
	for i, key := range f.path {
		if i < len(f.path)-1 {
			if !cur.Has(key) {
				return "", nil
			}
			sub, ok := cur.Sub(key)
			if !ok {
				return "", InvalidRequest(cur.Name(key), "Invalid hash")
			}
			cur = sub
			continue
		}
		v, ok := cur.String(key)
		if !ok {
			if cur.Has(key) {
				return "", InvalidRequest(f.form, "Invalid %s: expected a single value, got a nested one", f.form)
			}
			return "", nil
		}
		if !contains(f.values, v) {
			return "", InvalidRequest(f.form, "Invalid %s: must be one of %s", f.form, oxfordJoin(f.values))
		}
		return v, nil
	}
	return "", nil
}

// check returns the error for prof when it has every setting of c. The
// param named is the first setting the request sent (the others may be
// defaults, which the message says).
func (c controllerConflict) check(prof controllerProps, sent map[string]bool) *Error {
	param := ""
	parts := make([]string, 0, len(c.settings))
	for _, s := range c.settings {
		if fieldByForm(s.form).get(prof) != s.value {
			return nil
		}
		part := fmt.Sprintf("`%s=%s`", s.form, s.value)
		if sent[s.form] {
			if param == "" {
				param = s.form
			}
		} else {
			part += " (the default)"
		}
		parts = append(parts, part)
	}
	msg := c.msg
	if msg == "" {
		msg = fmt.Sprintf("%s isn't compatible with %s: this combination of controller properties is not supported.",
			parts[0], strings.Join(parts[1:], " and "))
	}
	return InvalidRequest(param, "%s", msg)
}

// controllerOf reads an account's controller properties. Accounts the
// emulator created always carry them; an account object without them (a
// test seed) is read by its `type`, Standard when it has none.
func controllerOf(acct Object) controllerProps {
	ctl := acct.Map("controller")
	prof, ok := typeControllers[acct.Str("type")]
	if !ok {
		prof = typeControllers["standard"]
	}
	for _, f := range controllerFields {
		var v any = ctl
		for _, key := range f.path {
			m, _ := v.(map[string]any)
			v = m[key]
		}
		if s, ok := v.(string); ok && s != "" {
			f.set(&prof, s)
		}
	}
	return prof
}

// controllerObject is the account's `controller` hash as Stripe renders it
// for the platform that created the account: the platform is the
// controller (type application, is_controller true) and sees every
// property.
func controllerObject(p controllerProps) map[string]any {
	return map[string]any{
		"type":                   "application",
		"is_controller":          true,
		"fees":                   map[string]any{"payer": p.FeesPayer},
		"losses":                 map[string]any{"payments": p.LossesPayments},
		"requirement_collection": p.RequirementCollection,
		"stripe_dashboard":       map[string]any{"type": p.Dashboard},
	}
}

// accountKind decides what is created: with `type`, that type and its
// properties; otherwise the controller properties (all defaults when
// `controller` is absent too: a Standard account) and the type Stripe
// reports for them. `type` and `controller` are exclusive: controller is
// "the configuration of the account when `type` is not provided" (API
// reference, 2024).
func accountKind(p Params) (string, controllerProps, error) {
	if p.Has("type") && p.Has("controller") {
		return "", controllerProps{}, Exclusive("type", "controller")
	}
	if p.Has("type") {
		typ, _ := p.String("type")
		prof, ok := typeControllers[typ]
		if !ok {
			return "", controllerProps{}, InvalidRequest("type", "Invalid type: must be one of custom, express, or standard")
		}
		return typ, prof, nil
	}
	prof, err := controllerFromParams(p)
	if err != nil {
		return "", controllerProps{}, err
	}
	return prof.legacyType(), prof, nil
}
