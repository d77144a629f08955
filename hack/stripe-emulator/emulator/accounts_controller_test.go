package emulator

import (
	"reflect"
	"testing"

	stripe "github.com/stripe/stripe-go/v76"
)

// wantController is an account's expected controller properties.
type wantController struct{ fees, losses, requirements, dashboard string }

// check asserts that the platform controls a (type application,
// is_controller) with these properties.
func (w wantController) check(t *testing.T, a *stripe.Account) {
	t.Helper()
	c := a.Controller
	if c == nil || c.Type != "application" || !c.IsController || c.Fees == nil || c.Losses == nil || c.StripeDashboard == nil {
		t.Fatalf("controller: %+v", c)
	}
	got := wantController{string(c.Fees.Payer), string(c.Losses.Payments), string(c.RequirementCollection), string(c.StripeDashboard.Type)}
	if got != w {
		t.Fatalf("controller properties %+v, want %+v", got, w)
	}
}

// ctl builds controller params; "" leaves a property out.
func ctl(fees, losses, requirements, dashboard string) *stripe.AccountControllerParams {
	p := &stripe.AccountControllerParams{}
	if fees != "" {
		p.Fees = &stripe.AccountControllerFeesParams{Payer: stripe.String(fees)}
	}
	if losses != "" {
		p.Losses = &stripe.AccountControllerLossesParams{Payments: stripe.String(losses)}
	}
	if requirements != "" {
		p.RequirementCollection = stripe.String(requirements)
	}
	if dashboard != "" {
		p.StripeDashboard = &stripe.AccountControllerStripeDashboardParams{Type: stripe.String(dashboard)}
	}
	return p
}

// controllerAccount is an account create with controller properties and
// the card_payments and transfers capabilities.
func controllerAccount(c *stripe.AccountControllerParams) *stripe.AccountParams {
	return &stripe.AccountParams{Controller: c, Country: stripe.String("US"), Email: stripe.String("seller@example.com"),
		Capabilities: cardAndTransfers()}
}

// The Express- and Custom-like configurations of the reference's examples.
var (
	expressLike = func() *stripe.AccountControllerParams { return ctl("application", "application", "", "express") }
	customLike  = func() *stripe.AccountControllerParams {
		return ctl("application", "application", "application", "none")
	}
)

// Rule: an account created with controller properties has them (Stripe's
// defaults for those not sent: fees.payer account, losses.payments stripe,
// requirement_collection stripe, stripe_dashboard.type full), the platform
// as its controller, and `type` standard when they match a Standard
// account, none otherwise. Without type and controller the account is a
// Standard one (the reference's "Request (using default values for all
// properties)").
func TestAccountCreateWithController(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		name   string
		params *stripe.AccountParams
		typ    stripe.AccountType
		want   wantController
	}{
		{"no type, no controller: Standard", &stripe.AccountParams{}, "standard", wantController{"account", "stripe", "stripe", "full"}},
		{"empty controller: defaults", &stripe.AccountParams{Controller: ctl("", "", "", "")}, "standard", wantController{"account", "stripe", "stripe", "full"}},
		{"Standard's properties spelled out", &stripe.AccountParams{Controller: ctl("account", "stripe", "stripe", "full")}, "standard",
			wantController{"account", "stripe", "stripe", "full"}},
		{"Express-like", controllerAccount(expressLike()), "none", wantController{"application", "application", "stripe", "express"}},
		{"Custom-like", controllerAccount(customLike()), "none", wantController{"application", "application", "application", "none"}},
		{"no dashboard, Stripe collects and is liable", controllerAccount(ctl("application", "stripe", "stripe", "none")), "none",
			wantController{"application", "stripe", "stripe", "none"}},
		{"no dashboard, the account pays Stripe", controllerAccount(ctl("", "", "", "none")), "none",
			wantController{"account", "stripe", "stripe", "none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.newAccount(t, tc.params)
			if a.Type != tc.typ {
				t.Fatalf("type %q, want %q", a.Type, tc.typ)
			}
			tc.want.check(t, a)
			got, err := e.sc.Accounts.GetByID(a.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.check(t, got) // stored, not only rendered
		})
	}
}

// Rule: `type` and `controller` are exclusive, and the combinations the
// reference lists under "Unsupported configurations" are refused, defaults
// included (a property not sent takes its default before the check).
func TestAccountCreateControllerCombinations(t *testing.T) {
	e := newEnv(t, Options{})
	const stripeMsg = "When `stripe_dashboard[type]=none` and `requirement_collection=stripe`, " +
		"Stripe must be liable for negative balances or refunds and chargebacks."
	for _, tc := range []struct {
		name   string
		params *stripe.AccountParams
		code   string
		param  string
		msg    string // "" = not checked (emulator's wording†)
	}{
		{"type and controller", &stripe.AccountParams{Type: stripe.String("express"), Controller: expressLike()},
			"parameters_exclusive", "type", "You may only specify one of these parameters: type, controller."},
		{"platform collects but Stripe is liable", controllerAccount(ctl("application", "stripe", "application", "none")),
			"", "controller[requirement_collection]", ""},
		{"platform collects, losses by default on Stripe", controllerAccount(ctl("application", "", "application", "none")),
			"", "controller[requirement_collection]",
			"`controller[requirement_collection]=application` isn't compatible with `controller[losses][payments]=stripe` (the default): " +
				"this combination of controller properties is not supported."},
		{"platform collects, account pays Stripe", controllerAccount(ctl("account", "application", "application", "none")),
			"", "controller[requirement_collection]", ""},
		{"platform collects with the Express Dashboard", controllerAccount(ctl("application", "application", "application", "express")),
			"", "controller[requirement_collection]", ""},
		{"platform collects with the full Dashboard (default)", controllerAccount(ctl("application", "application", "application", "")),
			"", "controller[requirement_collection]", ""},
		{"Express Dashboard, Stripe liable by default", controllerAccount(ctl("application", "", "", "express")),
			"", "controller[stripe_dashboard][type]", ""},
		{"Express Dashboard, account pays Stripe", controllerAccount(ctl("account", "application", "", "express")),
			"", "controller[stripe_dashboard][type]", ""},
		{"full Dashboard, platform liable", controllerAccount(ctl("", "application", "", "full")),
			"", "controller[stripe_dashboard][type]", ""},
		{"full Dashboard by default, platform liable", controllerAccount(ctl("", "application", "", "")),
			"", "controller[losses][payments]", ""},
		{"full Dashboard by default, platform pays", controllerAccount(ctl("application", "", "", "")),
			"", "controller[fees][payer]", ""},
		{"no Dashboard, Stripe collects, platform liable", controllerAccount(ctl("application", "application", "stripe", "none")),
			"", "controller[stripe_dashboard][type]", stripeMsg},
		{"no Dashboard, Stripe collects by default, platform liable", controllerAccount(ctl("application", "application", "", "none")),
			"", "controller[stripe_dashboard][type]", stripeMsg},
		{"no Dashboard needs a capability", &stripe.AccountParams{Controller: customLike()}, "", "capabilities", ""},
		{"legacy fee payer is not a create value (spec check)", controllerAccount(ctl("application_custom", "application", "application", "none")),
			"", "controller[fees][payer]", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.sc.Accounts.New(tc.params)
			wantStripeErr(t, err, 400, "invalid_request_error", tc.code, tc.param, tc.msg)
		})
	}
	// Nothing refused was created.
	if it := e.sc.Accounts.List(&stripe.AccountListParams{}); it.Next() {
		t.Fatalf("refused creates left an account: %s", it.Account().ID)
	}
}

// Rule: with the spec check off the handler still holds the overlay's
// enums (the controller values it can act on).
func TestAccountCreateControllerValuesWithoutSpecCheck(t *testing.T) {
	e := newEnv(t, Options{DisableSpecCheck: true})
	r := e.do(t, "POST", "/v1/accounts", "controller[stripe_dashboard][type]=platinum")
	if r.status != 400 || r.errField("param") != "controller[stripe_dashboard][type]" ||
		r.errField("message") != "Invalid controller[stripe_dashboard][type]: must be one of express, full, or none" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
}

// Rule: the handler's controller parameters are the spec overlay's,
// property for property and value for value.
func TestControllerFieldsMatchTheOverlay(t *testing.T) {
	got := map[string][]string{}
	for _, f := range controllerFields {
		got[f.form] = f.values
	}
	if want := fragmentLeaves(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("handler fields %v, overlay %v", got, want)
	}
}

// Rule: behaviour follows the controller properties, not `type`: the
// platform accepts the services agreement, changes identity after
// onboarding and creates account_update links only where it collects
// requirements; it rejects only accounts it is liable for; full-Dashboard
// accounts get card_payments and transfers requested.
func TestControllerAccountsBehaveByProperties(t *testing.T) {
	e := newEnv(t, Options{})
	tos := &stripe.AccountTOSAcceptanceParams{Date: stripe.Int64(testEpoch.Unix()), IP: stripe.String("192.0.2.1")}
	for _, tc := range []struct {
		name       string
		controller *stripe.AccountControllerParams
		collects   bool // tos_acceptance, identity after onboarding, account_update links
		rejectable bool
	}{
		{"Custom-like", customLike(), true, true},
		{"Express-like", expressLike(), false, true},
		{"Standard-like", ctl("account", "stripe", "stripe", "full"), false, false},
		{"no Dashboard, Stripe liable", ctl("application", "stripe", "stripe", "none"), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := controllerAccount(tc.controller)
			p.TOSAcceptance = tos
			_, err := e.sc.Accounts.New(p)
			if !tc.collects {
				wantStripeErr(t, err, 400, "invalid_request_error", "", "tos_acceptance", "")
			} else if err != nil {
				t.Fatalf("tos_acceptance on create: %v", err)
			}
			a := e.newAccount(t, controllerAccount(tc.controller))
			e.newAccountLink(t, a.ID, "account_onboarding")
			_, err = e.sc.Accounts.Update(a.ID, &stripe.AccountParams{BusinessType: stripe.String("company")})
			if tc.collects != (err == nil) {
				t.Fatalf("business_type after onboarding started: %v (platform collects: %v)", err, tc.collects)
			}
			_, err = e.sc.AccountLinks.New(&stripe.AccountLinkParams{Account: stripe.String(a.ID), Type: stripe.String("account_update"),
				RefreshURL: stripe.String("https://example.com/r"), ReturnURL: stripe.String("https://example.com/d")})
			if tc.collects != (err == nil) {
				t.Fatalf("account_update link: %v (platform collects: %v)", err, tc.collects)
			}
			_, err = e.sc.Accounts.Reject(a.ID, &stripe.AccountRejectParams{Reason: stripe.String("fraud")})
			if !tc.rejectable {
				wantStripeErr(t, err, 400, "invalid_request_error", "", "account", "")
			} else if err != nil {
				t.Fatalf("reject: %v", err)
			}
		})
	}
	t.Run("full Dashboard gets card_payments and transfers", func(t *testing.T) {
		a := e.newAccount(t, &stripe.AccountParams{})
		if a.Capabilities.CardPayments != "inactive" || a.Capabilities.Transfers != "inactive" {
			t.Fatalf("capabilities: %+v", a.Capabilities)
		}
	})
	t.Run("controller cannot change", func(t *testing.T) {
		a := e.newAccount(t, controllerAccount(expressLike()))
		_, err := e.sc.Accounts.Update(a.ID, &stripe.AccountParams{Controller: customLike()})
		wantStripeErr(t, err, 400, "invalid_request_error", "parameter_unknown", "controller", "Received unknown parameter: controller")
	})
}

// Rule: a Custom-like account whose platform provides every due field is
// submitted by the update itself, as a Custom account is.
func TestCustomLikeAccountProvidedByPlatform(t *testing.T) {
	e := newEnv(t, Options{})
	p := controllerAccount(customLike())
	p.BusinessType = stripe.String("individual")
	a := e.newAccount(t, p)
	got, err := e.sc.Accounts.Update(a.ID, &stripe.AccountParams{
		BusinessProfile: &stripe.AccountBusinessProfileParams{MCC: stripe.String("5734"), URL: stripe.String("https://shop.example.com")},
		TOSAcceptance:   &stripe.AccountTOSAcceptanceParams{Date: stripe.Int64(testEpoch.Unix()), IP: stripe.String("192.0.2.1")},
		ExternalAccount: &stripe.AccountExternalAccountParams{Token: stripe.String("btok_us_verified")},
		Individual: &stripe.PersonParams{FirstName: stripe.String("Jane"), LastName: stripe.String("Doe"), Email: stripe.String("j@example.com"),
			Phone: stripe.String("+15555550100"), SSNLast4: stripe.String("0000"),
			DOB:     &stripe.PersonDOBParams{Day: stripe.Int64(1), Month: stripe.Int64(1), Year: stripe.Int64(1990)},
			Address: &stripe.AddressParams{Line1: stripe.String("1 Main"), City: stripe.String("SF"), State: stripe.String("CA"), PostalCode: stripe.String("94111")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !got.DetailsSubmitted || len(got.Requirements.CurrentlyDue) != 0 || got.Capabilities.CardPayments != "pending" {
		t.Fatalf("account: %+v %+v", got.Requirements, got.Capabilities)
	}
}
